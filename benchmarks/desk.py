"""What a webcam over a desk sees: synthetic camera clips with the truth for every frame.

There is no camera here, so the clips are rendered; this says exactly how.  Each clip is a
sheet of paper on a desk, seen by a camera that holds still, pans and holds again:

* the sheet: plain, ruled (rules, and a margin line on most sheets) or squared paper, its
  lines at any angle (most sheets nearly straight, some turned a quarter, some anywhere),
  lines from faint to strong, in blue, red or gray; paper of random tone with texture;
  its edge and the desk around it (dark or light wood, grain) come into view on some paths;
* the writing: numbers of one to three digits, upright within a few degrees, 60-190 pixels
  tall in a 640x480 frame, spaced along the sheet with long stretches of empty paper between
  them; each digit drawn from pen-stroke templates or an MNIST *test* shape (never trained
  on), in pencil (grey, grainy), pen (black or blue) or marker (black, thick); digits sit
  between the rules or across the squares as people write them;
* the camera: a path of holds and pans over the sheet, so digits enter, stay and leave;
  motion blur along the pan, focus blur on some clips (hunting on some), a lighting gradient
  and vignette, a hand's soft shadow sweeping across on some stretches, sensor noise, and
  MJPG compression when the frames are written as a video.

The truth of a frame is the number in view, digits read left to right, when every digit
that touches the frame is wholly inside it; "" when no digit touches it (empty paper);
None when a digit is cut by the frame's edge (entering or leaving), which no reading can be
held to and which is not scored.  The same seed gives the same clips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from digitlite.benchmarks.realworld import mnist_digit, stroke_digit

FRAME = (480, 640)  # height, width
INK_COLOURS = {  # BGR at full strength
    "pencil": (95, 95, 100), "pen-black": (35, 32, 30), "pen-blue": (150, 60, 30), "marker": (25, 25, 25),
}


@dataclass
class Truth:
    """The truth of one frame and what was in it (for figures by condition)."""

    number: str | None  # "" empty paper, None a digit cut by the frame's edge (not scored)
    paper: str
    ink: str = ""
    conditions: list[str] = field(default_factory=list)


def _smooth(shape, cells, rng) -> np.ndarray:
    # optional: OpenCV, the [camera] extra
    import cv2

    grid = rng.normal(0, 1, (cells, max(2, int(cells * shape[1] / shape[0])))).astype(np.float32)
    return cv2.resize(grid, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC)


def _desk(shape, rng) -> np.ndarray:
    """Wood or laminate: a base colour with grain along one axis (BGR float)."""
    # optional: OpenCV, the [camera] extra
    import cv2

    dark = rng.random() < 0.6
    base = np.array([50, 75, 110] if dark else [150, 170, 185], np.float32) * rng.uniform(0.7, 1.2)
    grain = cv2.resize(rng.normal(0, 1, (shape[0] // 2, 12)).astype(np.float32), (shape[1], shape[0]),
                       interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        grain = cv2.resize(rng.normal(0, 1, (12, shape[1] // 2)).astype(np.float32), (shape[1], shape[0]),
                           interpolation=cv2.INTER_LINEAR)
    return base[None, None, :] * (1 + 0.12 * grain[..., None])


def _rotated(points: np.ndarray, angle: float, centre) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    p = points - centre
    return np.stack([p[:, 0] * c - p[:, 1] * s, p[:, 0] * s + p[:, 1] * c], 1) + centre


def _draw_lines(canvas, sheet_mask, paper_kind, angle, spacing, rng, conditions):
    """Rules, a margin line or a grid, at ``angle``, on the sheet (BGR float canvas, in place)."""
    # optional: OpenCV, the [camera] extra
    import cv2

    h, w = canvas.shape[:2]
    centre = np.array([w / 2, h / 2])
    reach = math.hypot(w, h)
    faint = rng.random() < 0.35
    strength = rng.uniform(0.12, 0.3) if faint else rng.uniform(0.3, 0.65)
    colour = np.array([(225, 160, 110), (200, 190, 180), (230, 180, 150)][rng.integers(3)], np.float32)
    thickness = int(rng.integers(1, 4))
    layer = np.zeros((h, w), np.float32)

    def family(offset_angle, gap, phase):
        for k in range(-int(reach / gap) - 1, int(reach / gap) + 2):
            d = k * gap + phase
            a = np.array([[-reach, d], [reach, d]]) + centre
            a = _rotated(a, angle + offset_angle, centre)
            cv2.line(layer, tuple(np.round(a[0] * 4).astype(int)), tuple(np.round(a[1] * 4).astype(int)), 1.0,
                     thickness, cv2.LINE_AA, shift=2)

    family(0.0, spacing, rng.uniform(0, spacing))
    if paper_kind == "grid":
        family(math.pi / 2, spacing, rng.uniform(0, spacing))
    if faint:
        conditions.append("faint lines")
    alpha = np.clip(layer, 0, 1)[..., None] * strength * sheet_mask[..., None]
    canvas[:] = canvas * (1 - alpha) + colour * alpha
    if paper_kind == "ruled" and rng.random() < 0.75:  # the margin line, red, across the rules
        layer[:] = 0
        d = rng.uniform(-0.45, 0.45) * min(w, h)
        a = _rotated(np.array([[d, -reach], [d, reach]]) + centre, angle, centre)
        cv2.line(layer, tuple(np.round(a[0] * 4).astype(int)), tuple(np.round(a[1] * 4).astype(int)), 1.0,
                 int(rng.integers(1, 4)), cv2.LINE_AA, shift=2)
        alpha = np.clip(layer, 0, 1)[..., None] * rng.uniform(0.35, 0.7) * sheet_mask[..., None]
        canvas[:] = canvas * (1 - alpha) + np.array([120, 110, 215], np.float32) * alpha
        conditions.append("margin line")


def _glyph(digit: int, source: str, rng, mnist_images, mnist_labels) -> np.ndarray:
    if source == "mnist-shapes":
        pool = np.flatnonzero(mnist_labels == digit)
        return mnist_digit(mnist_images[pool[int(rng.integers(len(pool)))]])
    return stroke_digit(digit, rng)


def _write_number(canvas, sheet_mask, digits, left, baseline, height, ink, rng, mnist_images, mnist_labels):
    """Write ``digits`` in ``ink`` with their tops at ``baseline - height``; returns their boxes."""
    # optional: OpenCV, the [camera] extra
    import cv2

    boxes = []
    x = left
    for digit in digits:
        source = "strokes" if mnist_images is None or rng.random() < 0.5 else "mnist-shapes"
        glyph = _glyph(digit, source, rng, mnist_images, mnist_labels)
        ys, xs = np.nonzero(glyph > 0.15)
        glyph = glyph[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        gh, gw = glyph.shape
        scale = height * rng.uniform(0.9, 1.1) / gh
        size = (max(2, round(gw * scale)), max(2, round(gh * scale)))
        alpha = cv2.resize(glyph, size, interpolation=cv2.INTER_AREA)
        if ink == "marker":
            alpha = cv2.dilate(alpha, np.ones((3, 3), np.uint8), iterations=max(1, round(height / 70)))
        if ink == "pencil":
            alpha = alpha * np.clip(rng.uniform(0.35, 0.6) + 0.25 * rng.normal(0, 1, alpha.shape), 0, 1)
        else:
            alpha = alpha * rng.uniform(0.75, 1.0)
        top = int(baseline - size[1] + rng.normal(0, height * 0.04))
        y1, x1 = top + size[1], x + size[0]
        if top < 0 or x < 0 or y1 > canvas.shape[0] or x1 > canvas.shape[1]:
            break
        if sheet_mask[top:y1, x:x1].min() < 1:
            break  # off the sheet
        a = alpha[..., None]
        colour = np.array(INK_COLOURS[ink], np.float32)
        canvas[top:y1, x:x1] = canvas[top:y1, x:x1] * (1 - a) + colour * a
        ys, xs = np.nonzero(alpha > 0.2)
        boxes.append((digit, (x + xs.min(), top + ys.min(), x + xs.max() + 1, top + ys.max() + 1)))
        x = x1 + int(height * rng.uniform(0.15, 0.5))
    return boxes


@dataclass
class Clip:
    """One rendered clip: the sheet (BGR float), the camera's path and what is written where."""

    canvas: np.ndarray
    lighting: np.ndarray
    path: list  # (x, y) of the frame's top-left corner on the canvas, per frame
    numbers: list  # [[(digit, (x0, y0, x1, y1)), ...], ...] in canvas coordinates
    paper: str
    ink: str
    conditions: list
    blur: list  # focus blur sigma per frame
    shadows: list  # per frame: None or (cx, cy, rx, ry, depth) of a hand's shadow in frame coordinates
    noise: float
    seed: int


