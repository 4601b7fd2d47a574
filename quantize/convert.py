"""Keras -> TFLite conversion: full-integer int8 with a representative dataset, and the float variants.

Variants:
  int8     full-integer post-training quantization; uint8 (or int8) input and output, so the
           edge side feeds raw pixels and no float op is left
  float32  plain conversion, the reference
  float16  weights stored as float16
  dynamic  dynamic-range quantization: int8 weights, float activations
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np

from digitlite.edge.util.errors import DigitliteError, first_line
from digitlite.edge.util.quiet import import_tensorflow, quiet
from digitlite.edge.util.signals import signals_to
from digitlite.quantize import VARIANTS

tf = import_tensorflow()
LOW_TEMP_SPACE = 64 * 1024 * 1024  # TensorFlow writes a SavedModel of the model to the temp folder first


def representative_images(images: np.ndarray, labels: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` training images stratified over the ten digits (as even as ``count`` allows)."""
    if count < 10:
        raise DigitliteError(f"--calibration-samples must be at least 10 (one per digit), got {count}")
    rng = np.random.default_rng(seed)
    per_class = np.full(10, count // 10)
    per_class[: count % 10] += 1
    picked = [rng.choice(np.flatnonzero(labels == digit), size=n, replace=False)
              for digit, n in enumerate(per_class)]
    order = np.concatenate(picked)
    return images[rng.permutation(order)]


def with_fixed_batch(model, batch: int = 1):
    """The same Keras model (same weights) with its batch fixed at ``batch``: every shape in its
    graph is then static, as LiteRT.js and TensorFlow Lite Micro want it."""
    # optional: TensorFlow, the [train] extra, for .keras files only
    import keras

    inputs = keras.Input(shape=model.input_shape[1:], batch_size=batch, name=model.inputs[0].name.split(":")[0])
    fixed = keras.models.clone_model(model, input_tensors=inputs)
    fixed.set_weights(model.get_weights())
    return fixed


def convert(model, variant: str, calibration: np.ndarray | None = None, io_type: str = "uint8") -> bytes:
    """Convert a Keras model to TFLite bytes as ``variant`` says (see the module docstring)."""
    if variant not in VARIANTS:
        raise DigitliteError(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if variant == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif variant == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif variant == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 conversion needs calibration images")
        shape = (1,) + tuple(model.input_shape[1:])

        def representative():
            for image in calibration:
                yield [image.reshape(shape).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = getattr(tf, io_type)
        converter.inference_output_type = getattr(tf, io_type)
    stop: list[int] = []  # the converter calls the dataset from C++, which can swallow a KeyboardInterrupt
    try:
        with quiet(), signals_to(lambda signum, frame: stop.append(signum)):
            data = converter.convert()
    except Exception as e:  # the converter's errors are long MLIR dumps: keep the first line
        raise DigitliteError(f"TFLite conversion ({variant}) failed: {first_line(e)[:300]}{_temp_space_hint()}") from None
    if stop:
        raise KeyboardInterrupt
    return data


def _temp_space_hint() -> str:
    # A full temp folder makes the converter fail with an unrelated message ("'NoneType' object
    # is not callable"), so say when space there is short.
    folder = tempfile.gettempdir()
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return ""
    if free >= LOW_TEMP_SPACE:
        return ""
    return (f" ({free / 1e6:.1f} MB free in {folder}, where TensorFlow writes the model while converting: "
            "free some space or set TMPDIR to a roomier folder)")
