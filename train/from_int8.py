"""Float Keras weights read back out of a full-integer int8 model: what ``digitlite tune`` starts from.

The shipped ``digits_int8.tflite`` is the model every command runs; tuning it means training its
weights, so they are taken from that very file rather than from a float file shipped beside it
(a training run repeated on another CPU gives another model: TensorFlow's kernels round
differently on AVX-512).  Each convolution and dense layer's int8 kernel and int32 bias are
dequantized with their per-channel scales and set on the same architecture: the converter folded
each BatchNorm into the layer before it, so the BatchNorm is set to pass the folded bias through
(gamma 1, mean 0, variance 1 - epsilon), and the input rescaling (1/255) it folded into the first
kernel is taken back out.  The float model reads the MNIST test images as the int8 model does
(tests/test_tune.py measures it).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter, OpResolverType

from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.util.quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402  (after TensorFlow's quiet import)

from digitlite.train.model import build_model  # noqa: E402

WEIGHTED_OPS = ("CONV_2D", "FULLY_CONNECTED")


def _dequantized(interpreter, index: int) -> np.ndarray:
    """A constant tensor's real values: (q - zero point) * scale, per channel along its first axis."""
    detail = next(d for d in interpreter.get_tensor_details() if d["index"] == index)
    q = detail["quantization_parameters"]
    values = interpreter.get_tensor(index).astype(np.float64)
    scales, zeros = q["scales"], q["zero_points"]
    if len(scales) == 0:
        raise DigitliteError(f"tensor {detail['name']} is not quantized: not a full-integer model")
    shape = (-1,) + (1,) * (values.ndim - 1)
    return ((values - zeros.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def float_model(tflite: str | Path, arch: str = "digitnet") -> keras.Model:
    """The ``arch`` Keras model with the weights of the int8 model ``tflite`` (see the module)."""
    try:
        # without XNNPACK, which packs the constant tensors and frees what get_tensor would read
        interpreter = Interpreter(model_path=str(tflite),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as e:
        raise DigitliteError(f"{tflite}: cannot be read ({e})") from None
    ops = [op for op in interpreter._get_ops_details() if op["op_name"] in WEIGHTED_OPS]
    model = build_model(arch, int(interpreter.get_output_details()[0]["shape"][-1]))
    layers = [layer for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense))]
    if len(ops) != len(layers):
        raise DigitliteError(f"{tflite}: {len(ops)} convolution and dense layers, where {arch} has {len(layers)}: "
                             f"not a {arch} model")
    norms = {layer.name: layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)}
    for k, (op, layer) in enumerate(zip(ops, layers)):
        _, kernel_index, bias_index = (int(i) for i in op["inputs"][:3])
        kernel, bias = _dequantized(interpreter, kernel_index), _dequantized(interpreter, bias_index)
        kernel = kernel.transpose(1, 2, 3, 0) if op["op_name"] == "CONV_2D" else kernel.T  # OHWI -> HWIO, (out, in) -> (in, out)
        if k == 0:
            kernel = kernel * 255.0  # the converter folded the model's 1/255 rescaling into the first kernel
        expected = tuple(w.shape for w in layer.get_weights())
        if kernel.shape != expected[0]:
            raise DigitliteError(f"{tflite}: layer {k + 1} has weights {kernel.shape}, where {arch}'s {layer.name} "
                                 f"has {expected[0]}: not a {arch} model")
        norm = norms.get(f"{layer.name}_bn")
        if norm is not None:
            layer.set_weights([kernel])
            n = len(bias)
            norm.set_weights([np.ones(n, np.float32), bias, np.zeros(n, np.float32),
                              np.full(n, 1.0 - norm.epsilon, np.float32)])
        else:
            layer.set_weights([kernel, bias])
    return model
