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
from digitlite.edge.vision.inputs import digit_input, number_inputs
from digitlite.edge.vision.preprocess import SeveralDigits, save_preprocessed

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


def classify_files(classifier, paths: list[str], multi: bool = False, save_dir: str | None = None):
    """Yield a FileResult per path, in order, as ``classifier.classify`` (``read_number`` with
    ``multi``) reads each file; the model calls are batched over CHUNK files.

    Each file is read by ``vision.inputs`` (the reader behind every command); with ``multi`` its
    number is chosen from its candidates by ``classifier.read_candidates``.
    """
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        inputs: list[np.ndarray] = []
        singles: dict[int, int] = {}  # index in chunk -> its input
        numbers: dict[int, tuple] = {}  # index in chunk -> (its candidates, its first input)
        results = [FileResult(path=p) for p in chunk]
        for i, path in enumerate(chunk):
            try:
                if multi:
                    found = number_inputs(path)
                    numbers[i] = (found, len(inputs))
                    inputs.extend(found.pixels)
                else:
                    inputs.append(digit_input(path))
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
                results[i].reading = Reading.from_probabilities(probs[k], classifier.min_confidence)
                if save_dir:
                    save_preprocessed(inputs[k], Path(save_dir) / f"{Path(results[i].path).stem}.png")
            for i, (found, at) in numbers.items():
                rows = probs[at:at + len(found.pixels)]
                results[i].number = classifier.read_candidates(found, rows)
                if save_dir:
                    for n, k in enumerate(best_spans(found.pieces, found.spans, rows)):
                        save_preprocessed(inputs[at + k], Path(save_dir) / f"{Path(results[i].path).stem}_{n}.png")
        yield from results
