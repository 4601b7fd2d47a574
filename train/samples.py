"""A person's own samples, as ``--collect`` writes them: read, checked, split per class (no TensorFlow).

``DIR/<label>/`` holds a digit's samples (``0`` ... ``9``, and ``not_a_digit`` for marks that are
no digit).  A sample is a 28x28 input (``*.input.png``, what the model saw) or any picture of one
digit, read by the edge reader as ``digitlite classify`` reads it.  A picture with its input
beside it (``a.png`` and ``a.input.png``: what ``--collect`` saves) counts once.  ``unsorted/``
is waiting to be sorted by hand and is not read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.edge.apps.classify import IMAGE_SUFFIXES
from digitlite.edge.apps.collect import (
    INPUT_SUFFIX,
    LABEL_FOLDERS,
    NOT_A_DIGIT,
    UNSORTED,
)
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.inputs import digit_input

NOT_A_DIGIT_CLASS = 10


class SampleError(DigitliteError):
    """The samples folder cannot be tuned on: empty, one class, a folder name that is no label..."""


@dataclass
class Samples:
    """The samples read from a folder: inputs, labels (10 for "not a digit"), their files, what was skipped."""

    images: np.ndarray  # (N, 28, 28) uint8
    labels: np.ndarray  # (N,) int64
    files: list[str]
    skipped: list[str] = field(default_factory=list)  # unreadable files: "path: why"
    unsorted: int = 0  # files waiting in unsorted/, not read

    def counts(self) -> dict[str, int]:
        """Samples per label folder."""
        return class_counts(self.labels)

    def sha256(self) -> str:
        """A digest of the samples themselves (label and pixels, in file order): what a model card records."""
        h = hashlib.sha256()
        for label, pixels in zip(self.labels, self.images):
            h.update(bytes([int(label)]))
            h.update(np.ascontiguousarray(pixels, np.uint8).tobytes())
        return h.hexdigest()


def _folder(label: int) -> str:
    return NOT_A_DIGIT if label == NOT_A_DIGIT_CLASS else str(label)


def class_counts(labels: np.ndarray) -> dict[str, int]:
    """How many of ``labels`` each class has, by its folder's name (0-9, not_a_digit)."""
    return {_folder(k): int(np.sum(labels == k)) for k in sorted(set(np.asarray(labels).tolist()))}


def read_samples(folder: str | Path, for_tuning: bool = True) -> Samples:
    """Every sample under ``folder`` (see the module); SampleError for a folder that cannot be tuned on
    (with ``for_tuning``: two classes at least, two samples of each at least).

    Unreadable files are skipped and counted; a folder whose name is not a label is an error, so
    that a typo (``Seven/``) is not silently left out.
    """
    root = Path(folder)
    if not root.is_dir():
        raise SampleError(f"{folder}: no such folder" if not root.exists() else f"{folder}: not a folder")
    subfolders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    strangers = [p.name for p in subfolders if p.name not in LABEL_FOLDERS and p.name != UNSORTED]
    if strangers:
        raise SampleError(f"{root / strangers[0]}: a folder name that is not a label; name the folders 0-9 and "
                          f"{NOT_A_DIGIT} (and {UNSORTED}/ for samples not sorted yet)")
    images, labels, files, skipped = [], [], [], []
    unsorted = 0
    for sub in subfolders:
        entries = sorted(p for p in sub.rglob("*") if p.is_file() and not p.name.startswith("."))
        if sub.name == UNSORTED:
            unsorted = len([p for p in entries if not p.name.endswith(INPUT_SUFFIX)])
            continue
        label = NOT_A_DIGIT_CLASS if sub.name == NOT_A_DIGIT else int(sub.name)
        names = {p.name for p in entries}
        for path in entries:
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped.append(f"{path}: not an image file")
                continue
            if not path.name.endswith(INPUT_SUFFIX) and path.stem + INPUT_SUFFIX in names:
                continue  # a collected crop: its input beside it is the sample
            try:
                pixels = _input_of(path)
            except DigitliteError as e:
                skipped.append(str(e))
                continue
            images.append(pixels)
            labels.append(label)
            files.append(str(path))
    if not images:
        raise SampleError(f"{folder}: no samples in it (expected images in {folder}/0/ ... {folder}/9/"
                          + (f"; {unsorted} wait in {UNSORTED}/: move each into its digit's folder" if unsorted else "")
                          + ")")
    out = Samples(np.stack(images), np.asarray(labels, np.int64), files, skipped, unsorted)
    if not for_tuning:
        return out
    digits = [k for k in out.counts() if k != NOT_A_DIGIT]
    if len(out.counts()) < 2:
        raise SampleError(f"{folder}: samples of one class only ({next(iter(out.counts()))}/); tuning needs at least "
                          "two, or it would learn that everything is that one")
    if not digits:
        raise SampleError(f"{folder}: only {NOT_A_DIGIT}/ samples; add some digits")
    lonely = next((k for k, n in out.counts().items() if n < 2), None)
    if lonely is not None:
        raise SampleError(f"{folder}/{lonely}/ has 1 sample; each class needs at least 2 (one is held out to check "
                          "the tuning)")
    return out


def _input_of(path: Path) -> np.ndarray:
    """A sample file's 28x28 input: an ``.input.png`` as it is, any other picture through the edge reader."""
    if path.name.endswith(INPUT_SUFFIX):
        try:
            with Image.open(path) as img:
                pixels = np.asarray(img.convert("L"), np.uint8)
        except (OSError, ValueError, SyntaxError) as e:
            raise DigitliteError(f"{path}: cannot decode ({str(e).strip() or type(e).__name__})") from None
        if pixels.shape != (28, 28):
            raise DigitliteError(f"{path}: a model input must be 28x28 (this is {pixels.shape[1]}x{pixels.shape[0]})")
        return pixels
    return digit_input(str(path))


def split_holdout(samples: Samples, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held out): ``share`` of each class held out, at least one of each; SampleError
    naming a class with too few samples to hold one out and still train on one."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label in sorted(set(samples.labels.tolist())):
        members = np.flatnonzero(samples.labels == label)
        if len(members) < 2:
            raise SampleError(f"{_folder(label)}/ has 1 sample; each class needs at least 2 (one is held out to "
                              "check the tuning)")
        members = rng.permutation(members)
        n_held = min(len(members) - 1, max(1, round(share * len(members))))
        held.extend(members[:n_held].tolist())
        train.extend(members[n_held:].tolist())
    return np.asarray(sorted(train)), np.asarray(sorted(held))
