"""What ships inside the package: the int8 models (and their batch-1 twins), their names, and the page's files."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import numpy as np

from digitlite.edge.runtime.card import ModelCard
from digitlite.edge.util.errors import DigitliteError

# name -> (file in edge/models, what it is for); `--model NAME` takes the name, the file name or its stem
SHIPPED = {
    "digits": ("digits_int8.tflite", "the default: classify, camera, serve, eval, the Pi bundle and the Python API"),
    "digits_b1": ("digits_int8_b1.tflite", "its batch-1 twin: the static web page (LiteRT.js) and microcontrollers "
                                           "with room for it"),
    "micronet": ("micronet_int8.tflite", "small microcontrollers (16 KB of flash): export --target mcu --model micronet"),
}


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


def default_mcu_model() -> Path:
    """What ``export --target mcu`` ships by default: the batch-1 twin where its card records that it
    answered all the test images as the default model does (it needs no SHAPE, STRIDED_SLICE or PACK
    kernel: a smaller op resolver), else the default model itself."""
    twin = default_web_model()
    card = ModelCard.of(twin, required=False) if twin.is_file() else None
    same = (card.same_as or {}) if card else {}
    if same.get("file") == default_model().name and same.get("of") and same.get("predictions") == same.get("of"):
        return twin
    return default_model()


def web_root() -> Path:
    """The folder of the draw-a-digit page's files (HTML, scripts, style)."""
    return _packaged("web")


def shipped_names() -> str:
    """The shipped models' names, for a message."""
    return ", ".join(SHIPPED)


def model_path(model: str | os.PathLike | None) -> Path:
    """The model file ``model`` names: a path, or a shipped model by its name (``micronet``), its file
    name (``micronet_int8.tflite``) or its stem; None is the default model.  A name that is neither
    is returned as a path, for the one-line "no such model file" where it is opened."""
    if model is None or str(model) == "":
        return default_model()
    path = Path(model)
    if path.exists():
        return path
    for name, (file, _) in SHIPPED.items():
        if str(model) in (name, file, Path(file).stem):
            return _packaged("models", file)
    return path


def shipped_models() -> list[dict]:
    """Each shipped model: name, file, size, its card's MNIST accuracy and outputs, what it is for."""
    rows = []
    for name, (file, use) in SHIPPED.items():
        path = _packaged("models", file)
        if not path.is_file():
            continue
        card = ModelCard.of(path, required=False)
        rows.append({"name": name, "file": str(path), "size_bytes": path.stat().st_size,
                     "accuracy": card.tflite_accuracy if card else None,
                     "outputs": (card.output or {}).get("shape", [None])[-1] if card else None,
                     "batch": card.batch if card else None, "for": use})
    return rows


def sample_digit() -> tuple[np.ndarray, int]:
    """The digit shipped for examples and quick checks (MNIST test image 0): its 28x28 uint8 pixels and label."""
    path = next(iter(sorted(_packaged("models").glob("sample_digit_*.pgm"))), None)
    if path is None:
        raise DigitliteError("the shipped sample digit (edge/models/sample_digit_*.pgm) is missing from this install")
    data = path.read_bytes()
    return np.frombuffer(data[-28 * 28:], np.uint8).reshape(28, 28).copy(), int(path.stem.rsplit("_", 1)[1])
