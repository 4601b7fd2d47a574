"""Keras -> TFLite conversion: full-integer int8 with a representative dataset, and the float variants.

Variants:
  int8     full-integer post-training quantization; uint8 (or int8) input and output, so the
           edge side feeds raw pixels and no float op is left
  float32  plain conversion, the reference
  float16  weights stored as float16
  dynamic  dynamic-range quantization: int8 weights, float activations
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import tempfile

import numpy as np

from edge.errors import DigitliteError
from edge.quiet import import_tensorflow, quiet
from quantize import VARIANTS

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
    try:
        with quiet(), _interrupt_after() as stop:
            data = converter.convert()
        if stop:
            raise KeyboardInterrupt
        return data
    except Exception as e:  # the converter's errors are long MLIR dumps: keep the first line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DigitliteError(f"TFLite conversion ({variant}) failed: {first[:300]}{_temp_space_hint()}") from None


@contextlib.contextmanager
def _interrupt_after():
    """Hold Ctrl-C and SIGTERM until the converter returns; yield a list that is non-empty if one came.

    The converter calls back into Python (the representative dataset) from C++, which swallows
    a KeyboardInterrupt raised there: the conversion then ran to its end as if nothing happened.
    """
    stop: list[int] = []
    try:
        previous = {sig: signal.signal(sig, lambda signum, frame: stop.append(signum))
                    for sig in (signal.SIGINT, signal.SIGTERM)
                    if signal.getsignal(sig) is not signal.SIG_IGN}  # nohup and friends keep theirs
    except ValueError:  # not the main thread: leave the signals alone
        yield stop
        return
    try:
        yield stop
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


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
