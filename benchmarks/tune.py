"""Own digits: tune the shipped model on one writer's style and check it, as a user would.

    python -m digitlite.benchmarks.tune                 # measure and print
    python -m digitlite.benchmarks.tune --update-readme

The style (no such writer in MNIST, and drawn by this module's own generator, seeded): a slashed
zero, a European 1 with a long flag and no base, a 2 written as a crossed Z, a 3 with a loop in
its waist, an open 4, a 5 in one stroke, a 6 with a straight back, a crossed 7 with a hook, an 8
drawn as an hourglass, a 9 with a tail curling left.  Each digit is pen strokes with the small
jitter of one hand (a few degrees of slant, the pen's width), drawn as a grey picture.

1. **Tuning set**: 10 pictures of each digit in ``DIR/<digit>/`` (seed 1), as a person would sort
   them.  **Test set**: 50 more of each (seed 2), never tuned on.
2. ``digitlite tune DIR`` then ``digitlite quantize DIR/../models/style.keras``, each timed as a
   command (start-up included), on every core.
3. The shipped int8 model and the tuned int8 model, both read by ``Classifier`` on the test set;
   MNIST test accuracy of each from its model card (all 10,000 images, int8).
4. What tuning must not cost: the non-digit set of ``benchmarks.nondigits`` (seed 23) answered "not a
   digit", and the real single digits read right, by both models.
5. The tuned model's exports: ``export --target mcu`` run by TensorFlow Lite Micro on the MNIST test
   images (benchmarks.mcu's check), and ``export --target web`` in Chromium: LiteRT.js in the page
   on the test set's inputs and MNIST test images, against LiteRT here.
6. A second row on real photos (``../shared/real_photos``): one repository's photos of the digits it
   has two of are tuned on (``digitlite tune`` holds one of each out), and the held-out ones with the
   rest of that repository's photos are the test.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from digitlite.benchmarks import nondigits
from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.mcu import measure as mcu_measure
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import _arc
from digitlite.benchmarks.realworld import _line as _l
from digitlite.benchmarks.web import CHROMIUM, CHROMIUM_ARGS, static_server
from digitlite.edge.api import Classifier
from digitlite.edge.data.mnist import load_mnist
from digitlite.edge.deploy.web import export_web
from digitlite.edge.runtime.card import ModelCard
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.inputs import digit_input

MARKERS = ("<!-- tune-results:begin -->", "<!-- tune-results:end -->")
REAL = Path(__file__).resolve().parents[2] / "shared" / "real_photos"
REAL_REPO = "KhoaTryHard/handwritten-digit-recognition"
TUNE_PER_DIGIT, TEST_PER_DIGIT = 10, 50


# One writer's digits: pen strokes in a unit box (x right, y down; angles in degrees, 90 = down).
STYLE = {
    0: [_arc(.5, .5, .28, .4, 0, 360, 32), _l((.85, .02), (.15, .98))],
    1: [_l((.1, .52), (.62, .05), (.62, .93))],
    2: [_l((.18, .12), (.82, .12), (.18, .9), (.86, .9)), _l((.3, .5), (.72, .5))],
    3: [_arc(.48, .27, .26, .18, 200, 430) + _arc(.44, .47, .08, .06, 270, -60) + _arc(.5, .7, .28, .23, -90, 150)],
    4: [_l((.22, .08), (.26, .52), (.82, .5)), _l((.8, .06), (.78, .96))],
    5: [_arc(.55, .22, .25, .15, -20, -200) + _arc(.5, .62, .3, .3, -110, 150)],
    6: [_l((.72, .04), (.3, .62)) + _arc(.5, .72, .22, .22, 180, 540)],
    7: [_l((.12, .22), (.2, .1), (.85, .12), (.5, .96)), _l((.38, .52), (.82, .52))],
    8: [_l((.25, .08), (.75, .08), (.25, .92), (.75, .92), (.25, .08))],
    9: [_arc(.5, .28, .24, .2, 0, 360, 28), _l((.74, .28), (.7, .75)) + _arc(.45, .75, .25, .2, 0, 170)],
}


def style_digit(digit: int, rng: np.random.Generator, canvas: int = 112) -> np.ndarray:
    """One picture (grey, dark ink on paper) of ``digit`` in the style, as the writer's hand varies it."""
    angle = math.radians(rng.uniform(-6, 6))
    shear, sx, sy = rng.uniform(-.12, .06), rng.uniform(.85, 1.05), rng.uniform(.9, 1.05)
    transform = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]]) @ \
        np.array([[sx, shear], [0, sy]])
    img = Image.new("L", (canvas * 2, canvas * 2), 255)
    draw = ImageDraw.Draw(img)
    width, scale, ink = int(rng.uniform(7, 14)), canvas * 2 * .7, int(rng.uniform(10, 70))
    for stroke in STYLE[digit]:
        pts = np.asarray(stroke) + rng.normal(0, .004, (len(stroke), 2)) + rng.normal(0, .015, 2)
        points = [tuple(p) for p in (pts - .5) @ transform.T * scale + canvas]
        draw.line(points, fill=ink, width=width, joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=ink)
    gray = np.asarray(img.resize((canvas, canvas), Image.BOX), np.float32) * rng.uniform(.8, 1.0)
    return np.clip(gray + rng.normal(0, 3, gray.shape), 0, 255).astype(np.uint8)


