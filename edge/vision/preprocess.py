"""Real images -> MNIST-style 28x28 inputs, with numpy and Pillow only: the digits and numbers in them.

MNIST digits are white strokes on black, anti-aliased, scaled to fit a 20x20 box
keeping their aspect ratio, and centred by centre of mass in 28x28.  A photo of ink on
paper, a scan, a paint-program drawing, a camera frame or an MNIST-style image all go
through the same steps:

1. decode (EXIF orientation, palette, alpha, 16-bit, CMYK) to grayscale, at a reduced
   size where the format allows it (JPEG), and shrink to the working size (``decode``);
2. flatten uneven lighting (divide by the paper under the ink), find the ink's polarity,
   threshold (Otsu on the ink's contrast); in a still image, fainter ink joined to that ink
   counts too (hysteresis), where it keeps the piece about its size;
3. drop the page's lines at any angle (edge/vision/lines.py), then keep only what can be a digit:
   no specks, frames, slivers, blobs or pieces cut by the edge of a camera frame (``ink``);
   then group the pieces into digits, and a number's pieces into the ways to read it (here);
4. crop, thicken strokes that would end up thinner than MNIST's, scale to fit 20x20,
   centre by centre of mass in 28x28 (``mnist_input``).

Errors are ``errors``' ImageError family.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from digitlite.edge.util.moved import warn_moved
from digitlite.edge.vision import imageops
from digitlite.edge.vision.decode import WORK_SIDE, load_gray, shrink
from digitlite.edge.vision.errors import ImageError, NoDigit, SeveralDigits, TooSmall
from digitlite.edge.vision.ink import find_ink, read_ink, stroke_width
from digitlite.edge.vision.lines import LineTracker
from digitlite.edge.vision.mnist_input import to_mnist

MIN_DIGIT = 0.08  # a digit's box is at least this fraction of the picture's smaller side (else: specks)
MIN_FILL = 0.05  # and its ink fills at least this fraction of its box (else: scattered dashes)
MAX_WIDTH = 2.5  # and it is at most this many times as wide as tall (else: a dash)
MIN_LENGTH = 1.0  # a still image's thin-stroked digit is ink at least as long as its box's longer side
APART = (0.6, 0.1)  # digits side by side: each this fraction of the tallest's height, gaps of this fraction
MIN_READABLE = 10  # a still image's digit is at least this many of the file's pixels tall (else: crop closer) ...
MIN_STILL_DIGIT = 0.04  # ... and at least this fraction of the picture's smaller side
FINE_SIDE = 40  # a still image's digit smaller than this many working pixels is read again finer ...
FINE_DECODE_SIDE = 2048  # ... from a decode of at most this many pixels on the image's longer side
SPLIT_WIDTH = 1.0  # a still image's piece of a number wider than this many times its height holds touching digits
MERGE_WIDTH = 1.2  # neighbouring pieces may be one digit when together at most this many times as wide as tall ...
MERGE_GAP = 0.3  # ... and this many heights apart ...
MERGE_TALL, MERGE_APART = 0.9, 0.08  # ... unless each is this much of their height, this much of it apart ...
MERGE_PIECES = 4  # ... up to this many pieces together
ALT_DIGIT_WIDTH = 0.9  # where digits touch, they are also cut evenly into digits this many times their height wide ...
ALT_SHIFT = 1 / 8  # ... and this many heights to either side of each such cut ...
ALT_MIN_WIDTH, ALT_MAX_WIDTH = 0.5, 1.4  # ... and a slice between two cuts may be a digit this many heights wide ...
ALT_PRIOR = 0.5  # ... its reading weighed by this (a sure crop through two digits must not outvote a clean cut)
RULE_REACH = 0.25  # ink a rule took within this fraction of a digit's height of its top or bottom may be the digit's
DROP_HEIGHT = 0.6  # a piece of touching ink under this fraction of their height may be a mark, not a digit
# a piece at least this fraction of the number's median piece height is likelier one of its digits than the
# model alone says: its "not a digit" weighs this much (a thin 1 in 0123456789 read "not a digit" at 54%)
TALL_PIECE, TALL_PIECE_MARK = 0.8, 0.5
# names that moved to the modules this one was split into, and where they are now
MOVED = {**dict.fromkeys(("MAX_PIXELS", "LUMA", "load_image", "to_gray", "flatten_alpha"), "decode"),
         **dict.fromkeys(("MIN_INK_CONTRAST", "MIN_LEVELS", "MIN_LINES_SIDE", "BORDER_DIGIT", "FRAME_WINDOW",
                          "MIN_FAINT", "FAINT_SIGMAS", "HYSTERESIS", "GROW_REACH", "THICK_STROKE", "dark_ink_guess",
                          "paper_estimate", "ink_map", "otsu_threshold", "ink_floor"), "ink"),
         **dict.fromkeys(("BOX", "SIZE", "TARGET_STROKE", "save_preprocessed"), "mnist_input")}


def __getattr__(name: str):
    """A name that moved out of this module in its split: found where it lives now, with one warning."""
    if name not in MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new = f"digitlite.edge.vision.{MOVED[name]}"
    warn_moved(f"{__name__}.{name}", new)
    return getattr(importlib.import_module(new), name)


@dataclass
class Digit:
    """One digit found in an image: its 28x28 input and where it was (x0, y0, x1, y1 in the image)."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]


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


