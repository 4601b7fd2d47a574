"""The training's own pictures: non-digits for the eleventh class, digits re-drawn, and the temperature."""

from __future__ import annotations

import numpy as np
import pytest

from digitlite.edge.data.metrics import calibration
from digitlite.train import synthetic
from digitlite.train.calibrate import fit_temperature, fold_temperature


def test_non_digits_are_made_from_a_seed_and_read_as_the_runtime_reads_them(mnist):
    x, kinds = synthetic.generate(60, 3, mnist.train_images[:500], mnist.train_labels[:500])
    again, _ = synthetic.generate(60, 3, mnist.train_images[:500], mnist.train_labels[:500])
    assert x.shape == (60, 28, 28) and x.dtype == np.uint8 and np.array_equal(x, again)
    assert set(kinds.tolist()) <= set(range(len(synthetic.KINDS))) and len(set(kinds.tolist())) >= 3
    assert (x.reshape(60, -1).max(axis=1) > 200).all()  # each is ink as the reading leaves it: cores at white
    other, _ = synthetic.generate(60, 4, mnist.train_images[:500], mnist.train_labels[:500])
    assert not np.array_equal(x, other)
    no_halves, kinds = synthetic.generate(20, 3)  # without MNIST digits: no halves
    assert len(no_halves) == 20 and synthetic.KINDS.index("halves") not in kinds


def test_no_glyph_is_a_letter_that_a_digit_looks_like():
    assert not set(synthetic.GLYPHS) & set("OoIilSsZzBbGgqJj!|/")


def test_redrawn_digits_keep_their_shape(mnist):
    images = mnist.train_images[:40]
    redrawn = synthetic.redrawn(images, 5)
    assert redrawn.shape == images.shape and np.array_equal(redrawn, synthetic.redrawn(images, 5))
    assert not np.array_equal(redrawn, images)
    # the same digit, re-read: close to its MNIST self (cosine of the two inputs)
    a, b = images.reshape(40, -1).astype(float), redrawn.reshape(40, -1).astype(float)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert np.median(cos) > 0.6


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_with():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (20000, 11))
    true_t = 2.5
    p = np.exp(logits / true_t)
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(11, p=row) for row in p])
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    assert fit_temperature(softmax, labels) == pytest.approx(true_t, rel=0.05)


def test_the_temperature_is_folded_into_the_last_layer():
    import keras

    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="probs")(inputs))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    logits = np.log(model.predict(x, verbose=0))
    fold_temperature(model, 2.0)
    z = logits / 2.0
    expected = np.exp(z - z.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-4, atol=1e-6)


def test_calibration_error_and_bins():
    right = np.array([1, 1, 0, 1, 0, 0, 1, 1, 1, 1], bool)
    sure = np.array([0.95, 0.95, 0.95, 0.95, 0.55, 0.55, 0.75, 0.75, 0.75, 0.75])
    cal = calibration(right, sure, bins=10)
    # bin 0.9-1.0: 3/4 right at 0.95; bin 0.5-0.6: 0/2 at 0.55; bin 0.7-0.8: 4/4 at 0.75
    assert cal["ece"] == pytest.approx((4 * 0.2 + 2 * 0.55 + 4 * 0.25) / 10)
    assert sum(b["answers"] for b in cal["bins"]) == 10 and cal["samples"] == 10
    assert calibration(np.ones(4, bool), np.ones(4))["ece"] == 0.0
    assert calibration(np.zeros(0, bool), np.zeros(0)) == {"ece": 0.0, "samples": 0, "bins": []}


def test_chunks_made_on_every_core_come_back_in_order(mnist):
    # 1,100 pictures: three chunks, made by two processes; the same as making the chunks one by one
    # here, where TensorFlow has loaded OpenCV (the pictures are read with numpy's pixel operations)
    images, labels = mnist.train_images[:5000], mnist.train_labels[:5000]
    x, kinds = synthetic.generate(1100, 9, images, labels)
    pool = np.random.default_rng(9).permutation(len(images))[:synthetic.HALF_POOL]
    parts = [synthetic._numpy_only(synthetic._generate, n, (9, k), images[pool], labels[pool], synthetic.KINDS, None)
             for k, n in enumerate(synthetic._shares(1100))]
    assert len(parts) == 3 and len(x) == 1100
    assert np.array_equal(x, np.concatenate([p for p, _ in parts]))
    assert np.array_equal(kinds, np.concatenate([k for _, k in parts]))