def write_style(folder: Path, per_digit: int, seed: int) -> list[tuple[Path, int]]:
    """``per_digit`` pictures of each digit as ``folder/<digit>/NNN.png``; (file, digit) of each."""
    rng = np.random.default_rng(seed)
    files = []
    for digit in range(10):
        (folder / str(digit)).mkdir(parents=True, exist_ok=True)
        for k in range(per_digit):
            path = folder / str(digit) / f"{k:03d}.png"
            Image.fromarray(style_digit(digit, rng)).save(path)
            files.append((path, digit))
    return files


def accuracy(model: Path | None, files: list[tuple[Path, int]]) -> dict:
    """How many of ``files`` a Classifier with ``model`` reads as their digit, and their mean confidence."""
    clf = Classifier(model=str(model) if model else None)
    readings = [clf.classify(str(path)) for path, _ in files]
    right = [r.digit == d for r, (_, d) in zip(readings, files)]
    return {"right": int(sum(right)), "of": len(files), "accuracy": float(np.mean(right)),
            "mean_confidence_right": float(np.mean([r.confidence for r, ok in zip(readings, right) if ok] or [0]))}


def command(*args: str) -> float:
    """Run ``digitlite ARGS`` as a user would; its wall time in seconds (an error is raised with its last line)."""
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "digitlite", *args], capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise DigitliteError(f"digitlite {' '.join(args)} failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}")
    return took


def tune_and_quantize(samples: Path, models: Path, name: str) -> dict:
    """``digitlite tune`` then ``digitlite quantize``: their times, the tuned int8 model and its card."""
    tune_s = command("tune", str(samples), "--out", str(models), "--name", name)
    quantize_s = command("quantize", str(models / f"{name}.keras"))
    model = models / f"{name}_int8.tflite"
    report = json.loads((models / f"{name}.tune.json").read_text())
    return {"tune_seconds": tune_s, "quantize_seconds": quantize_s, "model": model, "card": ModelCard.of(model),
            "report": report}


def web_parity(model: Path, inputs: np.ndarray) -> dict:
    """``export --target web`` of ``model``, opened in Chromium: LiteRT.js's outputs for ``inputs`` against LiteRT's."""
    # optional: Playwright, the [dev] extra
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        manifest = export_web(site, model=model)
        twin = site / manifest["model"]
        with static_server(site) as (url, _), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.goto(url, wait_until="load")
                page.wait_for_function("document.body.dataset.ready", timeout=120_000)
                outputs = page.evaluate("async (xs) => { const out = []; for (const x of xs) "
                                        "out.push(await window.digitlite.probabilities(x)); return out; }",
                                        [x.reshape(-1).tolist() for x in inputs])
            finally:
                browser.close()
        here = Model(twin).predict_proba(inputs)
    js = np.asarray(outputs, np.float32)
    return {"model": manifest["model"], "inputs": len(inputs), "same_prediction": int(np.sum(js.argmax(1) == here.argmax(1))),
            "same_output": int(np.sum(np.all(js == here, axis=1)))}


