"""A page's lines, at any angle: rules, the margin line, grid lines, the sheet's edge.

Printed lines come in two families at right angles (rules and margin, the two directions
of a grid, and the sheet's edges along them).  The families' angle is where the thin ink's
projections are sharpest (a Hough transform folded over 90 degrees).  Along each family, a
line is a one-pixel band of the projection whose ink covers most of its chord across the
frame, or runs from the frame's edge across a good part of it (the sheet ends, a shadow or
the light fades it); a digit's stroke covers a short stretch only.  The ink is averaged
per stretch of the band, so a faint line broken by thresholding into dashes still counts.
A band that holds more ink than a thin line can is a thick stroke, a shadow or the table.

The bands' pixels are dropped from the ink mask, except where writing crosses a band (ink
just past it on both sides) or covers it (ink much stronger than the line's own): a digit
written across a rule, or with its bar along a grid line, stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from digitlite.edge.vision import imageops

SEGMENTS = 16  # stretches a line's chord is cut into
COVERED = 12  # stretches a line must cover when it crosses the frame ...
FROM_EDGE = 7  # ... or, from the frame's edge on, without a gap
MIN_CHORD = 0.3  # chords shorter than this fraction of the frame's smaller side must be covered end to end ...
MIN_SHORT_CHORD = 8  # ... and at least this long (pixels)
MAX_GAP = 0.12  # a still image's line leaves no gap longer than this fraction of its chord ...
END_GAP = 0.05  # ... and reaches both ends of it, to within this fraction
MAX_THICKNESS = 0.02  # a line is at most this fraction of the frame's smaller side thick (+ 2 pixels)
MAX_POINTS = 800  # thin ink pixels used to find the families' angle
FAINT_SIGMAS = 1.0  # faint ink: this many (robust) standard deviations of the paper above its level
COARSE = np.deg2rad(np.arange(0.0, 180.0, 3.0))
FINE = np.deg2rad(np.arange(-2.5, 2.51, 0.5))
_FINE_BOTH = np.concatenate([FINE, FINE + np.pi / 2])
_TRIG_COARSE = (np.cos(COARSE).astype(np.float32), np.sin(COARSE).astype(np.float32))


@lru_cache(maxsize=8)
def samples(h: int, w: int) -> np.ndarray:
    """A fixed pseudo-random quarter of the pixels (flat indices, sorted): for statistics of the
    whole image.  Unlike every other row and column, it samples a one-pixel line at any angle."""
    rng = np.random.default_rng(h * 100_003 + w)
    return np.sort(rng.choice(h * w, size=max(1, h * w // 4), replace=False)).astype(np.int32)


def _sharpness(xs: np.ndarray, ys: np.ndarray, cos: np.ndarray, sin: np.ndarray) -> np.ndarray:
    """Sum of squared counts of the points' projections (1-pixel bins), per angle."""
    rho = (xs[:, None] * cos + ys[:, None] * sin).astype(np.int32)
    lo = int(rho.min())
    span = int(rho.max()) - lo + 1
    index = (rho - lo) + np.arange(len(cos), dtype=np.int32) * span
    counts = np.bincount(index.ravel(), minlength=len(cos) * span).reshape(len(cos), span)
    return np.einsum("ij,ij->i", counts, counts)


def family_angle(mask: np.ndarray, near: float | None = None) -> float | None:
    """The angle (radians, 0..pi/2) of the ink's two line families; None with too little ink.

    With ``near`` (the angle in the previous frame of a video), only the 2.5 degrees
    around it are searched.
    """
    ys, xs = np.nonzero(mask)
    if len(xs) < 20:
        return None
    step = -(-len(xs) // MAX_POINTS)
    xs, ys = xs[::step].astype(np.float32), ys[::step].astype(np.float32)
    hinted = near is not None
    if near is None:
        coarse = _sharpness(xs, ys, *_TRIG_COARSE)
        half = len(COARSE) // 2
        near = COARSE[int(np.argmax(coarse[:half] + coarse[half:]))]
    angles = near + _FINE_BOTH
    fine = _sharpness(xs, ys, np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32))
    folded = fine[:len(FINE)] + fine[len(FINE):]
    pick = int(np.argmax(folded))
    centre = len(FINE) // 2
    if hinted and folded[centre] >= 0.98 * folded[pick]:
        pick = centre  # a video's page has not turned: keep its angle (and its cached geometry)
    best = float(angles[pick] % (np.pi / 2))
    return round(np.degrees(best) * 2) % 180 * np.pi / 360  # on the 0.5-degree grid it was searched on


