"""Peak memory of an inference process: run as its own process so nothing else is counted.

    python -m digitlite.benchmarks.memprobe MODEL.tflite [--runtime auto] [--threads N] [--images 1000]
    python -m digitlite.benchmarks.memprobe --classify FOLDER [--model MODEL.tflite]

Imports only the edge runtime, loads the model, classifies ``--images`` digits (or runs
`digitlite classify FOLDER`, output discarded) and prints JSON: resident set size (peak,
in MB) after start-up, after loading, and at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import sys

import numpy as np

from digitlite.benchmarks.common import run_main
from digitlite.edge.cli import main as digitlite
from digitlite.edge.runtime.interpreter import Model


def _peak_mb() -> float:
    # VmHWM belongs to this process's own address space.  ru_maxrss would not do: Linux
    # keeps it across fork and exec, so a child of a big parent reports the parent's peak.
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux, bytes on macOS
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main(argv=None) -> int:
    """Measure and print the peak resident memory of loading and running one model."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.memprobe")
    p.add_argument("model", nargs="?", help="the .tflite model (default: the shipped one)")
    p.add_argument("--classify", metavar="FOLDER", help="measure `digitlite classify FOLDER` instead")
    p.add_argument("--runtime", default="auto")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--images", type=int, default=1000)
    args = p.parse_args(argv)

    started = _peak_mb()
    if args.classify:
        cmd = ["classify", args.classify] + (["--model", args.model] if args.model else [])
        with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
            code = digitlite(cmd)
        print(json.dumps({"command": "digitlite " + " ".join(cmd), "exit_code": code, "start_mb": round(started, 1),
                          "peak_mb": round(_peak_mb(), 1)}))
        return 0
    if not args.model:
        p.error("a model is needed (or --classify FOLDER)")

    clf = Model(args.model, runtime=args.runtime, threads=args.threads)
    loaded = _peak_mb()
    rng = np.random.default_rng(0)
    for _ in range(max(1, args.images // 100)):
        clf.predict_proba(rng.integers(0, 256, (100, 28, 28), dtype=np.uint8))
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras"))
    print(json.dumps({"runtime": clf.runtime, "start_mb": round(started, 1), "loaded_mb": round(loaded, 1),
                      "peak_mb": round(_peak_mb(), 1), "tensorflow_loaded": bool(heavy)}))
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
