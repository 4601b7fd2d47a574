"""Real images -> MNIST-style 28x28 input, with numpy and Pillow only.

MNIST digits are white strokes on black, anti-aliased, scaled to fit a 20x20 box
keeping their aspect ratio, and centred by centre of mass in 28x28.  A photo of ink on
paper, a scan, a paint-program drawing, a camera frame or an MNIST-style image all go
through the same steps:

1. decode (EXIF orientation, palette, alpha, 16-bit, CMYK) to grayscale, at a reduced
   size where the format allows it (JPEG), and shrink to the working size;
2. flatten uneven lighting (divide by the paper under the ink), find the ink's polarity,
   threshold (Otsu on the ink's contrast); in a still image, fainter ink joined to that ink
   counts too (hysteresis), where it keeps the piece about its size;
3. drop the page's lines at any angle (edge/vision/lines.py), then keep only what can be a digit:
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

from digitlite.edge.settings import INK_CHOICES
from digitlite.edge.util import atomic
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision import imageops
from digitlite.edge.vision.lines import (
    Lines,
    LineTracker,
    find_lines,
    remnants,
    samples,
)

MAX_PIXELS = 40_000_000  # refuse larger images (decompression bombs) before decoding them
WORK_SIDE = 320  # images are shrunk so their longer side is at most this before analysis
MIN_INK_CONTRAST = 0.12  # ink darker than the paper by less than this fraction is not ink
MIN_LEVELS = 24  # an image whose gray levels span less than this is blank
BOX = 20  # MNIST: the digit fits a 20x20 box ...
SIZE = 28  # ... centred in 28x28
TARGET_STROKE = 2.2  # MNIST's typical stroke width in pixels at 20x20
MIN_LINES_SIDE = 48  # smaller images are crops of a digit: no page lines are looked for
BORDER_DIGIT = 0.25  # a digit cut by a picture's edge spans at least this fraction of its smaller side
MIN_DIGIT = 0.08  # a digit's box is at least this fraction of the picture's smaller side (else: specks)
MIN_FILL = 0.05  # and its ink fills at least this fraction of its box (else: scattered dashes)
MAX_WIDTH = 2.5  # and it is at most this many times as wide as tall (else: a dash)
MIN_LENGTH = 1.0  # a still image's thin-stroked digit is ink at least as long as its box's longer side
APART = (0.6, 0.1)  # digits side by side: each this fraction of the tallest's height, gaps of this fraction
FRAME_WINDOW = 0.13  # a camera frame's paper: over this fraction of its side (its digits are smaller than a photo's)
MIN_FAINT = 0.03  # in a still image, ink is at least this much darker than its paper ...
FAINT_SIGMAS = 8.0  # ... and stands out from the paper's noise by this many robust sigmas
MIN_READABLE = 10  # a still image's digit is at least this many of the file's pixels tall (else: crop closer) ...
MIN_STILL_DIGIT = 0.025  # ... and at least this fraction of the picture's smaller side
HYSTERESIS = 0.7  # a still image's ink of this fraction of the threshold's strength counts where it joins stronger ink ...
GROW_REACH = 1.5  # ... when that leaves the piece at most this many times as wide and as tall
FINE_SIDE = 40  # a still image's digit smaller than this many working pixels is read again finer ...
FINE_DECODE_SIDE = 2048  # ... from a decode of at most this many pixels on the image's longer side
THICK_STROKE = 3.0  # the paper's window is at least this many stroke widths wide (a marker's stroke)
SPLIT_WIDTH = 1.0  # a still image's piece of a number wider than this many times its height holds touching digits
MERGE_WIDTH = 1.2  # neighbouring pieces may be one digit when together at most this many times as wide as tall ...
MERGE_GAP = 0.3  # ... and this many heights apart ...
MERGE_PIECES = 4  # ... up to this many pieces together


class ImageError(DigitliteError):
    """An image that cannot be read or holds no digit."""


class NoDigit(ImageError):
    """An image that was read but holds no digit (blank paper, specks, something too small)."""


class TooSmall(ImageError):
    """An image whose marks may be a digit, too small to read: the answer is to crop closer."""


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


def load_gray(source, name: str | None = None, side: int | None = None,
              box: tuple[float, float, float, float] | None = None) -> tuple[np.ndarray, float]:
    """``load_image``, also returning how many original pixels one returned pixel spans.

    With ``side``, other formats than JPEG are reduced after decoding by the largest whole
    factor that keeps ``side`` pixels (a box filter, before any float copy is made), so that a
    large PNG costs little memory.  ``box`` (x0, y0, x1, y1 as fractions of the oriented
    image) returns only that part.
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
            reduction = 1.0
            if side and img.format == "JPEG" and img.mode in ("L", "RGB", "YCbCr") and max(img.size) > side:
                full_width, scale = img.width, side / max(img.size)
                img.draft("L", (max(1, int(img.width * scale)), max(1, int(img.height * scale))))
                reduction = full_width / img.width
            if img.getexif().get(0x0112, 1) != 1:  # an EXIF orientation to apply (exif_transpose copies otherwise)
                img = ImageOps.exif_transpose(img)
            img.load()
            if box is not None:
                w, h = img.size
                img = img.crop((int(box[0] * w), int(box[1] * h), max(int(box[0] * w) + 1, int(np.ceil(box[2] * w))),
                                max(int(box[1] * h) + 1, int(np.ceil(box[3] * h)))))
            factor = max(img.size) // side if side else 1
            if factor >= 2 and img.mode in ("P", "PA", "1", "L", "LA", "RGB", "RGBA"):
                if img.mode in ("P", "PA", "1"):
                    img = img.convert("RGBA" if img.mode != "1" else "L")
                img = img.reduce(factor)
                reduction *= factor
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
        return flatten_alpha(rgba[..., :3] @ LUMA, rgba[..., 3] / 255.0)
    return np.asarray(img.convert("L"), dtype=np.float32)


