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
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.benchmarks.common import UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish
from digitlite.benchmarks.realworld import classify_memory as probe
from digitlite.benchmarks.realworld import render_photo, stroke_digit
from digitlite.edge import cli
from digitlite.edge.api import Classifier
from digitlite.edge.apps.serve import DigitServer, decode_drawing
from digitlite.edge.runtime.shipped import default_model
from digitlite.edge.vision.errors import ImageError

MARKERS = ("<!-- speed-results:begin -->", "<!-- speed-results:end -->")
TARGETS_MS = {"photo": 3.0, "phone": 80.0, "canvas": 3.0}
FOLDER_RATIO = 2.0  # `digitlite classify` of a folder of 640x480 JPEGs: at most this many times Pillow's grey decode
SENSOR_NOISE = 6.0  # grey levels (sigma) of a webcam's or a phone's grain in ordinary light


def with_sensor_noise(jpeg: bytes, rng: np.random.Generator, sigma: float = SENSOR_NOISE) -> bytes:
    """The photo as a webcam or a phone in dim light gives it: grain of ``sigma`` grey levels per
    channel, then JPEG again (quality 90)."""
    with Image.open(io.BytesIO(jpeg)) as im:
        pixels = np.asarray(im.convert("RGB"), np.float32)
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels + rng.normal(0, sigma, pixels.shape), 0, 255).astype(np.uint8)).save(
        buf, format="JPEG", quality=90)
    return buf.getvalue()


def make_inputs(count: int, seed: int = 11) -> dict[str, list[bytes]]:
    """``count`` 640x480 photos with sensor noise, a few 12-megapixel photos and ``count`` canvas drawings."""
    rng = np.random.default_rng(seed)
    inputs: dict[str, list[bytes]] = {"photo": [], "phone": [], "canvas": []}
    for k in range(count):
        ink = stroke_digit(k % 10, rng)
        inputs["photo"].append(with_sensor_noise(render_photo(ink, rng, size=(480, 640))[0], rng))
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


def measure(classifier: Classifier, inputs: dict[str, list[bytes]]) -> dict:
    """Time the photo and phone paths as ``Classifier.classify`` reads a file's bytes (what `classify`
    reads), and the canvas as the server's own decode and predict answer it."""
    server = DigitServer(("127.0.0.1", 0), classifier, classifier.path, classifier.min_confidence)
    server.server_close()  # only its predict is timed, not the HTTP around it

    def classify_bytes(data):
        return classifier.classify(data, "photo.jpg").digit

    def serve_drawing(data):
        try:
            return server.predict(decode_drawing("image/png", data))["digit"]
        except ImageError:
            return None

    pixels = [classifier.preprocess(data)[None] for data in inputs["photo"]]
    return {"photo": time_path(classify_bytes, inputs["photo"]), "phone": time_path(classify_bytes, inputs["phone"]),
            "canvas": time_path(serve_drawing, inputs["canvas"]),
            # the model's part of a photo's way: its 28x28 input read in seven views (a digit), or one (a number's candidate)
            "seven views": time_path(lambda x: int(classifier.predict_proba(x).argmax()), pixels),
            "one view": time_path(lambda x: int(classifier.candidate_proba(x).argmax()), pixels)}


def pillow_gray(files: list[Path]) -> None:
    """Pillow's own decode of each file to grey, at full size (the JPEG decoder's grey output): the floor."""
    for f in files:
        with Image.open(f) as im:
            im.draft("L", im.size)
            im.convert("L").load()


def classify_command(folder: Path) -> list[dict]:
    """`digitlite classify FOLDER --json --threads 1`, in this process: its JSON lines."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["classify", str(folder), "--json", "--threads", "1"])
    return [json.loads(line) for line in out.getvalue().splitlines()]


def time_folder(photos: list[bytes], rounds: int = 3) -> dict:
    """The command's time per file on a folder of the photos, beside Pillow's grey decode of the same
    files, each the fastest of ``rounds`` (interleaved, so that a busy spell hits both)."""
    with tempfile.TemporaryDirectory() as tmp:
        files = [Path(tmp) / f"photo_{i:04d}.jpg" for i in range(len(photos))]
        for f, data in zip(files, photos):
            f.write_bytes(data)
        classify_command(Path(tmp))  # warm: the model, the page's caches, the files in the OS cache
        best = {"classify": np.inf, "pillow": np.inf}
        for _ in range(rounds):
            t0 = time.perf_counter()
            lines = classify_command(Path(tmp))
            best["classify"] = min(best["classify"], time.perf_counter() - t0)
            t0 = time.perf_counter()
            pillow_gray(files)
            best["pillow"] = min(best["pillow"], time.perf_counter() - t0)
    n = len(photos)
    return {"n": n, "classify_ms": best["classify"] * 1000 / n, "pillow_gray_ms": best["pillow"] * 1000 / n,
            "ratio": best["classify"] / best["pillow"], "answers": [line.get("digit") for line in lines]}


def classify_memory(inputs: dict[str, list[bytes]], model: Path) -> dict:
    """Peak resident memory of `digitlite classify` on the photos and phone photos, in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("photo", "phone"):
            for i, data in enumerate(inputs[kind]):
                (Path(tmp) / f"{kind}_{i:03d}.jpg").write_bytes(data)
        return probe(Path(tmp), model)