def _chords(rho: np.ndarray, c: float, s: float, w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """For lines x*c + y*s = rho: the range of t (along (-s, c)) inside the frame."""
    lo = np.full(len(rho), -np.inf)
    hi = np.full(len(rho), np.inf)
    for a, b, size in ((c, -s, w), (s, c, h)):  # x = rho*c - t*s ; y = rho*s + t*c
        base = rho * a
        if abs(b) > 1e-9:
            t1, t2 = (0 - base) / b, (size - 1 - base) / b
            lo, hi = np.maximum(lo, np.minimum(t1, t2)), np.minimum(hi, np.maximum(t1, t2))
        else:
            outside = (base < 0) | (base > size - 1)
            lo[outside], hi[outside] = 0.0, -1.0
    return lo, hi


@dataclass(frozen=True)
class _Geometry:
    """Both families at one angle: bins (one pixel of rho each) and the chord each bin's line
    cuts across the frame, cut in SEGMENTS stretches.  The two families' bins are numbered one
    after the other, with an empty bin between them, so that both are judged in one pass.
    Nothing here is per pixel: pixels are placed on demand (``cells``)."""

    angles: tuple[float, float]
    lo_rho: tuple[float, float]
    offset: tuple[int, int]  # each family's first bin
    t_lo: np.ndarray  # per bin: where its chord starts (along the line)
    per_length: np.ndarray  # per bin: SEGMENTS / chord
    chord: np.ndarray  # per bin: its line's length inside the frame (0 between the families)
    judged: np.ndarray  # per bin: long enough to be judged
    nbins: int

    def bins(self, family: int, flat: np.ndarray, w: int) -> np.ndarray:
        """The bin of each pixel (flat index in an image ``w`` wide)."""
        y, x = np.divmod(flat, w)
        c, s = np.cos(self.angles[family]), np.sin(self.angles[family])
        b = (x * c + y * s - self.lo_rho[family]).astype(np.int64)
        lo, hi = self.offset[family], self.offset[family] + self._width(family)
        return np.clip(b + lo, lo, hi - 1)

    def cells(self, family: int, flat: np.ndarray, w: int) -> np.ndarray:
        """bin * SEGMENTS + the stretch of the chord, of each pixel."""
        b = self.bins(family, flat, w)
        y, x = np.divmod(flat, w)
        c, s = np.cos(self.angles[family]), np.sin(self.angles[family])
        seg = ((y * c - x * s - self.t_lo[b]) * self.per_length[b]).astype(np.int64)
        return b * SEGMENTS + np.clip(seg, 0, SEGMENTS - 1)

    def _width(self, family: int) -> int:
        return (self.offset[1] - 1 if family == 0 else self.nbins) - self.offset[family]


def _runs(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (exclusive) of the runs of True in a 1-D boolean array."""
    rises = np.flatnonzero(flags[1:] & ~flags[:-1]) + 1
    falls = np.flatnonzero(flags[:-1] & ~flags[1:]) + 1
    if flags[0]:
        rises = np.concatenate([[0], rises])
    if flags[-1]:
        falls = np.concatenate([falls, [len(flags)]])
    return rises, falls


@lru_cache(maxsize=16)
def _geometry(h: int, w: int, half_degrees: int) -> _Geometry:
    angles, lo_rhos, offsets, t_los, chords = [], [], [], [], []
    offset = 0
    for turn in (0, 180):
        angle = (half_degrees + turn) * np.pi / 360
        c, s = float(np.cos(angle)), float(np.sin(angle))
        corners = np.array([0.0, (w - 1) * c, (h - 1) * s, (w - 1) * c + (h - 1) * s])
        lo_rho = float(corners.min())
        nbins = int(corners.max() - lo_rho) + 1
        t_lo, t_hi = _chords(lo_rho + np.arange(nbins) + 0.5, c, s, w, h)
        angles.append(angle)
        lo_rhos.append(lo_rho)
        offsets.append(offset)
        t_los.append(np.append(t_lo, 0.0))
        chords.append(np.append(np.maximum(t_hi - t_lo, 0.0), 0.0))  # the empty bin after each family
        offset += nbins + 1
    chord = np.concatenate(chords)
    return _Geometry(tuple(angles), tuple(lo_rhos), tuple(offsets), np.concatenate(t_los),
                     SEGMENTS / np.maximum(chord, 1e-6), chord, chord >= MIN_CHORD * min(h, w), offset)


@dataclass
class _Family:
    angle: float
    lo_rho: float
    geometry: _Geometry
    number: int  # 0 or 1: which of the geometry's families
    starts: np.ndarray  # its bands are bins [start, end)
    ends: np.ndarray
    level: np.ndarray  # per band: the line's own ink strength (its core's mean along the chord)


def _families(sample_ink: np.ndarray, mask_idx: np.ndarray, shape, half_degrees: int,
              threshold: float, from_edge: bool = True) -> tuple[np.ndarray, list[_Family]]:
    """The line bands of both families at ``half_degrees`` (half-degree steps): (band per bin,
    the families that have bands)."""
    h, w = shape
    g = _geometry(h, w, half_degrees)
    n = g.nbins * SEGMENTS
    idx = samples(h, w)
    above = idx[sample_ink > threshold]
    cells_above = np.concatenate([g.cells(0, above, w), g.cells(1, above, w)])
    faint = np.bincount(cells_above, minlength=n)
    faint_ink = np.bincount(cells_above, weights=np.tile(sample_ink[sample_ink > threshold], 2), minlength=n)
    inked = np.bincount(np.concatenate([g.cells(0, mask_idx, w), g.cells(1, mask_idx, w)]), minlength=n)
    # A stretch of a line is ink along most of it (a line across it, or a stroke's edge, is a
    # few of its pixels): ink in the mask, or faint ink in the samples (a quarter of the pixels).
    pixels = np.repeat(g.chord / SEGMENTS, SEGMENTS)  # a one-pixel band's stretch holds about this many
    # A line straddling two bins puts half its pixels in each: count each bin with the next.
    inked_pair, faint_pair = inked.copy(), faint.copy()
    inked_pair[:-SEGMENTS] += inked[SEGMENTS:]
    faint_pair[:-SEGMENTS] += faint[SEGMENTS:]
    hot = ((2 * inked_pair >= pixels) | (8 * faint_pair > pixels)) & (pixels >= 1)
    hot = hot.reshape(g.nbins, SEGMENTS)
    # A line one pixel wide can straddle two bins, or drift by one over its length.
    grown = hot.copy()
    grown[1:] |= hot[:-1]
    grown[:-1] |= hot[1:]
    covered = grown.sum(axis=1)
    whole = covered == SEGMENTS  # argmin finds the first uncovered stretch, where there is one
    from_start = np.where(whole, SEGMENTS, np.argmin(grown, axis=1))
    from_end = np.where(whole, SEGMENTS, np.argmin(grown[:, ::-1], axis=1))
    # A long chord is a line when covered, or covered from the frame's edge on; a short one
    # (across a corner of the frame) only when covered end to end.
    edge_on = (np.maximum(from_start, from_end) >= FROM_EDGE) if from_edge else False
    band = np.where(g.judged, (covered >= COVERED) | edge_on,
                    (covered >= SEGMENTS - 2) & (g.chord >= MIN_SHORT_CHORD))
    if not band.any():
        return band, []
    starts, ends = _runs(band)
    # A line is thin: a band that holds more ink per unit of length than a line can is a
    # thick stroke, a shadow or the table.
    per_bin = inked.reshape(g.nbins, SEGMENTS).sum(axis=1)
    cumulative = np.concatenate([[0], np.cumsum(per_bin)])
    limit = MAX_THICKNESS * min(h, w) + 2
    thick = (cumulative[ends] - cumulative[starts]) > limit * np.maximum.reduceat(g.chord, starts)
    if not from_edge and len(starts):
        thick |= _broken(g, mask_idx, w, starts, ends, per_bin)
    if thick.any():
        for a, b in zip(starts[thick], ends[thick]):
            band[a:b] = False
        starts, ends = starts[~thick], ends[~thick]
    # The line's own ink: the mean of its inked samples per stretch, typical over the chord
    # (the median, so that writing over part of the line does not count).
    mean = (faint_ink / np.maximum(faint, 1)).reshape(g.nbins, SEGMENTS)
    level = np.partition(np.maximum.reduceat(mean, starts, axis=0), SEGMENTS // 2, axis=1)[:, SEGMENTS // 2] \
        if len(starts) else mean[:0, 0]
    split = int(np.searchsorted(starts, g.offset[1]))
    families = []
    for k, part in enumerate((slice(0, split), slice(split, None))):
        if len(starts[part]):
            families.append(_Family(g.angles[k], g.lo_rho[k], g, k, starts[part], ends[part], level[part]))
    return band, families


def _broken(g: _Geometry, mask_idx: np.ndarray, w: int, starts, ends, per_bin) -> np.ndarray:
    """Per band: whether its ink leaves a long gap along it.

    In a still image cropped tight round a number, the digits' loops and bars in the row they
    stand in can cover every stretch of a band, and a tall 1 most of one; a printed line runs
    on from edge to edge, and a faint one broken by thresholding into dashes has only short
    gaps.  Judged on the band's fullest bin and its neighbours; what is left of a line that
    ends inside the picture (the sheet ends) is dropped as a remnant (``remnants``).
    """
    out = np.zeros(len(starts), bool)
    y, x = np.divmod(mask_idx, w)
    for k, (a, b) in enumerate(zip(starts, ends)):
        best = a + int(np.argmax(per_bin[a:b]))
        family = 0 if best < g.offset[1] else 1
        c, s = np.cos(g.angles[family]), np.sin(g.angles[family])
        bins = g.bins(family, mask_idx, w)
        on = (bins == best) | (bins == min(best + 1, b - 1)) | (bins == max(best - 1, a))
        t = np.sort(y[on] * c - x[on] * s)
        lo, chord = g.t_lo[best], g.chord[best]
        gaps = np.diff(np.concatenate([[lo], t, [lo + chord]]))
        # A short chord (a corner) is covered end to end already.  A long one must also reach both
        # ends: a digit's stroke that spans most of a tight crop (a tall 1) stops short of one.
        out[k] = g.judged[best] and (gaps[1:-1].max(initial=0.0) > MAX_GAP * chord
                                     or max(gaps[0], gaps[-1]) > END_GAP * chord)
    return out


class Lines:
    """The line bands found in one image (of one or both families)."""

    def __init__(self, shape: tuple[int, int], band: np.ndarray | None = None, families: list[_Family] = ()):
        self.shape = shape
        self.band = band  # per bin of the geometry, both families: on a line's band
        self.families = list(families)

    def __bool__(self) -> bool:
        return bool(self.families)

    def bands(self) -> int:
        """How many line bands were found, in both families."""
        return sum(len(f.starts) for f in self.families)

    def on_band(self, idx: np.ndarray) -> np.ndarray:
        """Whether each pixel (flat index) lies on a line's band, ink or not."""
        out = np.zeros(len(idx), bool)
        for f in self.families:
            out |= self.band[f.geometry.bins(f.number, idx, self.shape[1])]
        return out

    def remove(self, mask: np.ndarray, ink: np.ndarray, touching: bool = False) -> np.ndarray:
        """``mask`` without the bands' pixels, except where writing crosses or covers a band; with
        ``touching`` (a still image), also where writing touches it from one side (a digit written
        on the rule: its base lies along the line)."""
        h, w = self.shape
        out = mask.copy()
        if not self.families:
            return out
        idx = np.flatnonzero(mask)
        per_family = [(f, f.geometry.bins(f.number, idx, w)) for f in self.families]
        on_any = np.zeros(len(idx), bool)
        for f, b in per_family:
            on_any |= self.band[b]
        if not on_any.any():
            return out
        # Ink off every band and its anti-aliased edge, a pixel wider (a slant): what a stroke
        # crossing a band leaves on its sides.  A line crossing another is not such a stroke.
        on_bands = np.zeros_like(mask)
        on_bands.ravel()[idx[on_any]] = True
        beyond = mask & ~imageops.max_filter(on_bands.view(np.uint8), 3).view(bool)
        beyond = imageops.max_filter(beyond.view(np.uint8), 3).view(bool).ravel()
        strength = ink.ravel()[idx]
        drop = np.zeros(len(idx), bool)
        for f, b in per_family:
            on = np.flatnonzero(self.band[b])
            if not len(on):
                continue
            k = np.searchsorted(f.starts, b[on], side="right") - 1
            level = f.level[k]
            writing = strength[on] > np.maximum(1.6 * level, level + 0.1)
            c, s = np.cos(f.angle), np.sin(f.angle)
            y, x = np.divmod(idx[on], w)
            rho = b[on] + (x * c + y * s - f.lo_rho) % 1.0  # the pixel's rho, in the bins' numbering
            crossing = np.ones(len(on), bool)
            touches = np.zeros(len(on), bool)
            for sign, dist in ((1.0, f.ends[k] + 2.0 - rho), (-1.0, rho - f.starts[k] + 2.0)):
                sx = np.rint(x + sign * dist * c).astype(np.int64)
                sy = np.rint(y + sign * dist * s).astype(np.int64)
                inside = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
                hit = np.zeros(len(on), bool)
                hit[inside] = beyond[sy[inside] * w + sx[inside]]
                crossing &= hit
                touches |= hit
            drop[on[~(crossing | writing | (touches if touching else False))]] = True
        out.ravel()[idx[drop]] = False
        return out


def remnants(mask: np.ndarray, lines: Lines, max_width: float = 1.5, max_turn: float = 4.0) -> np.ndarray:
    """The pieces of ``mask`` that are what is left of the page's lines: thin straight components
    (their pixels within ``max_width`` robust pixels of their axis) running along one of the
    families (within ``max_turn`` degrees).  A digit's stroke is straight too, but a digit of one
    stroke (a 1) is not written along the rules; bits of lines near the frame's corners are."""
    out = np.zeros_like(mask)
    if not lines.families or not mask.any():
        return out
    labels, count = imageops.labels_only(mask)
    y, x = np.nonzero(labels)
    lab = labels[y, x]
    n = np.bincount(lab, minlength=count + 1).astype(np.float64)
    safe = np.maximum(n, 1)
    mx, my = np.bincount(lab, x, count + 1) / safe, np.bincount(lab, y, count + 1) / safe
    dx, dy = x - mx[lab], y - my[lab]
    sxx, syy = np.bincount(lab, dx * dx, count + 1) / safe, np.bincount(lab, dy * dy, count + 1) / safe
    sxy = np.bincount(lab, dx * dy, count + 1) / safe
    half = np.sqrt(((sxx - syy) / 2) ** 2 + sxy ** 2)
    minor = np.sqrt(np.maximum((sxx + syy) / 2 - half, 0.0))
    direction = np.degrees(0.5 * np.arctan2(2 * sxy, sxx - syy))  # the major axis, 0 = along x
    along = np.zeros(count + 1, bool)
    for f in lines.families:
        line_dir = np.degrees(f.angle) + 90.0  # a family's lines run across their normal
        turn = np.abs((direction - line_dir + 90.0) % 180.0 - 90.0)
        along |= turn <= max_turn
    thin = (minor <= max_width / 2) & along & (n >= 2)
    thin[0] = False
    return thin[labels]


class LineTracker:
    """The lines' angle carried from one frame of a video to the next (a page turns slowly).

    A full search is made when no angle is known, and every ``refresh`` frames.
    """

    def __init__(self, refresh: int = 30):
        self.refresh = refresh
        self.angle: float | None = None
        self._age = 0

    def hint(self) -> float | None:
        """The angle to search around, or None for a full search."""
        return self.angle if self.angle is not None and self._age < self.refresh else None

    def update(self, angle: float | None) -> None:
        """The angle at which lines were found in this frame (None: none were)."""
        self._age = self._age + 1 if angle is not None and self.angle is not None and self._age < self.refresh else 0
        self.angle = angle


def find_lines(ink: np.ndarray, mask: np.ndarray, tracker: LineTracker | None = None, from_edge: bool = True) -> Lines:
    """The page's lines in ``mask``, thresholded from the ink strength ``ink`` (0..1).

    ``from_edge`` also takes a band covered from the frame's edge over part of it (a camera
    sees the sheet end, a shadow or the light fade a line); without it (a still image, where a
    digit's stroke may start at the picture's edge) a line covers most of its chord.
    """
    h, w = mask.shape
    # Thick ink (a marker's stroke, a shadow, the table) says nothing about the lines' angle:
    # the angle comes from ink thinner than three pixels.
    thin = mask & ~imageops.max_filter(imageops.min_filter(mask.view(np.uint8), 3), 3).view(bool)
    angle = family_angle(thin, tracker.hint() if tracker else None)
    if angle is None:
        if tracker:
            tracker.update(None)
        return Lines((h, w))
    # Faint ink (a line thresholding broke into dashes) is ink that clearly stands out from
    # the paper (the paper's own texture and noise, measured robustly).
    sample_ink = ink.ravel()[samples(h, w)]
    few = np.sort(sample_ink[::8])
    median, upper = float(few[len(few) // 2]), float(few[(3 * len(few)) // 4])
    threshold = max(0.04, median + FAINT_SIGMAS * 1.4826 * (upper - median))
    band, families = _families(sample_ink, np.flatnonzero(mask), (h, w), round(np.degrees(angle) * 2), threshold,
                                from_edge)
    if tracker:
        tracker.update(angle if families else None)
    return Lines((h, w), band, families)


def paper_lines(ink: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` that belong to a page's lines, crossing and covering writing left out."""
    return mask & ~find_lines(ink, mask).remove(mask, ink)
