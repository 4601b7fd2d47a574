"""Real images -> MNIST-style 28x28 input, with numpy and Pillow only.

MNIST digits are white strokes on black, anti-aliased, scaled to fit a 20x20 box
keeping their aspect ratio, and centred by centre of mass in 28x28.  A photo of ink on
paper, a scan, a paint-program drawing or an MNIST-style image all go through the same
steps:

1. decode (EXIF orientation, palette, alpha, 16-bit, CMYK), grayscale, shrink big images;
2. flatten uneven lighting (divide by a blurred background estimate), detect polarity
   from the border and make ink bright on dark;
3. threshold (Otsu on the ink contrast), drop specks, keep the digit's components;
4. crop, thicken strokes that would end up thinner than MNIST's, scale to fit 20x20,
   centre by centre of mass in 28x28.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from edge.errors import DigitliteError

MAX_PIXELS = 40_000_000  # refuse larger images (decompression bombs) before decoding them
WORK_SIDE = 320  # images are shrunk so their longer side is at most this before analysis
MIN_INK_CONTRAST = 0.12  # ink darker than the paper by less than this fraction is not ink
MIN_LEVELS = 24  # an image whose gray levels span less than this is blank
BOX = 20  # MNIST: the digit fits a 20x20 box ...
SIZE = 28  # ... centred in 28x28
TARGET_STROKE = 2.2  # MNIST's typical stroke width in pixels at 20x20


class ImageError(DigitliteError):
    """An image that cannot be read or holds no digit."""


@dataclass
class Digit:
    """One digit found in an image: its 28x28 input and where it was (x0, y0, x1, y1 in the image)."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]


def load_image(source, name: str | None = None) -> np.ndarray:
    """Decode an image file (path or bytes) to a float32 grayscale array in 0..255.

    Honours EXIF orientation; flattens alpha onto a background that contrasts with the
    opaque pixels; handles palette, 16-bit, CMYK and animated images (first frame).
    """
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<image>")
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow warns about corrupt EXIF or TIFF tags and decodes what it can; this tool
            # answers for the file itself, in one line, so the warnings are not printed.
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(f"{label}: {img.width}x{img.height} is too large (over {MAX_PIXELS:,} pixels)")
            img.seek(0)
            img = ImageOps.exif_transpose(img)
            img.load()
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{label}: is a folder") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{label}: too large (over {MAX_PIXELS:,} pixels): refused as a possible decompression bomb") from None
    except Image.UnidentifiedImageError:
        raise ImageError(f"{label}: not an image (or a format Pillow cannot read)") from None
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise ImageError(f"{label}: cannot decode ({str(e).strip() or type(e).__name__}); truncated or corrupt?") from None
    if img.width < 1 or img.height < 1:
        raise ImageError(f"{label}: empty image ({img.width}x{img.height})")
    return to_gray(img)


def to_gray(img: Image.Image) -> np.ndarray:
    """Any Pillow image -> float32 grayscale 0..255 (alpha flattened onto a contrasting background)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        a = np.asarray(img, dtype=np.float32)
        lo, hi = float(a.min()), float(a.max())
        return (a - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(a)
    if img.mode == "P" or img.mode == "PA":
        img = img.convert("RGBA")
    if img.mode in ("LA", "RGBA", "La", "RGBa"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if alpha.min() < 1.0:
            opaque = alpha[..., 0] > 0.5
            ink_is_dark = opaque.any() and gray[opaque].mean() < 128
            background = 255.0 if ink_is_dark or not opaque.any() else 0.0
            return gray * alpha[..., 0] + background * (1 - alpha[..., 0])
        return gray
    return np.asarray(img.convert("L"), dtype=np.float32)


def _shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray
    img = Image.fromarray(gray.astype(np.float32), mode="F")
    return np.asarray(img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX), dtype=np.float32)


def _box_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges replicated (integral image; numpy only)."""
    if radius < 1:
        return a
    p = np.pad(a, radius + 1, mode="edge").astype(np.float64)
    s = p.cumsum(0).cumsum(1)
    k = 2 * radius + 1
    total = s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
    h, w = a.shape
    return (total[:h, :w] / (k * k)).astype(np.float32)


