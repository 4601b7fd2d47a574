"""A page's lines at any angle: found and dropped, while the writing on them is kept."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw
from test_preprocess import similarity

from digitlite.edge.vision.errors import ImageError
from digitlite.edge.vision.ink import find_ink, ink_map, otsu_threshold
from digitlite.edge.vision.lines import LineTracker, family_angle, find_lines
from digitlite.edge.vision.preprocess import find_digits, preprocess_gray

pytestmark = pytest.mark.edge  # numpy and Pillow only

ANGLES = [0, 7, 30, 45, 62, 90, 118, 151]


def page(angle: float = 0.0, spacing: float = 38, kind: str = "ruled", size=(480, 640), line_gray=150,
         width=2, seed=0, dashed=False) -> np.ndarray:
    """A sheet of ruled (with a margin line across the rules) or squared paper, its lines at ``angle``
    degrees, with lighting and noise; float32 gray."""
    h, w = size
    img = Image.new("F", (w, h), 225.0)
    draw = ImageDraw.Draw(img)
    reach = math.hypot(w, h)
    cx, cy = w / 2, h / 2

    def family(theta, gap, offset):
        c, s = math.cos(theta), math.sin(theta)
        for k in range(-int(reach / gap) - 1, int(reach / gap) + 2):
            d = k * gap + offset
            x0, y0 = cx - s * d - c * reach, cy + c * d - s * reach
            x1, y1 = cx - s * d + c * reach, cy + c * d + s * reach
            if dashed:
                for t in np.arange(0.0, 1.0, 0.04):
                    draw.line([(x0 + (x1 - x0) * t, y0 + (y1 - y0) * t),
                               (x0 + (x1 - x0) * (t + 0.025), y0 + (y1 - y0) * (t + 0.025))], fill=line_gray, width=width)
            else:
                draw.line([(x0, y0), (x1, y1)], fill=line_gray, width=width)

    theta = math.radians(angle)
    family(theta, spacing, 11)
    if kind == "grid":
        family(theta + math.pi / 2, spacing, 5)
    elif kind == "ruled":  # one margin line across the rules
        c, s = math.cos(theta + math.pi / 2), math.sin(theta + math.pi / 2)
        d = -0.3 * w
        draw.line([(cx - s * d - c * reach, cy + c * d - s * reach), (cx - s * d + c * reach, cy + c * d + s * reach)],
                  fill=line_gray - 20, width=width + 1)
    a = np.asarray(img, np.float32)
    rng = np.random.default_rng(seed)
    a = a * (0.8 + 0.2 * np.linspace(0, 1, w)[None, :]) + rng.normal(0, 3, size)
    return np.clip(a, 0, 255).astype(np.float32)


def write(a: np.ndarray, digit: np.ndarray, at=(150, 250), scale=170, ink=0.8) -> np.ndarray:
    """``digit`` (28x28 MNIST) written in dark ink onto the page ``a``."""
    big = np.asarray(Image.fromarray(digit).resize((scale, scale), Image.BICUBIC), np.float32) / 255.0
    y, x = at
    out = a.copy()
    out[y:y + scale, x:x + scale] *= 1 - np.clip(big, 0, 1) * ink
    return out


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.test_images[:8]


@pytest.mark.parametrize("kind", ["ruled", "grid"])
@pytest.mark.parametrize("angle", ANGLES)
def test_empty_lined_paper_is_no_digit(kind, angle):
    a = page(angle, kind=kind, seed=angle)
    with pytest.raises(ImageError, match="no digit found"):
        preprocess_gray(a, "page.png")
    with pytest.raises(ImageError, match="no digit found"):
        find_digits(a, "frame", ink="dark", frame=True, min_height=0.08)


@pytest.mark.parametrize("kind", ["ruled", "grid"])
@pytest.mark.parametrize("angle", ANGLES)
def test_a_digit_on_lined_paper_reads_as_the_digit_alone(digits, kind, angle):
    d = digits[angle % 8]
    a = write(page(angle, kind=kind, seed=angle), d)
    clean = preprocess_gray(d.astype(np.float32))
    assert similarity(preprocess_gray(a), clean) > 0.7
    found = find_digits(a, "frame", ink="dark", frame=True, min_height=0.08)
    assert len(found) == 1  # no phantom "1" beside it
    assert similarity(found[0].pixels, clean) > 0.7


def test_the_families_angle_is_found_to_half_a_degree():
    for angle in (0, 3.5, 21, 44.5, 67, 89.5, 101, 170):
        a = page(angle, kind="ruled", spacing=30, seed=1)
        ink = ink_map(a, True)
        found = math.degrees(family_angle(ink > 0.15))
        expected = angle % 90
        assert min(abs(found - expected), 90 - abs(found - expected)) <= 0.75, (angle, found)


def test_a_stroke_crossing_a_rule_stays_whole():
    a = page(0, spacing=60, kind="ruled", seed=2)
    a[100:300, 300:306] = 40  # a vertical stroke across three rules
    _, mask, _ = find_ink(a, ink="dark")
    column = mask[100:300, 300:306].any(axis=1)
    assert column[4:-4].all()  # no gap where the rules were


def test_writing_along_a_grid_line_is_kept():
    a = page(0, spacing=40, kind="grid", line_gray=120, width=2, seed=3)
    ink = ink_map(a, True)
    lines = find_lines(ink, ink > 0.2)
    assert lines.bands() >= 20  # both families of the grid
    ys = np.flatnonzero(lines.on_band(np.arange(a.size)).reshape(a.shape)[:, 320])
    y = int(ys[len(ys) // 2]) + 1  # on a grid line's row
    img = Image.fromarray(a)
    ImageDraw.Draw(img).line([(250, y), (370, y), (290, y + 170)], fill=20, width=7)  # a "7", its bar along the line
    a = np.asarray(img)
    ink = ink_map(a, True)
    assert find_lines(ink, ink > otsu_threshold(ink)).bands() >= 20  # the grid is in the mask with the 7
    _, mask, kept = find_ink(a, ink="dark")
    x0, y0, x1, y1 = kept[0][1]
    assert x1 - x0 >= 110 and y1 - y0 >= 160  # the whole 7
    assert mask[y - 3:y + 4, 260:360].any(axis=0).all()  # its bar is still there


def test_faint_dashed_rules_are_dropped_too(digits):
    a = page(17, spacing=35, kind="ruled", line_gray=175, dashed=True, seed=4)
    with pytest.raises(ImageError, match="no digit found"):
        find_digits(a, "frame", ink="dark", frame=True, min_height=0.08)
    found = find_digits(write(a, digits[2]), "frame", ink="dark", frame=True, min_height=0.08)
    assert len(found) == 1


def test_a_one_from_edge_to_edge_of_its_picture_is_still_a_digit():
    a = np.full((200, 200), 240.0, np.float32)
    a[:, 92:108] = 30  # a marker "1" drawn the whole height of its canvas
    out = preprocess_gray(a)
    assert (out[5:23, 11:17].max(axis=1) > 150).all()  # a tall bar in the middle of the 28x28 input
    assert out[:, :8].max() == 0 and out[:, 20:].max() == 0


def test_mnist_crops_are_not_searched_for_lines(digits):
    for d in digits:  # their strokes cross most of the 28x28 image
        assert similarity(preprocess_gray(d.astype(np.float32)), d) > 0.85


def test_the_tracker_carries_the_angle_and_refreshes():
    tracker = LineTracker(refresh=3)
    assert tracker.hint() is None
    ink = ink_map(page(30, seed=5), True)
    assert find_lines(ink, ink > 0.15, tracker)
    first = tracker.angle
    assert first is not None and abs(math.degrees(first) - 30) <= 0.75
    hints = []
    for _ in range(4):
        hints.append(tracker.hint())
        find_lines(ink, ink > 0.15, tracker)
    assert hints[0] == first and None in hints  # searched around the last angle, then afresh
    blank = np.zeros_like(ink)
    find_lines(blank, blank > 0.15, tracker)
    assert tracker.angle is None and tracker.hint() is None