def real_row(work: Path) -> dict | None:
    """Tune on one repository's real photos (the digits it has two of), test on the rest of it."""
    labels = REAL / "labels.csv"
    if not labels.exists():
        return None
    rows = [r for r in csv.DictReader(labels.open()) if r["source_repo"] == REAL_REPO and r["file"].startswith("single/")]
    by_digit: dict[str, list[dict]] = {}
    for r in rows:
        by_digit.setdefault(r["label"], []).append(r)
    samples = work / "real"
    tuned_on = []
    for digit, members in by_digit.items():
        if len(members) >= 2:
            (samples / digit).mkdir(parents=True, exist_ok=True)
            for r in members:
                shutil.copy(REAL / r["file"], samples / digit / Path(r["file"]).name)
                tuned_on.append(r["file"])
    run = tune_and_quantize(samples, work / "models", "real")
    held = {Path(f).name for f in run["report"]["held_out_files"]}
    test = [(REAL / r["file"], int(r["label"])) for r in rows
            if r["file"] not in tuned_on or Path(r["file"]).name in held]
    return {"repo": REAL_REPO, "photos": len(rows), "tuned_on": run["report"]["samples"]["trained_on"],
            "held_out": run["report"]["samples"]["held_out"], "test": len(test),
            "before": accuracy(None, test), "after": accuracy(run["model"], test),
            "mnist_after": run["card"].tflite_accuracy, "tune_seconds": run["tune_seconds"],
            "quantize_status": run["card"].status}


def measure(work: Path, with_web: bool = True, with_real: bool = True) -> dict:
    """The whole benchmark (see the module docstring) in the folder ``work``."""
    write_style(work / "style", TUNE_PER_DIGIT, seed=1)
    test = write_style(work / "style-test", TEST_PER_DIGIT, seed=2)
    shipped = default_model()
    before = accuracy(None, test)
    run = tune_and_quantize(work / "style", work / "models", "style")
    after = accuracy(run["model"], test)
    card, shipped_card = run["card"], ModelCard.of(shipped)
    mnist = load_mnist(test_only=True)
    twin = run["model"].with_name(run["model"].stem + "_b1.tflite")
    mcu = mcu_measure(twin, mnist.test_images, mnist.test_labels)
    result = {
        "style": {"tune_pictures": TUNE_PER_DIGIT * 10, "test_pictures": len(test), "before": before, "after": after},
        "samples": run["report"]["samples"],
        "mnist_int8": {"shipped": shipped_card.tflite_accuracy, "tuned": card.tflite_accuracy,
                       "drop_points": round((shipped_card.tflite_accuracy - card.tflite_accuracy) * 100, 4)},
        "float": {"before": run["report"]["before"], "after": run["report"]["after"]},
        "quantize": {"status": card.status, "tuning": card.tuning},
        "tune_seconds": run["tune_seconds"], "quantize_seconds": run["quantize_seconds"],
        "tune_report_seconds": run["report"]["wall_time_seconds"],
        "mcu": {k: mcu[k] for k in ("model", "images", "same_as_litert", "identical_outputs", "accuracy",
                                    "model_bytes", "ram_bytes")},
        "machine": machine(),
    }
    kept = {}
    folder = nondigits.build_set(work / "nondigits", 60, 23, nondigits.font_files(None), mnist.test_images,
                                 mnist.test_labels)
    for name, model in (("shipped", shipped), ("tuned", run["model"])):
        row = nondigits.evaluate(folder, REAL if (REAL / "labels.csv").is_file() else None, model, [0.0])[0]
        kept[name] = {"non_digits_refused": row["refused"]["all non-digits"], "empty_paper": row["refused"]["empty paper"],
                      "real_singles": row.get("real")}
    result["kept"] = kept
    if with_web:
        inputs = np.stack([digit_input(str(p)) for p, _ in test] + list(mnist.test_images[:500]))
        result["web"] = web_parity(run["model"], inputs)
    if with_real:
        result["real"] = real_row(work)
    return result


