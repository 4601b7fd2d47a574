"""Speed of a digit's way through each file path, one thread: decode + preprocess + infer.

    python -m digitlite.benchmarks.speed [--images 60] [--update-readme]

Three inputs, made here from pen-stroke digits (benchmarks/realworld.py renders them):

* a 640x480 JPEG photo of a digit on paper, as `digitlite classify` reads it;
* a 12-megapixel (4000x3000) JPEG, a phone's photo, the same way;
* a 280x280 PNG of a drawing on the page's canvas, through the server's own decode and
  predict (`digitlite serve`, POST /api/predict), without the HTTP around it.

Each input is timed from its bytes to the probabilities, three rounds after a warm-up; the
figure is the median and 99th percentile over the inputs of each one's fastest round.  The
process does not load OpenCV: this is the plain install's path.  Camera frames are measured
by benchmarks.camera.  Peak memory of `digitlite classify` on the photos comes from a fresh
process (benchmarks.memprobe).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.benchmarks.common import UpdateReadme, machine
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import classify_memory as probe
from digitlite.benchmarks.realworld import render_photo, stroke_digit
from digitlite.edge.apps.classify import classify_files
from digitlite.edge.apps.serve import decode_drawing
from digitlite.edge.runtime.interpreter import Model
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.vision.preprocess import (
    WORK_SIDE,
    ImageError,
    load_gray,
    preprocess_gray,
)

MARKERS = ("<!-- speed-results:begin -->", "<!-- speed-results:end -->")
TARGETS_MS = {"photo": 3.0, "phone": 80.0, "canvas": 3.0}


def make_inputs(count: int, seed: int = 11) -> dict[str, list[bytes]]:
    """``count`` 640x480 photos, a few 12-megapixel photos and ``count`` canvas drawings."""

    rng = np.random.default_rng(seed)
    inputs: dict[str, list[bytes]] = {"photo": [], "phone": [], "canvas": []}
    for k in range(count):
        ink = stroke_digit(k % 10, rng)
        inputs["photo"].append(render_photo(ink, rng, size=(480, 640))[0])
        canvas = np.full((280, 280), 255, np.uint8)  # the page's canvas: black strokes on white
        side = int(rng.integers(120, 220))
        y, x = (int(v) for v in rng.integers(10, 280 - side - 10, 2))
        glyph = np.asarray(Image.fromarray(ink, "F").resize((side, side), Image.BILINEAR), np.float32)
        canvas[y:y + side, x:x + side] = (255 - np.clip(glyph * 255, 0, 255)).astype(np.uint8)
        buf = io.BytesIO()
        Image.fromarray(canvas).save(buf, format="PNG")
        inputs["canvas"].append(buf.getvalue())
    for k in range(max(3, count // 10)):
        inputs["phone"].append(render_photo(stroke_digit(k % 10, rng), rng, size=(3000, 4000))[0])
    return inputs


def time_path(run, inputs: list[bytes], rounds: int = 3) -> dict:
    """p50/p99 over ``inputs`` of each input's fastest of ``rounds`` runs (ms), and its answers."""
    run(inputs[0])
    best = np.full(len(inputs), np.inf)
    answers = []
    for r in range(rounds):
        for i, data in enumerate(inputs):
            t0 = time.perf_counter()
            answer = run(data)
            best[i] = min(best[i], time.perf_counter() - t0)
            if r == 0:
                answers.append(answer)
    ms = best * 1000
    return {"n": len(inputs), "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()), "answers": answers}


def measure(classifier, inputs: dict[str, list[bytes]]) -> dict:
    """Time the photo and phone paths as `classify` runs them, and the canvas as the server does."""
    def classify_bytes(data):
        gray, _ = load_gray(data, "photo.jpg", side=WORK_SIDE)  # what classify_files does per file
        return int(classifier.predict_proba(preprocess_gray(gray, "photo.jpg", one_digit=True))[0].argmax())

    def server(data):
        try:
            pixels = preprocess_gray(decode_drawing("image/png", data), "drawing", one_digit=True)  # as the server
            return int(classifier.predict_proba(pixels)[0].argmax())
        except ImageError:
            return None

    assert classify_files  # classify_bytes is classify_files's per-file work, without the folder walk
    return {"photo": time_path(classify_bytes, inputs["photo"]), "phone": time_path(classify_bytes, inputs["phone"]),
            "canvas": time_path(server, inputs["canvas"])}


def classify_memory(inputs: dict[str, list[bytes]], model: Path) -> dict:
    """Peak resident memory of `digitlite classify` on the photos and phone photos, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("photo", "phone"):
            for i, data in enumerate(inputs[kind]):
                (Path(tmp) / f"{kind}_{i:03d}.jpg").write_bytes(data)
        return probe(Path(tmp), model)


def markdown(result: dict) -> str:
    """The README table."""
    names = {"photo": "640×480 JPEG photo → digit (`digitlite classify`)",
             "phone": "4000×3000 JPEG phone photo → digit (`digitlite classify`)",
             "canvas": "280×280 PNG drawing → digit (the server's decode + preprocess + infer)"}
    rows = ["| path, 1 thread | inputs | p50 | p99 | target (p50) | right |", "|---|---|---|---|---|---|"]
    for key, name in names.items():
        r = result["paths"][key]
        mark = "✅" if r["p50_ms"] <= TARGETS_MS[key] else "❌"
        right = sum(a == label for a, label in zip(r["answers"], result["labels"][key]))
        rows.append(f"| {name} | {r['n']} | **{r['p50_ms']:.2f} ms** | {r['p99_ms']:.2f} ms | "
                    f"≤ {TARGETS_MS[key]:g} ms {mark} | {right}/{r['n']} |")
    m, mem = result["machine"], result.get("classify_memory", {})
    peak = f"; peak resident memory of `digitlite classify` on these photos: {mem['peak_mb']:.0f} MB" \
        if "peak_mb" in mem else ""
    rows += ["", f"From the input's bytes to the probabilities, decode included; each input's fastest of 3 rounds, "
             f"median and 99th percentile over the inputs; OpenCV not loaded (the plain install's path){peak}. "
             f"Model `{result['model']}`, on {m['cpu']} ({m['cores']} cores), Python {m['python']}. "
             "By `python -m digitlite.benchmarks.speed`."]
    return "\n".join(rows)


def main(argv=None) -> int:
    """Make the inputs, time each path, print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="the .tflite model (default: the shipped int8 model)")
    p.add_argument("--images", type=int, default=60, help="photos and drawings of each kind (phone photos: a tenth)")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    if "cv2" in sys.modules:
        raise SystemExit("benchmarks.speed measures the plain install's path: run it where OpenCV is not loaded")
    model = Path(args.model) if args.model else default_model()
    inputs = make_inputs(args.images)
    labels = {"photo": [k % 10 for k in range(len(inputs["photo"]))],
              "phone": [k % 10 for k in range(len(inputs["phone"]))],
              "canvas": [k % 10 for k in range(len(inputs["canvas"]))]}
    result = {"model": model.name, "paths": measure(Model(model, threads=1), inputs), "labels": labels,
              "machine": machine()}
    result["classify_memory"] = classify_memory(inputs, model)
    publish("speed", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
