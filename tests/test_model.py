"""The architecture registry and the cost figures it reports."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from digitlite.train.model import ARCHITECTURES, DEFAULT_ARCH, build_model, count_macs


@pytest.mark.parametrize("arch", list(ARCHITECTURES))
def test_every_architecture_takes_raw_pixels_and_gives_probabilities(arch):
    model = build_model(arch)
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    x = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1)).astype(np.float32)
    p = model.predict(x, verbose=0)
    assert p.shape == (4, 10)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_rescaling_is_inside_the_model():
    model = build_model(DEFAULT_ARCH)
    assert isinstance(model.layers[1], keras.layers.Rescaling)
    assert model.layers[1].scale == pytest.approx(1 / 255)


def test_default_stays_within_its_parameter_budget():
    """At most 120,000 parameters: about 120 KB as int8, well inside a Pi's cache and a web page's download."""
    assert build_model(DEFAULT_ARCH).count_params() <= 120_000


def test_micronet_fits_a_small_microcontroller_by_design():
    """Parameters well under 20 KB of int8 weights, and no two live activations over 11.2 KB (int8)."""
    model = build_model("micronet")
    assert model.count_params() <= 10_000
    kept = (keras.layers.Conv2D, keras.layers.MaxPooling2D)  # BatchNorm and ReLU fold into the convolutions
    sizes = [28 * 28] + [int(np.prod(layer.output.shape[1:])) for layer in model.layers if isinstance(layer, kept)]
    assert max(a + b for a, b in zip(sizes, sizes[1:])) <= 26 * 26 * 8 + 24 * 24 * 10
    assert not [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]


def test_baseline_macs_by_hand():
    # conv1 26x26x(3x3x1x32), conv2 11x11x(3x3x32x48), dense 1200x500, dense 500x10
    expected = 26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 48 + 1200 * 500 + 500 * 10
    assert count_macs(build_model("baseline")) == expected == 2_472_392


def test_separable_and_depthwise_layers_are_counted():
    inputs = keras.Input((8, 8, 4))
    x = keras.layers.SeparableConv2D(6, 3, padding="same")(inputs)  # 64*(9*4) + 64*(4*6)
    x = keras.layers.DepthwiseConv2D(3)(x)  # 36*(9*6)
    model = keras.Model(inputs, x)
    assert count_macs(model) == 64 * 36 + 64 * 24 + 36 * 54


def test_unknown_architecture_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown architecture 'nope'; choose one of digitnet, baseline, micronet"):
        build_model("nope")
