"""Not a digit: what a model answers for letters, symbols, scribbles, half digits, lines and empty
paper, and what refusing them costs on real digits.

    python -m digitlite.benchmarks.nondigits                         # the shipped model
    python -m digitlite.benchmarks.nondigits --model A.tflite --model B.tflite --floor 0 --floor 0.9
    python -m digitlite.benchmarks.nondigits --update-readme

The set is built here from a seed, by other means than the training's "not a digit" pictures
(train/negatives.py draws letters from its own pen strokes and halves MNIST *training* digits):

* ``letters`` and ``symbols``: glyphs of handwriting fonts (Google Fonts, as packaged on npm by
  Fontsource; downloaded once, checked against their published sha512, cached; offline:
  ``--fonts-dir`` with what ``npm pack`` writes), none of which the training ever saw; only
  letters no digit looks like (no O, I, l, S, Z, B, G, b, g, q, ...);
* ``scribbles``: random pen paths, loops and zigzags;
* ``halves``: the top or bottom half of an MNIST *test* digit whose half looks like no digit;
* ``paper``: a shadow across the sheet, the sheet's edge on a desk, a fold, a lone line at a
  slant no "1" has; ``empty``: empty plain, ruled and squared paper.

Beside the rendered empty paper, *real* empty paper: ``benchmarks/real_paper.csv`` lists crops of
the real photos in ``../shared/real_photos`` (the paper beside the digit, away from it: shadows,
the sheet's edge, squared paper, show-through, blur), each checked by eye to hold no writing.
They are cut from the photos as they stand upright (EXIF), saved losslessly and read as the
rest, as ``real paper``.

Each becomes a photo (paper, light, shadow, blur, noise, JPEG: ``realworld.render_photo``) or a
paint-program drawing.  An answer counts as "not a digit" when no digit is read: the model's
"not a digit", a digit under the confidence floor, or the reading's own "no digit found".  The
cost is measured on the real photos of handwritten digits in ``../shared/real_photos/single``
(``--real``): digits read right, and digits refused.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from digitlite.benchmarks.common import RESULTS, ROOT, UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import render_drawing, render_photo
from digitlite.edge.api import Classifier
from digitlite.edge.apps.classify import classify_files
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.deploy import npm
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util import atomic
from digitlite.edge.util.errors import DigitliteError

MARKERS = ("<!-- nondigits-results:begin -->", "<!-- nondigits-results:end -->")
REAL = ROOT.parent / "shared" / "real_photos"
FONTS = tuple(npm.Package(f"@fontsource/{name}", "5.3.0", integrity) for name, integrity in (
    ("caveat", "sha512-eHTfzQxFSW9ABERRLNruHoNJmKed2J7pqTUc5lp4a4POMgXGKpxmWj3d9Hz10kmAg6iuTTLe6UagbA4bnsmfQw=="),
    ("indie-flower", "sha512-Wo5eN/ruEQcyC3+ArzhlpqWQgph3VuCNbJlEkVw17LUd0uyTHOb9bTec4g9njQzjiL/ijACF27sSwy90L6kZBg=="),
    ("kalam", "sha512-FDkVoDfPDCSN/eO81FOYtUI67eMgpVBJmjBtAqSL0PmEhJyeFY2biC+CR+yEttksgXR9+swpFdYmQTyjwBq80Q=="),
    ("patrick-hand", "sha512-V8C38IlIFfdWg0Xtri3F7sLCVpm069rUwn6w4n+oyn38gt7H4arOJmuReg3tAw1Q6jHqZp89wTnAAJagq4Atxw=="),
    ("shadows-into-light",
     "sha512-3dvv0i8/ZwLMY08AAlTLivHUdNQYB6Fxe92d7BZiGbHY2GQnCxEd8JC9CBzxTiP4iyWNa6OZn9LXF+xjc9LaGw=="),
    ("gloria-hallelujah",
     "sha512-U4gt7qqWGn4bysvZZ9BBv8dlRzb11dFUMV8t7xQg26th2zPou/obRjR7MlxeTvVxYd1geWnvZAJprh/bQOG3dw=="),
    ("reenie-beanie", "sha512-PgEiqKdPCLlvdY2IMWMBdYyMdr1mo1zxVBRNFlo3gclnCz560iiyTTt0dU4/VIGnjhyAb3gSWIQL0qXnn5oaYw=="),
    ("rock-salt", "sha512-3Zy0QtrDbq5jrAoMz1I3fXSitSpD46m6S+5W/+hfTZtpbxq9YAC1QoXkwUYDQxtfc8O0k8Qtl76gULQ+uCMznQ=="),
    ("permanent-marker",
     "sha512-ZO/NtYW4SCc/iY8N3dmjWyDITcXJ/vhWZFgnwRcvzwCKKnScMrM/a2/6VHlsjCVuIgmPzNrCFbedEYhv+/jJBg=="),
    ("architects-daughter",
     "sha512-uezOgAlbhmf9nDW69VYq31lXNA+0uRFWXBGCSFWLXVcrNESFHpNjvu11kJss1PMsfH/YKz1hnnYB+JSNI/t+ew=="),
    ("covered-by-your-grace",
     "sha512-QurmStAERGPv2vbl1Lxe76IWsYzXiZXz7lkxbw5x9OT84EAih8PmBkdWxatO7dj37UsInic30MA/EKpJ58bmtw=="),
    ("handlee", "sha512-bginDzMq4WhtYCcCR5O/WUh6mjXgZ17miwY4mSCR6+Z5iXaUGc71GuFHdFKsZBTO+9CZqRRfXaGtTSz4IIf29Q=="),
))
# Letters no digit looks like, in either case; and symbols.  Left out: O o Q D (0), I l i j J
# (1), S s (5), Z z (2), B (8), b G (6), g q (9), T t (7 and +-like crosses in some hands).
LETTERS = "ACEFHKLMNPRUVWXYacdefhkmnpruvwxy"
SYMBOLS = "+=?#%&@$*<>~"
KINDS = ("letters", "symbols", "scribbles", "halves", "paper", "empty")
REAL_PAPER = Path(__file__).with_name("real_paper.csv")


def font_files(fonts_dir: str | None = None) -> list[tuple[str, bytes]]:
    """(font name, the latin 400 woff2 bytes) of each pinned font."""
    tarballs = npm.fetch(list(FONTS), fonts_dir, flag="--fonts-dir")
    out = []
    for package in FONTS:
        name = package.name.split("/")[-1]
        member = f"files/{name}-latin-400-normal.woff2"
        out.append((name, npm.read_members(tarballs[package], [member])[member]))
    return out


def glyph_ink(char: str, font: bytes, rng: np.random.Generator, canvas: int = 256) -> np.ndarray:
    """``char`` in ``font`` as float ink 0..1 on a square canvas, slanted and stretched a little."""
    face = ImageFont.truetype(io.BytesIO(font), int(canvas * 0.7))
    img = Image.new("L", (canvas * 2, canvas * 2), 0)
    ImageDraw.Draw(img).text((canvas, canvas), char, fill=255, font=face, anchor="mm")
    box = img.getbbox()
    if box is None:
        return np.zeros((canvas, canvas), np.float32)
    img = img.crop(box)
    side = max(img.size)
    square = Image.new("L", (side, side), 0)
    square.paste(img, ((side - img.width) // 2, (side - img.height) // 2))
    square = square.rotate(float(rng.uniform(-10, 10)), resample=Image.BILINEAR, expand=True)
    return np.asarray(square.resize((int(canvas * 0.8), int(canvas * 0.8)), Image.BILINEAR)
                      .crop((-canvas // 10, -canvas // 10, canvas - canvas // 10, canvas - canvas // 10)),
                      np.float32) / 255.0


def scribble_ink(rng: np.random.Generator, canvas: int = 256) -> np.ndarray:
    """A random pen path, a loop or a zigzag as float ink 0..1."""
    img = Image.new("L", (canvas, canvas), 0)
    draw = ImageDraw.Draw(img)
    kind = int(rng.integers(3))
    if kind == 0:
        pts = np.cumsum(rng.normal(0, 1, (int(rng.integers(8, 16)), 2)), axis=0)
    elif kind == 1:
        t = np.linspace(0, rng.uniform(4, 9) * math.pi, 80)
        pts = np.stack([np.cos(t) + t * rng.uniform(0.05, 0.2), np.sin(t) * rng.uniform(0.5, 1.2)], 1)
    else:
        n = int(rng.integers(5, 10))
        pts = np.stack([np.arange(n), (np.arange(n) % 2) * rng.uniform(1, 3) + rng.normal(0, 0.2, n)], 1)
    pts = (pts - pts.min(0)) / np.maximum(np.ptp(pts, 0).max(), 1e-6) * canvas * 0.8 + canvas * 0.1
    draw.line([tuple(p) for p in pts], fill=255, width=int(rng.integers(3, 14)), joint="curve")
    return np.asarray(img, np.float32) / 255.0


HALVES = ((0, "top"), (0, "bottom"), (2, "bottom"), (3, "top"), (4, "top"), (5, "bottom"), (6, "top"), (9, "bottom"))


def half_ink(rng: np.random.Generator, images: np.ndarray, labels: np.ndarray, canvas: int = 256) -> np.ndarray:
    """The top or bottom half of an MNIST test digit, enlarged as float ink 0..1."""
    digit, part = HALVES[int(rng.integers(len(HALVES)))]
    pool = np.flatnonzero(labels == digit)
    img = images[pool[int(rng.integers(len(pool)))]].astype(np.float32) / 255.0
    rows = np.flatnonzero(img.max(axis=1) > 0.3)
    cut = int(rows[0] + (rows[-1] - rows[0]) * 0.5)
    if part == "top":
        img[cut:] = 0
    else:
        img[:cut] = 0
    return np.clip(np.asarray(Image.fromarray(img, "F").resize((canvas, canvas), Image.BICUBIC), np.float32), 0, 1)


def paper_photo(rng: np.random.Generator, empty: bool) -> bytes:
    """A JPEG of paper with nothing written on it: plain, ruled or squared (``empty``), or with a
    shadow across it, the sheet's edge on a desk, a fold or a lone slanted line."""
    h, w = [(480, 640), (600, 800), (768, 1024), (1512, 2016)][int(rng.integers(4))]
    if rng.random() < 0.4:
        h, w = w, h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    level = rng.uniform(160, 240)
    grain = np.asarray(Image.fromarray(rng.normal(0, 1, (h // 40 + 2, w // 40 + 2)).astype(np.float32), "F")
                       .resize((w, h), Image.BICUBIC), np.float32)
    page = level + grain * rng.uniform(2, 8)
    theta = rng.uniform(0, 2 * math.pi)
    across = (xx - w * rng.uniform(0.25, 0.75)) * math.cos(theta) + (yy - h * rng.uniform(0.25, 0.75)) * math.sin(theta)
    if empty:
        style = int(rng.integers(3))
        if style == 1:  # ruled
            gap = int(h * rng.uniform(0.04, 0.08))
            for y in range(int(rng.integers(gap)), h, gap):
                page[y:y + 2] -= rng.uniform(20, 60)
        elif style == 2:  # squared
            gap = int(min(h, w) * rng.uniform(0.03, 0.06))
            page[:, int(rng.integers(gap))::gap] -= rng.uniform(15, 40)
            page[int(rng.integers(gap))::gap] -= rng.uniform(15, 40)
    else:
        kind = int(rng.integers(4))
        if kind == 0:  # a shadow across the sheet
            page *= 1 - rng.uniform(0.15, 0.5) / (1 + np.exp(np.clip(-across / rng.uniform(2, 30), -50, 50)))
        elif kind == 1:  # the sheet's edge on a desk
            page = np.where(across > 0, page, rng.uniform(40, 140) + grain * 10)
        elif kind == 2:  # a fold
            page -= rng.uniform(10, 35) * np.exp(-(across / rng.uniform(1.5, 4)) ** 2)
        else:  # a lone line at 35 degrees or more from the vertical
            tilt = math.radians(rng.uniform(35, 90)) * rng.choice([-1, 1])
            dist = (xx - w / 2) * math.cos(tilt) + (yy - h / 2) * math.sin(tilt)
            reach = np.abs((xx - w / 2) * -math.sin(tilt) + (yy - h / 2) * math.cos(tilt)) < min(h, w) * 0.3
            page -= rng.uniform(60, 140) * ((np.abs(dist) < rng.uniform(1.5, 4)) & reach)
    ramp = (xx / w - 0.5) * math.cos(theta + 1) + (yy / h - 0.5) * math.sin(theta + 1)
    page *= 1 + ramp * rng.uniform(0, 0.5)
    page += rng.normal(0, rng.uniform(1, 5), page.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(page, 0, 255).astype(np.uint8), "L").convert("RGB").save(
        buf, format="JPEG", quality=int(rng.integers(60, 95)))
    return buf.getvalue()


def build_set(folder: Path, per_kind: int = 60, seed: int = 23, fonts=None, mnist_images=None,
              mnist_labels=None) -> Path:
    """Write the set into ``folder`` with a labels.csv (file, kind, what, style)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for kind in KINDS:
        if kind in ("letters", "symbols") and not fonts:
            continue
        if kind == "halves" and mnist_images is None:
            continue
        count = per_kind * (3 if kind == "letters" else 1)
        for k in range(count):
            what = ""
            if kind in ("paper", "empty"):
                data, style, suffix = paper_photo(rng, kind == "empty"), "photo", ".jpg"
            else:
                if kind in ("letters", "symbols"):
                    chars = LETTERS if kind == "letters" else SYMBOLS
                    name, font = fonts[int(rng.integers(len(fonts)))]
                    char = chars[int(rng.integers(len(chars)))]
                    ink, what = glyph_ink(char, font, rng), f"{char} ({name})"
                elif kind == "scribbles":
                    ink = scribble_ink(rng)
                else:
                    ink = half_ink(rng, mnist_images, mnist_labels)
                if rng.random() < 0.6:
                    data, style = render_photo(ink, rng)
                    suffix = ".jpg"
                else:
                    data, style = render_drawing(ink, rng)
                    suffix = ".png"
            file = f"{kind}_{k:03d}{suffix}"
            atomic.write_bytes(folder / file, data)
            rows.append((file, kind, what, style))
    buf = io.StringIO()
    csv.writer(buf).writerows([("file", "kind", "what", "style"), *rows])
    atomic.write_bytes(folder / "labels.csv", buf.getvalue().encode())
    return folder


def cut_real_paper(real: Path, folder: Path, crops: Path = REAL_PAPER) -> list[Path]:
    """The real photos' empty paper that ``crops`` lists, cut into ``folder`` as PNG files (every
    time: an edited list is never read from stale crops); [] when the real photos are not there, and
    a DigitliteError naming the first photo missing when only some are."""
    with open(crops) as f:
        rows = list(csv.DictReader(f))
    missing = [r["file"] for r in rows if not (real / r["file"]).is_file()]
    if len(missing) == len(rows):
        return []
    if missing:
        raise DigitliteError(f"{real / missing[0]}: missing ({len(missing)} of the {len(rows)} photos that {crops.name} "
                             "cuts empty paper from); the real photos are incomplete")
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for k, r in enumerate(rows):
        path = folder / f"real_paper_{k:03d}.png"
        box = tuple(int(r[c]) for c in ("x0", "y0", "x1", "y1"))
        buf = io.BytesIO()
        with Image.open(real / r["file"]) as img:
            ImageOps.exif_transpose(img).convert("RGB").crop(box).save(buf, "PNG")
        atomic.write_bytes(path, buf.getvalue())
        out.append(path)
    return out


def answers(classifier, paths: list[str]) -> list[tuple[int | None, float, str | None]]:
    """(digit or None, confidence, why none) for each file, as `digitlite classify` reads it."""
    out = []
    for r in classify_files(classifier, paths):
        if r.error is not None:
            out.append((None, 0.0, "no digit found"))
        else:
            out.append((r.reading.digit, r.reading.confidence, r.reading.reason))
    return out


def evaluate(folder: Path, real: Path | None, model: Path, floors: list[float], crops: Path = REAL_PAPER) -> list[dict]:
    """For each confidence floor: "not a digit" per kind of the set and on the real empty paper that
    ``crops`` lists, and the real digits read right and refused."""

    with open(folder / "labels.csv") as f:
        rows = list(csv.DictReader(f))
    clf = Classifier(model)
    got = answers(clf, [str(folder / r["file"]) for r in rows])
    real_rows = []
    if real is not None and (real / "labels.csv").is_file():
        with open(real / "labels.csv") as f:
            real_rows = [r for r in csv.DictReader(f) if r["file"].startswith("single/")]
    real_got = answers(clf, [str(real / r["file"]) for r in real_rows]) if real_rows else []
    paper = cut_real_paper(real, folder / "real_paper", crops) if real is not None else []
    paper_got = answers(clf, [str(p) for p in paper])
    # what each answer counts towards: its kind and all non-digits (or empty paper); or real paper
    keyed = [(r["kind"], "all non-digits" if r["kind"] != "empty" else "empty paper") for r in rows]
    keyed += [("real paper",)] * len(paper)
    out = []
    for floor in floors:
        refused = defaultdict(lambda: [0, 0])
        for keys, (digit, confidence, _) in zip(keyed, got + paper_got):
            no = digit is None or confidence < floor
            for key in keys:
                refused[key][0] += no
                refused[key][1] += 1
        entry = {"model": model.name, "classes": clf.model.classes, "floor": floor,
                 "refused": {k: {"refused": a, "of": n, "rate": a / n} for k, (a, n) in sorted(refused.items())}}
        if real_rows:
            right = sum(d is not None and c >= floor and str(d) == r["label"] for r, (d, c, _) in zip(real_rows, real_got))
            none = sum(d is None or c < floor for d, c, _ in real_got)
            sure_wrong = sum(d is not None and c >= max(floor, 0.9) and str(d) != r["label"]
                             for r, (d, c, _) in zip(real_rows, real_got))
            entry["real"] = {"images": len(real_rows), "right": right, "refused": none, "wrong_above_0.9": sure_wrong,
                             "accuracy": right / len(real_rows)}
        out.append(entry)
    return out


def markdown(result: dict) -> str:
    """The docs table: one row per model and floor."""
    kinds = [k for k in ("letters", "symbols", "scribbles", "halves", "paper") if any(k in e["refused"] for e in result["rows"])]
    head = ("| model | classes | floor | " + " | ".join(kinds)
            + " | **all non-digits** | empty paper | real empty paper | real digits read right | real digits refused |")
    rows = [head, "|" + "---|" * (len(kinds) + 8)]
    for e in result["rows"]:
        cells = [f"{e['refused'][k]['rate'] * 100:.1f}%" if k in e["refused"] else "–" for k in kinds]
        allnd, real = e["refused"].get("all non-digits"), e.get("real")
        papers = [e["refused"].get(k) for k in ("empty paper", "real paper")]
        rows.append(f"| `{e['model']}` | {e['classes']} | {e['floor']:g} | " + " | ".join(cells)
                    + f" | **{allnd['rate'] * 100:.1f}%** ({allnd['refused']}/{allnd['of']}) | "
                    + " | ".join(f"{p['rate'] * 100:.1f}% ({p['refused']}/{p['of']})" if p else "–" for p in papers) + " | "
                    + (f"{real['accuracy'] * 100:.1f}% ({real['right']}/{real['images']})" if real else "not measured")
                    + " | " + (f"{real['refused']}" if real else "–") + " |")
    rows.append("")
    rows.append(f"Share of each kind answered \"not a digit\" (the model's answer, a digit under the floor, or no digit "
                f"found); set built by `python -m digitlite.benchmarks.nondigits` (seed {result['seed']}, "
                f"{result['images']} images, fonts the training never saw); real empty paper: the crops of the real photos "
                "that `benchmarks/real_paper.csv` lists; real digits: "
                f"`../shared/real_photos/single`. On {result['machine']['cpu']}. Raw figures: "
                "[`benchmarks/results/nondigits.json`](../benchmarks/results/nondigits.json).")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Build the set (unless --set holds one) and measure each model at each floor."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.nondigits", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", action="append", help="a .tflite model (again for several; default: the shipped one)")
    p.add_argument("--floor", action="append", type=float, help="a confidence floor (again for several; default 0)")
    p.add_argument("--set", default="build/nondigits", help="folder of the set (built there if it has no labels.csv)")
    p.add_argument("--per-kind", type=int, default=60, help="images per kind when building (letters: 3 times as many)")
    p.add_argument("--seed", type=int, default=23)
    p.add_argument("--fonts-dir", help="a folder holding the fonts' npm tarballs (offline)")
    p.add_argument("--real", default=str(REAL), help="the real photos (a labels.csv and single/)")
    p.add_argument("--data-dir", default="", help="MNIST folder (for the halves)")
    p.add_argument("--results", default=str(RESULTS))
    p.add_argument("--json", action="store_true")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    folder = Path(args.set)
    if not (folder / "labels.csv").is_file():
        mnist = load_mnist(args.data_dir or None, test_only=True)
        print(f"building the non-digit set in {folder}", file=sys.stderr, flush=True)
        build_set(folder, args.per_kind, args.seed, font_files(args.fonts_dir), mnist.test_images, mnist.test_labels)
    real = Path(args.real) if args.real else None
    models = [Path(m) for m in args.model] if args.model else [default_model()]
    rows = []
    for model in models:
        rows.extend(evaluate(folder, real, model, args.floor or [0.0]))
    with open(folder / "labels.csv") as f:
        images = sum(1 for _ in f) - 1
    result = {"seed": args.seed, "images": images, "machine": machine(), "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
    publish("nondigits", result, markdown(result), MARKERS, args.update_readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