def make_clip(seed: int, frames: int = 150, mnist_images=None, mnist_labels=None, noise: float | None = None) -> Clip:
    """A clip of ``frames`` frames: the sheet, its writing and the camera's path (see the module doc)."""
    # optional: OpenCV, the [camera] extra
    import cv2

    rng = np.random.default_rng(seed)
    fh, fw = FRAME
    height = float(rng.uniform(60, 190))  # digit height in frame pixels
    paper = str(rng.choice(["plain", "ruled", "grid"], p=[0.2, 0.45, 0.35]))
    ink = str(rng.choice(list(INK_COLOURS), p=[0.25, 0.3, 0.2, 0.25]))
    conditions: list[str] = []
    # The sheet: a canvas several frames wide, the camera travelling along it.
    ch, cw = int(fh * 1.6), int(fw * 6)
    sheet_angle = math.radians(rng.normal(0, 3))
    desk_visible = rng.random() < 0.35
    sheet = np.zeros((ch, cw), np.float32)
    margin = rng.uniform(30, 140) if desk_visible else -200
    corners = np.array([[margin, margin], [cw - margin, margin], [cw - margin, ch - margin], [margin, ch - margin]])
    corners = _rotated(corners, sheet_angle, np.array([cw / 2, ch / 2]))
    cv2.fillConvexPoly(sheet, np.round(corners * 4).astype(np.int32), 1.0, cv2.LINE_AA, shift=2)
    tone = rng.uniform(195, 250)
    tint = np.array([tone * rng.uniform(0.9, 1.0), tone * rng.uniform(0.95, 1.0), tone], np.float32)
    paper_rgb = tint[None, None, :] * (1 + 0.02 * _smooth((ch, cw), 8, rng)[..., None])
    canvas = paper_rgb * sheet[..., None] + _desk((ch, cw), rng) * (1 - sheet[..., None])
    if desk_visible:
        conditions.append("desk in view")
    if rng.random() < 0.4:  # dust, eraser crumbs, pencil dots
        conditions.append("specks")
        for _ in range(int(rng.integers(20, 120))):
            cx, cy, r = rng.uniform(0, cw), rng.uniform(0, ch), rng.uniform(0.6, 2.5)
            cv2.circle(canvas, (int(cx * 4), int(cy * 4)), int(r * 4), tuple(float(v) * rng.uniform(0.3, 0.8)
                       for v in tint), -1, cv2.LINE_AA, shift=2)
    if paper != "plain":
        turn = rng.random()
        angle = (rng.normal(0, 4) if turn < 0.55 else 90 + rng.normal(0, 4) if turn < 0.75 else rng.uniform(0, 180))
        if not (turn < 0.55):
            conditions.append("lines turned")
        spacing = height * (rng.uniform(1.0, 1.6) if paper == "ruled" else rng.uniform(0.45, 0.9))
        _draw_lines(canvas, sheet, paper, math.radians(angle), spacing, rng, conditions)
    # Numbers along the middle band of the canvas, with empty paper between them.
    numbers = []
    x = int(fw * rng.uniform(1.3, 1.6))
    while x < cw - fw * 2:
        count = int(rng.choice([1, 2, 3], p=[0.55, 0.3, 0.15]))
        digits = [int(d) for d in rng.integers(0, 10, count)]
        baseline = ch / 2 + height / 2 + rng.uniform(-0.15, 0.15) * fh
        boxes = _write_number(canvas, sheet, digits, x, baseline, height, ink, rng, mnist_images, mnist_labels)
        if boxes:
            numbers.append(boxes)
            x = max(b[1][2] for b in boxes)
        x += int(fw * rng.uniform(1.3, 1.8))
    # The camera: holds on empty paper and on each number, pans between them.
    path: list[tuple[float, float]] = []
    y0 = ch / 2 - fh / 2 + rng.uniform(-0.12, 0.12) * fh
    stops = [(rng.uniform(0, 0.3) * fw, y0)]
    for boxes in numbers:
        x0 = min(b[1][0] for b in boxes)
        x1 = max(b[1][2] for b in boxes)
        centre = (x0 + x1) / 2 + rng.uniform(-0.2, 0.2) * fw
        stops.append((float(np.clip(centre - fw / 2, 0, cw - fw)), y0 + rng.uniform(-0.05, 0.05) * fh))
        empty = x1 + fw * rng.uniform(0.15, 0.25)  # the frame's left edge, past the number
        if empty < cw - fw:
            stops.append((empty, y0 + rng.uniform(-0.05, 0.05) * fh))
    speed = rng.uniform(15, 45)  # pixels a frame while panning
    i = 0
    while len(path) < frames:
        sx, sy = stops[i % len(stops)]
        hold = int(rng.integers(25, 70))
        path.extend([(sx, sy)] * hold)
        tx, ty = stops[(i + 1) % len(stops)]
        if (i + 1) % len(stops) == 0:
            tx, ty = stops[0]
        steps = max(1, int(math.hypot(tx - sx, ty - sy) / speed))
        path.extend((sx + (tx - sx) * k / steps, sy + (ty - sy) * k / steps) for k in range(1, steps + 1))
        i += 1
    path = [(float(np.clip(x, 0, cw - fw)), float(np.clip(y, 0, ch - fh))) for x, y in path[:frames]]
    # Lighting, focus, a hand's shadow.
    yy, xx = np.mgrid[0:fh, 0:fw].astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = (xx / fw - 0.5) * math.cos(theta) + (yy / fh - 0.5) * math.sin(theta)
    lighting = 1 + ramp * rng.uniform(0.1, 0.6) - rng.uniform(0.05, 0.35) * ((xx / fw - 0.5) ** 2 + (yy / fh - 0.5) ** 2) * 2
    lighting *= rng.uniform(0.75, 1.05)
    base_blur = rng.uniform(0, 2.2) if rng.random() < 0.5 else 0.0
    hunting = rng.random() < 0.2
    blur = [base_blur + (1.5 * abs(math.sin(k / 9)) if hunting else 0.0) for k in range(frames)]
    if base_blur > 0.8 or hunting:
        conditions.append("focus blur")
    shadows: list = [None] * frames
    if rng.random() < 0.45:
        conditions.append("hand shadow")
        start = int(rng.integers(0, max(1, frames - 60)))
        length = int(rng.integers(40, 100))
        side = rng.integers(4)
        depth = rng.uniform(0.25, 0.55)
        rx, ry = rng.uniform(120, 260), rng.uniform(90, 200)
        for k in range(start, min(frames, start + length)):
            t = (k - start) / length
            a, b = -0.3 + 1.6 * t, rng.normal(0.5, 0.01)
            cx, cy = [(a * fw, b * fh), ((1 - a) * fw, b * fh), (b * fw, a * fh), (b * fw, (1 - a) * fh)][side]
            shadows[k] = (cx, cy, rx, ry, depth)
    return Clip(canvas, lighting, path, numbers, paper, ink, conditions, blur, shadows,
                noise=float(rng.uniform(1.5, 6)) if noise is None else noise, seed=seed)


