"""Real-world accuracy: real photos, scans and drawings of handwritten digits and numbers, and a
rendered set beside them for what the real ones lack.

    python -m digitlite.benchmarks.realworld                      # build the rendered set (seeded) and measure
    python -m digitlite.benchmarks.realworld --model M.tflite --json
    python -m digitlite.benchmarks.realworld --update-readme

The real set is ``../shared/real_photos`` (``--real``): 311 single digits and 44 numbers from 52
public repositories (its PROVENANCE.md), read as `digitlite classify` and `classify --multi`
read them; each of its folders is a row of its own, and the headline figure.  How confident the
model is, and how often it is right at that confidence (expected calibration error, and accuracy
by confidence bin), is measured there and on the MNIST test set.

How the rendered set is made (no camera here, so it is synthetic; this says exactly how):

* ``strokes``: each digit is drawn from pen-stroke templates (two or three styles per digit:
  open and closed 4, 7 with and without a bar, 1 with and without flag and base, ...), with
  random jitter of every point, rotation, shear, width and height, and a random pen width
  from fine-liner to marker.  No MNIST pixel is used: this is the headline figure.
* ``mnist-shapes``: MNIST *test* digits (never trained on) enlarged and rendered as ink in
  the same way: the same photos, other handwriting.  Reported apart.

Each drawn digit becomes either a *photo*: paper of random tone with texture, a lighting
gradient and vignette, sometimes a soft shadow or ruled lines, pen, marker or pencil ink
(black or blue), defocus blur, sensor noise and JPEG compression, at camera resolutions
from 320x240 to 1024x768, the digit anywhere at 25-70% of the frame; or a *drawing*: a
paint-program PNG (black on white, white on black, or strokes on a transparent
background).  The set is built from a seed, so the same command gives the same files.

Beside it, ``numbers/`` holds numbers on ruled paper (``--numbers``, 400 by default), read whole as
`classify --multi` reads them: two to four digits (pen-stroke templates and MNIST test shapes, half
each) written in a row on a page of rules 1-2 pixels wide, slanted up to 1.5 degrees, in pen,
marker or pencil, 640x480 JPEG.  Half of the numbers stand on a rule (their feet within 2 pixels of
it: a 2's base along the line), half sit between two rules.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from digitlite.benchmarks.common import RESULTS, ROOT, UpdateReadme, run_main
from digitlite.benchmarks.publish import publish
from digitlite.edge.api import Classifier
from digitlite.edge.apps.classify import classify_files
from digitlite.edge.data.metrics import calibration
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.reading import readings
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.runtime.views import Viewed
from digitlite.edge.util import atomic

MARKERS = ("<!-- realworld-results:begin -->", "<!-- realworld-results:end -->")
REAL = ROOT.parent / "shared" / "real_photos"
KIND_NAMES = {"photo": "photos", "scan": "scans", "drawn": "drawings", "mnist_like": "MNIST-like (28x28 or tiny)"}
CANVAS = 256


def _arc(cx, cy, rx, ry, a0, a1, n=28):
    t = np.radians(np.linspace(a0, a1, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def _line(*points):
    return list(points)


# Pen strokes per digit in a unit box (x right, y down); each style is a list of strokes.
TEMPLATES = {
    0: [[_arc(.5, .5, .3, .42, -90, 270)], [_arc(.5, .5, .26, .44, -100, 275)]],
    1: [[_line((.5, .08), (.5, .92))], [_line((.3, .26), (.52, .08), (.52, .92))],
        [_line((.3, .26), (.52, .08), (.52, .92)), _line((.32, .92), (.72, .92))]],
    2: [[_arc(.5, .32, .28, .24, 200, 380) + _line((.22, .92), (.82, .92))],
        [_arc(.48, .3, .26, .22, 190, 400) + _line((.25, .9), (.5, .86), (.84, .9))]],
    3: [[_arc(.48, .3, .26, .2, 200, 450) + _arc(.48, .7, .3, .22, -90, 160)],
        [_line((.25, .1), (.75, .1), (.45, .42)) + _arc(.48, .67, .3, .25, -100, 160)]],
    4: [[_line((.62, .06), (.15, .62), (.86, .62)), _line((.62, .06), (.62, .95))],
        [_line((.25, .08), (.2, .58), (.82, .58)), _line((.66, .25), (.66, .95))]],
    5: [[_line((.76, .1), (.32, .1), (.3, .45)) + _arc(.5, .66, .28, .25, -130, 150)],
        [_line((.32, .1), (.3, .45)) + _arc(.5, .66, .28, .25, -130, 150), _line((.32, .1), (.78, .08))]],
    6: [[_line((.7, .08), (.52, .14), (.38, .3), (.28, .55)) + _arc(.5, .7, .22, .21, 180, 540)],
        [_arc(.62, .5, .34, .44, -80, -180) + _arc(.5, .72, .22, .2, 180, 530)]],
    7: [[_line((.2, .12), (.8, .12), (.42, .95))],
        [_line((.2, .12), (.8, .12), (.45, .95)), _line((.36, .52), (.74, .52))]],
    8: [[_arc(.5, .29, .2, .2, 90, 450) + _arc(.5, .7, .26, .23, -90, 270)],
        [_arc(.5, .3, .22, .19, 60, 420) + _arc(.5, .7, .25, .22, -80, 280)]],
    9: [[_arc(.5, .32, .24, .22, 0, 360) + _line((.74, .32), (.7, .95))],
        [_arc(.5, .3, .24, .21, 10, 370) + _line((.74, .32), (.72, .7), (.55, .93))]],
}


def stroke_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A pen-drawn digit from its templates with random jitter: float ink 0..1, CANVAS x CANVAS."""
    style = TEMPLATES[digit][rng.integers(len(TEMPLATES[digit]))]
    angle = math.radians(rng.uniform(-12, 12))
    shear = rng.uniform(-0.28, 0.15)
    sx, sy = rng.uniform(0.6, 1.12), rng.uniform(0.85, 1.08)
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = rot @ np.array([[sx, shear], [0, sy]])
    scale = CANVAS * 2 * 0.78  # drawn at 2x, then downsampled: smooth edges
    width = int(rng.uniform(0.03, 0.11) * scale)
    img = Image.new("L", (CANVAS * 2, CANVAS * 2), 0)
    draw = ImageDraw.Draw(img)
    for stroke in style:
        pts = np.array(stroke) + rng.normal(0, 0.012, (len(stroke), 2))
        pts = (pts - 0.5) @ transform.T * scale + CANVAS
        points = [tuple(p) for p in pts]
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=255)
    return np.asarray(img.resize((CANVAS, CANVAS), Image.BOX), np.float32) / 255.0


