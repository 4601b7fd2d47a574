"""Where the ink is: the lighting divided out, the ink's polarity, its threshold, the page's lines
dropped (edge/vision/lines.py), and the pieces that can be writing (no specks, frames, slivers, or
what the edge of a camera frame cuts)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitlite.edge.settings import INK_CHOICES
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision import imageops
from digitlite.edge.vision.errors import NoDigit
from digitlite.edge.vision.lines import (
    Lines,
    LineTracker,
    find_lines,
    remnants,
    samples,
)

MIN_INK_CONTRAST = 0.12  # ink darker than the paper by less than this fraction is not ink
MIN_LEVELS = 24  # an image whose gray levels span less than this is blank
MIN_LINES_SIDE = 48  # smaller images are crops of a digit: no page lines are looked for
BORDER_DIGIT = 0.25  # a digit cut by a picture's edge spans at least this fraction of its smaller side
FRAME_WINDOW = 0.13  # a camera frame's paper: over this fraction of its side (its digits are smaller than a photo's)
MIN_FAINT = 0.03  # in a still image, ink is at least this much darker than its paper ...
FAINT_SIGMAS = 8.0  # ... and stands out from the paper's noise by this many robust sigmas
HYSTERESIS = 0.7  # a still image's ink of this fraction of the threshold's strength counts where it joins stronger ink ...
GROW_REACH = 1.5  # ... when that leaves the piece at most this many times as wide and as tall
FAINT_BESIDE = 0.6  # a camera frame's digit beside those found counts from this fraction of the threshold
THICK_STROKE = 3.0  # the paper's window is at least this many stroke widths wide (a marker's stroke)


def dark_ink_guess(gray: np.ndarray) -> bool:
    """True when the image looks like dark ink on light paper.

    Strokes are thin, sharp features; lighting, shadows and the table around a sheet are
    broad ones.  After subtracting a local mean (removing the broad ones), the pixels that
    stand out beyond the noise (4 robust sigmas) are mostly dark for dark ink and mostly
    bright for light ink; they are counted over the middle 70% of the frame, where the
    subject is, not the table along the border.  When neither side clearly wins, or too
    little stands out to tell (empty paper), or the image is small (a 28x28 crop, whose
    border is background by construction), the border decides: a bright border is paper.
    Whatever decides, light ink needs dark paper: most of a picture is its paper, so in one
    whose median grey is bright (over mid-grey, or in the upper half of its range: empty paper in
    a vignette, a sheet's grain or a glare) the ink is dark.
    """
    return _dark_ink_guess(gray) or _middle_grey_bright(gray)


def _dark_ink_guess(gray: np.ndarray) -> bool:
    h, w = gray.shape
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    border_says_dark = _median(border) > (float(gray.max()) + float(gray.min())) / 2
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
    spread = np.abs(few - _median(few))
    threshold = 4 * 1.4826 * _median(spread)
    dark = float(np.maximum(-detail - threshold, 0).sum())
    bright = float(np.maximum(detail - threshold, 0).sum())
    if max(dark, bright) < 0.05 * detail.size:  # under a twentieth of a gray level a pixel: nothing to tell
        return border_says_dark
    if dark > 1.5 * bright:
        return True
    if bright > 1.5 * dark:
        return False
    return border_says_dark


def _middle_grey_bright(gray: np.ndarray) -> bool:
    """Whether the picture's median grey is bright: over mid-grey, or in the upper half of its range."""
    return _median(gray[::2, ::2].ravel()) > min(128.0, (float(gray.max()) + float(gray.min())) / 2)


def _median(values: np.ndarray) -> float:
    """The upper median of a 1-D array (its middle element once ordered), without a full sort."""
    return float(np.partition(values, len(values) // 2)[len(values) // 2])


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
    spread = _median(below) if len(below) else 0.0
    return max(MIN_FAINT, median + FAINT_SIGMAS * 1.4826 * spread)


@dataclass
class Ink:
    """What ``read_ink`` found: the ink map (0..1), the ink mask, the kept components' (area, box),
    largest first, and ``ruled``: the ink that the page's lines took out of the mask (a line's own
    ink, and a stroke written along it, which no rule can tell from the line)."""

    strength: np.ndarray
    mask: np.ndarray
    kept: list
    ruled: np.ndarray


def find_ink(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
             tracker: LineTracker | None = None) -> tuple[np.ndarray, np.ndarray, list]:
    """Ink map, ink mask and the kept components' (area, box), largest first (see ``read_ink``)."""
    found = read_ink(gray, name, ink, frame, tracker)
    return found.strength, found.mask, found.kept


def read_ink(gray: np.ndarray, name: str = "<image>", ink: str = "auto", frame: bool = False,
             tracker: LineTracker | None = None) -> Ink:
    """The ink of ``gray``: its map, its mask and the kept components, and what the lines took.

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
    threshold = max(otsu_threshold(sample), floor)
    mask = strength > threshold
    if not frame:
        # A marker's stroke wider than the paper's window is partly taken for paper (a hole in a
        # thick 8's crossing): the paper is estimated again over a window wide enough for it.
        width = stroke_width(mask)  # in working pixels
        window = max(7, int(min(gray.shape) * 0.2)) | 1
        if THICK_STROKE * width > window:
            strength = ink_map(gray, dark, min(1.0, THICK_STROKE * width / min(gray.shape)))
            sample = strength.ravel()[idx]
            floor = min(ink_floor(sample, frame), MIN_INK_CONTRAST)
            threshold = max(otsu_threshold(sample), floor)
            mask = strength > threshold
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
    ruled = np.zeros_like(mask)
    if lines:
        kept = lines.remove(mask, strength, touching=not frame)
        if not frame:
            kept &= ~remnants(kept, lines)
        # In a picture of one digit, a "1" crossing it from edge to edge looks like a line: with
        # one or two such bands and nothing else, it is the digit.  Never in a camera frame, nor
        # on ruled or squared paper (more bands).
        if kept.any() or frame or lines.bands() > 2:
            mask, ruled = kept, mask & ~kept
    if not frame:
        mask = _grow_faint(strength, mask, max(MIN_FAINT, HYSTERESIS * threshold), lines)
    if frame:
        # What comes in from the frame's edge (the table, a shadow, the sheet's edge) is
        # dropped whole, joined to the edge across gaps of a few pixels (a table's grain).
        mask &= ~_touching_border(mask, reach=int(0.02 * min(gray.shape)) + 1)
    mask, kept = _candidates(mask, frame)
    if not kept:
        raise NoDigit(f"{name}: no digit found")
    if frame:
        mask, kept = _faint_beside(strength, mask, kept, threshold, lines)
    return Ink(strength, mask, kept, ruled)


def _faint_beside(strength: np.ndarray, mask: np.ndarray, kept: list, threshold: float,
                  lines: Lines) -> tuple[np.ndarray, list]:
    """A camera frame's ``kept`` digits completed by fainter ink the frame's threshold left out: a
    number's digit in a lighter stroke beside the others, the faint stem of a pencil 7 whose bar
    was kept.  Ink over FAINT_BESIDE of the threshold, off the page's lines and the frame's edge,
    counts in pieces that stand on the digits' row, about as tall as they are, at most a digit's
    height from one of them, and hold no digit found whole."""
    h, w = mask.shape
    tall = max(b[3] - b[1] for _, b in kept)
    top, bottom = min(b[1] for _, b in kept), max(b[3] for _, b in kept)
    left, right = min(b[0] for _, b in kept), max(b[2] for _, b in kept)
    y0, y1 = max(0, int(top - 0.3 * tall)), min(h, int(np.ceil(bottom + 0.3 * tall)))
    x0, x1 = max(0, int(left - 1.5 * tall)), min(w, int(np.ceil(right + 1.5 * tall)))
    faint = np.zeros_like(mask)
    faint[y0:y1, x0:x1] = strength[y0:y1, x0:x1] > FAINT_BESIDE * threshold
    if lines:
        faint = lines.remove(faint, strength)
    labels, stats = imageops.components(faint | mask)
    # a digit found whole is not grown (its blurred halo, a line's end would join it): only
    # pieces that hold no digit, or only fragments of one (a 7's bar without its stem)
    whole = np.zeros(len(stats) + 1, bool)
    for _, (a0, b0, a1, b1) in kept:
        if b1 - b0 >= 0.6 * tall:
            whole[np.unique(labels[b0:b1, a0:a1][mask[b0:b1, a0:a1]])] = True
    add = []
    for k, (a0, b0, a1, b1, _) in enumerate(stats, 1):
        near = min(max(a0 - c[2], c[0] - a1, 0) for _, c in kept)
        if (whole[k] or a0 == 0 or b0 == 0 or a1 == w or b1 == h or not 0.6 * tall <= b1 - b0 <= 1.5 * tall
                or a1 - a0 > 1.5 * tall or near > tall or min(b1, bottom) - max(b0, top) < 0.5 * (b1 - b0)):
            continue
        add.append(k)
    if not add:
        return mask, kept
    grown = np.isin(labels, add) & (faint | mask)
    if np.array_equal(grown | mask, mask):
        return mask, kept
    return _candidates(grown | mask, True)


def _grow_faint(strength: np.ndarray, mask: np.ndarray, low: float, lines: Lines) -> np.ndarray:
    """``mask`` grown into the fainter ink joined to it (strength over ``low``), off the page's
    lines: a thin pen's strokes faded by the working size's averaging, a 9's faint tail, the
    fainter side of a blurred or unevenly lit stroke.

    A piece grows only where that keeps it about its size (GROW_REACH): what reaches much
    further is a faint ruled line or a shadow's edge run into, not more of the same stroke.
    ``low`` may be under the paper's noise floor: noise joined to ink only roughens its edge."""
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
    # Faint ink that runs on out of the part, or off the picture where the stronger ink does not
    # reach its edge, is a line or a shadow running through, not more of the digit.
    cw, ch = x1 - x0, y1 - y0
    cut = (((grown[:, 0] == 0) & ((x0 > 0) | (lo_x[1:] > 0))) | ((grown[:, 1] == 0) & ((y0 > 0) | (lo_y[1:] > 0)))
           | ((grown[:, 2] == cw) & ((x1 < w) | (hi_x[1:] + 1 < cw))) | ((grown[:, 3] == ch) & ((y1 < h) | (hi_y[1:] + 1 < ch))))
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


def stroke_width(mask: np.ndarray) -> float:
    """Approximate stroke width of a mask's ink, in pixels: its area over half its boundary's length."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    m = mask.view(np.int8)
    # Boundary length: changes between ink and paper along rows and columns, the image's edge included.
    edges = (np.count_nonzero(np.diff(m, axis=0)) + np.count_nonzero(np.diff(m, axis=1))
             + np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1]) + np.count_nonzero(mask[:, 0])
             + np.count_nonzero(mask[:, -1]))
    return 2.0 * area / max(float(edges), 1.0)
