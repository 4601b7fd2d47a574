"""A quantization run's settings and their defaults: the one place they are written.

Light (no TensorFlow), so that ``digitlite quantize --help`` shows the defaults fast.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class QuantizeConfig:
    """Settings of a quantization run, with their defaults."""

    model: str
    out: str = ""  # default: the model's folder
    variants: tuple = ("int8",)
    calibration_samples: int = 500
    io_type: str = "uint8"
    max_drop: float = 0.3  # percentage points
    seed: int = 1
    data_dir: str = ""
    runtime: str = "auto"


DEFAULTS = QuantizeConfig(model="")