def mnist_digit(image: np.ndarray) -> np.ndarray:
    """An MNIST digit enlarged to CANVAS x CANVAS as float ink 0..1."""
    big = Image.fromarray(image).resize((CANVAS, CANVAS), Image.BICUBIC).filter(ImageFilter.GaussianBlur(2))
    return np.clip(np.asarray(big, np.float32) / 255.0 * 1.3 - 0.15, 0, 1)


def _smooth_noise(shape, cells, rng):
    grid = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(grid, "F").resize((shape[1], shape[0]), Image.BICUBIC), np.float32)


def render_photo(ink: np.ndarray, rng: np.random.Generator, size: tuple[int, int] | None = None) -> tuple[bytes, str]:
    """A JPEG 'photo' of ``ink`` on paper (``size`` = (height, width), else a random camera size);
    returns (bytes, conditions)."""
    h, w = [(240, 320), (480, 640), (600, 800), (768, 1024), (400, 400)][rng.integers(5)]
    if rng.random() < 0.3:
        h, w = w, h
    if size is not None:
        h, w = size
    side = int(min(h, w) * rng.uniform(0.25, 0.7))
    digit = np.asarray(Image.fromarray(ink, "F").resize((side, side), Image.BILINEAR), np.float32)
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    paper = rng.uniform(165, 245)
    page = paper + _smooth_noise((h, w), 6, rng) * rng.uniform(2, 10) + rng.normal(0, rng.uniform(1, 4), (h, w))
    conditions = []
    if rng.random() < 0.3:  # ruled paper
        gap = int(h * rng.uniform(0.06, 0.1))
        for ly in range(int(rng.integers(gap)), h, gap):
            page[ly:ly + 2] -= rng.uniform(25, 60)
        conditions.append("ruled")
    kind = rng.choice(["pen", "marker", "pencil"], p=[0.5, 0.25, 0.25])
    ink_level = {"pen": rng.uniform(10, 60), "marker": rng.uniform(5, 40), "pencil": rng.uniform(80, 130)}[kind]
    strength = digit * (paper - ink_level) / paper
    page[y:y + side, x:x + side] *= 1 - strength
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    theta = rng.uniform(0, 2 * math.pi)
    ramp = ((xx / w - 0.5) * math.cos(theta) + (yy / h - 0.5) * math.sin(theta))
    light = 1 + ramp * rng.uniform(0, 0.7) - rng.uniform(0, 0.35) * (((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2) * 2)
    if rng.random() < 0.25:  # a soft shadow across part of the page
        edge = rng.uniform(0.2, 0.8)
        light *= 1 - rng.uniform(0.15, 0.4) / (1 + np.exp(-((xx / w) - edge) * 25))
        conditions.append("shadow")
    page *= light
    blur = rng.uniform(0, 1.6)
    rgb = np.stack([page] * 3, -1)
    if rng.random() < 0.3 and kind != "pencil":  # blue ink
        rgb[..., 2][y:y + side, x:x + side] += strength * paper * 0.6  # ink lets the blue through
        rgb[..., 1][y:y + side, x:x + side] += strength * paper * 0.15
        conditions.append("blue")
    rgb += rng.normal(0, rng.uniform(1, 6), rgb.shape)
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    if blur > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(blur * min(h, w) / 480))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(55, 96)))
    return buf.getvalue(), "+".join([kind, *conditions])