def digit_boxes(clip: Clip, index: int, margin: int = 10) -> list[tuple[int, tuple[int, int, int, int], bool]]:
    """The digits touching frame ``index``: (digit, box in the frame, wholly inside it by ``margin``)."""
    fh, fw = FRAME
    ox, oy = (int(round(v)) for v in clip.path[index])
    found = []
    for boxes in clip.numbers:
        for digit, (x0, y0, x1, y1) in boxes:
            box = (x0 - ox, y0 - oy, x1 - ox, y1 - oy)
            if box[2] <= -margin or box[3] <= -margin or box[0] >= fw + margin or box[1] >= fh + margin:
                continue  # wholly outside
            inside = box[0] >= margin and box[1] >= margin and box[2] <= fw - margin and box[3] <= fh - margin
            found.append((digit, box, inside))
    return found


def truth_of(clip: Clip, index: int, margin: int = 10) -> Truth:
    """The truth of frame ``index`` of ``clip``."""
    found = digit_boxes(clip, index, margin)
    cut = any(not inside for _, _, inside in found)
    conditions = list(clip.conditions)
    if clip.shadows[index] is not None:
        conditions.append("shadow in frame")
    if index > 0 and clip.path[index] != clip.path[index - 1]:
        conditions.append("moving")
    number = None if cut else "".join(str(d) for d, box, _ in sorted(found, key=lambda f: f[1][0]))
    return Truth(number, clip.paper, clip.ink if number else "", conditions)


