"""The CNN architectures, by name, and what each costs (parameters, multiply-accumulates).

Every model takes raw 0-255 pixels of shape (28, 28, 1): the rescaling to 0-1 is the
first layer, so the deployed model is fed what a camera or an image file gives.
"""

from __future__ import annotations

import math

from digitlite.edge.util.quiet import import_tensorflow

import_tensorflow()

import keras  # noqa: E402
from keras import layers  # noqa: E402

INPUT_SHAPE = (28, 28, 1)
NUM_CLASSES = 10  # the digits; a model that also answers "not a digit" has one class more


def _conv_bn_relu(x, filters, kernel=3, strides=1, padding="same", name=None):
    x = layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=False, name=name)(x)
    # momentum 0.9 (not Keras's 0.99): the moving statistics settle within tens of steps,
    # so short runs evaluate sensibly too; full runs take hundreds of steps an epoch.
    x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn" if name else None)(x)
    return layers.ReLU(name=f"{name}_relu" if name else None)(x)


def build_baseline(classes: int = NUM_CLASSES) -> keras.Model:
    """The classic Conv32-Pool-Conv48-Pool-Dropout-Dense500-Dense10 network (about 2.5 M MACs)."""
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = layers.Conv2D(32, 3, activation="relu", name="conv1")(x)
    x = layers.MaxPooling2D(name="pool1")(x)
    x = layers.Conv2D(48, 3, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(name="pool2")(x)
    x = layers.Dropout(0.5, name="dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(500, activation="relu", name="dense1")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="baseline")


def build_digitnet(classes: int = NUM_CLASSES) -> keras.Model:
    """The default: four BatchNorm convolutions and a small dense head, about 3.5 M MACs.

    A 3x3 stride-2 convolution takes the image straight to 14x14 (a full-resolution first
    layer costs an int8 interpreter far more time than its MACs suggest), one convolution
    works at 14x14, two at 7x7, then a 96-unit dense layer with dropout.  (Telling a letter
    from a digit, besides the digits, took the widths from 16-16-32-48 and 64 to these.)
    """
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, 24, strides=2, name="conv1")  # 14x14x24
    x = _conv_bn_relu(x, 32, name="conv2")
    x = layers.MaxPooling2D(name="pool1")(x)  # 7x7
    x = _conv_bn_relu(x, 48, name="conv3")
    x = _conv_bn_relu(x, 64, name="conv4")
    x = layers.MaxPooling2D(name="pool2")(x)  # 3x3x64
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(96, use_bias=False, name="dense")(x)
    x = layers.BatchNormalization(momentum=0.9, name="dense_bn")(x)
    x = layers.ReLU(name="dense_relu")(x)
    x = layers.Dropout(0.25, name="dropout")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="digitnet")


def build_micronet(classes: int = NUM_CLASSES) -> keras.Model:
    """For microcontrollers: about 8.5 k parameters (a ~16 KB int8 model) and small activations.

    Five BatchNorm 3x3 convolutions without padding (26, 24, then 10, 8, 6 pixels, one max
    pooling between), global average pooling and a 10-way dense layer, no dropout.  The largest
    pair of tensors alive at once is 26x26x8 in and 24x24x10 out (11.2 KB as int8), so that the
    whole tensor arena, TFLite Micro's own structures and CMSIS-NN's scratch included, stays under
    16 KB (with 12 channels there it measured 16.2 KB).
    """
    inputs = keras.Input(INPUT_SHAPE, name="pixels")
    x = layers.Rescaling(1.0 / 255, name="rescale")(inputs)
    x = _conv_bn_relu(x, 8, padding="valid", name="conv1")  # 26x26x8
    x = _conv_bn_relu(x, 10, padding="valid", name="conv2")  # 24x24x10
    x = layers.MaxPooling2D(name="pool1")(x)  # 12x12
    x = _conv_bn_relu(x, 16, padding="valid", name="conv3")  # 10x10
    x = _conv_bn_relu(x, 16, padding="valid", name="conv4")  # 8x8
    x = _conv_bn_relu(x, 24, padding="valid", name="conv5")  # 6x6x24
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(classes, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="micronet")


ARCHITECTURES = {
    "digitnet": build_digitnet,
    "baseline": build_baseline,
    "micronet": build_micronet,
}
DEFAULT_ARCH = "digitnet"


def build_model(arch: str = DEFAULT_ARCH, classes: int = NUM_CLASSES) -> keras.Model:
    """Build the named architecture (see ARCHITECTURES) with ``classes`` outputs (10 digits, or 11
    with "not a digit")."""
    try:
        return ARCHITECTURES[arch](classes)
    except KeyError:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {', '.join(ARCHITECTURES)}") from None


def count_macs(model: keras.Model) -> int:
    """Multiply-accumulates for one image through the convolutions and dense layers.

    A kernel is applied once per output position, so a layer costs
    (output positions) x (kernel elements); a separable convolution is its depthwise
    plus its pointwise part.  Pooling, BatchNorm (folded into the convolution when
    converted) and activations are not counted.
    """
    total = 0
    for layer in model.layers:
        if isinstance(layer, layers.SeparableConv2D):
            kernels = [layer.depthwise_kernel, layer.pointwise_kernel]
        elif isinstance(layer, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)):
            kernels = [layer.kernel]
        else:
            continue
        positions = math.prod(layer.output.shape[1:-1])
        total += sum(positions * math.prod(k.shape) for k in kernels)
    return int(total)
