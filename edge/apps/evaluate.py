"""Evaluate a model file on the MNIST test set.

A ``.tflite`` model runs through the edge runtime (no TensorFlow needed, so this works on
the device); a ``.keras`` model needs Keras, imported only for that case.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from digitlite.edge.data.metrics import classification_report
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import model_path as shipped_model
from digitlite.edge.util.errors import DigitliteError, first_line
from digitlite.edge.util.quiet import import_tensorflow


def load_keras_model(path: str | os.PathLike):
    """Load a ``.keras`` file and check it is a digit classifier (28x28 input, 10 classes, or 11 with
    "not a digit").

    Needs TensorFlow, imported here and only here.  Every failure is a DigitliteError
    naming the file.
    """

    path = Path(path)
    if not path.is_file():
        raise DigitliteError(f"{path}: no such model file")

    try:
        import_tensorflow()
        # optional: TensorFlow, the [train] extra, for .keras files only
        import keras
    except ImportError:
        raise DigitliteError(f"{path}: loading a .keras model needs TensorFlow: pip install 'digitlite[train]'") from None
    try:
        model = keras.models.load_model(path)
    except Exception as e:  # Keras raises ValueError, OSError, zipfile errors... for a bad file
        raise DigitliteError(f"{path}: not a Keras model ({first_line(e)[:200]})") from None
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if shape not in ((28, 28, 1), (28, 28)):
        raise DigitliteError(f"{path}: input shape {model.input_shape}, expected (None, 28, 28, 1): not a digit classifier")
    if tuple(model.output_shape[-1:]) not in ((10,), (11,)):
        raise DigitliteError(f"{path}: output shape {model.output_shape}, expected 10 classes (the digits) or 11 "
                             "(and 'not a digit')")
    return model


def keras_predictor(path: Path):
    """Load a ``.keras`` digit classifier; return a function uint8 (N, 28, 28) -> probabilities."""
    model = load_keras_model(path)
    shape = tuple(model.input_shape[1:])

    def predict(images: np.ndarray) -> np.ndarray:
        x = images.reshape((len(images),) + shape).astype(np.float32)
        return model.predict(x, batch_size=1000, verbose=0)

    return predict


def model_predictor(model_path: str | os.PathLike, runtime: str = "auto", threads: int | None = None):
    """A function uint8 images (N, 28, 28) -> probabilities (N, 10) for a .keras or .tflite file (or a
    shipped model by name)."""
    path = shipped_model(model_path)
    if not path.is_file():
        raise DigitliteError(f"{path}: no such model file")
    if path.suffix == ".keras":
        return keras_predictor(path)
    if path.suffix == ".tflite":
        return Model(path, runtime=runtime, threads=threads).predict_proba
    raise DigitliteError(f"{path}: unknown model type {path.suffix or '(no extension)'}; expected .keras or .tflite")


def evaluate_model(model_path: str | os.PathLike, data_dir=None, samples: int = 0, runtime: str = "auto",
                   predictions: bool = False) -> dict:
    """Accuracy, loss, confusion matrix and per-class P/R/F1 of a model on the MNIST test images.

    With ``predictions``, the report also holds each image's predicted digit, its
    probabilities (rounded to 6 decimals) and the sha256 of all of them as float32, to
    compare two machines output for output.
    """
    predict = model_predictor(model_path, runtime=runtime)
    mnist = load_mnist(data_dir, test_only=True)
    images, labels = mnist.test_images, mnist.test_labels
    if samples < 0:
        raise DigitliteError(f"--samples must not be negative (got {samples})")
    if samples:
        images, labels = images[:samples], labels[:samples]
    probs = predict(images)
    report = classification_report(labels, probs)
    report["model"] = str(model_path)
    if predictions:
        report["predictions"] = [int(d) for d in np.argmax(probs, axis=1)]
        report["probabilities"] = np.round(probs.astype(np.float64), 6).tolist()
        report["probabilities_sha256"] = hashlib.sha256(np.ascontiguousarray(probs, np.float32).tobytes()).hexdigest()
    return report
