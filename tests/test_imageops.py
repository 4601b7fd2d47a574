"""The pixel operations with OpenCV and with numpy alone give the same answers, and so does a frame."""

from __future__ import annotations

import cv2  # noqa: F401 - loaded, so that imageops may use it
import numpy as np
import pytest
from PIL import Image

from digitlite.edge.vision import imageops


@pytest.fixture
def numpy_only(monkeypatch):
    """Run a block with OpenCV kept out of imageops."""
    def switch(allowed: bool):
        monkeypatch.setattr(imageops, "OPENCV_ALLOWED", allowed)
    return switch


def both_ways(numpy_only, fn, *args):
    numpy_only(False)
    plain = fn(*args)
    numpy_only(True)
    return plain, fn(*args)


def test_components_are_the_same_with_and_without_opencv(numpy_only):
    rng = np.random.default_rng(0)
    for _ in range(200):
        h, w = (int(v) for v in rng.integers(1, 60, 2))
        mask = rng.random((h, w)) < rng.uniform(0.05, 0.9)
        (l1, s1), (l2, s2) = both_ways(numpy_only, imageops.components, mask)
        assert sorted(map(tuple, s1)) == sorted(map(tuple, s2))
        pairs = set(zip(l1.ravel().tolist(), l2.ravel().tolist()))
        assert len(pairs) == len(s1) + bool((~mask).any())  # the same partition, whatever the numbering
        (b1, b2) = both_ways(numpy_only, imageops.border_connected, mask)
        assert np.array_equal(b1, b2)


def test_exact_operations_are_exact(numpy_only):
    rng = np.random.default_rng(1)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 50, 2))
        size = int(rng.integers(1, 12)) | 1
        for a in (rng.integers(0, 256, (h, w)).astype(np.uint8), rng.random((h, w)).astype(np.float32)):
            for fn in (imageops.max_filter, imageops.min_filter):
                x, y = both_ways(numpy_only, fn, a, size)
                assert np.array_equal(x, y)
            x, y = both_ways(numpy_only, imageops.pad_edge, a, 3)
            assert np.array_equal(x, y)


def test_resampling_agrees_to_float_rounding(numpy_only):
    rng = np.random.default_rng(2)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(6, 130, 2))
        a = (rng.random((h, w)) * 255).astype(np.float32)
        for fn, args in ((imageops.block_mean, (a, 3)), (imageops.box3, (a,)),
                         (imageops.upsample_linear, (a[: h // 3 + 1, : w // 3 + 1], (h, w)))):
            x, y = both_ways(numpy_only, fn, *args)
            assert x.shape == y.shape and np.abs(x - y).max() < 1e-3, fn.__name__


def test_lanczos_matches_pillow():
    rng = np.random.default_rng(3)
    for _ in range(100):
        h, w = (int(v) for v in rng.integers(1, 120, 2))
        nh, nw = (int(v) for v in rng.integers(1, 21, 2))
        a = (rng.random((h, w)) * 255).astype(np.float32)
        ref = np.asarray(Image.fromarray(a, "F").resize((nw, nh), Image.LANCZOS))
        assert np.abs(ref - imageops.lanczos_resize(a, (nh, nw))).max() < 1e-3


def test_a_camera_frame_reads_the_same_with_and_without_opencv(numpy_only, mnist):
    from digitlite.benchmarks.desk import make_clip, render_frame, truth_of
    from digitlite.edge.vision.errors import ImageError
    from digitlite.edge.vision.preprocess import find_digits

    checked = 0
    for seed in (3, 8, 13):
        clip = make_clip(seed, 150, mnist.test_images, mnist.test_labels)
        rng = np.random.default_rng(seed)
        digit_frames = [i for i in range(150) if truth_of(clip, i).number]
        for i in digit_frames[::12] + list(range(0, 150, 25)):
            gray = cv2.resize(cv2.cvtColor(render_frame(clip, i, rng), cv2.COLOR_BGR2GRAY), (160, 120),
                              interpolation=cv2.INTER_AREA).astype(np.float32)
            found = []
            for allowed in (False, True):
                numpy_only(allowed)
                try:
                    found.append(find_digits(gray, ink="dark", frame=True, min_height=0.08))
                except ImageError:
                    found.append([])
            plain, fast = found
            assert [d.box for d in plain] == [d.box for d in fast]
            for a, b in zip(plain, fast):
                assert np.abs(a.pixels.astype(int) - b.pixels.astype(int)).max() <= 2
            checked += len(plain)
    assert checked >= 10
