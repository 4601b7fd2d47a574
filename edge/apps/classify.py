"""Classify image files: expand paths, preprocess, batch the model calls, report per file.

A bad file never stops the batch: it becomes an error result naming the file, and the
caller reports the failures at the end.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from digitlite.edge.apps.collect import Collector, crop_around
from digitlite.edge.runtime.reading import NumberReading, Reading, chosen_readings
from digitlite.edge.util import heap
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.errors import SeveralDigits
from digitlite.edge.vision.inputs import as_gray, gray_input, gray_number_inputs
from digitlite.edge.vision.mnist_input import save_preprocessed

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
CHUNK = 64  # files preprocessed and classified together: bounds memory on big folders


@dataclass
class Expanded:
    """The files a command line names, what the folders held besides, and folders with no image."""

    paths: list[str]
    skipped_folders: int = 0  # subfolders not read (without recursive)
    empty: list[str] = field(default_factory=list)  # folders (or subfolder trees) holding no image


def expand_paths(args: list[str], recursive: bool = False) -> Expanded:
    """Files, folders (their images, sorted; with ``recursive`` their subfolders' too) and glob
    patterns -> the paths to read.

    A name that matches nothing is kept as it is, so that it is reported as missing.
    """
    out = Expanded([])
    for arg in args:
        if os.path.isdir(arg):
            found, skipped = _images_in(Path(arg), recursive)
            out.paths.extend(found)
            if found:
                out.skipped_folders += skipped
            else:  # its own error line says how to read the subfolders
                out.empty.append(arg)
        elif not os.path.exists(arg) and glob.has_magic(arg):
            matches = sorted(glob.glob(arg))
            out.paths.extend(matches if matches else [arg])
        else:
            out.paths.append(arg)
    return out


def _images_in(folder: Path, recursive: bool) -> tuple[list[str], int]:
    """The image files in ``folder`` (sorted, and its subfolders' after them with ``recursive``) and
    how many subfolders were left unread."""
    entries = sorted(folder.iterdir())
    found = [str(p) for p in entries if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    subfolders = [p for p in entries if p.is_dir() and not p.name.startswith(".")]
    if not recursive:
        return found, len(subfolders)
    for sub in subfolders:
        found.extend(_images_in(sub, True)[0])
    return found, 0


@dataclass
class FileResult:
    """The answer for one file: a digit (a number with --multi), or an error."""

    path: str
    reading: Reading | None = None  # one digit
    number: NumberReading | None = None  # with --multi
    error: str | None = None
    exception: BaseException | None = None  # behind ``error``: what --debug shows

    def as_dict(self) -> dict:
        """The JSON-lines record: path and the reading's JSON form, or path and error."""
        if self.error is not None:
            return {"path": self.path, "error": self.error}
        return {"path": self.path, **(self.number or self.reading).as_dict()}


class InputSaver:
    """Writes each 28x28 input the model saw into a folder, named after its file (``a.jpg`` -> ``a.png``);
    a name already used in this run gets the file's extension too (``a.png`` -> ``a.png.png``), then a
    number, so that no input overwrites another's."""

    def __init__(self, folder: str | os.PathLike):
        self.folder, self.used = Path(folder), set()

    def save(self, pixels: np.ndarray, source: str, suffix: str = "") -> Path:
        """Write ``pixels`` for the file ``source`` (``suffix``: which digit of a number); its path."""
        stem, name = Path(source).stem + suffix, Path(source).name + suffix
        candidates = [stem, name, *(f"{name}_{k}" for k in range(2, 10_000))]
        chosen = next(c for c in candidates if c not in self.used)
        self.used.add(chosen)
        path = self.folder / f"{chosen}.png"
        save_preprocessed(pixels, path)
        return path


def classify_files(classifier, paths: list[str], multi: bool = False, save_dir: str | None = None,
                   collector: Collector | None = None):
    """Yield a FileResult per path, in order, as ``classifier.classify`` (``read_number`` with
    ``multi``) reads each file; the model calls are batched over CHUNK files.  ``save_dir``: write
    each input the model saw there; ``collector``: save each digit read as a sample (apps.collect).

    Each file is read by ``vision.inputs`` (the reader behind every command); with ``multi`` its
    number is chosen from its candidates by ``classifier.read_candidates``.
    """
    saver = InputSaver(save_dir) if save_dir else None
    for start in range(0, len(paths), CHUNK):
        chunk = paths[start:start + CHUNK]
        inputs: list[np.ndarray] = []
        singles: dict[int, int] = {}  # index in chunk -> its input
        numbers: dict[int, tuple] = {}  # index in chunk -> (its candidates, its first input)
        results = [FileResult(path=p) for p in chunk]
        pictures: dict[int, tuple] = {}  # with a collector: index in chunk -> (its grey picture, its reduction)
        for i, path in enumerate(chunk):
            try:
                gray, reduction, label = as_gray(path)  # decoded once: read, and cropped from when collecting
                if collector:
                    pictures[i] = (gray, reduction)
                if multi:
                    found = gray_number_inputs(gray, reduction, label, path)
                    numbers[i] = (found, len(inputs))
                    inputs.extend(found.pixels)
                else:
                    inputs.append(gray_input(gray, reduction, label, path))
                    singles[i] = len(inputs) - 1
            except SeveralDigits as e:  # never a confident answer for one digit of a number
                results[i].error, results[i].exception = f"{e}: add --multi to read them as a number", e
            except DigitliteError as e:
                results[i].error, results[i].exception = str(e), e
            except MemoryError as e:
                results[i].error, results[i].exception = f"{path}: out of memory while decoding", e
        read = classifier.candidate_proba if multi else classifier.predict_proba  # a number's: one view each
        probs = read(np.stack(inputs)) if inputs else None
        for i, k in singles.items():
            results[i].reading = Reading.from_probabilities(probs[k], classifier.min_confidence)
            if saver:
                saver.save(inputs[k], results[i].path)
            if collector:
                collector.save(results[i].reading, inputs[k], pictures[i][0], results[i].path)
        for i, (found, at) in numbers.items():
            rows = probs[at:at + len(found.pixels)] if found.pixels else None
            results[i].number = classifier.read_candidates(found, rows)  # "" for a page with no digit
            if (saver or collector) and found.pixels:
                chosen = chosen_readings(found.pieces, found.spans, rows, classifier.min_confidence, found.boxes,
                                         found.droppable, found.prior)
                for n, (k, _) in enumerate(chosen):
                    if saver:
                        saver.save(inputs[at + k], results[i].path, f"_{n}")
                if collector:
                    gray, reduction = pictures[i]
                    for k, reading in chosen:  # its "not a digit" marks too, as the number read them
                        collector.save(reading, inputs[at + k],
                                       crop_around(gray, [v / reduction for v in found.boxes[k]]), results[i].path)
        del pictures, inputs
        heap.give_back()  # what the chunk's photos left free in the heap: a long folder does not grow
        yield from results
