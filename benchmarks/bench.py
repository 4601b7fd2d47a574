"""Inference benchmark: latency, throughput, memory, size and accuracy of .tflite models.

For every model x every interpreter present x each thread count it measures, with the
vocabulary of LiteRT's benchmark_model:

* load: model load + tensor allocation time;
* call: single-image latency of the interpreter call alone (``invoke``), warm-up runs
  excluded, min/mean/p50/p90/p99 over ``runs`` calls;
* end-to-end: per image from a PNG file (decode + preprocess + call + probabilities);
* throughput: images per second for each batch size (median of repeated calls);
* peak memory: resident set of a fresh process that loads the runtime and the model and
  runs inference (benchmarks.memprobe), so this benchmark's own imports do not count;
* size on disk and accuracy on the 10,000 MNIST test images.

Only the edge runtime is needed, so it runs on a Raspberry Pi as it does here.
"""

from __future__ import annotations

import io
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from digitlite.benchmarks.common import machine
from digitlite.edge.data.mnist import Mnist, load_mnist
from digitlite.edge.runtime.card import CardError, ModelCard
from digitlite.edge.runtime.interpreter import Model, interpreter_class
from digitlite.edge.runtime.shipped import sample_digit
from digitlite.edge.settings import RUNTIMES
from digitlite.edge.util import atomic
from digitlite.edge.util.errors import DigitliteError
from digitlite.edge.vision.inputs import digit_input

WARMUP = 50
STATUS = {"passed": "✅", "failed": "❌"}


@dataclass
class BenchConfig:
    """What to measure; defaults are the full table."""

    models: list[str]
    runtimes: list[str] = field(default_factory=lambda: ["all"])
    threads: list[int] = field(default_factory=lambda: [1, os.cpu_count() or 1])
    batches: list[int] = field(default_factory=lambda: [1, 8, 64])
    runs: int = 1000
    min_seconds: float = 1.0
    accuracy: bool = True
    memory: bool = True
    data_dir: str | None = None


def percentiles(samples: list[float]) -> dict:
    """min, mean, std, p50, p90, p99 and max of timings in seconds, as microseconds.

    Percentiles use linear interpolation between closest ranks (numpy's default).
    """
    if not samples:
        raise ValueError("no timings")
    us = np.asarray(samples, dtype=np.float64) * 1e6
    p50, p90, p99 = np.percentile(us, [50, 90, 99])
    return {"n": int(len(us)), "min_us": float(us.min()), "mean_us": float(us.mean()), "std_us": float(us.std()),
            "p50_us": float(p50), "p90_us": float(p90), "p99_us": float(p99), "max_us": float(us.max())}


def throughput(batch: int, seconds_per_call: float) -> float:
    """Images per second when one call handles ``batch`` images in ``seconds_per_call``."""
    if seconds_per_call <= 0:
        raise ValueError("a call cannot take no time")
    return batch / seconds_per_call


def available_runtimes(wanted: list[str]) -> list[str]:
    """The interpreters installed here, among ``wanted`` ('all' for every known one)."""
    names = RUNTIMES if "all" in wanted else wanted
    found = []
    for name in names:
        try:
            interpreter_class(name)
        except DigitliteError:
            continue
        found.append(name)
    return found


def _sample_set(count: int = 256) -> Mnist:
    """Without the accuracy run no MNIST file is needed: the timed inputs are the shipped sample digit."""
    pixels, label = sample_digit()
    empty = np.zeros((0, 28, 28), np.uint8)
    return Mnist(empty, np.zeros(0, np.uint8), np.repeat(pixels[None], count, 0), np.full(count, label, np.uint8))