def _digit_like(mask: np.ndarray, box, frame: bool = True, max_width: float = MAX_WIDTH) -> bool:
    """Not much wider than tall (a dash, a piece of a line), dense enough not to be scattered
    dashes (what is left of a faint line: a digit's strokes fill a twentieth of its box or
    more, a "1" nearly all) and, in a camera frame, big enough not to be a speck (a still
    image's small marks are judged by ``_too_small``).  A still image's thin strokes may fill
    less of their box (a 7 drawn with a 1-pixel line) when they are long: the ink's length (its
    area over its stroke width) is MIN_LENGTH times the box's longer side or more, which scattered
    dashes are not (what is left of a page's line is dropped before: ``lines.remnants``).
    ``max_width``: how many times as wide as tall it may be (MAX_WIDTH)."""
    x0, y0, x1, y1 = box
    if x1 - x0 > max_width * (y1 - y0):
        return False
    if frame and max(x1 - x0, y1 - y0) < MIN_DIGIT * min(mask.shape):
        return False
    part = mask[y0:y1, x0:x1]
    area = np.count_nonzero(part)
    if area >= MIN_FILL * (x1 - x0) * (y1 - y0):
        return True
    return not frame and area / max(stroke_width(part), 1.0) >= MIN_LENGTH * max(x1 - x0, y1 - y0)


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
    strength, mask, _, groups, place = _number_ink(gray, name, ink, frame, min_height, tracker, finer, reduction)
    return [Digit(to_mnist(strength[y0:y1, x0:x1], mask[y0:y1, x0:x1]), place(g))
            for g in groups for x0, y0, x1, y1 in (g,)]


@dataclass
class Candidate:
    """A part of a number that may be one digit: its 28x28 input, its box in the image, which of
    the number's pieces (``first`` up to ``last``, left to right) it covers, how readily, read as
    "not a digit", it may be left out of the number (``droppable``, weighing "not a digit": 1 for a
    whole piece of ink, a dash, a speck; less for one as tall as the number's digits; 0 for a slice of
    touching digits, which is part of some digit), and how likely it is a digit before
    the model reads it (``prior``: lower for a slice cut at a column of ink, not at the thinnest)."""

    pixels: np.ndarray
    box: tuple[int, int, int, int]
    first: int
    last: int
    droppable: float = 0.0
    prior: float = 1.0


