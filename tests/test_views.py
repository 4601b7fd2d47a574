"""The seven views a digit is read in (edge/runtime/views.py), their pooling, and who reads with them."""

import math

import numpy as np
import pytest

from digitlite.edge.runtime import views as V


def _digit(seed=0) -> np.ndarray:
    """A 28x28 input with ink away from the border: a filled ring with a bar, random grey levels."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:28, 0:28]
    r = np.hypot(x - 13.5, y - 13.0)
    ink = ((r > 5) & (r < 8)) | ((abs(x - 16) < 1.5) & (y > 6) & (y < 23))
    return np.where(ink, rng.integers(150, 256, (28, 28)), 0).astype(np.uint8)


def _turned_reference(img: np.ndarray, degrees: float) -> np.ndarray:
    """Bilinear sampling in float64 of ``img`` turned by ``degrees`` about its centre (black outside)."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    padded = np.pad(img.astype(np.float64), 1)
    out = np.zeros((28, 28))
    for y in range(28):
        for x in range(28):
            u, v = x - 13.5, y - 13.5
            xs, ys = c * u + s * v + 13.5, -s * u + c * v + 13.5
            x0, y0 = math.floor(xs), math.floor(ys)
            fx, fy = xs - x0, ys - y0
            px = lambda a, b: padded[min(max(b, -1), 28) + 1, min(max(a, -1), 28) + 1]  # noqa: E731
            out[y, x] = ((1 - fx) * (1 - fy) * px(x0, y0) + fx * (1 - fy) * px(x0 + 1, y0)
                         + (1 - fx) * fy * px(x0, y0 + 1) + fx * fy * px(x0 + 1, y0 + 1))
    return out


def test_the_views_are_the_input_moved_a_pixel_each_way_and_turned_six_degrees_each_way():
    img = _digit()
    seen = V.views(np.stack([img, img[::-1]]))
    assert seen.shape == (2, 7, 28, 28) and seen.dtype == np.uint8
    assert np.array_equal(seen[0, 0], img) and np.array_equal(seen[1, 0], img[::-1])
    right, left, down, up = seen[0, 1:5]
    assert np.array_equal(right[:, 1:], img[:, :-1]) and not right[:, 0].any()
    assert np.array_equal(left[:, :-1], img[:, 1:]) and not left[:, -1].any()
    assert np.array_equal(down[1:], img[:-1]) and not down[0].any()
    assert np.array_equal(up[:-1], img[1:]) and not up[-1].any()
    for view, degrees in zip(seen[0, 5:], (6.0, -6.0)):
        # the same turn as exact bilinear sampling, to within the fixed point's: the fraction of a pixel
        # is cut to 1/64, which moves a grey level by at most 255/64 at an edge from 255 to 0
        assert np.abs(view.astype(float) - _turned_reference(img, degrees)).max() <= 255 / 64 + 1
        assert not np.array_equal(view, img)
    assert abs(int(seen[0, 5].astype(int).sum()) - int(img.astype(int).sum())) < 0.02 * img.astype(int).sum()


def test_a_blank_input_stays_blank_and_a_batch_of_none_is_none():
    assert not V.views(np.zeros((3, 28, 28), np.uint8)).any()
    assert V.views(np.zeros((0, 28, 28), np.uint8)).shape == (0, 7, 28, 28)


def test_pooling_is_the_renormalised_mean_of_the_views_logs():
    row = np.array([0.7, 0.2, 0.1])
    sharpened = row ** (1 / V.TEMPERATURE) / (row ** (1 / V.TEMPERATURE)).sum()
    assert np.allclose(V.pool(np.tile(row, (1, 7, 1))), sharpened, atol=1e-6)  # seven alike: only the temperature
    rows = np.array([[[0.9, 0.1, 0.0]] * 6 + [[0.0, 0.1, 0.9]]])  # one view says it is the third
    pooled = V.pool(rows)[0]
    assert pooled.sum() == pytest.approx(1.0, abs=1e-6) and np.all(np.isfinite(pooled))
    logs = np.log(np.clip(rows[0], V.FLOOR, 1)).mean(axis=0) / V.TEMPERATURE
    assert np.allclose(pooled, np.exp(logs) / np.exp(logs).sum(), atol=1e-6)
    assert pooled[0] < 0.9 and pooled.argmax() == 0
    logs = np.log(np.clip(rows[0], V.FLOOR, 1)).mean(axis=0)  # temperature 1: the plain geometric mean
    assert np.allclose(V.pool(rows, temperature=1.0)[0], np.exp(logs) / np.exp(logs).sum(), atol=1e-6)


class Swinging:
    """A predictor that reads the unmoved input as a confident 4 and every other view as something else,
    as a letter is read; it keeps what it was asked."""

    def __init__(self):
        self.asked = []

    def predict_proba(self, pixels):
        self.asked.append(np.array(pixels))
        out = np.zeros((len(pixels), 11), np.float32)
        for i in range(len(pixels)):
            view = i % 7
            out[i, 4 if view == 0 else (view + 4) % 10] = 0.6 if view else 0.9
            out[i, 10] = 1 - out[i].sum()
        return out


def test_viewed_reads_each_input_in_its_seven_views_in_one_call_and_answers_one_row_each():
    swinging = Swinging()
    inputs = np.stack([_digit(0), _digit(1)])
    pooled = V.Viewed(swinging).predict_proba(inputs)
    assert len(swinging.asked) == 1 and swinging.asked[0].shape == (14, 28, 28)
    assert np.array_equal(swinging.asked[0].reshape(2, 7, 28, 28), V.views(inputs))
    assert pooled.shape == (2, 11)
    seen = V.Viewed(swinging).seen(inputs)  # each view's own answer, before pooling
    assert seen.shape == (2, 7, 11) and np.array_equal(seen, swinging.predict_proba(V.views(inputs).reshape(-1, 28, 28)).reshape(2, 7, 11))
    assert np.allclose(V.pool(seen), pooled, atol=1e-6)
    # one view's confident 4 is no reading: over seven views "not a digit" is the likeliest answer
    assert (pooled.argmax(axis=1) == 10).all()
    assert V.Viewed(swinging).predict_proba(_digit()).shape == (1, 11)  # one 28x28 input
    assert V.Viewed(swinging).predict_proba(np.zeros((0, 28, 28), np.uint8)).shape == (0, 11)


def test_classify_camera_and_server_read_in_seven_views_and_numbers_in_one(quantized):
    from digitlite.edge.api import Classifier
    from digitlite.edge.runtime.interpreter import Model

    model = quantized[0] / "digits_int8.tflite"
    clf = Classifier(model)
    plain, viewed = Model(model), V.Viewed(Model(model))
    inputs = np.stack([_digit(0), _digit(1), _digit(2)])
    assert np.allclose(clf.predict_proba(inputs), viewed.predict_proba(inputs), atol=1e-6)
    assert np.allclose(clf.candidate_proba(inputs), plain.predict_proba(inputs), atol=1e-6)
    assert not np.allclose(viewed.predict_proba(inputs), plain.predict_proba(inputs), atol=1e-3)