def flatten_alpha(gray: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Grey 0..255 with its opacity 0..1 -> grey on a background that contrasts with the opaque
    pixels (white behind dark ink, black behind light ink): ink on a transparent sheet stays ink."""
    if alpha.min() >= 1.0:
        return gray
    opaque = alpha > 0.5
    ink_is_dark = opaque.any() and gray[opaque].mean() < 128
    background = 255.0 if ink_is_dark or not opaque.any() else 0.0
    return gray * alpha + background * (1 - alpha)


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


def ink_floor(sample: np.ndarray, frame: bool = False) -> float:
    """The weakest ink strength that counts as ink.

    A camera frame keeps a fixed floor (MIN_INK_CONTRAST: its benchmark's noise and blur need
    it).  A still image's floor follows its paper: ink stands out from the paper's own texture
    and noise by FAINT_SIGMAS robust sigmas (most sampled pixels are paper), and by at least
    MIN_FAINT, so that a faint pencil or a blurred ballpoint in a dim photo is still ink, and the
    grain of a noisy photo of empty paper is not.
    """
    if frame:
        return MIN_INK_CONTRAST
    few = sample[::4] if len(sample) >= 4096 else sample
    k = len(few) // 2
    ordered = np.partition(few, k)
    median = float(ordered[k])
    # The spread from the half below the median: paper only, even where a broad digit covers
    # much of the picture (its ink would widen a spread taken from both sides).
    below = np.float32(median) - ordered[:k]
    spread = float(np.partition(below, len(below) // 2)[len(below) // 2]) if len(below) else 0.0
    return max(MIN_FAINT, median + FAINT_SIGMAS * 1.4826 * spread)


def find_ink(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
             tracker: LineTracker | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Ink map, ink mask and the kept components' (area, box), largest first.

    ``ink`` is the polarity ("dark" ink on light paper, "light" on dark, or "auto" to find
    it).  The page's lines (edge/vision/lines.py), specks, frames that enclose other marks and thin
    slivers are dropped.  In a still image, pieces touching the image's border stay when they
    are the size of the free-standing ones (a number cut tight, a digit cut by the edge), and
    ink counts from a floor set by the paper's own noise (``ink_floor``); in a camera
    ``frame``, what touches the border or is joined to it across a few pixels is always
    dropped (a digit cut by the frame's edge is not read; the desk, the sheet's edge and a
    hand's shadow come in from there), ink has a fixed floor, and the paper is estimated over
    a narrower window (its digits are small; a shadow is followed closer).
    ``tracker`` carries the lines' angle from one frame of a video to the next.
    """
    if float(gray.max() - gray.min()) < MIN_LEVELS:
        raise NoDigit(f"{name}: no digit found (blank or uniform image)")
    dark = _polarity(gray, ink)
    strength = ink_map(gray, dark, FRAME_WINDOW if frame else 0.2)
    idx = samples(*strength.shape)
    sample = strength.ravel()[idx]
    floor = ink_floor(sample, frame)
    strongest = float(strength.max())
    if strongest < floor:
        raise NoDigit(f"{name}: no digit found (blank or uniform image)")
    if not frame:  # nothing stands out from the paper's noise: blank; else ink from the usual floor on
        floor = min(floor, MIN_INK_CONTRAST)
    mask = strength > max(otsu_threshold(sample), floor)
    if not frame:
        # A marker's stroke wider than the paper's window is partly taken for paper (a hole in a
        # thick 8's crossing): the paper is estimated again over a window wide enough for it.
        width = _stroke_width(mask)  # in working pixels
        window = max(7, int(min(gray.shape) * 0.2)) | 1
        if THICK_STROKE * width > window:
            strength = ink_map(gray, dark, min(1.0, THICK_STROKE * width / min(gray.shape)))
            sample = strength.ravel()[idx]
            floor = min(ink_floor(sample, frame), MIN_INK_CONTRAST)
            mask = strength > max(otsu_threshold(sample), floor)
    # A page's lines are looked for where the image is big enough to hold a page (not in an
    # MNIST-style crop, whose strokes cross most of it).
    lines = find_lines(strength, mask, tracker, from_edge=frame) if min(gray.shape) >= MIN_LINES_SIDE else Lines(gray.shape)
    # The lines may be darker than the writing (pencil on ruled paper), and so may the table
    # or a shadow coming in from a camera frame's edge: threshold again without them.
    aside = lines.on_band(idx) if lines else np.zeros(len(idx), bool)
    if frame and (mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any()):
        aside |= _touching_border(mask).ravel()[idx]
    if aside.any() and not aside.all():
        threshold = max(otsu_threshold(sample[~aside]), floor)
        mask = strength > threshold
    else:
        threshold = max(otsu_threshold(sample), floor)
    if lines:
        kept = lines.remove(mask, strength, touching=not frame)
        if not frame:
            kept &= ~remnants(kept, lines)
        # In a picture of one digit, a "1" crossing it from edge to edge looks like a line: with
        # one or two such bands and nothing else, it is the digit.  Never in a camera frame, nor
        # on ruled or squared paper (more bands).
        mask = kept if kept.any() or frame or lines.bands() > 2 else mask
    if not frame:
        mask = _grow_faint(strength, mask, max(floor, HYSTERESIS * threshold), lines)
    if frame:
        # What comes in from the frame's edge (the table, a shadow, the sheet's edge) is
        # dropped whole, joined to the edge across gaps of a few pixels (a table's grain).
        mask &= ~_touching_border(mask, reach=int(0.02 * min(gray.shape)) + 1)
    mask, kept = _candidates(mask, frame)
    if not kept:
        raise NoDigit(f"{name}: no digit found")
    return strength, mask, kept


def _grow_faint(strength: np.ndarray, mask: np.ndarray, low: float, lines: Lines) -> np.ndarray:
    """``mask`` grown into the fainter ink joined to it (strength over ``low``), off the page's
    lines: a thin pen's strokes faded by the working size's averaging, a 9's faint tail, the
    fainter side of a blurred or unevenly lit stroke.

    A piece grows only where that keeps it about its size (GROW_REACH): what reaches much
    further is a faint ruled line or a shadow's edge run into, not more of the same stroke."""
    h, w = mask.shape
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return mask
    # Only round the ink: a piece grown past GROW_REACH of the ink's extent is refused anyway.
    my, mx = int((GROW_REACH - 1) * (rows[-1] + 1 - rows[0])) + 3, int((GROW_REACH - 1) * (cols[-1] + 1 - cols[0])) + 3
    y0, y1, x0, x1 = max(0, rows[0] - my), min(h, rows[-1] + 1 + my), max(0, cols[0] - mx), min(w, cols[-1] + 1 + mx)
    weak = strength[y0:y1, x0:x1] > low
    if lines:  # and not along them, nor their blurred edges
        yy, xx = np.mgrid[y0:y1, x0:x1]
        band = lines.on_band((yy * w + xx).ravel()).reshape(weak.shape)
        weak &= ~imageops.max_filter(band.view(np.uint8), 3).view(bool)
    labels, grown = imageops.components(weak)
    if not len(grown):
        return mask
    # The box of the strong ink in each weak piece.
    ys, xs = np.nonzero(mask[y0:y1, x0:x1])
    which = labels[ys, xs]
    n = len(grown) + 1
    lo_x, lo_y, hi_x, hi_y = np.full(n, w), np.full(n, h), np.full(n, -1), np.full(n, -1)
    np.minimum.at(lo_x, which, xs)
    np.minimum.at(lo_y, which, ys)
    np.maximum.at(hi_x, which, xs)
    np.maximum.at(hi_y, which, ys)
    has = hi_x[1:] >= 0
    strong_w, strong_h = np.maximum(hi_x[1:] + 1 - lo_x[1:], 1), np.maximum(hi_y[1:] + 1 - lo_y[1:], 1)
    cut = (((grown[:, 0] == 0) & (x0 > 0)) | ((grown[:, 1] == 0) & (y0 > 0))
           | ((grown[:, 2] == x1 - x0) & (x1 < w)) | ((grown[:, 3] == y1 - y0) & (y1 < h)))  # runs on out of the part
    keep = np.zeros(n, bool)
    keep[1:] = (has & ~cut & (grown[:, 2] - grown[:, 0] <= GROW_REACH * strong_w + 2)
                & (grown[:, 3] - grown[:, 1] <= GROW_REACH * strong_h + 2))
    out = mask.copy()
    out[y0:y1, x0:x1] |= keep[labels]
    return out


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
    # A speck: little ink; in a still image, little ink that is also short (a thin stroke broken
    # off a digit, a 9's tail in a fine pen, is long for its ink).
    reach = 0.0 if frame else 0.3 * max(max(b[2] - b[0], b[3] - b[1]) for a, b in comps if a == biggest)
    candidates = [i for i in candidates
                  if (comps[i - 1][0] >= max(0.08 * biggest, 4)
                      or (reach and comps[i - 1][0] >= 4 and _side(comps[i - 1][1]) >= reach))
                  and not _sliver(comps[i - 1][1], w, h)]
    if frame:
        # A component whose box encloses another one is a frame (sheet edge, shadow), not writing.
        framing = [i for i in candidates if any(j != i and _encloses(comps[i - 1][1], comps[j - 1][1])
                                                for j in candidates)]
    else:
        # In a still image a digit's box often holds a piece of it (a 5's bar, a 2's broken
        # top): only ink that goes round a sizeable mark on all four sides is a frame.
        framing = [i for i in candidates if any(j != i and _surrounds(labels, i, comps[i - 1][1], comps[j - 1][1],
                                                                      (left, top)) for j in candidates)]
    candidates = [i for i in candidates if i not in framing] or candidates
    inside = [i for i in candidates if _free_standing(comps[i - 1][1], w, h)]
    if inside and len(inside) < len(candidates):
        biggest_inside = max(comps[i - 1][0] for i in inside)
        if frame:
            candidates = [i for i in inside if comps[i - 1][0] >= 0.08 * biggest_inside]
        else:
            # A piece cut by a still image's edge stays when it is as tall as the free-standing
            # ones (the first digit of a number cropped tight); the sheet's edge, a shadow or a
            # corner of something else is much larger or much smaller.
            tall = max(comps[i - 1][1][3] - comps[i - 1][1][1] for i in inside)
            candidates = [i for i in candidates
                          if (i in inside and comps[i - 1][0] >= 0.08 * biggest_inside)
                          or (i not in inside and 0.6 * tall <= comps[i - 1][1][3] - comps[i - 1][1][1] <= 2.2 * tall
                              and comps[i - 1][0] >= 0.08 * biggest_inside)]
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


def _surrounds(labels: np.ndarray, label: int, outer, inner, origin) -> bool:
    """Whether component ``label`` (box ``outer``) has ink above, below, left and right of the
    middle of ``inner``'s box, and ``inner`` is sizeable: a drawn box or the sheet's edges round
    a digit, not a digit round a piece of itself or a speck inside a 0."""
    if not _encloses(outer, inner):
        return False
    (ox0, oy0, ox1, oy1), (ix0, iy0, ix1, iy1) = outer, inner
    if (iy1 - iy0) < 0.3 * (oy1 - oy0) and (ix1 - ix0) < 0.3 * (ox1 - ox0):
        return False
    dx, dy = origin
    mx0, mx1 = ix0 + (ix1 - ix0) // 5, ix1 - (ix1 - ix0) // 5 + 1  # the middle of the inner box
    my0, my1 = iy0 + (iy1 - iy0) // 5, iy1 - (iy1 - iy0) // 5 + 1
    own = labels == label
    return bool(own[oy0 - dy:iy0 - dy, mx0 - dx:mx1 - dx].any() and own[iy1 - dy:oy1 - dy, mx0 - dx:mx1 - dx].any()
                and own[my0 - dy:my1 - dy, ox0 - dx:ix0 - dx].any() and own[my0 - dy:my1 - dy, ix1 - dx:ox1 - dx].any())


def _side(box) -> int:
    return max(box[2] - box[0], box[3] - box[1])


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


def _digit_group(kept, frame: bool = True) -> tuple[int, int, int, int]:
    """The box of the largest component plus the pieces that belong with it (a broken 5, a 7's bar).

    Pieces join while they lie within a quarter of the group's size of it; the group grows
    as they join, so a digit cut into several pieces is gathered whole.  In a still image,
    a piece above or below the group that shares its columns joins from further off (a 5's
    bar written apart, a small drawing's broken strokes).
    """
    (x0, y0, x1, y1), rest = kept[0][1], [box for _, box in kept[1:]]
    joined = True
    while joined and rest:
        joined = False
        size = max(x1 - x0, y1 - y0)
        for box in list(rest):
            a0, b0, a1, b1 = box
            reach_y = 0.25 * size
            if not frame and min(a1, x1) - max(a0, x0) >= 0.5 * (a1 - a0):
                reach_y = 0.6 * size
            if max(a0 - x1, x0 - a1, 0) <= 0.25 * size and max(b0 - y1, y0 - b1, 0) <= reach_y:
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


def _working(gray: np.ndarray, name: str, side: int = WORK_SIDE) -> np.ndarray:
    if gray.ndim != 2 or gray.size == 0:
        raise ImageError(f"{name}: expected a 2-D grayscale image, got shape {gray.shape}")
    small = shrink(gray, side)
    if min(small.shape) < 3:
        small = np.pad(small, 2, mode="edge")
    return small


class Finer:
    """How to read part of a still image at a finer resolution than its working size.

    From the gray image itself when it holds the pixels (a large PNG, an array), else by
    decoding the file (``source``: a path or bytes) again at a higher resolution (a JPEG read
    reduced), up to FINE_DECODE_SIDE pixels on the image's longer side.  ``reduction`` is how
    many of the file's pixels one pixel of ``gray`` spans.
    """

    def __init__(self, gray: np.ndarray, source=None, reduction: float = 1.0, name: str = "<image>"):
        self.gray, self.source, self.reduction, self.name = gray, source, reduction, name

    def region(self, box, side: int) -> tuple[np.ndarray, float, float, float] | None:
        """The part ``box`` (x0, y0, x1, y1 in ``gray``'s pixels) with up to ``side`` pixels on its
        longer side, and where it lies: (crop, x0, y0, gray pixels per crop pixel); None when
        no finer reading is to be had."""
        h, w = self.gray.shape
        x0, y0 = max(0, int(box[0])), max(0, int(box[1]))
        x1, y1 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        longest = max(x1 - x0, y1 - y0)
        if longest >= side or self.source is None or self.reduction <= 1.0:
            # ``gray`` holds the pixels: worth it when the working size had a third fewer
            return (self.gray[y0:y1, x0:x1], float(x0), float(y0), 1.0) if max(h, w) >= 1.5 * WORK_SIDE else None
        try:
            crop, reduction = load_gray(self.source, self.name, side=int(min(FINE_DECODE_SIDE, side * max(h, w) / longest)),
                                        box=(x0 / w, y0 / h, x1 / w, y1 / h))
        except (ImageError, MemoryError):
            return None
        scale = reduction / self.reduction  # gray pixels per crop pixel
        return (crop, float(x0), float(y0), scale) if scale < 0.67 else None


def preprocess_gray(gray: np.ndarray, name: str = "<image>", ink: str = "auto", one_digit: bool = False,
                    finer: Finer | None = None, reduction: float = 1.0) -> np.ndarray:
    """A grayscale array (any size, any polarity) -> the 28x28 uint8 MNIST-style input of its digit.

    With ``one_digit``, an image holding several digits side by side raises SeveralDigits
    instead of answering for the largest alone.  A digit small in its picture is read again
    from a finer resolution of its part of the picture (``finer``: by default from ``gray``
    itself); one too small to read even so raises ImageError saying to crop closer.
    ``reduction``: how many of the file's pixels one pixel of ``gray`` spans.
    """
    finer = finer or Finer(gray, reduction=reduction)
    small = _working(gray, name)
    strength, mask, kept = find_ink(small, name, ink)
    if one_digit and (count := _digits_apart(mask, kept, frame=False)) > 1:
        raise SeveralDigits(f"{name}: {count} digits side by side, not one", count)
    box = _digit_group(kept, frame=False)
    scale = gray.shape[0] / small.shape[0]  # gray pixels per working pixel
    if _too_small(max(box[2] - box[0], box[3] - box[1]) * scale, gray.shape, finer.reduction):
        raise TooSmall(f"{name}: no digit found (what is there is too small to read: crop closer)")
    if not _digit_like(mask, box, frame=False):
        raise NoDigit(f"{name}: no digit found (only dashes or scattered marks)")
    if max(box[2] - box[0], box[3] - box[1]) < FINE_SIDE:  # a better input from more pixels
        read = _read_finer(finer, box, scale, name, ink)
        if read is not None and _digit_like(read[1], read[2], frame=False):
            strength, mask, box, scale = read
    x0, y0, x1, y1 = box
    return to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1])