def number_candidates(gray: np.ndarray, name: str = "<image>", ink: str = "auto", finer: Finer | None = None,
                      reduction: float = 1.0) -> tuple[int, list[Candidate]]:
    """The pieces of a number in a still image and the ways to read them as digits: (how many
    pieces, the candidates).

    The pieces come from ``find_digits``' groups, with a group wider than tall (digits written
    touching: 1000's zeros) cut at its thinnest columns.  Each piece is a candidate, and so are up
    to MERGE_PIECES neighbouring pieces together when close enough to be one digit (a 4 written in
    two strokes, a wide digit cut where it should not have been).  Where digits touch, they are
    also cut evenly into as many digits as they are wide (ALT_DIGIT_WIDTH), and every slice
    between two cuts as wide as a digit is a candidate too: the thinnest column is not where two
    overlapping zeros meet.  A piece here is what lies between two neighbouring cuts;
    ``reading.best_number`` picks the reading.
    """
    strength, mask, ruled, groups, place = _number_ink(gray, name, ink, False, 0.0, None, finer, reduction, split=True)
    # the number's cuts: each group's left edge, plus, in a run of touching groups, more columns
    edges, runs = _cuts(groups)
    at = {x: k for k, x in enumerate(edges[:-1])}
    starts = [at[g[0]] for g in groups] + [len(edges) - 1]
    # a piece of touching ink as tall as its digits is part of one, never a mark beside them
    run_height = {k: y1 - y0 for first, last, _, y0, y1 in runs for k in range(first, last)}
    typical = float(np.median([b[3] - b[1] for b in groups]))
    droppable = [0.0 if b[3] - b[1] >= DROP_HEIGHT * run_height.get(starts[i], np.inf)
                 else TALL_PIECE_MARK if len(groups) > 1 and b[3] - b[1] >= TALL_PIECE * typical else 1.0
                 for i, b in enumerate(groups)]
    candidates = []
    for i, b in enumerate(groups):
        # a digit written on a rule may have lost a stroke to it (a 2's base): it is offered with the
        # rule's ink given back too; then the piece as it is must be a digit, and only the piece with
        # the rule's ink may be left out as "not a digit" (a dash on a rule)
        on_rule = _on_rule(mask, ruled, b)
        candidates.append(Candidate(_input_of(strength, mask, b), place(b), starts[i], starts[i + 1],
                                    droppable[i] if on_rule is None else 0.0))
        if on_rule is not None:
            with_rule, box = on_rule
            candidates.append(Candidate(_input_of(strength, with_rule, box), place(box), starts[i], starts[i + 1],
                                        droppable[i]))
    for i in range(len(groups)):
        box = groups[i]
        for j in range(i + 1, min(i + MERGE_PIECES, len(groups))):
            b = groups[j]
            box = (min(box[0], b[0]), min(box[1], b[1]), max(box[2], b[2]), max(box[3], b[3]))
            tall = box[3] - box[1]
            if box[2] - box[0] > MERGE_WIDTH * tall or b[0] - groups[j - 1][2] > MERGE_GAP * tall:
                break
            # pieces each as tall as the digit they would make, apart, are digits side by side (a 1
            # beside a 5, which together read 5), not one digit in strokes (a 4's, a 5's bar)
            if all(g[3] - g[1] >= MERGE_TALL * tall for g in groups[i:j + 1]) and all(
                    groups[k + 1][0] - groups[k][2] >= MERGE_APART * tall for k in range(i, j)):
                continue
            candidates.append(Candidate(_input_of(strength, mask, box), place(box), starts[i], starts[j + 1]))
    have = {(c.first, c.last) for c in candidates}
    for first, last, right, y0, y1 in runs:
        tall = y1 - y0
        for a in range(first, last):
            for b in range(a + 1, last + 1):
                end = edges[b] if b < last else right
                width = end - edges[a]
                if width > ALT_MAX_WIDTH * tall:
                    break
                if width < ALT_MIN_WIDTH * tall or (a, b) in have:
                    continue
                if box := _shrunk(mask, (edges[a], y0, end, y1)):
                    candidates.append(Candidate(_input_of(strength, mask, box), place(box), a, b, prior=ALT_PRIOR))
    return len(edges) - 1, candidates


def _cuts(groups) -> tuple[list[int], list[tuple[int, int, int, int, int]]]:
    """The columns where the number's pieces begin (every group's left edge, and more columns where
    groups touch), then the last group's right edge; and the runs of touching groups: (first cut,
    last cut, right edge, top, bottom) each, the cuts as indices into the columns."""
    edges, runs = [], []
    i = 0
    while i < len(groups):
        j = i
        while j + 1 < len(groups) and groups[j + 1][0] - groups[j][2] <= 1:
            j += 1
        if j == i:
            edges.append(groups[i][0])
        else:
            x0, x1 = groups[i][0], groups[j][2]
            y0, y1 = min(g[1] for g in groups[i:j + 1]), max(g[3] for g in groups[i:j + 1])
            # as many digits as the run is wide, cut evenly, and a little to either side of each cut
            tall, wide = y1 - y0, x1 - x0
            n = max(2, int(round(wide / (ALT_DIGIT_WIDTH * tall))))
            cuts = {g[0] for g in groups[i:j + 1]}
            cuts.update(c for k in range(1, n) for d in (-1, 0, 1)
                        if x0 < (c := int(round(x0 + k * wide / n + d * ALT_SHIFT * tall))) < x1)
            first = len(edges)
            edges.extend(sorted(cuts))
            runs.append((first, len(edges), x1, y0, y1))
        i = j + 1
    edges.append(groups[-1][2])
    return edges, runs