def render_drawing(ink: np.ndarray, rng: np.random.Generator) -> tuple[bytes, str]:
    """A paint-program PNG of ``ink``; returns (bytes, style)."""
    size = int(rng.choice([128, 280, 400]))
    margin = rng.uniform(0.05, 0.25)
    inner = int(size * (1 - 2 * margin))
    digit = np.asarray(Image.fromarray(ink, "F").resize((inner, inner), Image.BILINEAR), np.float32)
    canvas = np.zeros((size, size), np.float32)
    o = (size - inner) // 2
    canvas[o:o + inner, o:o + inner] = digit
    style = rng.choice(["black-on-white", "white-on-black", "transparent"])
    if style == "black-on-white":
        img = Image.fromarray((255 - canvas * 255).astype(np.uint8), "L")
    elif style == "white-on-black":
        img = Image.fromarray((canvas * 255).astype(np.uint8), "L")
    else:
        rgba = np.zeros((size, size, 4), np.uint8)
        rgba[..., :3] = np.array([20, 20, 120], np.uint8)
        rgba[..., 3] = (canvas * 255).astype(np.uint8)
        img = Image.fromarray(rgba, "RGBA")
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue(), str(style)


def build_set(folder: Path, per_digit: int = 100, seed: int = 2026, mnist_images=None, mnist_labels=None) -> Path:
    """Write the set into ``folder`` with a labels.csv (file, label, source, kind, conditions)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    mnist_pool = {}
    if mnist_images is not None:
        for d in range(10):
            mnist_pool[d] = list(np.flatnonzero(mnist_labels == d))
    for digit in range(10):
        for k in range(per_digit):
            source = "strokes" if (mnist_images is None or k % 2 == 0) else "mnist-shapes"
            if source == "strokes":
                ink = stroke_digit(digit, rng)
            else:
                ink = mnist_digit(mnist_images[mnist_pool[digit][int(rng.integers(len(mnist_pool[digit])))]])
            if rng.random() < 0.7:
                data, conditions = render_photo(ink, rng)
                kind, suffix = "photo", ".jpg"
            else:
                data, conditions = render_drawing(ink, rng)
                kind, suffix = "drawing", ".png"
            name = f"{digit}_{k:03d}_{source}_{kind}{suffix}"
            atomic.write_bytes(folder / name, data)
            rows.append((name, digit, source, kind, conditions))
    buf = io.StringIO()
    csv.writer(buf).writerows([("file", "label", "source", "kind", "conditions"), *rows])
    atomic.write_bytes(folder / "labels.csv", buf.getvalue().encode())
    return folder


def _ink_box(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero((ink > 0.3).any(axis=1)), np.flatnonzero((ink > 0.3).any(axis=0))
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def render_ruled_number(rng: np.random.Generator, mnist_images=None, mnist_labels=None,
                        on_rule: bool = True) -> tuple[bytes, str, str] | None:
    """A JPEG photo of a number of two to four digits on ruled paper, standing on a rule or between
    two: (bytes, the number, conditions); None when the number did not fit on the page."""
    h, w = 480, 640
    label, inks = "", []
    for _ in range(int(rng.integers(2, 5))):
        if mnist_images is None or rng.random() < 0.5:
            digit = int(rng.integers(10))
            ink = stroke_digit(digit, rng)
        else:
            k = int(rng.integers(len(mnist_images)))
            digit, ink = int(mnist_labels[k]), mnist_digit(mnist_images[k])
        label += str(digit)
        inks.append(_ink_box(ink))
    tall = int(rng.uniform(60, 140))
    gap = int(tall * rng.uniform(1.2, 1.6))
    paper = rng.uniform(170, 240)
    page = paper + _smooth_noise((h, w), 6, rng) * rng.uniform(2, 8) + rng.normal(0, rng.uniform(1, 3), (h, w))
    rules = list(range(int(rng.integers(10, gap)), h, gap))
    thick, dark = int(rng.integers(1, 3)), rng.uniform(25, 70)
    slope = math.tan(math.radians(rng.uniform(-1.5, 1.5)))
    xs = np.arange(w)
    for r in rules:
        for t in range(thick):
            page[np.clip(np.rint(r + t + slope * (xs - w / 2)).astype(int), 0, h - 1), xs] -= dark
    rule = rules[len(rules) // 2]
    base = rule + int(rng.integers(-2, 3)) if on_rule else rule - gap // 2 + tall // 2
    kind = rng.choice(["pen", "marker", "pencil"], p=[0.6, 0.2, 0.2])
    ink_level = {"pen": rng.uniform(10, 60), "marker": rng.uniform(5, 40), "pencil": rng.uniform(80, 130)}[kind]
    x = int(rng.integers(20, 80))
    for ink in inks:
        wide = max(2, int(ink.shape[1] * tall / ink.shape[0]))
        digit = np.asarray(Image.fromarray(ink, "F").resize((wide, tall), Image.BILINEAR), np.float32)
        y = base - tall + int(slope * (x + wide / 2 - w / 2))
        if x + wide >= w - 5 or y < 0:
            return None
        page[y:y + tall, x:x + wide] *= 1 - np.clip(digit, 0, 1) * (paper - ink_level) / paper
        x += wide + int(tall * rng.uniform(0.12, 0.4))
    rgb = np.stack([page] * 3, -1) + rng.normal(0, 2, (h, w, 3))
    img = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")
    img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0, 1.2)))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(70, 95)))
    return buf.getvalue(), label, "+".join([str(kind), "on-rule" if on_rule else "between-rules"])


def build_numbers(folder: Path, count: int = 400, seed: int = 2026, mnist_images=None, mnist_labels=None) -> Path:
    """Write ``count`` numbers on ruled paper into ``folder`` with a labels.csv (file, label, conditions),
    every other one standing on a rule."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    while len(rows) < count:
        on_rule = len(rows) % 2 == 0
        made = render_ruled_number(rng, mnist_images, mnist_labels, on_rule)
        if made is None:
            continue
        data, label, conditions = made
        name = f"{len(rows):04d}_{'on' if on_rule else 'off'}.jpg"
        atomic.write_bytes(folder / name, data)
        rows.append((name, label, conditions))
    buf = io.StringIO()
    csv.writer(buf).writerows([("file", "label", "conditions"), *rows])
    atomic.write_bytes(folder / "labels.csv", buf.getvalue().encode())
    return folder


