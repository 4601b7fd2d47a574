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

from digitlite.edge import __version__
from digitlite.edge.apps.camera import FrameReader, frames, open_capture
from digitlite.edge.runtime.card import CardError, ModelCard
from digitlite.edge.runtime.interpreter import Model, interpreter_version
from digitlite.edge.runtime.reading import NumberReading, Reading, best_number, readings
from digitlite.edge.runtime.shipped import model_path
from digitlite.edge.runtime.views import Viewed
from digitlite.edge.settings import CAMERA_NOT_A_DIGIT, CameraSettings, ReadSettings
from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.inputs import as_gray, digit_input, number_inputs

__all__ = ["Classifier", "DigitliteError", "ImageError", "NumberReading", "Reading", "as_gray"]


class Classifier:
    """A digit classifier: a ``.tflite`` model run by a TFLite interpreter, with digitlite's preprocessing.

    ``model``: a ``.tflite`` file, or a shipped model by name (``digits``, the default; ``micronet``).
    ``runtime``: ``auto`` (ai-edge-litert, else tflite-runtime, else TensorFlow), or one by name.
    ``threads``: interpreter threads (default: the runtime's choice).
    ``min_confidence``: under this probability a digit is None ("no digit"); by default 0 for
    images and 0.6 for camera frames, as the ``digitlite`` commands do.
    ``settings``: all of these at once, as a ``ReadSettings`` (what the command line builds).
    A Classifier is not safe to call from two threads at once: give each thread its own (``copy``).
    """

    def __init__(self, model: str | os.PathLike | None = None, runtime: str = "auto", threads: int | None = None,
                 min_confidence: float | None = None, *, settings: ReadSettings | None = None):
        if settings is None:
            settings = ReadSettings(model=None if model is None else str(model), runtime=runtime, threads=threads,
                                    min_confidence=min_confidence)
        self.settings = settings
        self.model = Model(model_path(settings.model), runtime=settings.runtime, threads=settings.threads)
        self.reader = Viewed(self.model)

    def copy(self) -> Classifier:
        """A classifier with the same settings and an interpreter of its own (for another thread or process)."""
        return Classifier(settings=self.settings)

    @property
    def min_confidence(self) -> float:
        """The confidence floor for images."""
        return self.settings.floor()

    @property
    def path(self) -> Path:
        """The model file."""
        return self.model.path

    @property
    def runtime(self) -> str:
        """The interpreter in use: litert, tflite or tensorflow."""
        return self.model.runtime

    @property
    def classes(self) -> int:
        """The model's outputs: 10 digits, or 11 with "not a digit"."""
        return self.model.classes

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """Probabilities (N, 10) for already preprocessed 28x28 inputs (N, 28, 28), 0-255, white on black;
        (N, 11) for a model with a "not a digit" class (its last column).  Each input is read in seven
        views, pooled (``runtime.views``): how ``classify``, the camera and the server read a digit."""
        return self.reader.predict_proba(pixels)

    def candidate_proba(self, pixels: np.ndarray) -> np.ndarray:
        """``predict_proba`` for a number's candidates (``read_candidates``): one view each, the model's own
        answer.  In a number the views would make a lone mark's "not a digit" surer, and a digit standing
        among others is then left out: real numbers read whole fall from 38/44 to 37/44 with them (from
        36 to 34 before a digit on a rule was read with the rule's ink too)."""
        return self.model.predict_proba(pixels)

    def classify_inputs(self, pixels: np.ndarray, boxes=None, camera: bool = False) -> list[Reading]:
        """A Reading per preprocessed 28x28 input, under the floor for images (or camera frames, whose
        "not a digit" is believed only when sure: settings.CAMERA_NOT_A_DIGIT)."""
        return readings(self.predict_proba(pixels), self.settings.floor(camera), boxes,
                        CAMERA_NOT_A_DIGIT if camera else None)

    def preprocess(self, image, name: str | None = None) -> np.ndarray:
        """The 28x28 uint8 input (white digit on black, MNIST-style) that ``classify`` gives the model.

        Raises SeveralDigits (an ImageError) for several digits side by side: use ``read_number``.
        """
        return digit_input(image, name)

    def classify(self, image, name: str | None = None) -> Reading:
        """The digit in ``image`` (see ``as_gray`` for what it may be); ImageError if none can be read."""
        return self.classify_batch([image], [name] if name else None)[0]

    def classify_batch(self, images: Iterable, names: list[str] | None = None,
                       errors: str = "raise") -> list[Reading | DigitliteError]:
        """A Reading per image, with one batched model call.

        ``errors="raise"``: the first bad image raises, naming it.  ``errors="return"``: a bad image's
        place in the list holds its error (a ``DigitliteError``) and the others are read.
        """
        if errors not in ("raise", "return"):
            raise DigitliteError(f"errors must be 'raise' or 'return' (got {errors!r})")
        images = list(images)
        names = names or [None] * len(images)
        if len(names) != len(images):
            raise DigitliteError(f"{len(images)} images and {len(names)} names")
        inputs: list = []
        for img, n in zip(images, names):
            try:
                inputs.append(self.preprocess(img, n))
            except DigitliteError as e:
                if errors == "raise":
                    raise
                inputs.append(e)
        good = [x for x in inputs if not isinstance(x, DigitliteError)]
        read = iter(self.classify_inputs(np.stack(good)) if good else [])
        return [x if isinstance(x, DigitliteError) else next(read) for x in inputs]

    def read_number(self, image, name: str | None = None) -> NumberReading:
        """Every digit in ``image``, left to right, each with its box in the image's pixels."""
        found = number_inputs(image, name)
        return self.read_candidates(found, self.candidate_proba(np.stack(found.pixels)) if found.pixels else None)

    def read_candidates(self, found, probabilities: np.ndarray) -> NumberReading:
        """The likeliest number from a number's candidates (``vision.inputs.number_inputs``) and their
        probabilities (``candidate_proba``): how ``read_number`` and ``digitlite classify --multi`` choose."""
        if not found.spans:  # a page with no digit on it: the number "" (no digits)
            return NumberReading.of([])
        return best_number(found.pieces, found.spans, probabilities, self.settings.floor(), found.boxes,
                           found.droppable, found.prior)

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
            "digitlite": __version__, "python": platform.python_version(), "machine": platform.machine(),
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
        Frames are read as ``digitlite camera`` reads them, under the camera's floor (0.6 unless the
        classifier was given one).  Needs OpenCV (``pip install 'digitlite[camera]'``).
        """
        settings = CameraSettings(source=str(source), roi=None if roi is None else tuple(roi), ink=ink,
                                  max_frames=max_frames)
        cap = open_capture(settings.source)
        try:
            for _, result in frames(self.frame_reader(settings), cap, settings.source, settings.max_frames):
                yield result
        finally:
            cap.release()

    def frame_reader(self, settings: CameraSettings) -> FrameReader:
        """What reads this classifier's digits in camera frames, as ``settings`` say."""
        return FrameReader(self, roi=settings.roi, min_confidence=self.settings.floor(camera=True), ink=settings.ink)
