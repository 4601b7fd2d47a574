"""Classify image files: expand paths, preprocess, batch the model calls, report per file.

A bad file never stops the batch: it becomes an error result naming the file, and the
caller reports the failures at the end.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from digitlite.edge.errors import DigitliteError
from digitlite.edge.preprocess import (
    WORK_SIDE,
    SeveralDigits,
    find_digits,
    load_gray,
    preprocess_gray,
    save_preprocessed,
)
from digitlite.edge.reading import NumberReading, Reading

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
CHUNK = 64  # files preprocessed and classified together: bounds memory on big folders


def default_model() -> Path:
    """The int8 model shipped inside the package."""
    path = Path(str(resources.files("digitlite.edge") / "models" / "digits_int8.tflite"))
    if not path.is_file():
        raise DigitliteError(f"{path}: the shipped model is missing from this install; pass --model FILE.tflite")
    return path


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
    """Yield a FileResult per path, in order; model calls are batched over CHUNK files."""
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        inputs: list[np.ndarray] = []
        owners: list[tuple[int, tuple | None]] = []  # (index in chunk, box for --multi)
        results = [FileResult(path=p) for p in chunk]
        found: dict[int, list[Reading]] = {}
        for i, path in enumerate(chunk):
            try:
                gray, reduction = load_gray(path, side=WORK_SIDE)  # a big JPEG is decoded at a reduced size
                if multi:
                    for d in find_digits(gray, path):
                        inputs.append(d.pixels)
                        owners.append((i, tuple(round(v * reduction) for v in d.box)))  # in the file's pixels
                else:
                    inputs.append(preprocess_gray(gray, path, one_digit=True))
                    owners.append((i, None))
            except SeveralDigits as e:  # never a confident answer for one digit of a number
                results[i].error = f"{e}: add --multi to read them as a number"
            except DigitliteError as e:
                results[i].error = str(e)
            except MemoryError:
                results[i].error = f"{path}: out of memory while decoding"
        if inputs:
            probs = classifier.predict_proba(np.stack(inputs))
            for k, ((i, box), p) in enumerate(zip(owners, probs)):
                reading = Reading.from_probabilities(p, min_confidence, box)
                if save_dir:
                    stem = Path(results[i].path).stem + (f"_{len(found.get(i, []))}" if multi else "")
                    save_preprocessed(inputs[k], Path(save_dir) / f"{stem}.png")
                if multi:
                    found.setdefault(i, []).append(reading)
                else:
                    results[i].reading = reading
            for i, digits in found.items():
                results[i].number = NumberReading(tuple(digits))
        yield from results