def evaluate_numbers(folder: Path, classifier) -> dict:
    """Read every number of a ``build_numbers`` set as `classify --multi` does: read whole, overall and
    standing on a rule or between rules, and every miss."""
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))  # the labels stay strings: leading zeros
    return _read_numbers(folder, rows, classifier, lambda row: row["conditions"].split("+"))


def _read_numbers(folder: Path, rows: list[dict], classifier, groups_of) -> dict:
    """Read each row's file (in ``folder``) as `classify --multi` does: how many read whole, in all and
    in each of the row's groups (``groups_of(row)``), and every miss."""
    groups = defaultdict(lambda: [0, 0])
    wrong = []
    for row, res in zip(rows, classify_files(classifier, [str(folder / r["file"]) for r in rows], multi=True)):
        got = None if res.error else res.number.number
        for key in ("all", *groups_of(row)):
            groups[key][0] += got == row["label"]
            groups[key][1] += 1
        if got != row["label"]:
            wrong.append({"file": row["file"], "label": row["label"], "got": got, "error": res.error})
    return {"groups": {k: {"right": a, "total": n} for k, (a, n) in sorted(groups.items())}, "misses": wrong}


def evaluate(folder: Path, classifier) -> dict:
    """Classify every file of a built set; accuracy overall and by source, kind and condition."""
    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    paths = [str(folder / r["file"]) for r in rows]
    started = time.perf_counter()
    results = list(classify_files(classifier, paths))
    seconds = time.perf_counter() - started
    groups = defaultdict(lambda: [0, 0])
    wrong = []
    for row, res in zip(rows, results):
        ok = res.error is None and res.reading.digit == int(row["label"])
        keys = ["all", f"source={row['source']}", f"kind={row['kind']}",
                f"{row['source']}/{row['kind']}"] + [f"condition={c}" for c in row["conditions"].split("+") if c]
        for key in keys:
            groups[key][0] += ok
            groups[key][1] += 1
        if not ok:
            wrong.append({"file": row["file"], "label": int(row["label"]),
                          "got": res.reading.digit if res.error is None else None, "error": res.error})
    return {
        "images": len(rows),
        "seconds": round(seconds, 2),
        "accuracy": {k: {"correct": c, "total": t, "accuracy": c / t} for k, (c, t) in sorted(groups.items())},
        "wrong": wrong,
    }


