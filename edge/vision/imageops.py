"""The few pixel operations preprocessing spends its time in, with numpy alone or OpenCV.

When the process has already imported OpenCV (the camera does), it computes them in C:
connected components, max/min filters and padding give exactly the numpy code's answer;
block means, linear upsampling and 3x3 means agree with it to float rounding (a test
compares both).  Nothing here imports OpenCV itself: `digitlite classify` in the plain
install stays numpy and Pillow.  DIGITLITE_OPENCV=0 (or OPENCV_ALLOWED = False) keeps OpenCV out even where it is loaded.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache

import numpy as np

OPENCV_ALLOWED = os.environ.get("DIGITLITE_OPENCV", "") != "0"  # tests switch it to compare both ways


def _cv2():
    """OpenCV if this process has imported it (and it is allowed), else None."""
    return sys.modules.get("cv2") if OPENCV_ALLOWED else None


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of a boolean mask.

    Returns (labels, stats): labels is an int32 image (0 = background, k = the k-th
    component), stats an (n, 5) int64 array of x0, y0, x1, y1 (exclusive), area per
    component, row k-1 for label k.  Which component gets which number depends on the
    backend: use the labels and stats together, not the numbers themselves.
    """
    mask = np.ascontiguousarray(mask, dtype=bool)
    cv2 = _cv2()
    if cv2 is None or not mask.size:
        return _components_numpy(mask)
    n, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return labels, _stats(labels, n - 1)