def _on_rule(mask: np.ndarray, ruled: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int, int, int]] | None:
    """``mask`` with the ink a page's rule took (``ruled``) given back where it joins the digit in
    ``box`` along the box's top or bottom (within RULE_REACH of its height, in its columns), and the
    box grown to it; None when the rule took no such ink."""
    x0, y0, x1, y1 = box
    h, w = mask.shape
    reach = max(2, int(round(RULE_REACH * (y1 - y0))))
    top, bottom = max(0, y0 - reach), min(h, y1 + reach)
    near = np.zeros_like(mask)
    near[top:y0 + reach, x0:x1] = ruled[top:y0 + reach, x0:x1]
    near[y1 - reach:bottom, x0:x1] = ruled[y1 - reach:bottom, x0:x1]
    if not near.any():
        return None
    both = mask[top:bottom, x0:x1] | near[top:bottom, x0:x1]
    labels, _ = imageops.labels_only(both)
    digit = np.unique(labels[mask[top:bottom, x0:x1] & (labels > 0)])
    joined = np.isin(labels, digit) & near[top:bottom, x0:x1]
    if not joined.any():
        return None
    out = mask.copy()
    out[top:bottom, x0:x1] |= joined
    return out, _shrunk(out, (x0, top, x1, bottom))


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
        if part := _shrunk(mask, (x0 + a, y0, x0 + b, y1)):
            out.extend(_split_wide(mask, part, typical))
    return out or [box]


def _shrunk(mask: np.ndarray, box) -> tuple[int, int, int, int] | None:
    """``box`` shrunk to the ink of ``mask`` inside it (None if it holds none)."""
    x0, y0, x1, y1 = box
    part = mask[y0:y1, x0:x1]
    rows, cols = np.flatnonzero(part.any(axis=1)), np.flatnonzero(part.any(axis=0))
    if not len(rows):
        return None
    return x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1


def _number_ink(gray: np.ndarray, name: str, ink: str, frame: bool, min_height: float,
                tracker: LineTracker | None, finer: Finer | None, reduction: float, split: bool = False):
    """The ink of a number: (strength, mask, the ink the page's lines took, its digit groups left to
    right, a function from a box in the mask's pixels to one in ``gray``'s), read again finer where
    the digits are small; with ``split``, wide groups cut into pieces (``_number_groups``)."""
    small = _working(gray, name)
    found = read_ink(small, name, ink, frame, tracker)
    strength, mask, ruled = found.strength, found.mask, found.ruled
    groups = _number_groups(mask, found.kept, frame, min_height * small.shape[0], split)
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
                f_found = read_ink(fine, name, ink)
                f_groups = _number_groups(f_found.mask, f_found.kept, False, 0.0, split)
            except ImageError:
                f_groups = []
            if f_groups:
                strength, mask, ruled, groups = f_found.strength, f_found.mask, f_found.ruled, f_groups
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

    return strength, mask, ruled, groups, place


def _number_groups(mask: np.ndarray, kept, frame: bool, min_height: float,
                   split: bool = False) -> list[tuple[int, int, int, int]]:
    """The digit-like column groups, left to right, at least ``min_height`` tall.  With ``split``,
    groups wider than tall are cut into pieces (``_split_wide``) before the pieces are judged: a
    number written touching, or joined along its foot by an underline, is wider than any digit."""
    groups = [g for g in _column_groups(kept) if g[3] - g[1] >= min_height]
    if not split:
        return [g for g in groups if _digit_like(mask, g, frame)]
    groups = [g for g in groups if _digit_like(mask, g, frame, max_width=np.inf)]
    if not groups:
        return []
    typical = float(np.median([g[3] - g[1] for g in groups]))
    return [piece for g in groups for piece in _split_wide(mask, g, typical) if _digit_like(mask, piece, frame)]
