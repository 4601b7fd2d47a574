"""What ships inside the package: the int8 models (and their batch-1 twins) and the page's files."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from digitlite.edge.util.errors import DigitliteError


def _packaged(*parts: str) -> Path:
    return Path(str(resources.files("digitlite.edge").joinpath(*parts)))


def default_model() -> Path:
    """The int8 model shipped inside the package."""
    path = _packaged("models", "digits_int8.tflite")
    if not path.is_file():
        raise DigitliteError(f"{path}: the shipped model is missing from this install; pass --model FILE.tflite")
    return path


def default_web_model() -> Path:
    """The shipped int8 model's batch-1 twin (what LiteRT.js and the microcontroller can run)."""
    return default_model().with_name("digits_int8_b1.tflite")


def web_root() -> Path:
    """The folder of the draw-a-digit page's files (HTML, scripts, style)."""
    return _packaged("web")