def dark_ink_guess(gray: np.ndarray) -> bool:
    """True when the image looks like dark ink on light paper.

    Strokes are thin, sharp features; lighting, shadows and the table around a sheet are
    broad ones.  After subtracting a local mean (removing the broad ones), the pixels that
    stand out beyond the noise (4 robust sigmas) are mostly dark for dark ink and mostly
    bright for light ink; they are counted over the middle 70% of the frame, where the
    subject is, not the table along the border.  When neither side clearly wins (thick strokes on a clean
    canvas), or the image is small (a 28x28 crop, whose border is background by
    construction), the border decides: a bright border is paper.
    """
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    border_says_dark = float(np.median(border)) > (float(gray.max()) + float(gray.min())) / 2
    if min(h, w) < 64:
        return border_says_dark
    detail = gray - _box_blur(gray, max(2, min(h, w) // 6))
    # The subject is in the middle; a table or the page's edge lies along the border.
    detail = detail[int(0.15 * h): int(0.85 * h) + 1, int(0.15 * w): int(0.85 * w) + 1]
    threshold = 4 * 1.4826 * float(np.median(np.abs(detail - np.median(detail))))
    dark = float(np.maximum(-detail - threshold, 0).sum())
    bright = float(np.maximum(detail - threshold, 0).sum())
    if dark > 1.5 * bright:
        return True
    if bright > 1.5 * dark:
        return False
    return border_says_dark


def _rank_filter(a: np.ndarray, size: int, reduce) -> np.ndarray:
    """Separable max or min (``reduce``) over a size x size window, edges replicated."""
    return _rank_filter_axis(_rank_filter_axis(a, size, 0, reduce), size, 1, reduce)


def paper_estimate(a: np.ndarray, size: int) -> np.ndarray:
    """The paper under the ink: a grayscale closing (max, then min) over ``size`` pixels.

    A closing erases dark marks thinner than ``size`` (pen strokes) but keeps large dark
    areas and sharp steps where they are (a shadow's edge, the table around a sheet), so
    those do not turn into 'ink' the way they would under a plain blur.
    """
    # The paper varies slowly: work at 1/step of the resolution, where the window is small.
    step = max(1, size // 8)
    h, w = a.shape
    if step > 1:
        small = np.asarray(Image.fromarray(a, "F").resize((max(1, w // step), max(1, h // step)), Image.BOX),
                           np.float32)
        closed = _rank_filter(_rank_filter(small, (size // step) | 1, np.max), (size // step) | 1, np.min)
        closed = _box_blur(closed, 1)
        return np.asarray(Image.fromarray(closed, "F").resize((w, h), Image.BILINEAR), np.float32)
    closed = _rank_filter(_rank_filter(a, size, np.max), size, np.min)
    return _box_blur(closed, max(1, size // 4))


def ink_map(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Ink strength in 0..1 (1 = ink) with the lighting divided out, for the given polarity."""
    h, w = gray.shape
    a = (255.0 - gray) if not dark_ink else gray  # now: paper bright, ink dark
    size = max(7, min(h, w) // 5) | 1  # wider than a marker stroke at the working resolution
    paper = np.maximum(paper_estimate(a.astype(np.float32), size), 1.0)
    return np.clip(1.0 - a / paper, 0.0, 1.0)  # 0 on paper, towards 1 on ink


def _rule_runs(mask: np.ndarray, full: float, from_edge: float) -> np.ndarray:
    """Horizontal ink runs that look like a page's lines: across ``full`` of the width, or
    across ``from_edge`` of it starting or ending at the image's edge."""
    width = mask.shape[1]
    d = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)
    rows, starts = np.nonzero(d == 1)
    _, ends = np.nonzero(d == -1)
    lengths = ends - starts
    at_edge = (starts == 0) | (ends == width)
    chosen = (lengths >= full * width) | (at_edge & (lengths >= from_edge * width))
    line = np.zeros_like(mask)
    for r, a, b in zip(rows[chosen], starts[chosen], ends[chosen]):
        line[r, a:b] = True
    return line


def _ruled_rows(mask: np.ndarray, fill: float = 0.3, segments: int = 10, bands: int = 3) -> np.ndarray:
    """Rows of ruled paper that thresholding broke into fragments.

    A row counts when its ink covers ``fill`` of it and is spread along all of it (ink in
    nine of ten equal segments); such rows count as rules only when they form at least
    ``bands`` separate bands, as a page's lines do and a digit's strokes cannot.
    """
    h, w = mask.shape
    if w < segments:
        return np.zeros_like(mask)
    cut = np.array_split(np.arange(w), segments)
    spread = np.stack([mask[:, c].any(axis=1) for c in cut], axis=1).sum(axis=1)
    rows = (mask.mean(axis=1) >= fill) & (spread >= segments - 1)
    starts = np.flatnonzero(np.diff(np.concatenate(([0], rows.view(np.int8)))) == 1)
    line = np.zeros_like(mask)
    if len(starts) >= bands:
        line[rows] = mask[rows]
    return line


def remove_rules(mask: np.ndarray, full: float = 0.9, from_edge: float = 0.4) -> np.ndarray:
    """Drop ruled or grid lines: ink runs across the page, horizontal or vertical.

    A page's lines run edge to edge (or from an edge, where the lighting fades them);
    a digit's strokes do not.  Where a stroke crossed a line it is cut: the gap is
    bridged across the line on the line's own pixels.  If nothing but such runs is
    there (a "1" drawn from top to bottom of its canvas) the mask is left as it is.
    """
    out = mask.copy()
    for axis in (1, 0):
        m = mask if axis == 1 else mask.T
        line = _rule_runs(m, full, from_edge) | _ruled_rows(m)
        if axis == 0:
            line = line.T
        if not line.any():
            continue
        kept = out & ~line
        across = 1 - axis
        bridged = _rank_filter_axis(_rank_filter_axis(kept, 5, across, np.max), 5, across, np.min)
        out = kept | (line & bridged & mask)
    return out if out.any() else mask


def _rank_filter_axis(a: np.ndarray, size: int, axis: int, reduce) -> np.ndarray:
    """Max or min (``reduce``) over ``size`` pixels along one axis, edges replicated."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (size // 2, size // 2)
    windows = np.lib.stride_tricks.sliding_window_view(np.pad(a, pad, mode="edge"), size, axis=axis)
    return reduce(windows, axis=-1)


def otsu_threshold(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's threshold of values in 0..1."""
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    hist = hist.astype(np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centers)
    mu0 = np.divide(m0, w0, out=np.zeros_like(m0), where=w0 > 0)
    mu1 = np.divide(m0[-1] - m0, w1, out=np.zeros_like(m0), where=w1 > 0)
    between = w0 * w1 * (mu0 - mu1) ** 2
    return float(centers[int(np.argmax(between))])


def label_components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected component labels of a boolean mask (0 = background), numpy only.

    Two-pass union-find over run-length runs, so it is fast even in pure Python for
    the few hundred runs a digit has.
    """
    h, w = mask.shape
    parent: list[int] = [0]
    runs = []  # (row, start, end, label)
    prev: list[tuple[int, int, int]] = []

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for y in range(h):
        row = mask[y]
        if not row.any():
            prev = []
            continue
        d = np.diff(np.concatenate(([0], row.view(np.int8), [0])))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        current = []
        for s, e in zip(starts.tolist(), ends.tolist()):
            label = 0
            for ps, pe, pl in prev:
                if ps <= e and pe >= s:  # 8-connectivity: touching diagonally counts
                    if label == 0:
                        label = find(pl)
                    else:
                        a, b = find(label), find(pl)
                        if a != b:
                            parent[max(a, b)] = min(a, b)
                            label = min(a, b)
            if label == 0:
                label = len(parent)
                parent.append(label)
            current.append((s, e, label))
            runs.append((y, s, e, label))
        prev = current
    labels = np.zeros((h, w), np.int32)
    roots = {}
    for y, s, e, label in runs:
        root = find(label)
        labels[y, s:e] = roots.setdefault(root, len(roots) + 1)
    return labels, len(roots)


def _components(mask: np.ndarray):
    """(label image, list of (area, (x0, y0, x1, y1))) for the components of ``mask``."""
    labels, n = label_components(mask)
    if n == 0:
        return labels, []
    ys, xs = np.nonzero(labels)
    ids = labels[ys, xs]
    areas = np.bincount(ids, minlength=n + 1)
    left, top = np.full(n + 1, mask.shape[1]), np.full(n + 1, mask.shape[0])
    right, bottom = np.zeros(n + 1, np.int64), np.zeros(n + 1, np.int64)
    np.minimum.at(left, ids, xs)
    np.maximum.at(right, ids, xs)
    np.minimum.at(top, ids, ys)
    np.maximum.at(bottom, ids, ys)
    return labels, [(int(areas[i]), (int(left[i]), int(top[i]), int(right[i]) + 1, int(bottom[i]) + 1))
                    for i in range(1, n + 1)]


def to_mnist(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Crop the masked ink, fit it in 20x20 keeping the aspect ratio, centre by mass in 28x28."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = np.where(mask, ink, ink * 0.0)[y0:y1, x0:x1]
    # Stroke cores become white, like MNIST's: the 90th percentile of the ink maps to 1.
    crop = np.clip(crop / max(float(np.percentile(ink[mask], 90)), 1e-6), 0.0, 1.0)
    h, w = crop.shape
    scale = BOX / max(h, w)
    # Strokes thinner than MNIST's after scaling are thickened first (a max filter).
    stroke = _stroke_width(mask[y0:y1, x0:x1])
    grow = int(round((TARGET_STROKE / scale - stroke) / 2))
    if grow > 0:
        size = 2 * min(grow, 15) + 1
        crop = np.pad(crop, size)
        crop = np.asarray(Image.fromarray(crop.astype(np.float32), mode="F").filter(ImageFilter.MaxFilter(size)),
                          np.float32)
        crop = _box_blur(crop, 1)
        h, w = crop.shape
        scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    small = np.asarray(Image.fromarray((crop * 255).astype(np.float32), mode="F").resize((new_w, new_h), Image.LANCZOS),
                       np.float32)
    small = np.clip(small, 0, 255)
    out = np.zeros((SIZE, SIZE), np.float32)
    top, left = (SIZE - new_h) // 2, (SIZE - new_w) // 2
    out[top:top + new_h, left:left + new_w] = small
    total = out.sum()
    if total > 0:
        cy = (out.sum(axis=1) * np.arange(SIZE)).sum() / total
        cx = (out.sum(axis=0) * np.arange(SIZE)).sum() / total
        dy, dx = int(round(SIZE / 2 - cy)), int(round(SIZE / 2 - cx))  # MNIST's mass centre: (14, 14)
        dy = int(np.clip(dy, -top, SIZE - top - new_h))
        dx = int(np.clip(dx, -left, SIZE - left - new_w))
        out = np.roll(out, (dy, dx), axis=(0, 1))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def _stroke_width(mask: np.ndarray) -> float:
    """Approximate stroke width: ink area over half the boundary length."""
    area = float(mask.sum())
    if area == 0:
        return 0.0
    padded = np.pad(mask, 1)
    edges = (padded[1:-1, 1:-1] & ~padded[:-2, 1:-1]).sum() + (padded[1:-1, 1:-1] & ~padded[2:, 1:-1]).sum() \
        + (padded[1:-1, 1:-1] & ~padded[1:-1, :-2]).sum() + (padded[1:-1, 1:-1] & ~padded[1:-1, 2:]).sum()
    return 2.0 * area / max(float(edges), 1.0)


def _ink_and_mask(gray: np.ndarray, dark_ink: bool) -> tuple[np.ndarray, np.ndarray]:
    ink = ink_map(gray, dark_ink)
    return ink, remove_rules(ink > max(otsu_threshold(ink), MIN_INK_CONTRAST))


def _candidates(ink: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, list]:
    """The mask with specks, frames, border-touching pieces and line slivers removed, and its
    components' (area, box), largest first."""
    labels, comps = _components(mask)
    if not comps:
        return mask & False, []
    h, w = mask.shape
    biggest = max(area for area, _ in comps)
    candidates = [i for i, (area, box) in enumerate(comps, start=1)
                  if area >= max(0.08 * biggest, 4) and not _sliver(box, w, h)]
    # A component whose box encloses another one is a frame (sheet edge, shadow), not writing.
    candidates = [i for i in candidates
                  if not any(j != i and _encloses(comps[i - 1][1], comps[j - 1][1]) for j in candidates)] or candidates
    inside = [i for i in candidates if _free_standing(comps[i - 1][1], w, h)]
    if inside and len(inside) < len(candidates):
        biggest_inside = max(comps[i - 1][0] for i in inside)
        candidates = [i for i in inside if comps[i - 1][0] >= 0.08 * biggest_inside]
    kept = sorted((comps[i - 1] for i in candidates), key=lambda c: -c[0])
    return np.isin(labels, candidates), kept


def _sliver(box, w: int, h: int) -> bool:
    """A thin horizontal piece (what is left of a faded ruled line), or a thin vertical one at the edge."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if bh <= max(2, 0.02 * h) and bw >= 6 * bh:
        return True
    return bw <= max(2, 0.02 * w) and bh >= 6 * bw and (y0 == 0 or y1 == h)


def find_ink(gray: np.ndarray, name: str = "<image>") -> tuple[np.ndarray, np.ndarray, list]:
    """Ink map, ink mask and the kept components' (area, box), largest first.

    The polarity comes from dark_ink_guess.  Specks, frames that enclose other marks,
    pieces touching the image border (page edges) when free-standing ones exist, and
    ruled lines are dropped.
    """
    if float(gray.max() - gray.min()) < MIN_LEVELS:
        raise ImageError(f"{name}: no digit found (blank or uniform image)")
    ink, mask = _ink_and_mask(gray, dark_ink_guess(gray))
    if float(ink.max()) < MIN_INK_CONTRAST:
        raise ImageError(f"{name}: no digit found (blank or uniform image)")
    mask, kept = _candidates(ink, mask)
    if not kept:
        raise ImageError(f"{name}: no digit found")
    return ink, mask, kept


def _encloses(outer, inner, margin: int = 2) -> bool:
    return (outer[0] + margin <= inner[0] and outer[1] + margin <= inner[1]
            and inner[2] + margin <= outer[2] and inner[3] + margin <= outer[3])


def _free_standing(box, w: int, h: int) -> bool:
    x0, y0, x1, y1 = box
    return x0 > 0 and y0 > 0 and x1 < w and y1 < h


def _digit_group(kept) -> tuple[int, int, int, int]:
    """The box of the largest component plus the pieces that belong with it (a broken 5, a 7's bar).

    Pieces join while they lie within a quarter of the group's size of it; the group grows
    as they join, so a digit cut into several pieces is gathered whole.
    """
    (x0, y0, x1, y1), rest = kept[0][1], [box for _, box in kept[1:]]
    joined = True
    while joined and rest:
        joined = False
        reach = 0.25 * max(x1 - x0, y1 - y0)
        for box in list(rest):
            a0, b0, a1, b1 = box
            if max(a0 - x1, x0 - a1, 0) <= reach and max(b0 - y1, y0 - b1, 0) <= reach:
                x0, y0, x1, y1 = min(x0, a0), min(y0, b0), max(x1, a1), max(y1, b1)
                rest.remove(box)
                joined = True
    return x0, y0, x1, y1


def preprocess_gray(gray: np.ndarray, name: str = "<image>") -> np.ndarray:
    """A grayscale array (any size, any polarity) -> the 28x28 uint8 MNIST-style input of its digit."""
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError(f"{name}: expected a 2-D grayscale image, got shape {gray.shape}")
    small = _shrink(gray)
    if min(small.shape) < 3:
        small = np.pad(small, 2, mode="edge")
    ink, mask, kept = find_ink(small, name)
    x0, y0, x1, y1 = _digit_group(kept)
    region = np.zeros_like(mask)
    region[y0:y1, x0:x1] = True
    return to_mnist(ink, mask & region)


def _column_groups(kept) -> list[tuple[int, int, int, int]]:
    """Group components into digits, left to right: pieces that overlap in x belong together."""
    tall = max(b[3] - b[1] for _, b in kept)
    groups: list[list[int]] = []
    for _, (x0, y0, x1, y1) in sorted(kept, key=lambda c: c[1][0]):
        if groups:
            g = groups[-1]
            overlap = min(x1, g[2]) - max(x0, g[0])
            if overlap >= 0.5 * min(x1 - x0, g[2] - g[0]):
                groups[-1] = [min(x0, g[0]), min(y0, g[1]), max(x1, g[2]), max(y1, g[3])]
                continue
        groups.append([x0, y0, x1, y1])
    # A group much shorter than the tallest digit is a speck, a dash or a dot: not a digit.
    return [tuple(g) for g in groups if g[3] - g[1] >= 0.35 * tall]


def find_digits(gray: np.ndarray, name: str = "<image>") -> list[Digit]:
    """Every digit in a grayscale image, left to right, each as 28x28 input with its box.

    Boxes are in the coordinates of ``gray`` (x0, y0, x1, y1).
    """
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError(f"{name}: expected a 2-D grayscale image, got shape {gray.shape}")
    small = _shrink(gray)
    scale_y, scale_x = gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1]
    ink, mask, kept = find_ink(small, name)
    digits = []
    for x0, y0, x1, y1 in _column_groups(kept):
        region = np.zeros_like(mask)
        region[y0:y1, x0:x1] = True
        box = (int(x0 * scale_x), int(y0 * scale_y), int(np.ceil(x1 * scale_x)), int(np.ceil(y1 * scale_y)))
        digits.append(Digit(to_mnist(ink, mask & region), box))
    if not digits:
        raise ImageError(f"{name}: no digit found")
    return digits


def preprocess_file(source, name: str | None = None) -> np.ndarray:
    """An image file (path or bytes) -> its 28x28 uint8 MNIST-style input."""
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<image>")
    return preprocess_gray(load_image(source, label), label)


def save_preprocessed(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write a 28x28 input as a PNG (white digit on black, as the model sees it)."""
    from edge import atomic

    atomic.write_with(Path(path), lambda tmp: Image.fromarray(pixels, mode="L").save(tmp, format="PNG"))
