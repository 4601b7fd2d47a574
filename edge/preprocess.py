"""Real images -> MNIST-style 28x28 input, with numpy and Pillow only.

MNIST digits are white strokes on black, anti-aliased, scaled to fit a 20x20 box
keeping their aspect ratio, and centred by centre of mass in 28x28.  A photo of ink on
paper, a scan, a paint-program drawing, a camera frame or an MNIST-style image all go
through the same steps:

1. decode (EXIF orientation, palette, alpha, 16-bit, CMYK) to grayscale, at a reduced
   size where the format allows it (JPEG), and shrink to the working size;
2. flatten uneven lighting (divide by the paper under the ink), find the ink's polarity,
   threshold (Otsu on the ink's contrast);
3. drop the page's lines at any angle (edge/lines.py), then keep only what can be a digit:
   no specks, frames, slivers, blobs or pieces cut by the edge of a camera frame;
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
from PIL import Image, ImageOps

from digitlite.edge import imageops
from digitlite.edge.errors import DigitliteError
from digitlite.edge.lines import Lines, LineTracker, find_lines, samples

MAX_PIXELS = 40_000_000  # refuse larger images (decompression bombs) before decoding them
WORK_SIDE = 320  # images are shrunk so their longer side is at most this before analysis
MIN_INK_CONTRAST = 0.12  # ink darker than the paper by less than this fraction is not ink
MIN_LEVELS = 24  # an image whose gray levels span less than this is blank
BOX = 20  # MNIST: the digit fits a 20x20 box ...
SIZE = 28  # ... centred in 28x28
TARGET_STROKE = 2.2  # MNIST's typical stroke width in pixels at 20x20
INK_CHOICES = ("auto", "dark", "light")  # the ink's polarity: found, or given
MIN_LINES_SIDE = 48  # smaller images are crops of a digit: no page lines are looked for
BORDER_DIGIT = 0.25  # a digit cut by a picture's edge spans at least this fraction of its smaller side
MIN_DIGIT = 0.08  # a digit's box is at least this fraction of the picture's smaller side (else: specks)
MIN_FILL = 0.05  # and its ink fills at least this fraction of its box (else: scattered dashes)
MAX_WIDTH = 2.5  # and it is at most this many times as wide as tall (else: a dash)
APART = (0.6, 0.1)  # digits side by side: each this fraction of the tallest's height, gaps of this fraction
FRAME_WINDOW = 0.13  # a camera frame's paper: over this fraction of its side (its digits are smaller than a photo's)


class ImageError(DigitliteError):
    """An image that cannot be read or holds no digit."""


class SeveralDigits(ImageError):
    """An image asked for one digit that holds several side by side (a number)."""

    def __init__(self, message: str, count: int):
        super().__init__(message)
        self.count = count


@dataclass
class Digit:
    """One digit found in an image: its 28x28 input and where it was (x0, y0, x1, y1 in the image)."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]


def load_image(source, name: str | None = None, side: int | None = None) -> np.ndarray:
    """Decode an image file (path or bytes) to a float32 grayscale array in 0..255.

    Honours EXIF orientation; flattens alpha onto a background that contrasts with the
    opaque pixels; handles palette, 16-bit, CMYK and animated images (first frame).  With
    ``side``, a JPEG is decoded at the smallest of 1/1, 1/2, 1/4, 1/8 of its size that still
    has ``side`` pixels on its longer side (the format's own reduced decoding): a phone
    photo is read in a fraction of the time.
    """
    return load_gray(source, name, side)[0]


