"""Classify image files: expand paths, preprocess, batch the model calls, report per file.

A bad file never stops the batch: it becomes an error result naming the file, and the
caller reports the failures at the end.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
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
class Result:
    """The answer for one file: a digit (or a number with --multi), or an error."""

    path: str
    digit: int | None = None
    confidence: float = 0.0
    probabilities: list[float] = field(default_factory=list)
    number: str | None = None
    digits: list[dict] = field(default_factory=list)
    error: str | None = None

    def as_dict(self, multi: bool) -> dict:
        """The JSON-lines record for this result."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        if multi:
            return {"path": self.path, "number": self.number, "digits": self.digits}
        return {"path": self.path, "digit": self.digit, "confidence": round(self.confidence, 6),
                "probabilities": [round(p, 6) for p in self.probabilities]}


def _answer(probs: np.ndarray, min_confidence: float) -> tuple[int | None, float]:
    digit = int(probs.argmax())
    confidence = float(probs[digit])
    return (digit if confidence >= min_confidence else None), confidence


def classify_files(classifier, paths: list[str], multi: bool = False, min_confidence: float = 0.0,
                   save_dir: str | None = None):
    """Yield a Result per path, in order; model calls are batched over CHUNK files."""
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        inputs: list[np.ndarray] = []
        owners: list[tuple[int, tuple | None]] = []  # (index in chunk, box for --multi)
        results = [Result(path=p) for p in chunk]
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
                r = results[i]
                digit, confidence = _answer(p, min_confidence)
                if save_dir:
                    stem = Path(r.path).stem + (f"_{len(r.digits)}" if multi else "")
                    save_preprocessed(inputs[k], Path(save_dir) / f"{stem}.png")
                if multi:
                    r.digits.append({"digit": digit, "confidence": round(confidence, 6), "box": list(box)})
                else:
                    r.digit, r.confidence, r.probabilities = digit, confidence, p.tolist()
            for r in results:
                if multi and r.error is None:
                    r.number = "".join("?" if d["digit"] is None else str(d["digit"]) for d in r.digits)
        yield from results