def _read_finer(finer: Finer, box, scale: float, name: str, ink: str):
    """The digit in ``box`` (working pixels, ``scale`` gray pixels each) read again from a finer
    crop round it: (strength, mask, box, scale) in the crop's working pixels, or None."""
    x0, y0, x1, y1 = box
    margin = 0.75 * max(x1 - x0, y1 - y0)
    region = finer.region(((x0 - margin) * scale, (y0 - margin) * scale, (x1 + margin) * scale,
                           (y1 + margin) * scale), WORK_SIDE)
    if region is None:
        return None
    crop, _, _, crop_scale = region
    try:
        small = _working(crop, name)
        strength, mask, kept = find_ink(small, name, ink)
    except ImageError:
        return None
    return strength, mask, _digit_group(kept, frame=False), crop_scale * crop.shape[0] / small.shape[0]


def _digits_apart(mask: np.ndarray, kept, frame: bool = True) -> int:
    """How many digits stand side by side: digit-like column groups nearly as tall as the
    tallest, with clear gaps between them.  A digit in two pieces (a 7's bar, a broken loop)
    has a short piece or no gap, and counts once."""
    groups = [g for g in _column_groups(kept) if _digit_like(mask, g, frame)]
    if len(groups) < 2:
        return len(groups)
    tall = max(g[3] - g[1] for g in groups)
    groups = [g for g in groups if g[3] - g[1] >= APART[0] * tall]
    apart = 1
    for left, right in zip(groups, groups[1:]):
        apart += right[0] - left[2] >= APART[1] * tall
    return apart