def load_gray(source, name: str | None = None, side: int | None = None) -> tuple[np.ndarray, float]:
    """``load_image``, also returning how many original pixels one returned pixel spans."""
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
            reduction = 1.0
            if side and img.format == "JPEG" and img.mode in ("L", "RGB", "YCbCr") and max(img.size) > side:
                full_width, scale = img.width, side / max(img.size)
                img.draft("L", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
                reduction = full_width / img.width
            if img.getexif().get(0x0112, 1) != 1:  # an EXIF orientation to apply (exif_transpose copies otherwise)
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
    return to_gray(img), reduction  # EXIF rotation may swap the sides: the reduction is the same on both


LUMA = np.array([0.299, 0.587, 0.114], np.float32)  # RGB -> gray, as Pillow's "L"


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
        gray = rgba[..., :3] @ LUMA
        if alpha.min() < 1.0:
            opaque = alpha[..., 0] > 0.5
            ink_is_dark = opaque.any() and gray[opaque].mean() < 128
            background = 255.0 if ink_is_dark or not opaque.any() else 0.0
            return gray * alpha[..., 0] + background * (1 - alpha[..., 0])
        return gray
    return np.asarray(img.convert("L"), dtype=np.float32)


def shrink(gray: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """``gray`` (float32) shrunk with a box filter so that its longer side is at most ``side``."""
    h, w = gray.shape
    scale = side / max(h, w)
    if scale >= 1:
        return gray.astype(np.float32, copy=False)
    img = Image.fromarray(gray.astype(np.float32, copy=False), mode="F")
    return np.asarray(img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BOX), dtype=np.float32)


def _box_blur(a: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges replicated (integral image; numpy only)."""
    if radius < 1:
        return a
    k = 2 * radius + 1
    p = imageops.pad_edge(a.astype(np.float32, copy=False), radius + 1)
    s = p.cumsum(0, dtype=np.float64).cumsum(1)
    total = s[k:, k:] - s[:-k, k:] - s[k:, :-k] + s[:-k, :-k]
    h, w = a.shape
    return (total[:h, :w] * (1.0 / (k * k))).astype(np.float32)


def dark_ink_guess(gray: np.ndarray) -> bool:
    """True when the image looks like dark ink on light paper.

    Strokes are thin, sharp features; lighting, shadows and the table around a sheet are
    broad ones.  After subtracting a local mean (removing the broad ones), the pixels that
    stand out beyond the noise (4 robust sigmas) are mostly dark for dark ink and mostly
    bright for light ink; they are counted over the middle 70% of the frame, where the
    subject is, not the table along the border.  When neither side clearly wins, or too
    little stands out to tell (empty paper), or the image is small (a 28x28 crop, whose
    border is background by construction), the border decides: a bright border is paper.
    """
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    middle = len(border) // 2
    border_says_dark = float(np.partition(border, middle)[middle]) > (float(gray.max()) + float(gray.min())) / 2
    if min(h, w) < 64:
        return border_says_dark
    gray = imageops.block_mean(gray, -(-max(h, w) // 160))  # broad features are what matters here
    h, w = gray.shape
    # The local mean over about a sixth of the image: block means, smoothed, enlarged again.
    block = max(2, min(h, w) // 9)
    local = imageops.upsample_linear(imageops.box3(imageops.block_mean(gray, block)), (h, w))
    detail = gray - local
    # The subject is in the middle; a table or the page's edge lies along the border.
    detail = detail[int(0.15 * h): int(0.85 * h) + 1, int(0.15 * w): int(0.85 * w) + 1]
    few = detail[::2, ::2].ravel()
    middle = float(np.partition(few, len(few) // 2)[len(few) // 2])
    spread = np.abs(few - middle)
    threshold = 4 * 1.4826 * float(np.partition(spread, len(spread) // 2)[len(spread) // 2])
    dark = float(np.maximum(-detail - threshold, 0).sum())
    bright = float(np.maximum(detail - threshold, 0).sum())
    if max(dark, bright) < 0.05 * detail.size:  # under a twentieth of a gray level a pixel: nothing to tell
        return border_says_dark
    if dark > 1.5 * bright:
        return True
    if bright > 1.5 * dark:
        return False
    return border_says_dark


def paper_estimate(a: np.ndarray, size: int) -> np.ndarray:
    """The paper under the ink: a grayscale closing (max, then min) over ``size`` pixels.

    A closing erases dark marks thinner than ``size`` (pen strokes) but keeps large dark
    areas and sharp steps where they are (a shadow's edge, the table around a sheet), so
    those do not turn into 'ink' the way they would under a plain blur.
    """
    # The paper varies slowly: work at 1/step of the resolution, where the window is small.
    step = max(1, size // 8)
    if step == 1 and min(a.shape) >= 64:
        step = 2  # block means first: a closing of the raw noise would sit above the paper
    h, w = a.shape
    small = imageops.block_mean(a, step) if step > 1 and min(h, w) >= 2 * step else a.astype(np.float32)
    window = (size // step) | 1 if small is not a else size
    # Padded first, so that the closing is exact up to the image's edge (a vignette's dark
    # corners are paper, not ink).
    padded = imageops.pad_edge(small, window)
    closed = imageops.min_filter(imageops.max_filter(padded, window), window)[window:-window, window:-window]
    closed = imageops.box3(closed)
    return imageops.upsample_linear(closed, (h, w)) if closed.shape != (h, w) else closed


def ink_map(gray: np.ndarray, dark_ink: bool, window: float = 0.2) -> np.ndarray:
    """Ink strength in 0..1 (1 = ink) with the lighting divided out, for the given polarity.

    The paper is estimated over ``window`` of the image's smaller side: wider than a
    marker's stroke, narrow enough to follow a shadow.
    """
    h, w = gray.shape
    a = gray.astype(np.float32, copy=False) if dark_ink else np.float32(255.0) - gray  # now: paper bright, ink dark
    size = max(7, int(min(h, w) * window)) | 1
    paper = np.maximum(paper_estimate(a, size), np.float32(1.0))
    strength = np.float32(1.0) - a / paper  # 0 on paper, towards 1 on ink
    return np.clip(strength, 0.0, 1.0, out=strength)


def otsu_threshold(values: np.ndarray, bins: int = 128) -> float:
    """Otsu's threshold of values in 0..1."""
    hist = np.bincount((values.ravel() * np.float32(bins - 0.001)).astype(np.intp), minlength=bins)[:bins]
    centers = _CENTERS[bins] if bins in _CENTERS else (np.arange(bins) + 0.5) / bins
    w0 = np.cumsum(hist, dtype=np.float64)
    m0 = np.cumsum(hist * centers)
    # w0 w1 (mu0 - mu1)^2 = (m0 W - M w0)^2 / (w0 w1); zero where either class is empty
    spread = m0 * w0[-1] - m0[-1] * w0
    return float(centers[int(np.argmax(spread * spread / np.maximum(w0 * (w0[-1] - w0), 1e-12)))])


_CENTERS = {128: (np.arange(128) + 0.5) / 128}


def _polarity(gray: np.ndarray, ink: str) -> bool:
    if ink not in INK_CHOICES:
        raise DigitliteError(f"unknown ink {ink!r}; choose {', '.join(INK_CHOICES)}")
    return dark_ink_guess(gray) if ink == "auto" else ink == "dark"


def find_ink(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
             tracker: LineTracker | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Ink map, ink mask and the kept components' (area, box), largest first.

    ``ink`` is the polarity ("dark" ink on light paper, "light" on dark, or "auto" to find
    it).  The page's lines (edge/lines.py), specks, frames that enclose other marks and thin
    slivers are dropped.  Pieces touching the image's border are dropped when free-standing
    ones exist; in a camera ``frame``, what touches the border or is joined to it across a
    few pixels is always dropped (a digit cut by the frame's edge is not read; the desk, the
    sheet's edge and a hand's shadow come in from there), and the paper is estimated over a
    narrower window (its digits are small; a shadow is followed closer).
    ``tracker`` carries the lines' angle from one frame of a video to the next.
    """
    if float(gray.max() - gray.min()) < MIN_LEVELS:
        raise ImageError(f"{name}: no digit found (blank or uniform image)")
    strength = ink_map(gray, _polarity(gray, ink), FRAME_WINDOW if frame else 0.2)
    if float(strength.max()) < MIN_INK_CONTRAST:
        raise ImageError(f"{name}: no digit found (blank or uniform image)")
    idx = samples(*strength.shape)
    sample = strength.ravel()[idx]
    mask = strength > max(otsu_threshold(sample), MIN_INK_CONTRAST)
    # A page's lines are looked for where the image is big enough to hold a page (not in an
    # MNIST-style crop, whose strokes cross most of it).
    lines = find_lines(strength, mask, tracker) if min(gray.shape) >= MIN_LINES_SIDE else Lines(gray.shape)
    # The lines may be darker than the writing (pencil on ruled paper), and so may the table
    # or a shadow coming in from a camera frame's edge: threshold again without them.
    aside = lines.on_band(idx) if lines else np.zeros(len(idx), bool)
    if frame and (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()):
        aside |= _touching_border(mask).ravel()[idx]
    if aside.any() and not aside.all():
        mask = strength > max(otsu_threshold(sample[~aside]), MIN_INK_CONTRAST)
    if lines:
        kept = lines.remove(mask, strength)
        # In a picture of one digit, a "1" crossing it from edge to edge looks like a line: with
        # one or two such bands and nothing else, it is the digit.  Never in a camera frame, nor
        # on ruled or squared paper (more bands).
        mask = kept if kept.any() or frame or lines.bands() > 2 else mask
    if frame:
        # What comes in from the frame's edge (the table, a shadow, the sheet's edge) is
        # dropped whole, joined to the edge across gaps of a few pixels (a table's grain).
        mask &= ~_touching_border(mask, reach=int(0.02 * min(gray.shape)) + 1)
    mask, kept = _candidates(mask, frame)
    if not kept:
        raise ImageError(f"{name}: no digit found")
    return strength, mask, kept


def _touching_border(mask: np.ndarray, reach: int = 0) -> np.ndarray:
    """The pixels of ``mask`` connected to the image's border, across gaps up to ``2 * reach`` pixels.

    With a reach, the table's grain, a shadow's broken edge or the speckle along the
    sheet's edge count as one piece coming in from the border.
    """
    grown = imageops.max_filter(mask.view(np.uint8), 2 * reach + 1).view(bool) if reach else mask
    return imageops.border_connected(grown) & mask


def _candidates(mask: np.ndarray, frame: bool) -> tuple[np.ndarray, list]:
    """The mask with specks, frames, border-touching pieces and line slivers removed, and its
    components' (area, box), largest first."""
    h, w = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return mask, []
    # Only the part of the image that holds ink is labelled (a frame's ink is mostly one digit).
    top, left = int(rows[0]), int(cols[0])
    labels, stats = imageops.components(mask[top:rows[-1] + 1, left:cols[-1] + 1])
    stats[:, [0, 2]] += left
    stats[:, [1, 3]] += top
    comps = [(int(a), (int(x0), int(y0), int(x1), int(y1))) for x0, y0, x1, y1, a in stats]
    candidates = list(range(1, len(comps) + 1))
    biggest = max(comps[i - 1][0] for i in candidates)
    candidates = [i for i in candidates
                  if comps[i - 1][0] >= max(0.08 * biggest, 4) and not _sliver(comps[i - 1][1], w, h)]
    # A component whose box encloses another one is a frame (sheet edge, shadow), not writing.
    candidates = [i for i in candidates
                  if not any(j != i and _encloses(comps[i - 1][1], comps[j - 1][1]) for j in candidates)] or candidates
    inside = [i for i in candidates if _free_standing(comps[i - 1][1], w, h)]
    if inside and len(inside) < len(candidates):
        biggest_inside = max(comps[i - 1][0] for i in inside)
        candidates = [i for i in inside if comps[i - 1][0] >= 0.08 * biggest_inside]
    elif not inside:
        # Only pieces cut by the image's edge: a tightly cropped digit fills much of its
        # picture; what is left of a line in a corner does not.
        side = BORDER_DIGIT * min(h, w)
        candidates = [i for i in candidates if max(comps[i - 1][1][2] - comps[i - 1][1][0],
                                                   comps[i - 1][1][3] - comps[i - 1][1][1]) >= side]
    kept = sorted((comps[i - 1] for i in candidates), key=lambda c: (-c[0], c[1]))
    chosen = np.zeros(len(comps) + 1, bool)
    chosen[candidates] = True
    out = np.zeros_like(mask)
    out[top:top + labels.shape[0], left:left + labels.shape[1]] = chosen[labels]
    return out, kept


def _sliver(box, w: int, h: int) -> bool:
    """A thin horizontal piece (what is left of a faded ruled line), or a thin vertical one at the edge."""
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    if bh <= max(2, 0.02 * h) and bw >= 6 * bh:
        return True
    return bw <= max(2, 0.02 * w) and bh >= 6 * bw and (y0 == 0 or y1 == h)


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
    grow = int(round((TARGET_STROKE / scale - _stroke_width(mask)) / 2))
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


def _stroke_width(mask: np.ndarray) -> float:
    """Approximate stroke width: ink area over half the boundary length."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    m = mask.view(np.int8)
    # Boundary length: changes between ink and paper along rows and columns, the image's edge included.
    edges = (np.count_nonzero(np.diff(m, axis=0)) + np.count_nonzero(np.diff(m, axis=1))
             + np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1]) + np.count_nonzero(mask[:, 0])
             + np.count_nonzero(mask[:, -1]))
    return 2.0 * area / max(float(edges), 1.0)


def _working(gray: np.ndarray, name: str) -> np.ndarray:
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError(f"{name}: expected a 2-D grayscale image, got shape {gray.shape}")
    small = shrink(gray)
    if min(small.shape) < 3:
        small = np.pad(small, 2, mode="edge")
    return small


def preprocess_gray(gray: np.ndarray, name: str = "<image>", ink: str = "auto", one_digit: bool = False) -> np.ndarray:
    """A grayscale array (any size, any polarity) -> the 28x28 uint8 MNIST-style input of its digit.

    With ``one_digit``, an image holding several digits side by side raises SeveralDigits
    instead of answering for the largest alone.
    """
    strength, mask, kept = find_ink(_working(gray, name), name, ink)
    if one_digit and (count := _digits_apart(mask, kept)) > 1:
        raise SeveralDigits(f"{name}: {count} digits side by side, not one", count)
    x0, y0, x1, y1 = _digit_group(kept)
    if not _digit_like(mask, (x0, y0, x1, y1)):
        raise ImageError(f"{name}: no digit found (only specks)")
    return to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1])


def _digits_apart(mask: np.ndarray, kept) -> int:
    """How many digits stand side by side: digit-like column groups nearly as tall as the
    tallest, with clear gaps between them.  A digit in two pieces (a 7's bar, a broken loop)
    has a short piece or no gap, and counts once."""
    groups = [g for g in _column_groups(kept) if _digit_like(mask, g)]
    if len(groups) < 2:
        return len(groups)
    tall = max(g[3] - g[1] for g in groups)
    groups = [g for g in groups if g[3] - g[1] >= APART[0] * tall]
    apart = 1
    for left, right in zip(groups, groups[1:]):
        apart += right[0] - left[2] >= APART[1] * tall
    return apart


def _digit_like(mask: np.ndarray, box) -> bool:
    """Big enough not to be a speck, not much wider than tall (a dash, a piece of a line), and
    dense enough not to be scattered dashes (what is left of a faint line): a digit's strokes
    fill a tenth of its box or more, a "1" nearly all."""
    x0, y0, x1, y1 = box
    if max(x1 - x0, y1 - y0) < MIN_DIGIT * min(mask.shape) or x1 - x0 > MAX_WIDTH * (y1 - y0):
        return False
    return np.count_nonzero(mask[y0:y1, x0:x1]) >= MIN_FILL * (x1 - x0) * (y1 - y0)


def find_digits(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
                min_height: float = 0.0, tracker: LineTracker | None = None) -> list[Digit]:
    """Every digit in a grayscale image, left to right, each as 28x28 input with its box.

    Boxes are in the coordinates of ``gray`` (x0, y0, x1, y1).  ``frame`` reads it as a
    camera frame (see ``find_ink``); digits shorter than ``min_height`` of the image's
    height are not read.  A ``tracker`` carries the page lines' angle between the frames
    of a video.
    """
    small = _working(gray, name)
    scale_y, scale_x = gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1]
    strength, mask, kept = find_ink(small, name, ink, frame, tracker)
    digits = []
    for x0, y0, x1, y1 in _column_groups(kept):
        if y1 - y0 < min_height * small.shape[0] or not _digit_like(mask, (x0, y0, x1, y1)):
            continue
        box = (int(x0 * scale_x), int(y0 * scale_y), int(np.ceil(x1 * scale_x)), int(np.ceil(y1 * scale_y)))
        digits.append(Digit(to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1]), box))
    if not digits:
        raise ImageError(f"{name}: no digit found")
    return digits


def preprocess_file(source, name: str | None = None) -> np.ndarray:
    """An image file (path or bytes) -> its 28x28 uint8 MNIST-style input."""
    label = name or (str(source) if isinstance(source, (str, os.PathLike)) else "<image>")
    return preprocess_gray(load_image(source, label, WORK_SIDE), label)


def save_preprocessed(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write a 28x28 input as a PNG (white digit on black, as the model sees it)."""
    from digitlite.edge import atomic

    atomic.write_with(Path(path), lambda tmp: Image.fromarray(pixels, mode="L").save(tmp, format="PNG"))