def render_frame(clip: Clip, index: int, rng: np.random.Generator) -> np.ndarray:
    """Frame ``index`` as a BGR uint8 image: the view, lighting, shadow, blur and noise."""
    # optional: OpenCV, the [camera] extra
    import cv2

    fh, fw = FRAME
    ox, oy = clip.path[index]
    ix, iy = int(round(ox)), int(round(oy))
    view = clip.canvas[iy:iy + fh, ix:ix + fw] * clip.lighting[..., None]
    shadow = clip.shadows[index]
    if shadow is not None:
        cx, cy, rx, ry, depth = shadow
        yy, xx = np.ogrid[0:fh, 0:fw]
        d = np.sqrt(((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2)
        view = view * (1 - depth / (1 + np.exp((d - 1) * 6)))[..., None]
    if index > 0:
        dx, dy = ox - clip.path[index - 1][0], oy - clip.path[index - 1][1]
        length = int(math.hypot(dx, dy) * 0.6)
        if length >= 2:  # motion blur along the pan (the shutter is open for part of the frame)
            kernel = np.zeros((length, length), np.float32)
            c = (length - 1) / 2
            ux, uy = (dx, dy) / np.float64(math.hypot(dx, dy))
            cv2.line(kernel, (round(c - ux * c), round(c - uy * c)), (round(c + ux * c), round(c + uy * c)), 1.0, 1)
            view = cv2.filter2D(view, -1, kernel / kernel.sum())
    if clip.blur[index] > 0.3:
        view = cv2.GaussianBlur(view, (0, 0), clip.blur[index])
    view = view + rng.normal(0, clip.noise, (fh // 4, fw // 4, 3)).astype(np.float32).repeat(4, 0).repeat(4, 1) * 0.5
    view = view + rng.normal(0, clip.noise, view.shape[:2]).astype(np.float32)[..., None]
    return np.clip(view, 0, 255).astype(np.uint8)


def make_set(seed: int, clips: int, frames: int, mnist_images=None, mnist_labels=None, noise: float | None = None):
    """Yield (clip number, frame index, BGR frame, Truth) for ``clips`` clips of ``frames`` frames."""
    for c in range(clips):
        clip = make_clip(seed * 1000 + c, frames, mnist_images, mnist_labels, noise)
        rng = np.random.default_rng(seed * 1000 + c + 1)
        for i in range(frames):
            yield c, i, render_frame(clip, i, rng), truth_of(clip, i)