def evaluate_real(real: Path, classifier) -> dict:
    """Read the real set's single digits (as `digitlite classify`) and numbers (as `classify --multi`):
    right, refused and confidently wrong per kind, every miss, and the calibration of the answers."""

    with open(real / "labels.csv") as f:
        rows = list(csv.DictReader(f))  # every field a string: numbers keep their leading zeros
    out = {"folder": str(real)}
    singles = [r for r in rows if r["file"].startswith("single/")]
    groups = defaultdict(lambda: {"right": 0, "refused": 0, "sure_wrong": 0, "total": 0})
    misses, correct, confidence = [], [], []
    for row, res in zip(singles, classify_files(classifier, [str(real / r["file"]) for r in singles])):
        digit = None if res.error else res.reading.digit
        right = digit is not None and str(digit) == row["label"]
        sure_wrong = digit is not None and not right and res.reading.confidence > 0.9
        for key in ("all", row["kind"]):
            g = groups[key]
            g["total"] += 1
            g["right"] += right
            g["refused"] += digit is None
            g["sure_wrong"] += sure_wrong
        if res.reading is not None:
            correct.append(right)
            confidence.append(res.reading.confidence)
        if not right:
            misses.append({"file": row["file"], "label": row["label"], "got": digit, "repo": row["source_repo"],
                           "confidence": None if res.reading is None else round(res.reading.confidence, 4),
                           "why": res.error or (res.reading.reason if res.reading else None)})
    out["single"] = {"groups": dict(groups), "misses": misses,
                     "calibration": calibration(np.array(correct, bool), np.array(confidence))}
    numbers = [r for r in rows if r["file"].startswith("multi/")]
    out["multi"] = _read_numbers(real, numbers, classifier, lambda row: (row["kind"],))
    return out