def markdown(result: dict) -> str:
    """The README table."""
    names = {"photo": f"640×480 JPEG photo, sensor noise σ {SENSOR_NOISE:g} → digit (`Classifier.classify`, as `classify`)",
             "phone": "4000×3000 JPEG phone photo → digit (`Classifier.classify`, as `classify`)",
             "canvas": "280×280 PNG drawing → digit (the server's decode + predict)"}
    rows = ["| path, 1 thread | inputs | p50 | p99 | target (p50) | right |", "|---|---|---|---|---|---|"]
    for key, name in names.items():
        r = result["paths"][key]
        mark = "✅" if r["p50_ms"] <= TARGETS_MS[key] else "❌"
        right = sum(a == label for a, label in zip(r["answers"], result["labels"][key]))
        rows.append(f"| {name} | {r['n']} | **{r['p50_ms']:.2f} ms** | {r['p99_ms']:.2f} ms | "
                    f"≤ {TARGETS_MS[key]:g} ms {mark} | {right}/{r['n']} |")
    if "seven views" in result["paths"]:
        seven, one = result["paths"]["seven views"], result["paths"]["one view"]
        rows += ["", "| the photos' 28×28 inputs → probabilities, 1 thread | p50 | p99 |", "|---|---|---|",
                 f"| seven views, pooled (a digit, as `classify` reads it) | **{seven['p50_ms'] * 1000:.0f} µs** | "
                 f"{seven['p99_ms'] * 1000:.0f} µs |",
                 f"| one view (a number's candidate) | **{one['p50_ms'] * 1000:.0f} µs** | {one['p99_ms'] * 1000:.0f} µs |"]
    folder = result.get("folder")
    if folder:
        mark = "✅" if folder["ratio"] <= FOLDER_RATIO else "❌"
        right = sum(a == label for a, label in zip(folder["answers"], result["labels"]["photo"] * len(folder["answers"])))
        rows += ["", "| `digitlite classify FOLDER --json --threads 1`, the same photos | files | per file | Pillow's grey "
                     "decode of the same files | ratio | target | right |", "|---|---|---|---|---|---|---|",
                 f"| 640×480 JPEGs, sensor noise σ {SENSOR_NOISE:g} | {folder['n']} | **{folder['classify_ms']:.2f} ms** | "
                 f"{folder['pillow_gray_ms']:.2f} ms | **{folder['ratio']:.2f}×** | ≤ {FOLDER_RATIO:g}× {mark} | "
                 f"{right}/{folder['n']} |"]
    m, mem = result["machine"], result.get("classify_memory", {})
    peak = f"; peak resident memory of `digitlite classify` on these photos: {mem['peak_mb']:.0f} MB" \
        if "peak_mb" in mem else ""
    rows += ["", "The folder row runs the command itself in this process (start-up excluded, the JSON lines included) "
             "and Pillow's decode to grey at full size of the same files, each the fastest of 3 interleaved rounds. "
             f"The other rows: from the input's bytes to the probabilities, decode included; each input's fastest of 3 rounds, "
             f"median and 99th percentile over the inputs; OpenCV not loaded (the plain install's path){peak}. "
             f"Model `{result['model']}`, on {m['cpu']} ({m['cores']} cores), Python {m['python']}. "
             "By `python -m digitlite.benchmarks.speed`."]
    return "\n".join(rows)


def main(argv=None) -> int:
    """Make the inputs, time each path, print (and publish) the table."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.speed", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="the .tflite model (default: the shipped int8 model)")
    p.add_argument("--images", type=int, default=60, help="photos and drawings of each kind (phone photos: a tenth)")
    p.add_argument("--folder", type=int, default=300, help="photos in the folder `digitlite classify` reads (the "
                                                          "photos repeated)")
    p.add_argument("--update-readme", action=UpdateReadme)
    args = p.parse_args(argv)
    if "cv2" in sys.modules:
        raise SystemExit("benchmarks.speed measures the plain install's path: run it where OpenCV is not loaded")
    model = Path(args.model) if args.model else default_model()
    inputs = make_inputs(args.images)
    labels = {"photo": [k % 10 for k in range(len(inputs["photo"]))],
              "phone": [k % 10 for k in range(len(inputs["phone"]))],
              "canvas": [k % 10 for k in range(len(inputs["canvas"]))]}
    classifier = Classifier(model, threads=1)
    result = {"model": model.name, "paths": measure(classifier, inputs), "labels": labels,
              "folder": time_folder(inputs["photo"] * max(1, args.folder // len(inputs["photo"]))),
              "machine": machine()}
    result["classify_memory"] = classify_memory(inputs, model)
    publish("speed", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
