"""The Python API: ``from digitlite import Classifier``.

    >>> from digitlite import Classifier
    >>> clf = Classifier()                       # the shipped int8 model, any installed interpreter
    >>> r = clf.classify("photo.jpg")            # a path, bytes, a PIL image or a numpy array
    >>> r.digit, r.confidence, r.probabilities   # 7, 0.998, (10 floats)
    >>> clf.read_number("house_number.jpg").number
    '42'

Images may be any size and either polarity (dark ink on light paper, or light on dark);
they go through the same preprocessing as ``digitlite classify``.  Every problem with an
input or a model is a ``DigitliteError`` with a one-line message.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

import digitlite
from digitlite.edge.apps.camera import FrameReader, frames, open_capture
from digitlite.edge.runtime.card import CardError, ModelCard
from digitlite.edge.runtime.interpreter import Model, interpreter_version
from digitlite.edge.runtime.reading import NumberReading, Reading, best_number, readings
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.preprocess import (
    LUMA,
    WORK_SIDE,
    Finer,
    ImageError,
    load_gray,
    number_candidates,
    preprocess_gray,
    to_gray,
)

__all__ = ["Classifier", "DigitliteError", "ImageError", "NumberReading", "Reading"]


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
    if np.issubdtype(a.dtype, np.floating) and x.max() <= 1.0:
        x = x * 255.0  # 0-1 floats
    if x.ndim == 3:
        x = x[..., :3] @ LUMA
    return np.clip(x, 0, 255)


class Classifier:
    """A digit classifier: a ``.tflite`` model run by a TFLite interpreter, with digitlite's preprocessing.

    ``model``: a ``.tflite`` file (default: the int8 model shipped with digitlite).
    ``runtime``: ``auto`` (ai-edge-litert, else tflite-runtime, else TensorFlow), or one by name.
    ``threads``: interpreter threads (default: the runtime's choice).
    ``min_confidence``: under this probability a digit is None ("no digit").
    A Classifier is not safe to call from two threads at once: give each thread its own.
    """

    def __init__(self, model: str | os.PathLike | None = None, runtime: str = "auto", threads: int | None = None,
                 min_confidence: float = 0.0):

        if threads is not None and threads < 1:
            raise DigitliteError(f"threads must be at least 1 (got {threads})")
        if not 0.0 <= min_confidence <= 1.0:
            raise DigitliteError(f"min_confidence must be between 0 and 1 (got {min_confidence})")
        self.model = Model(model if model is not None else default_model(), runtime=runtime, threads=threads)
        self.min_confidence = min_confidence

    @property
    def path(self) -> Path:
        """The model file."""
        return self.model.path

    @property
    def runtime(self) -> str:
        """The interpreter in use: litert, tflite or tensorflow."""
        return self.model.runtime

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for already preprocessed 28x28 inputs (N, 28, 28), 0-255, white on black;
        (N, 11) for a model with a "not a digit" class (its last column)."""
        return self.model.predict_proba(pixels)

    def preprocess(self, image, name: str | None = None) -> np.ndarray:
        """The 28x28 uint8 input (white digit on black, MNIST-style) that ``classify`` gives the model.

        Raises SeveralDigits (an ImageError) for several digits side by side: use ``read_number``.
        """
        gray, reduction, label = as_gray(image, name)
        return preprocess_gray(gray, label, one_digit=True, finer=Finer(gray, _source(image), reduction, label))

    def classify(self, image, name: str | None = None) -> Reading:
        """The digit in ``image`` (see ``as_gray`` for what it may be); ImageError if none can be read."""
        return self.classify_batch([image], [name] if name else None)[0]

    def classify_batch(self, images: Iterable, names: list[str] | None = None) -> list[Reading]:
        """A Reading per image, with one batched model call; the first bad image raises, naming it."""
        images = list(images)
        names = names or [None] * len(images)
        if not images:
            return []
        pixels = np.stack([self.preprocess(img, n) for img, n in zip(images, names, strict=True)])
        return readings(self.predict_proba(pixels), self.min_confidence)

    def read_number(self, image, name: str | None = None) -> NumberReading:
        """Every digit in ``image``, left to right, each with its box in the image's pixels."""
        gray, reduction, label = as_gray(image, name)
        pieces, candidates = number_candidates(gray, label, finer=Finer(gray, _source(image), reduction, label))
        boxes = [tuple(round(v * reduction) for v in c.box) for c in candidates]
        return best_number(pieces, [(c.first, c.last) for c in candidates],
                           self.predict_proba(np.stack([c.pixels for c in candidates])), self.min_confidence, boxes)

    def info(self, calls: int = 0) -> dict:
        """Check that the model runs here: versions, interpreter, interface, sha256, the card's accuracy,
        one call on a blank image; with ``calls``, the median and p99 of that many timed calls (µs)."""


        blank = np.zeros((1, 28, 28), np.uint8)
        started = time.perf_counter()
        probs = self.predict_proba(blank)
        call_ms = (time.perf_counter() - started) * 1000
        if probs.shape != (1, self.model.classes) or not np.all(np.isfinite(probs)):
            raise DigitliteError(f"{self.path}: the model ran but returned {probs.shape} non-finite output")
        interface = self.model.describe()
        try:
            card = ModelCard.of(self.path, required=False)
        except CardError:
            card = None  # info checks that the model runs; a broken card is export's and serve's business
        info = {
            "digitlite": digitlite.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "numpy": np.__version__, "interpreter": self.runtime, "interpreter_version": interpreter_version(self.runtime),
            "model": str(self.path), "sha256": sha256_file(self.path),
            "input": interface["input"], "output": interface["output"], "first_call_ms": round(call_ms, 3),
            "card_accuracy": card.tflite_accuracy if card else None,
        }
        if calls:
            times = self.model.time_calls(self.model.to_input(blank), calls, warmup=min(calls, 50))
            p50, p99 = np.percentile(np.asarray(times) * 1e6, [50, 99])
            info.update(calls=calls, call_p50_us=round(float(p50), 1), call_p99_us=round(float(p99), 1))
        return info

    def camera(self, source: str | int = 0, roi=None, ink: str = "dark", max_frames: int = 0) -> Iterator:
        """Read a camera, a video file or a stream (anything OpenCV opens, or ``picamera[:N]``).

        Yields a ``FrameResult`` per frame (``.number``, ``.digits`` as Readings with their boxes,
        ``.latency_ms``); stops at ``max_frames``, the end of a file, or when the loop is left.
        Needs OpenCV (``pip install 'digitlite[camera]'``).
        """

        reader = FrameReader(self, roi=roi, min_confidence=self.min_confidence, ink=ink)
        cap = open_capture(str(source))
        try:
            for _, result in frames(reader, cap, str(source), max_frames):
                yield result
        finally:
            cap.release()