def sample_png(image: np.ndarray, size: int = 280) -> bytes:
    """A digit as a user would hand it over: a 280x280 PNG, dark ink on white."""
    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((size, size), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def time_end_to_end(clf: Model, png: bytes, runs: int) -> list[float]:
    """Seconds per image from PNG bytes to probabilities (decode, preprocess, call), as ``Classifier.classify``
    reads an image."""

    for _ in range(10):
        clf.predict_proba(digit_input(png)[None])
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        clf.predict_proba(digit_input(png)[None])
        timings.append(time.perf_counter() - t0)
    return timings


def peak_memory(model: str, runtime: str, threads: int) -> dict:
    """Run benchmarks.memprobe in a fresh process; its JSON report."""
    cmd = [sys.executable, "-m", "digitlite.benchmarks.memprobe", model, "--runtime", runtime, "--threads", str(threads)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def _card(model: Path) -> ModelCard | None:
    try:
        return ModelCard.of(model, required=False)
    except CardError:
        return None  # a model without a usable card is still measured


def bench_one(model: Path, runtime: str, threads: int, config: BenchConfig, test, png: bytes, progress) -> dict:
    """Every measurement for one model, interpreter and thread count."""
    card = _card(model)
    row = {"model": model.name, "variant": card.variant if card else model.stem.rsplit("_", 1)[-1],
           "runtime": runtime, "threads": threads, "size_bytes": model.stat().st_size,
           "macs_per_image": card.macs_per_image if card else None}
    try:
        t0 = time.perf_counter()
        clf = Model(model, runtime=runtime, threads=threads)
        row["load_ms"] = (time.perf_counter() - t0) * 1e3
        one = clf.to_input(test.test_images[:1])
        row["call"] = percentiles(clf.time_calls(one, config.runs, config.min_seconds, warmup=WARMUP))
        progress()
        row["throughput"] = {}
        measured = {}
        for b in config.batches:
            n = clf.fixed_batch or b  # a fixed-batch model makes b / n calls of n images
            if n not in measured:
                batch = clf.to_input(test.test_images[:n])
                calls = clf.time_calls(batch, max(20, config.runs // n), config.min_seconds / 2, warmup=5)
                measured[n] = throughput(n, float(np.median(calls)))
            row["throughput"][str(b)] = measured[n]
        progress()
        row["end_to_end"] = percentiles(time_end_to_end(clf, png, max(50, config.runs // 10)))
        if config.accuracy:
            probs = clf.predict_proba(test.test_images)
            row["accuracy"] = float(np.mean(probs.argmax(axis=1) == test.test_labels))
        if config.memory:
            row["memory"] = peak_memory(str(model), runtime, threads)
        row["status"] = "passed"
    except DigitliteError as e:
        row["status"], row["error"] = "failed", str(e)
    progress()
    return row


def versions() -> dict:
    """Versions of the packages that matter here."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for dist in ("digitlite", "ai-edge-litert", "tflite-runtime", "tensorflow", "pillow"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def run(config: BenchConfig, stream=sys.stderr) -> dict:
    """Benchmark every combination; return the results with the machine they ran on."""
    models = [Path(m) for m in config.models]
    for m in models:
        if not m.is_file():
            raise DigitliteError(f"{m}: no such model file")
    runtimes = available_runtimes(config.runtimes)
    if not runtimes:
        raise DigitliteError("no TFLite interpreter installed: pip install ai-edge-litert")
    threads = sorted(set(config.threads))
    if any(t < 1 for t in threads) or any(b < 1 for b in config.batches) or config.runs < 1:
        raise DigitliteError("--threads, --batches and --runs take whole numbers of at least 1")
    test = load_mnist(config.data_dir, test_only=True) if config.accuracy else _sample_set()
    png = sample_png(test.test_images[0])
    combos = [(m, r, t) for m in models for r in runtimes for t in threads]
    total, done = len(combos) * 3, [0]
    live = hasattr(stream, "isatty") and stream.isatty()  # a bar redrawn in place; in a log, one line a step

    def progress():
        done[0] += 1
        width = 30
        filled = width * done[0] // total
        bar = f"benchmarking [{'#' * filled}{'.' * (width - filled)}] {done[0]}/{total}"
        print(f"\r{bar}" if live else bar, end="" if live else "\n", file=stream, flush=True)

    rows = [bench_one(m, r, t, config, test, png, progress) for m, r, t in combos]
    if live:
        print(file=stream)
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": machine(), "versions": versions(),
            "settings": {"runs": config.runs, "min_seconds": config.min_seconds, "warmup": WARMUP,
                         "batches": config.batches}, "rows": rows}


def table(results: dict, markdown: bool = False) -> str:
    """One row per model x runtime x threads, like Ultralytics' benchmark table."""
    head = ["Model", "Runtime", "Threads", "Status", "Size (KB)", "Accuracy", "Call p50 (µs)", "Call p99 (µs)",
            "End-to-end p50 (ms)", *[f"Batch {b} (img/s)" for b in results["settings"]["batches"]], "Peak RSS (MB)"]
    lines = []
    for r in results["rows"]:
        if r["status"] != "passed":
            cells = [r["model"], r["runtime"], str(r["threads"]), STATUS["failed"] + " " + r.get("error", "")]
            cells += [""] * (len(head) - len(cells))
        else:
            mem = r.get("memory", {})
            cells = [r["model"], r["runtime"], str(r["threads"]), STATUS["passed"], f"{r['size_bytes'] / 1024:.1f}",
                     f"{r['accuracy'] * 100:.2f}%" if "accuracy" in r else "-",
                     f"{r['call']['p50_us']:.1f}", f"{r['call']['p99_us']:.1f}",
                     f"{r['end_to_end']['p50_us'] / 1000:.2f}",
                     *[f"{r['throughput'][str(b)]:,.0f}" for b in results["settings"]["batches"]],
                     f"{mem['peak_mb']:.1f}" if "peak_mb" in mem else "-"]
        lines.append(cells)
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c) + " |" for c in lines]
        m = results["machine"]
        out.append("")
        out.append(f"Measured {results['date']} on {m['cpu']} ({m['cores']} cores), {m['os']}; "
                   f"{results['settings']['runs']}+ timed calls after {results['settings']['warmup']} warm-up calls; "
                   "'call' is the interpreter's invoke alone, 'end-to-end' a 280x280 PNG to probabilities.")
        return "\n".join(out)
    widths = [max(len(h), *(len(c[i]) for c in lines)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*c) for c in lines])


def plot(results: dict, path: Path) -> None:
    """Latency and size against accuracy, one point per model (1 thread, first runtime)."""
    # optional: matplotlib, for --plot only
    import matplotlib

    matplotlib.use("Agg")  # no display: set before pyplot loads
    import matplotlib.pyplot as plt

    rows = [r for r in results["rows"] if r["status"] == "passed" and "accuracy" in r and r["threads"] == 1]
    seen, points = set(), []
    for r in rows:
        if r["model"] not in seen:
            seen.add(r["model"])
            points.append(r)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in points:
        axes[0].scatter(r["call"]["p50_us"], r["accuracy"] * 100)
        axes[0].annotate(r["model"], (r["call"]["p50_us"], r["accuracy"] * 100), fontsize=7)
        axes[1].scatter(r["size_bytes"] / 1024, r["accuracy"] * 100)
        axes[1].annotate(r["model"], (r["size_bytes"] / 1024, r["accuracy"] * 100), fontsize=7)
    axes[0].set_xlabel("interpreter call p50 (µs, 1 thread)")
    axes[1].set_xlabel("size on disk (KB)")
    axes[1].set_xscale("log")
    for ax in axes:
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
    fig.suptitle("accuracy against latency and size")
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    plt.close(fig)
