"""The MNIST transform: a digit's ink -> the 28x28 input the model reads (strokes thickened to MNIST's
width, fitted in 20x20 keeping the aspect ratio, centred by mass), and writing one as a PNG."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.edge.util import atomic
from digitlite.edge.vision import imageops
from digitlite.edge.vision.ink import stroke_width

BOX = 20  # MNIST: the digit fits a 20x20 box ...
SIZE = 28  # ... centred in 28x28
TARGET_STROKE = 2.2  # MNIST's typical stroke width in pixels at 20x20


def to_mnist(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Crop the masked ink, fit it in 20x20 keeping the aspect ratio, centre by mass in 28x28."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return _crop_to_mnist(ink[y0:y1, x0:x1], mask[y0:y1, x0:x1])


def _crop_to_mnist(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``to_mnist`` of a crop whose mask reaches all four sides."""
    values = ink[mask]
    # Stroke cores become white, like MNIST's: the 90th percentile of the ink maps to 1.
    k = min(len(values) - 1, int(0.9 * (len(values) - 1) + 0.5))
    core = max(float(np.partition(values, k)[k]), 1e-6)
    crop = np.where(mask, ink, np.float32(0.0)) * np.float32(1.0 / core)
    np.clip(crop, 0.0, 1.0, out=crop)
    h, w = crop.shape
    scale = BOX / max(h, w)
    # Strokes thinner than MNIST's after scaling are thickened first (a max filter).
    grow = int(round((TARGET_STROKE / scale - stroke_width(mask)) / 2))
    if grow > 0:
        size = 2 * min(grow, 15) + 1
        crop = imageops.box3(imageops.max_filter(np.pad(crop, size), size))
        h, w = crop.shape
        scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = imageops.lanczos_resize(crop * np.float32(255.0), (new_h, new_w))
    np.clip(small, 0, 255, out=small)
    out = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    total = float(small.sum())
    if total > 0:  # MNIST's mass centre: (14, 14), as far as the box allows
        cy = top + float(small.sum(axis=1) @ np.arange(new_h, dtype=np.float32)) / total
        cx = left + float(small.sum(axis=0) @ np.arange(new_w, dtype=np.float32)) / total
        top = min(max(top + int(round(SIZE / 2 - cy)), 0), SIZE - new_h)
        left = min(max(left + int(round(SIZE / 2 - cx)), 0), SIZE - new_w)
    out[top:top + new_h, left:left + new_w] = small
    return np.rint(out).astype(np.uint8)


def save_preprocessed(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write a 28x28 input as a PNG (white digit on black, as the model sees it)."""
    atomic.write_with(Path(path), lambda tmp: Image.fromarray(pixels, mode="L").save(tmp, format="PNG"))