def _digit_like(mask: np.ndarray, box, frame: bool = True) -> bool:
    """Not much wider than tall (a dash, a piece of a line), dense enough not to be scattered
    dashes (what is left of a faint line: a digit's strokes fill a twentieth of its box or
    more, a "1" nearly all) and, in a camera frame, big enough not to be a speck (a still
    image's small marks are judged by ``_too_small``).  A still image's thin strokes may fill
    less of their box (a 7 drawn with a 1-pixel line) when they are long: the ink's length (its
    area over its stroke width) is MIN_LENGTH times the box's longer side or more, which scattered
    dashes are not (what is left of a page's line is dropped before: ``lines.remnants``)."""
    x0, y0, x1, y1 = box
    if x1 - x0 > MAX_WIDTH * (y1 - y0):
        return False
    if frame and max(x1 - x0, y1 - y0) < MIN_DIGIT * min(mask.shape):
        return False
    part = mask[y0:y1, x0:x1]
    area = np.count_nonzero(part)
    if area >= MIN_FILL * (x1 - x0) * (y1 - y0):
        return True
    return not frame and area / max(_stroke_width(part), 1.0) >= MIN_LENGTH * max(x1 - x0, y1 - y0)


def _too_small(side: float, shape, reduction: float = 1.0) -> bool:
    """A still image's mark too small to read: ``side`` (its longer side, in pixels of a picture
    of ``shape``, each ``reduction`` pixels of the file) under MIN_READABLE pixels of the file,
    or under MIN_STILL_DIGIT of the picture's shorter side."""
    return side * reduction < MIN_READABLE or side < MIN_STILL_DIGIT * min(shape)