def labels_only(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected component labels of a boolean mask and their count (see ``components``)."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    cv2 = _cv2()
    if cv2 is None or not mask.size:
        labels, stats = _components_numpy(mask)
        return labels, len(stats)
    n, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return labels, n - 1


def _stats(labels: np.ndarray, n: int) -> np.ndarray:
    """Box (x0, y0, x1, y1) and area of each of the ``n`` labelled components."""
    h, w = labels.shape
    stats = np.empty((n, 5), np.int64)
    stats[:, 4] = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    cols = np.zeros((n + 1, w), bool)  # which columns (rows) each label reaches
    cols[labels, np.arange(w)[None, :]] = True
    rows = np.zeros((n + 1, h), bool)
    rows[labels, np.arange(h)[:, None]] = True
    stats[:, 0], stats[:, 2] = cols[1:].argmax(axis=1), w - cols[1:, ::-1].argmax(axis=1)
    stats[:, 1], stats[:, 3] = rows[1:].argmax(axis=1), h - rows[1:, ::-1].argmax(axis=1)
    return stats


def _components_numpy(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    h, w = mask.shape
    if mask.size == 0 or not mask.any():
        return np.zeros((h, w), np.int32), np.zeros((0, 5), np.int64)
    # Runs of ink along each row (a False column on both sides keeps runs inside their row).
    padded = np.zeros((h, w + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded.ravel())
    starts = np.flatnonzero(edges == 1) + 1
    ends = np.flatnonzero(edges == -1) + 1
    row = starts // (w + 2)
    s = starts % (w + 2) - 1  # first column of the run
    e = ends % (w + 2) - 1  # one past its last column
    n = len(s)
    # Runs on consecutive rows touch (8-connected) when s_a <= e_b and s_b <= e_a.  Runs are
    # sorted by (row, column), so a run's neighbours above form one contiguous range.
    big = w + 2
    key_end, key_start = row * big + e, row * big + s
    lo = np.searchsorted(key_end, (row - 1) * big + s, side="left")
    hi = np.searchsorted(key_start, (row - 1) * big + e, side="right")
    counts = np.maximum(hi - lo, 0)
    below = np.repeat(np.arange(n), counts)
    above = np.repeat(lo, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
    # Label propagation: every run takes the smallest label among its neighbours, with
    # pointer jumping, until nothing changes.
    label = np.arange(n)
    if len(below):
        while True:
            low = np.minimum(label[below], label[above])
            new = label.copy()
            np.minimum.at(new, below, low)
            np.minimum.at(new, above, low)
            new = new[new]
            while True:
                jumped = new[new]
                if (jumped == new).all():
                    break
                new = jumped
            if (new == label).all():
                break
            label = new
    roots, comp = np.unique(label, return_inverse=True)  # roots ascending = raster order of first pixel
    k = len(roots)
    length = e - s
    stats = np.empty((k, 5), np.int64)
    stats[:, 4] = np.bincount(comp, weights=length, minlength=k).astype(np.int64)
    x0 = np.full(k, w, np.int64)
    x1 = np.zeros(k, np.int64)
    np.minimum.at(x0, comp, s)
    np.maximum.at(x1, comp, e)
    y0 = np.full(k, h, np.int64)
    y1 = np.zeros(k, np.int64)
    np.minimum.at(y0, comp, row)
    np.maximum.at(y1, comp, row + 1)
    stats[:, 0], stats[:, 1], stats[:, 2], stats[:, 3] = x0, y0, x1, y1
    # Paint the runs: each run's pixels get its component's label.
    flat = np.zeros(h * (w + 2), np.int32)
    offsets = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    flat[np.repeat(starts, length) + offsets] = np.repeat(comp.astype(np.int32) + 1, length)
    labels = flat.reshape(h, w + 2)[:, 1:-1]
    return labels, stats


def pad_edge(a: np.ndarray, n: int, axes: tuple[int, ...] = (0, 1)) -> np.ndarray:
    """``a`` with its edge pixels repeated ``n`` times on every side (of ``axes``)."""
    cv2 = _cv2()
    if cv2 is not None and a.dtype in (np.uint8, np.float32) and axes == (0, 1):
        return cv2.copyMakeBorder(a, n, n, n, n, cv2.BORDER_REPLICATE)
    h, w = a.shape
    ny, nx = (n if 0 in axes else 0), (n if 1 in axes else 0)
    out = np.empty((h + 2 * ny, w + 2 * nx), a.dtype)  # np.pad is several times slower
    out[ny:ny + h, nx:nx + w] = a
    if nx:
        out[ny:ny + h, :nx] = a[:, :1]
        out[ny:ny + h, nx + w:] = a[:, -1:]
    if ny:
        out[:ny] = out[ny]
        out[ny + h:] = out[ny + h - 1]
    return out


def border_connected(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` whose component touches the image's border."""
    framed = np.ones((mask.shape[0] + 2, mask.shape[1] + 2), bool)  # a frame of ink joins them all
    framed[1:-1, 1:-1] = mask
    labels, _ = labels_only(framed)
    return labels[1:-1, 1:-1] == labels[0, 0]


def max_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Maximum over a size x size window (odd size), edges replicated."""
    return _rank(a, size, np.maximum, "dilate")


def min_filter(a: np.ndarray, size: int) -> np.ndarray:
    """Minimum over a size x size window (odd size), edges replicated."""
    return _rank(a, size, np.minimum, "erode")


def _rank(a: np.ndarray, size: int, op, cv_name: str) -> np.ndarray:
    if size <= 1:
        return a
    size |= 1
    cv2 = _cv2()
    if cv2 is not None and a.dtype in (np.uint8, np.float32):
        kernel = np.ones((size, size), np.uint8)
        return getattr(cv2, cv_name)(a, kernel, borderType=cv2.BORDER_REPLICATE)
    return _rank_axis(_rank_axis(a, size, 0, op), size, 1, op)


def _rank_axis(a: np.ndarray, size: int, axis: int, op) -> np.ndarray:
    """``op`` (maximum or minimum) over ``size`` neighbours along ``axis``, by doubling windows."""
    m = pad_edge(a, size // 2, (axis,))

    def part(start, stop):
        index = [slice(None), slice(None)]
        index[axis] = slice(start, stop)
        return m[tuple(index)]

    width = 1
    while 2 * width <= size:
        m = op(part(0, m.shape[axis] - width), part(width, None))
        width *= 2
    if width < size:  # two overlapping windows of ``width`` cover ``size``
        rest = size - width
        m = op(part(0, m.shape[axis] - rest), part(rest, None))
    return m


def block_mean(a: np.ndarray, step: int) -> np.ndarray:
    """Mean over step x step blocks (the image cropped to a multiple of ``step``), float32."""
    if step == 1:
        return a.astype(np.float32, copy=False)
    h, w = a.shape[0] // step, a.shape[1] // step
    a = a[:h * step, :w * step]
    cv2 = _cv2()
    if cv2 is not None:
        return cv2.resize(np.ascontiguousarray(a, np.float32), (w, h), interpolation=cv2.INTER_AREA)
    rows = a[0::step].astype(np.float32)  # rows, then columns: 2 (step - 1) additions of strided views
    for i in range(1, step):
        rows += a[i::step]
    out = rows[:, 0::step].copy()
    for j in range(1, step):
        out += rows[:, j::step]
    return out * np.float32(1 / (step * step))


def box3(a: np.ndarray) -> np.ndarray:
    """Mean over 3x3 neighbourhoods, edges replicated."""
    cv2 = _cv2()
    if cv2 is not None and a.dtype == np.float32:
        return cv2.blur(a, (3, 3), borderType=cv2.BORDER_REPLICATE)
    p = pad_edge(a, 1)
    rows = p[:-2] + p[1:-1] + p[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) * np.float32(1 / 9)


@lru_cache(maxsize=16)
def _linear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Weights (n_out x n_in) of linear interpolation from n_in to n_out samples, pixel centres aligned."""
    x = np.clip((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
    i0 = np.floor(x).astype(np.intp)
    i1 = np.minimum(i0 + 1, n_in - 1)
    m = np.zeros((n_out, n_in), np.float32)
    np.add.at(m, (np.arange(n_out), i0), 1 - (x - i0))
    np.add.at(m, (np.arange(n_out), i1), x - i0)
    return m


def upsample_linear(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``a`` resized to ``shape`` by linear interpolation along each axis (for enlarging a smooth map)."""
    cv2 = _cv2()
    if cv2 is not None:
        return cv2.resize(a.astype(np.float32, copy=False), (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)
    return _linear_matrix(a.shape[0], shape[0]) @ a.astype(np.float32, copy=False) @ _linear_matrix(
        a.shape[1], shape[1]).T


@lru_cache(maxsize=64)
def _lanczos_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Resampling weights (n_out x n_in) of a Lanczos-3 filter, as Pillow's LANCZOS computes them."""
    scale = n_in / n_out
    stretch = max(scale, 1.0)
    centre = (np.arange(n_out) + 0.5) * scale
    d = np.abs((np.arange(n_in)[None, :] - centre[:, None] + 0.5) / stretch)
    w = np.where(d < 3, np.sinc(d) * np.sinc(d / 3), 0.0)
    total = w.sum(axis=1, keepdims=True)
    return (w / np.where(total == 0, 1.0, total)).astype(np.float32)


def lanczos_resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``a`` (float32) resized to ``shape`` with a Lanczos-3 filter (Pillow's LANCZOS, to float precision)."""
    return _lanczos_matrix(a.shape[0], shape[0]) @ a.astype(np.float32, copy=False) @ _lanczos_matrix(
        a.shape[1], shape[1]).T
