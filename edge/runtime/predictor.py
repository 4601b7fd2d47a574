"""What reads digits: anything that turns a batch of 28x28 inputs into probabilities.

``runtime.interpreter.Model`` (LiteRT or tflite-runtime), ``deploy.mcu.MicroModel`` (TensorFlow Lite
Micro) and ``api.Classifier`` are each one; the camera's frame reader, the server and the
benchmarks take any of them.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class Predictor(Protocol):
    """Reads a batch of 28x28 inputs."""

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """uint8 inputs (N, 28, 28), 0-255, white digit on black -> probabilities (N, 10), or (N, 11)
        with "not a digit" as the last column."""
        ...