def mnist_calibration(model: Path, images: np.ndarray, labels: np.ndarray) -> dict:
    """How confident a reading of the MNIST test digits is (each in its seven views, as ``classify`` reads),
    and how often it is right at that confidence."""
    answers = readings(Viewed(Model(model)).predict_proba(images))
    return calibration(np.array([r.digit == int(y) for r, y in zip(answers, labels)]),
                       np.array([r.confidence for r in answers]))


def classify_memory(folder: Path, model: Path) -> dict:
    """Peak resident memory of `digitlite classify FOLDER` in a fresh process (benchmarks.memprobe)."""
    run = subprocess.run([sys.executable, "-m", "digitlite.benchmarks.memprobe", "--classify", str(folder), str(model)],
                         capture_output=True, text=True, timeout=600)
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        return {"error": (run.stderr.strip().splitlines() or ["memprobe failed"])[-1]}


def markdown(result: dict) -> str:
    """The docs tables: the real set (headline), calibration, the rendered set."""
    rows = []
    real = result.get("real")
    if real:
        rows += ["| real set (`../shared/real_photos`) | images | read right | refused | wrong at over 90% confidence |",
                 "|---|---|---|---|---|"]
        single = real["single"]["groups"]
        for key in ("all", "photo", "scan", "drawn", "mnist_like"):
            if key in single:
                g = single[key]
                name = "**single digits (headline)**" if key == "all" else f"… {KIND_NAMES[key]}"
                rows.append(f"| {name} | {g['total']} | {g['right']} ({g['right'] / g['total'] * 100:.1f}%) | "
                            f"{g['refused']} | {g['sure_wrong']} |")
        multi = real["multi"]["groups"].get("all")
        if multi:
            rows.append(f"| **numbers, read whole** (`--multi`) | {multi['total']} | {multi['right']} "
                        f"({multi['right'] / multi['total'] * 100:.1f}%) | | |")
        memory = real.get("classify_memory", {})
        if "peak_mb" in memory:
            rows.append("")
            rows.append(f"Peak resident memory of `digitlite classify` over the {single['all']['total']} single digits: "
                        f"{memory['peak_mb']:.0f} MB.")
        rows.append("")
    cal = [("MNIST test (10,000)", result.get("mnist_calibration")),
           ("real single digits", (real or {}).get("single", {}).get("calibration"))]
    cal = [(n, c) for n, c in cal if c and c["samples"]]
    if cal:
        bins = cal[0][1]["bins"]
        rows += ["| confidence: how often right | ECE | " + " | ".join(
                 f"{b['from'] * 100:.0f}–{b['to'] * 100:.0f}%" for b in bins) + " |",
                 "|---|---|" + "---|" * len(bins)]
        for name, c in cal:
            cells = [f"{b['right']}/{b['answers']}" if b["answers"] else "–" for b in c["bins"]]
            rows.append(f"| {name} | {c['ece'] * 100:.2f}% | " + " | ".join(cells) + " |")
        rows += ["", "Each cell: answers right / answers given at that confidence (of the digit read, or of \"not a "
                 "digit\"); ECE: the expected calibration error over 15 equal bins.", ""]
    acc = result["accuracy"]
    order = ["source=strokes", "strokes/photo", "strokes/drawing", "source=mnist-shapes", "mnist-shapes/photo",
             "mnist-shapes/drawing", "condition=pencil", "condition=ruled", "condition=shadow", "condition=blue", "all"]
    names = {"source=strokes": "pen-stroke digits, rendered", "strokes/photo": "… as photos",
             "strokes/drawing": "… as drawings", "source=mnist-shapes": "MNIST test shapes, rendered",
             "mnist-shapes/photo": "… as photos", "mnist-shapes/drawing": "… as drawings",
             "condition=pencil": "pencil (any source)", "condition=ruled": "ruled paper",
             "condition=shadow": "shadow across the page", "condition=blue": "blue ink", "all": "all rendered images"}
    rows += ["| rendered set | images | correct | accuracy |", "|---|---|---|---|"]
    for key in order:
        if key in acc:
            a = acc[key]
            rows.append(f"| {names[key]} | {a['total']} | {a['correct']} | {a['accuracy'] * 100:.1f}% |")
    numbers = result.get("numbers", {}).get("groups", {})
    for key, name in (("all", "numbers on ruled paper, rendered, read whole (`--multi`)"),
                      ("on-rule", "… standing on a rule"), ("between-rules", "… between two rules")):
        if key in numbers:
            g = numbers[key]
            rows.append(f"| {name} | {g['total']} | {g['right']} | {g['right'] / g['total'] * 100:.1f}% |")
    rows.append("")
    memory = result.get("classify_memory", {})
    peak = f", peak resident memory of `digitlite classify` on the folder {memory['peak_mb']:.0f} MB" \
        if "peak_mb" in memory else ""
    rows.append(f"Model `{result['model']}`; rendered set built by `python -m digitlite.benchmarks.realworld` (seed "
                f"{result['seed']}); {result['images']} images classified in {result['seconds']} s{peak}. Raw figures "
                "and every miss: [`benchmarks/results/realworld.json`](../benchmarks/results/realworld.json).")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Build the set (unless --set names one already built) and measure a model on it."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.realworld", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="the .tflite model (default: the shipped int8 model)")
    p.add_argument("--set", default="build/realworld", help="folder of the set (built there if it has no labels.csv)")
    p.add_argument("--per-digit", type=int, default=100, help="images per digit when building")
    p.add_argument("--seed", type=int, default=7,
                   help="seed of the set (preprocessing was developed on seed 2026 sets; 7 is held out)")
    p.add_argument("--numbers", type=int, default=400, help="numbers on ruled paper when building (0: none)")
    p.add_argument("--data-dir", default="", help="MNIST folder (for the mnist-shapes source and the calibration)")
    p.add_argument("--real", default=str(REAL), help="the real set (a labels.csv, single/ and multi/); '' for none")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--json", action="store_true")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    folder = Path(args.set)
    mnist = load_mnist(args.data_dir or None, test_only=True)
    if not (folder / "labels.csv").is_file():
        print(f"building {args.per_digit * 10} images in {folder}", file=sys.stderr, flush=True)
        build_set(folder, args.per_digit, args.seed, mnist.test_images, mnist.test_labels)
    numbers = folder / "numbers"
    if args.numbers and not (numbers / "labels.csv").is_file():
        print(f"building {args.numbers} numbers on ruled paper in {numbers}", file=sys.stderr, flush=True)
        build_numbers(numbers, args.numbers, args.seed, mnist.test_images, mnist.test_labels)
    model = Path(args.model) if args.model else default_model()
    result = {"model": model.name, "seed": args.seed, **evaluate(folder, Classifier(model))}
    if args.numbers:
        result["numbers"] = evaluate_numbers(numbers, Classifier(model))
    result["classify_memory"] = classify_memory(folder, model)
    result["mnist_calibration"] = mnist_calibration(model, mnist.test_images, mnist.test_labels)
    real = Path(args.real) if args.real else None
    if real is not None and (real / "labels.csv").is_file():
        result["real"] = evaluate_real(real, Classifier(model))
        result["real"]["classify_memory"] = classify_memory(real / "single", model)
    elif real is not None:
        print(f"{real}: no labels.csv there; the real set is not measured", file=sys.stderr)
    if args.json:
        print(json.dumps(result, indent=2))
    publish("realworld", result, markdown(result), MARKERS, args.update_readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