def find_digits(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
                min_height: float = 0.0, tracker: LineTracker | None = None, finer: Finer | None = None,
                reduction: float = 1.0) -> list[Digit]:
    """Every digit in a grayscale image, left to right, each as 28x28 input with its box.

    Boxes are in the coordinates of ``gray`` (x0, y0, x1, y1).  ``frame`` reads it as a
    camera frame (see ``find_ink``); digits shorter than ``min_height`` of the image's
    height are not read.  A ``tracker`` carries the page lines' angle between the frames
    of a video.  In a still image, a number whose digits are small in the picture is read
    again from a finer resolution of its part (``finer``, as for ``preprocess_gray``).
    """
    strength, mask, groups, place = _number_ink(gray, name, ink, frame, min_height, tracker, finer, reduction)
    return [Digit(to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1]), place(g))
            for g in groups for x0, y0, x1, y1 in (g,)]


@dataclass
class Candidate:
    """A part of a number that may be one digit: its 28x28 input, its box in the image, and which of
    the number's pieces (``first`` up to ``last``, left to right) it covers."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]
    first: int
    last: int


def number_candidates(gray: np.ndarray, name: str = "<image>", ink: str = "auto", finer: Finer | None = None,
                      reduction: float = 1.0) -> tuple[int, list[Candidate]]:
    """The pieces of a number in a still image and the ways to read them as digits: (how many
    pieces, the candidates).

    The pieces are ``find_digits``' groups, with a group wider than tall (digits written touching:
    1000's zeros) cut at its thinnest columns.  Each piece is a candidate, and so are up to
    MERGE_PIECES neighbouring pieces together when close enough to be one digit (a 4 written in
    two strokes, a wide digit cut where it should not have been); ``reading.best_number`` picks
    the reading.
    """
    strength, mask, groups, place = _number_ink(gray, name, ink, False, 0.0, None, finer, reduction)
    typical = float(np.median([g[3] - g[1] for g in groups]))
    pieces = [piece for g in groups for piece in _split_wide(mask, g, typical)]
    candidates = [Candidate(_input_of(strength, mask, b), place(b), i, i + 1) for i, b in enumerate(pieces)]
    for i in range(len(pieces)):
        box = pieces[i]
        for j in range(i + 1, min(i + MERGE_PIECES, len(pieces))):
            b = pieces[j]
            box = (min(box[0], b[0]), min(box[1], b[1]), max(box[2], b[2]), max(box[3], b[3]))
            tall = box[3] - box[1]
            if box[2] - box[0] > MERGE_WIDTH * tall or b[0] - pieces[j - 1][2] > MERGE_GAP * tall:
                break
            candidates.append(Candidate(_input_of(strength, mask, box), place(box), i, j + 1))
    return len(pieces), candidates


def _input_of(strength: np.ndarray, mask: np.ndarray, box) -> np.ndarray:
    x0, y0, x1, y1 = box
    return to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1])


def _split_wide(mask: np.ndarray, box, typical: float) -> list[tuple[int, int, int, int]]:
    """``box`` cut where its columns hold the least ink, again and again while a piece is wider than
    SPLIT_WIDTH times its height (digits written touching or overlapping); each piece shrunk to its
    ink.  Only what is about as tall as the number's digits (``typical``: their median height) is
    cut, and never into pieces narrower than a quarter of it (a dash stays a dash)."""
    x0, y0, x1, y1 = box
    tall, wide = y1 - y0, x1 - x0
    if wide <= SPLIT_WIDTH * tall or tall < 0.6 * typical or wide < 0.5 * typical:
        return [box]
    ink = np.count_nonzero(mask[y0:y1, x0:x1], axis=0)
    lo, hi = int(wide * 0.3), max(int(wide * 0.3) + 1, int(np.ceil(wide * 0.7)))
    cut = lo + int(np.argmin(ink[lo:hi]))
    out = []
    for a, b in ((0, cut), (cut, wide)):
        part = mask[y0:y1, x0 + a:x0 + b]
        rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
        if len(rows) and len(cols):
            out.extend(_split_wide(mask, (x0 + a + int(cols[0]), y0 + int(rows[0]), x0 + a + int(cols[-1]) + 1,
                                          y0 + int(rows[-1]) + 1), typical))
    return out or [box]


def _number_ink(gray: np.ndarray, name: str, ink: str, frame: bool, min_height: float,
                tracker: LineTracker | None, finer: Finer | None, reduction: float):
    """The ink of a number: (strength, mask, its digit groups left to right, a function from a box
    in the mask's pixels to one in ``gray``'s), read again finer where the digits are small."""
    small = _working(gray, name)
    strength, mask, kept = find_ink(small, name, ink, frame, tracker)
    groups = _number_groups(mask, kept, frame, min_height * small.shape[0])
    sy, sx, oy, ox = gray.shape[0] / small.shape[0], gray.shape[1] / small.shape[1], 0.0, 0.0
    finer = finer or Finer(gray, reduction=reduction)
    if not frame and groups and (tall := float(np.median([g[3] - g[1] for g in groups]))) < FINE_SIDE:
        margin = 0.75 * tall
        box = (min(g[0] for g in groups) - margin, min(g[1] for g in groups) - margin,
               max(g[2] for g in groups) + margin, max(g[3] for g in groups) + margin)
        side = int(min(2 * WORK_SIDE, WORK_SIDE * FINE_SIDE * 1.5 / tall))
        region = finer.region((box[0] * sx, box[1] * sy, box[2] * sx, box[3] * sy), side)
        if region is not None:
            crop, cx, cy, crop_scale = region
            try:
                fine = _working(crop, name, side)
                f_strength, f_mask, f_kept = find_ink(fine, name, ink)
                f_groups = _number_groups(f_mask, f_kept, False, 0.0)
            except ImageError:
                f_groups = []
            if f_groups:
                strength, mask, groups = f_strength, f_mask, f_groups
                sy, sx = crop_scale * crop.shape[0] / fine.shape[0], crop_scale * crop.shape[1] / fine.shape[1]
                oy, ox = cy, cx
    if not frame:
        readable = [g for g in groups if not _too_small((g[3] - g[1]) * sy, gray.shape, finer.reduction)]
        if groups and not readable:
            raise TooSmall(f"{name}: no digit found (what is there is too small to read: crop closer)")
        groups = readable
    if not groups:
        raise NoDigit(f"{name}: no digit found")

    def place(b):
        return (int(ox + b[0] * sx), int(oy + b[1] * sy), int(np.ceil(ox + b[2] * sx)), int(np.ceil(oy + b[3] * sy)))

    return strength, mask, groups, place


def _number_groups(mask: np.ndarray, kept, frame: bool, min_height: float) -> list[tuple[int, int, int, int]]:
    """The digit-like column groups, left to right, at least ``min_height`` tall."""
    return [g for g in _column_groups(kept) if g[3] - g[1] >= min_height and _digit_like(mask, g, frame)]


def save_preprocessed(pixels: np.ndarray, path: str | os.PathLike) -> None:
    """Write a 28x28 input as a PNG (white digit on black, as the model sees it)."""
    atomic.write_with(Path(path), lambda tmp: Image.fromarray(pixels, mode="L").save(tmp, format="PNG"))
