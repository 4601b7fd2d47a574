"""Any image a user gives -> what the model is given: the one reader behind every command.

``classify``, ``--multi``, the Python API, the server and the benchmarks all read an image
through ``model_inputs``: the same decoding (a big JPEG at a reduced size, a small digit
read again finer from the file), the same finding of digits, the same 28x28 transform.
The camera reads frames through ``preprocess.find_digits`` with its own rules (``frame=True``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from digitlite.edge.vision.decode import (
    LUMA,
    WORK_SIDE,
    flatten_alpha,
    load_gray,
    to_gray,
)
from digitlite.edge.vision.errors import ImageError, NoDigit
from digitlite.edge.vision.preprocess import Finer, number_candidates, preprocess_gray


def as_gray(image, name: str | None = None) -> tuple[np.ndarray, float, str]:
    """Any accepted image -> (float32 grayscale, original pixels per returned pixel, its name).

    Accepted: a path (str or os.PathLike), the bytes of an image file, a PIL image, or a
    numpy array (H, W) or (H, W, 3|4), integer 0-255 or float 0-1 / 0-255.
    """

    if isinstance(image, (str, os.PathLike, bytes, bytearray)):
        label = name or (str(image) if isinstance(image, (str, os.PathLike)) else "<bytes>")
        gray, reduction = load_gray(image, label, side=WORK_SIDE)
        return gray, reduction, label
    label = name or "<image>"
    if isinstance(image, Image.Image):
        return to_gray(image), 1.0, label
    if isinstance(image, np.ndarray):
        return _array_gray(image, label), 1.0, label
    raise ImageError(f"{label}: cannot read a {type(image).__name__}: give a path, bytes, a PIL image or a numpy array")


def _source(image):
    """What a small digit's part can be decoded again from, finer: a path or the bytes of a file."""
    return image if isinstance(image, (str, os.PathLike, bytes, bytearray)) else None


def _array_gray(a: np.ndarray, label: str) -> np.ndarray:
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        raise ImageError(f"{label}: expected an (H, W) or (H, W, 3|4) image array, got shape {a.shape}")
    if a.dtype == bool or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise ImageError(f"{label}: expected numbers, got an array of {a.dtype}")
    x = a.astype(np.float32)
    if not np.all(np.isfinite(x)):
        raise ImageError(f"{label}: the array holds NaN or infinite values")
    if np.issubdtype(a.dtype, np.floating) and x.min() >= 0.0 and x.max() <= 1.0:
        x = x * 255.0  # 0-1 floats
    if x.min() < 0.0 or x.max() > 255.0:
        kind = "floats" if np.issubdtype(a.dtype, np.floating) else "integers"
        raise ImageError(f"{label}: {kind} from {float(x.min()):g} to {float(x.max()):g}; expected 0-255 (or floats 0-1)")
    if x.ndim == 3 and x.shape[2] == 4:  # ink on a transparent sheet, as a PNG file of it is read
        return flatten_alpha(x[..., :3] @ LUMA, x[..., 3] / 255.0)
    if x.ndim == 3:
        x = x[..., :3] @ LUMA
    return x


@dataclass
class NumberInputs:
    """A number's candidate inputs: its pieces, the span of pieces each candidate covers, their boxes,
    which may be left out of the number as "not a digit", and their weights before the model reads
    them (``preprocess.Candidate``'s ``droppable`` and ``prior``)."""

    pieces: int
    spans: list[tuple[int, int]]
    pixels: list[np.ndarray]
    boxes: list[tuple[int, int, int, int]]  # in the image's own pixels
    droppable: list[float] | None = None  # None: each candidate of a single piece (1), the rest 0
    prior: list[float] | None = None  # None: 1 each


def digit_input(image, name: str | None = None) -> np.ndarray:
    """The 28x28 uint8 input (white digit on black, MNIST-style) of the one digit in ``image``.

    Raises SeveralDigits (an ImageError) for several digits side by side, ImageError for none.
    """
    gray, reduction, label = as_gray(image, name)
    return gray_input(gray, reduction, label, _source(image))


def gray_input(gray: np.ndarray, reduction: float = 1.0, name: str = "<image>", source=None) -> np.ndarray:
    """``digit_input`` of an image already decoded by ``as_gray`` (``source``: the path or bytes it
    came from, where a small digit is read again, finer)."""
    return preprocess_gray(gray, name, one_digit=True, finer=Finer(gray, source, reduction, name))


def number_inputs(image, name: str | None = None) -> NumberInputs:
    """The candidates for every digit of the number in ``image`` (see ``preprocess.number_candidates``)."""
    gray, reduction, label = as_gray(image, name)
    return gray_number_inputs(gray, reduction, label, _source(image))


def gray_number_inputs(gray: np.ndarray, reduction: float = 1.0, name: str = "<image>", source=None) -> NumberInputs:
    """``number_inputs`` of an image already decoded by ``as_gray`` (``source`` as for ``gray_input``)."""
    try:
        pieces, candidates = number_candidates(gray, name, finer=Finer(gray, source, reduction, name))
    except NoDigit:  # read, and no digit in it: a number of no digits (its reading is "")
        return NumberInputs(0, [], [], [], [], [])
    return NumberInputs(pieces, [(c.first, c.last) for c in candidates], [c.pixels for c in candidates],
                        [tuple(round(v * reduction) for v in c.box) for c in candidates],
                        [c.droppable for c in candidates], [c.prior for c in candidates])


def preprocess_file(source, name: str | None = None) -> np.ndarray:
    """An image file (path or bytes) -> its 28x28 uint8 input, as ``digitlite classify`` reads it."""
    return digit_input(source, name)
