"""The model card: the JSON file beside every ``.tflite`` (``X.tflite`` -> ``X.json``).

``digitlite quantize`` writes it; ``info``, ``serve``, ``export`` and the benchmarks read it,
all through ``ModelCard``: one reader and one writer, validated, with a one-line error for a
card that is missing, unreadable, someone else's JSON, or another model's.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from digitlite.edge.util.digest import sha256_file
from digitlite.edge.util.errors import DigitliteError


class CardError(DigitliteError):
    """A model card that is missing, unreadable, not a model card, or not this model's."""


@dataclass(kw_only=True)
class ModelCard:
    """What a quantized model is and how well it does, as ``digitlite quantize`` measured it."""

    file: str  # the .tflite file's name
    variant: str  # int8, float16, dynamic or float32
    batch: int | None = None  # a fixed batch size (1: for LiteRT.js and TFLite Micro); None: any
    source_model: str | None = None  # the Keras model it was converted from
    source_sha256: str | None = None
    keras_model_name: str | None = None
    parameters: int | None = None
    arch: str | None = None  # from the training report, when it describes the source model
    macs_per_image: int | None = None
    epochs_run: int | None = None
    input: dict = field(default_factory=dict)  # shape, dtype, scale, zero_point
    output: dict = field(default_factory=dict)
    operators: list = field(default_factory=list)  # [{"op", "dtypes"}]
    runtime: str | None = None  # the interpreter that evaluated it
    float_accuracy: float | None = None  # the Keras model's, on the same test images
    tflite_accuracy: float
    drop_points: float | None = None  # float_accuracy - tflite_accuracy, in percentage points
    max_drop_points: float | None = None  # the gate (int8 only)
    agreement_with_float: float | None = None
    per_class_accuracy: list = field(default_factory=list)
    test_images: int | None = None
    calibration_samples: int | None = None
    seed: int | None = None
    size_bytes: int
    sha256: str
    versions: dict = field(default_factory=dict)
    full_integer: bool | None = None  # int8 only
    status: str | None = None  # passed or rejected
    problems: list | None = None  # why it was rejected
    same_as: dict | None = None  # a fixed-batch twin: {file, predictions, outputs, of} answered as that model did
    tuning: dict | None = None  # a model tuned on a person's samples (digitlite tune): how many, their hash, before/after

    REQUIRED = ("file", "variant", "tflite_accuracy", "size_bytes", "sha256")

    @classmethod
    def from_dict(cls, data, source: str = "model card") -> ModelCard:
        """A card from its JSON object; CardError naming ``source`` if it is not a digitlite model card."""
        if not isinstance(data, dict):
            raise CardError(f"{source}: not a model card (expected a JSON object)")
        missing = [k for k in cls.REQUIRED if k not in data]
        if missing:
            raise CardError(f"{source}: not a digitlite model card (no {', '.join(missing)})")
        known = {f.name: f for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        for name, value in values.items():
            expected = _TYPES.get(name)
            if value is not None and expected and not (isinstance(value, expected) and not
                                                       (isinstance(value, bool) and bool not in expected)):
                raise CardError(f"{source}: not a digitlite model card ({name} is {type(value).__name__})")
        return cls(**values)

    def to_dict(self) -> dict:
        """The JSON object, in the order the fields are declared, leaving out what is unknown (None)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def to_json(self) -> bytes:
        """The file's bytes."""
        return (json.dumps(self.to_dict(), indent=2) + "\n").encode()

    @classmethod
    def read(cls, path: str | os.PathLike) -> ModelCard:
        """Read and validate the card file ``path``."""
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise CardError(f"{path}: the model card is missing (digitlite quantize writes it beside the model)") from None
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise CardError(f"{path}: unreadable model card ({getattr(e, 'strerror', None) or e})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def of(cls, model: str | os.PathLike, required: bool = True) -> ModelCard | None:
        """The card beside ``model`` (``X.tflite`` -> ``X.json``), checked to be that model's.

        Without ``required``, a missing card is None (a model of one's own need not have one);
        a card that is there but broken or another model's is an error either way.
        """

        model = Path(model)
        path = card_path(model)
        if not required and not path.exists():
            return None
        card = cls.read(path)
        if model.is_file() and card.sha256 != sha256_file(model):
            raise CardError(f"{path}: the card's sha256 does not match {model.name}: not this model's card")
        return card

    def essentials(self) -> dict:
        """What the server's /api/health shows of the model."""
        keys = ("file", "variant", "tflite_accuracy", "size_bytes", "sha256", "parameters", "macs_per_image")
        return {k: v for k, v in self.to_dict().items() if k in keys}


_TYPES = {
    "file": (str,), "variant": (str,), "batch": (int,), "same_as": (dict,),
    "source_model": (str,), "source_sha256": (str,), "keras_model_name": (str,),
    "parameters": (int,), "arch": (str,), "macs_per_image": (int,), "epochs_run": (int,), "input": (dict,),
    "output": (dict,), "operators": (list,), "runtime": (str,), "float_accuracy": (int, float),
    "tflite_accuracy": (int, float), "drop_points": (int, float), "max_drop_points": (int, float),
    "agreement_with_float": (int, float), "per_class_accuracy": (list,), "test_images": (int,),
    "calibration_samples": (int,), "seed": (int,), "size_bytes": (int,), "sha256": (str,), "versions": (dict,),
    "full_integer": (bool,), "status": (str,), "problems": (list,), "tuning": (dict,),
}


def card_path(model: str | os.PathLike) -> Path:
    """Where the card of ``model`` lives: beside it, with a .json suffix."""
    return Path(model).with_suffix(".json")


def tuning_files(keras_model: str | os.PathLike) -> tuple[Path, Path]:
    """What ``digitlite tune`` writes beside ``NAME.keras`` and ``digitlite quantize`` gates on: the
    report ``NAME.tune.json`` and the held-out samples ``NAME.holdout.npz``."""
    model = Path(keras_model)
    return model.with_suffix(".tune.json"), model.with_suffix(".holdout.npz")