def markdown(r: dict) -> str:
    """The table and what it means."""
    s, m = r["style"], r["mnist_int8"]
    rows = ["| set | tuned on | test | shipped model | tuned model | MNIST test, int8 (shipped → tuned) | "
            "`digitlite tune` wall time |", "|---|---|---|---|---|---|---|",
            f"| one writer's style (rendered) | {r['samples']['trained_on']} pictures (+{r['samples']['held_out']} "
            f"held out) | {s['test_pictures']} | {s['before']['accuracy'] * 100:.1f}% | **{s['after']['accuracy'] * 100:.1f}%** | "
            f"{m['shipped'] * 100:.2f}% → **{m['tuned'] * 100:.2f}%** ({-m['drop_points']:+.2f} pts) | "
            f"**{r['tune_seconds']:.0f} s** (+{r['quantize_seconds']:.0f} s quantize) |"]
    if r.get("real"):
        x = r["real"]
        rows.append(f"| real photos: `{x['repo']}` | {x['tuned_on']} photos (+{x['held_out']} held out) | {x['test']} | "
                    f"{x['before']['right']}/{x['test']} (confidence {x['before']['mean_confidence_right'] * 100:.0f}%) | "
                    f"**{x['after']['right']}/{x['test']}** (confidence {x['after']['mean_confidence_right'] * 100:.0f}%) | "
                    f"→ {x['mnist_after'] * 100:.2f}% | {x['tune_seconds']:.0f} s |")
    kept = r.get("kept")
    if kept:
        rows += ["", "| what tuning must not cost | shipped model | tuned model |", "|---|---|---|"]
        rows.append(f"| letters, symbols, scribbles, half digits, shadows answered \"not a digit\" (benchmarks.nondigits' "
                    f"set) | {kept['shipped']['non_digits_refused']['rate'] * 100:.1f}% | "
                    f"**{kept['tuned']['non_digits_refused']['rate'] * 100:.1f}%** |")
        rows.append(f"| empty paper, \"no digit\" | {kept['shipped']['empty_paper']['rate'] * 100:.1f}% | "
                    f"**{kept['tuned']['empty_paper']['rate'] * 100:.1f}%** |")
        if kept["shipped"].get("real_singles"):
            a, b = kept["shipped"]["real_singles"], kept["tuned"]["real_singles"]
            rows.append(f"| real photos of one digit (`../shared/real_photos`, other writers) read right | "
                        f"{a['right']}/{a['images']} | **{b['right']}/{b['images']}** |")
    mcu, web = r["mcu"], r.get("web")
    notes = [f"The quantize gate: **{r['quantize']['status']}** (held-out samples "
             f"{r['quantize']['tuning']['held_out_right']['tuned']}/{r['quantize']['tuning']['held_out_right']['of']} "
             f"against the shipped model's {r['quantize']['tuning']['held_out_right']['shipped']}).",
             f"Its microcontroller export (`{mcu['model']}`), run by TensorFlow Lite Micro: "
             f"{mcu['same_as_litert']:,}/{mcu['images']:,} MNIST test predictions as LiteRT's "
             f"({mcu['model_bytes'] / 1024:.1f} KB flash, {mcu['ram_bytes'] / 1024:.1f} KB RAM)."]
    if web:
        notes.append(f"Its web export in Chromium (LiteRT.js): {web['same_prediction']}/{web['inputs']} predictions and "
                     f"{web['same_output']}/{web['inputs']} outputs as LiteRT's (the style's test inputs and 500 MNIST "
                     "test images).")
    notes.append(f"Wall times are the commands' own, start-up included, on {r['machine']['cpu']} "
                 f"({r['machine']['cores']} cores). By `python -m digitlite.benchmarks.tune`.")
    return "\n".join(rows) + "\n\n" + " ".join(notes)


def main(argv=None) -> int:
    """Run the benchmark and print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.tune", description=__doc__.split("\n\n")[0])
    p.add_argument("--work", help="keep the samples and models in this folder (default: a temp folder)")
    p.add_argument("--no-web", action="store_true", help="skip the browser check (no Chromium)")
    p.add_argument("--no-real", action="store_true", help="skip the real-photos row")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(args.work) if args.work else Path(tmp)
        result = measure(work, with_web=not args.no_web, with_real=not args.no_real)
    if args.json:
        print(json.dumps(result, indent=2, default=str))
        return 0
    publish("tune", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
