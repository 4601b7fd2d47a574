"""Camera pipeline speed: frames per second for decode + find digits + preprocess + infer.

    python -m benchmarks.camera [--frames 600] [--model M.tflite] [--update-readme]

A 640x480 MJPG video with one handwritten digit moving over lit paper is written first,
then read back through the same FrameReader as `digitlite camera --headless` (no window):
the figure includes video decoding, as a webcam's MJPG stream would.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.bench import percentiles
from benchmarks.common import machine, publish

MARKERS = ("<!-- camera-results:begin -->", "<!-- camera-results:end -->")


def make_video(path: Path, digit: np.ndarray, frames: int = 120, size=(480, 640)) -> Path:
    """An MJPG video: ``digit`` (28x28, white on black) drawn in dark ink, sliding across lit paper."""
    import cv2
    from PIL import Image

    h, w = size
    rng = np.random.default_rng(0)
    big = np.asarray(Image.fromarray(digit).resize((200, 200), Image.BICUBIC), np.float32)
    light = np.linspace(0.75, 1.0, w)[None, :] * np.linspace(0.9, 1.0, h)[:, None]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    for i in range(frames):
        page = np.full(size, 215.0, np.float32)
        x = 40 + (i * 5) % (w - 280)
        page[140:340, x:x + 200] -= big * 0.75
        page = np.clip(page * light + rng.normal(0, 4, size), 0, 255).astype(np.uint8)
        writer.write(cv2.cvtColor(page, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def measure(video: Path, classifier, frames: int) -> dict:
    """Read ``frames`` frames (looping over the file) through FrameReader; FPS and per-frame timings."""
    import cv2

    from edge.camera import FrameReader

    reader = FrameReader(classifier)
    cap = cv2.VideoCapture(str(video))
    decode, process, answers = [], [], []
    started = time.perf_counter()
    while len(process) < frames:
        t0 = time.perf_counter()
        ok, frame = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            continue
        t1 = time.perf_counter()
        result = reader.read(frame, len(process))
        t2 = time.perf_counter()
        decode.append(t1 - t0)
        process.append(t2 - t1)
        answers.append(result.as_dict()["number"])
    total = time.perf_counter() - started
    cap.release()
    return {"frames": frames, "fps": frames / total, "decode": percentiles(decode), "find_preprocess_infer": percentiles(process),
            "answers": {k: answers.count(k) for k in sorted(set(answers))}}


def markdown(result: dict) -> str:
    """The README lines for the camera figure."""
    d, p = result["decode"], result["find_preprocess_infer"]
    m = result["machine"]
    return (f"| pipeline, 640×480, one digit in view | frames/s | decode p50 | find + preprocess + infer p50 (p99) |\n"
            f"|---|---|---|---|\n"
            f"| `{result['model']}`, 1 thread | **{result['fps']:.0f}** | {d['p50_us'] / 1000:.2f} ms | "
            f"{p['p50_us'] / 1000:.2f} ms ({p['p99_us'] / 1000:.2f} ms) |\n\n"
            f"{result['frames']} frames of a 640×480 MJPG video through the same code as `digitlite camera --headless`, "
            f"on {m['cpu']} ({m['cores']} cores); answers: {result['answers']} (the digit is a "
            f"{result['digit']}). By `python -m benchmarks.camera`.")


def main(argv=None) -> int:
    """Write the video, measure, print the figure."""
    from edge.classify import default_model
    from edge.mnist import load_mnist
    from edge.runtime import Classifier

    p = argparse.ArgumentParser(prog="python -m benchmarks.camera", description=__doc__.split("\n\n")[0])
    p.add_argument("--model", help="the .tflite model (default: the shipped int8 model)")
    p.add_argument("--frames", type=int, default=600)
    p.add_argument("--data-dir", default="")
    p.add_argument("--update-readme", action="store_true")
    args = p.parse_args(argv)
    mnist = load_mnist(args.data_dir or None)
    model = Path(args.model) if args.model else default_model()
    with tempfile.TemporaryDirectory() as tmp:
        video = make_video(Path(tmp) / "digit.avi", mnist.test_images[0])
        result = measure(video, Classifier(model, threads=1), args.frames)
    result.update({"model": model.name, "digit": int(mnist.test_labels[0]), "machine": machine()})
    publish("camera", result, markdown(result), MARKERS, args.update_readme)
    return 0


if __name__ == "__main__":
    sys.exit(main())
