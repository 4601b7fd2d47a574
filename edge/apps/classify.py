"""Classify image files: expand paths, preprocess, batch the model calls, report per file.

A bad file never stops the batch: it becomes an error result naming the file, and the
caller reports the failures at the end.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitlite.edge.runtime.reading import NumberReading, Reading, best_spans
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.preprocess import (
    WORK_SIDE,
    Finer,
    SeveralDigits,
    load_gray,
    number_candidates,
    preprocess_gray,
    save_preprocessed,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
CHUNK = 64  # files preprocessed and classified together: bounds memory on big folders


def expand_paths(args: list[str]) -> list[str]:
    """Files, folders (their images, sorted, not recursive) and glob patterns -> a list of paths.

    A name that matches nothing is kept as it is, so that it is reported as missing.
    """
    out: list[str] = []
    for arg in args:
        if os.path.isdir(arg):
            out.extend(sorted(str(p) for p in Path(arg).iterdir()
                              if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES))
        elif not os.path.exists(arg) and glob.has_magic(arg):
            matches = sorted(glob.glob(arg))
            out.extend(matches if matches else [arg])
        else:
            out.append(arg)
    return out


@dataclass
class FileResult:
    """The answer for one file: a digit (a number with --multi), or an error."""

    path: str
    reading: Reading | None = None  # one digit
    number: NumberReading | None = None  # with --multi
    error: str | None = None

    def as_dict(self) -> dict:
        """The JSON-lines record: path and the reading's JSON form, or path and error."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, **(self.number or self.reading).as_dict()}


def classify_files(classifier, paths: list[str], multi: bool = False, min_confidence: float = 0.0,
                   save_dir: str | None = None):
    """Yield a FileResult per path, in order; model calls are batched over CHUNK files.

    With ``multi``, each file's number is read from its candidates (``number_candidates``: its
    pieces and neighbouring pairs of them), the likeliest reading chosen (``reading.best_spans``).
    """
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        inputs: list[np.ndarray] = []
        singles: dict[int, int] = {}  # index in chunk -> its input
        numbers: dict[int, tuple] = {}  # index in chunk -> (pieces, spans, boxes, first input)
        results = [FileResult(path=p) for p in chunk]
        for i, path in enumerate(chunk):
            try:
                gray, reduction = load_gray(path, side=WORK_SIDE)  # a big JPEG is decoded at a reduced size
                finer = Finer(gray, path, reduction, path)  # where a small digit is read again, finer
                if multi:
                    pieces, candidates = number_candidates(gray, path, finer=finer)
                    boxes = [tuple(round(v * reduction) for v in c.box) for c in candidates]  # in the file's pixels
                    numbers[i] = (pieces, [(c.first, c.last) for c in candidates], boxes, len(inputs))
                    inputs.extend(c.pixels for c in candidates)
                else:
                    inputs.append(preprocess_gray(gray, path, one_digit=True, finer=finer))
                    singles[i] = len(inputs) - 1
            except SeveralDigits as e:  # never a confident answer for one digit of a number
                results[i].error = f"{e}: add --multi to read them as a number"
            except DigitliteError as e:
                results[i].error = str(e)
            except MemoryError:
                results[i].error = f"{path}: out of memory while decoding"
        if inputs:
            probs = classifier.predict_proba(np.stack(inputs))
            for i, k in singles.items():
                results[i].reading = Reading.from_probabilities(probs[k], min_confidence)
                if save_dir:
                    save_preprocessed(inputs[k], Path(save_dir) / f"{Path(results[i].path).stem}.png")
            for i, (pieces, spans, boxes, at) in numbers.items():
                rows = probs[at:at + len(spans)]
                chosen = best_spans(pieces, spans, rows)
                results[i].number = NumberReading.of([Reading.from_probabilities(rows[k], min_confidence, boxes[k])
                                                      for k in chosen])
                if save_dir:
                    for n, k in enumerate(chosen):
                        save_preprocessed(inputs[at + k], Path(save_dir) / f"{Path(results[i].path).stem}_{n}.png")
        yield from results
