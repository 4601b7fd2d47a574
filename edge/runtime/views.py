"""Read a digit in seven views: as it is, moved one pixel each way, and turned 6 degrees each way.

A digit reads the same when it is moved by a pixel or turned a little: the model was trained on
such moves (train/data.py turns by up to 10 degrees, shifts by up to 2.5 pixels).  A letter, a
scribble or half a digit often does not: the model's answer for it swings from view to view.  So
one reading pools the model's answers for the seven views: the mean of their log-probabilities
(as averaging logits) over a temperature, renormalised.  Measured on the shipped model
(``python -m digitlite.benchmarks.nondigits``): non-digits answered "not a digit" 92.4% -> 95.0%,
with the same 308/311 real single digits read right.  The temperature is the shipped model's; for
another model (a tuned one), ``benchmarks.views --model`` says whether it still fits.

Every number here is an integer, so that the browser page (edge/web/views.js) makes exactly the
same views: a view's pixel is a bilinear mix of four input pixels with weights in 1/4096ths,
found with fixed-point coordinates.  A number's candidates are read in one view (``api.Classifier``
says why).
"""

from __future__ import annotations

import numpy as np

SIDE = 28
ONE = 4096  # the fixed-point unit of coordinates and weights
COS_6, SIN_6 = 4074, 428  # round(cos(6 deg) * 4096), round(sin(6 deg) * 4096)
SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1))  # (dx, dy): a view's pixel (x, y) is the input's (x - dx, y - dy)
TURNS = ((COS_6, SIN_6), (COS_6, -SIN_6))  # (cos, sin) of each turned view
COUNT = 1 + len(SHIFTS) + len(TURNS)
FLOOR = 1 / 512  # a probability of 0 from a uint8 output means less than half its step (1/256)
# The pooled answer is less sure than each view (a turned view is read a little less surely): its
# temperature, fitted as the training fits the model's (train/calibrate.py) on the training's own
# validation set, 5,000 MNIST digits and 2,400 generated non-digits (python -m digitlite.benchmarks.views).
TEMPERATURE = 0.707


def _taps(cos: int, sin: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each of a turned view's 784 pixels comes from: indices (784, 4) into the input padded by
    one zero pixel on each side (30x30, row-major) and their weights (784, 4), which sum to ONE."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.int64)
    u, v = 2 * x - (SIDE - 1), 2 * y - (SIDE - 1)  # half-pixels from the centre
    # The source point of output pixel (x, y), in half-pixels times ONE: the output turned back by
    # the view's angle about the centre.
    xs = cos * u + sin * v + (SIDE - 1) * ONE
    ys = -sin * u + cos * v + (SIDE - 1) * ONE
    x0, fx = xs // (2 * ONE), (xs % (2 * ONE)) >> 7  # whole pixel, and the fraction in 1/64ths
    y0, fy = ys // (2 * ONE), (ys % (2 * ONE)) >> 7
    index, weight = [], []
    for oy, wy in ((0, 64 - fy), (1, fy)):
        for ox, wx in ((0, 64 - fx), (1, fx)):
            # outside the input is black: the padding's zeros
            col, row = np.clip(x0 + ox, -1, SIDE) + 1, np.clip(y0 + oy, -1, SIDE) + 1
            index.append((row * (SIDE + 2) + col).ravel())
            weight.append((wx * wy).ravel())
    return np.stack(index, 1), np.stack(weight, 1)


_TAPS = [_taps(*turn) for turn in TURNS]
_INDEX = np.stack([i for i, _ in _TAPS]).reshape(-1)  # (2 * 784 * 4,)
_WEIGHT = np.stack([w for _, w in _TAPS]).astype(np.int32)  # (2, 784, 4)


def views(pixels: np.ndarray) -> np.ndarray:
    """The seven views (N, 7, 28, 28) uint8 of 28x28 inputs (N, 28, 28): the input first."""
    x = np.asarray(pixels, np.uint8).reshape(-1, SIDE, SIDE)
    padded = np.zeros((len(x), SIDE + 2, SIDE + 2), np.int32)
    padded[:, 1:-1, 1:-1] = x
    taps = np.take(padded.reshape(len(x), (SIDE + 2) ** 2), _INDEX, axis=1).reshape((len(x),) + _WEIGHT.shape)
    turned = (np.einsum("nvpk,vpk->nvp", taps, _WEIGHT) + ONE // 2) >> 12
    out = np.empty((len(x), COUNT, SIDE, SIDE), np.uint8)
    out[:, 0] = x
    for k, (dx, dy) in enumerate(SHIFTS, 1):
        out[:, k] = padded[:, 1 - dy:1 - dy + SIDE, 1 - dx:1 - dx + SIDE]
    out[:, 1 + len(SHIFTS):] = turned.reshape(len(x), len(TURNS), SIDE, SIDE)
    return out


def pool(probabilities: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """One row of probabilities (N, C) from each input's seven (N, 7, C): the mean of their logs
    (each at least FLOOR) over ``temperature``, renormalised."""
    log = np.log(np.clip(np.asarray(probabilities, np.float64), FLOOR, 1.0)).mean(axis=1) / temperature
    p = np.exp(log - log.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


class Viewed:
    """A predictor (``runtime.predictor.Predictor``) that reads each input in its seven views and
    pools them: what ``api.Classifier``, the camera and the server read a digit with."""

    def __init__(self, predictor):
        self.predictor = predictor

    def seen(self, pixels: np.ndarray) -> np.ndarray:
        """The predictor's probabilities for each input's seven views (N, 7, 10 or 11), in one call."""
        x = np.asarray(pixels)
        if x.ndim == 2:
            x = x[None]
        out = self.predictor.predict_proba(views(x).reshape(-1, SIDE, SIDE))
        return out.reshape(len(x), COUNT, out.shape[-1])

    def predict_proba(self, pixels: np.ndarray) -> np.ndarray:
        """Pooled probabilities (N, 10 or 11) of uint8 inputs (N, 28, 28)."""
        return pool(self.seen(pixels))
