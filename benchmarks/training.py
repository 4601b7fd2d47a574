"""Training benchmark: train each architecture with the real `digitlite train` command and tabulate.

    python -m digitlite.benchmarks.training                       # default and baseline, full runs
    python -m digitlite.benchmarks.training --update-readme       # and rewrite the README's table

Each run is a subprocess of the same command a user types, so the wall time is the
user's wall time (TensorFlow start-up and data loading included).  Results go to
benchmarks/results/training.json and training.md; the README's table is generated
from them, between the markers <!-- training-results:begin/end -->.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from digitlite.benchmarks.common import RESULTS, UpdateReadme, machine, run_main
from digitlite.benchmarks.publish import publish

MARKERS = ("<!-- training-results:begin -->", "<!-- training-results:end -->")


def train_once(arch: str, out: Path, extra: list[str]) -> dict:
    """Run `digitlite train --arch ARCH` in a subprocess; return its report plus the measured wall time."""
    cmd = [sys.executable, "-m", "digitlite", "train", "--arch", arch, "--out", str(out), "--json", *extra]
    print("$ " + " ".join(["digitlite", *cmd[3:]]), file=sys.stderr, flush=True)
    started = time.perf_counter()
    result = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"benchmarks.training: `digitlite train --arch {arch}` failed (exit {result.returncode})")
    summary = json.loads(result.stdout)
    metrics = json.loads((Path(summary["report"]) / "metrics.json").read_text())
    return {
        "arch": arch,
        "command": "digitlite " + " ".join(cmd[3:]),
        "test_accuracy": metrics["test_accuracy"],
        "test_errors": metrics["test"]["errors"],
        "test_loss": metrics["test_loss"],
        "parameters": metrics["parameters"],
        "macs_per_image": metrics["macs_per_image"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "fit_seconds": metrics["wall_time_seconds"],
        "command_wall_seconds": round(wall, 1),
        "model": summary["model"],
        "model_sha256": metrics["model_sha256"],
        "versions": metrics["versions"],
    }


def markdown(results: dict) -> str:
    """The README table for these results."""
    rows = [
        "| architecture | test accuracy | errors /10,000 | parameters | MACs / image | epochs | training wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results["runs"]:
        rows.append(
            f"| `{r['arch']}` | {r['test_accuracy'] * 100:.2f}% | {r['test_errors']} | {r['parameters']:,} | "
            f"{r['macs_per_image']:,} | {r['epochs_run']} | {r['command_wall_seconds'] / 60:.1f} min |"
        )
    m = results["machine"]
    rows.append("")
    rows.append(f"Measured {results['date']} on {m['cpu']} ({m['cores']} cores), Python {m['python']}, "
                f"TensorFlow {results['runs'][0]['versions']['tensorflow']}, by `python -m digitlite.benchmarks.training`; "
                "wall time is the whole `digitlite train` command. Raw figures: "
                "[`benchmarks/results/training.json`](../benchmarks/results/training.json).")
    return "\n".join(rows)


def main(argv=None) -> int:
    """Command line of the training benchmark."""
    p = argparse.ArgumentParser(prog="python -m digitlite.benchmarks.training", description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", action="append", help="architecture to train (repeatable; default: digitnet and baseline)")
    p.add_argument("--out", default="models", help="where the trained models go (default: models/)")
    p.add_argument("--results", default=str(RESULTS), help="folder for training.json and training.md")
    p.add_argument("--update-readme", action=UpdateReadme, help="rewrite the README's training table")
    p.add_argument("train_args", nargs=argparse.REMAINDER, help="extra options for digitlite train, after --")
    args = p.parse_args(argv)
    extra = [a for a in args.train_args if a != "--"]
    runs = [train_once(arch, Path(args.out), extra) for arch in (args.arch or ["digitnet", "baseline"])]
    results = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "runs": runs}
    publish("training", results, markdown(results), MARKERS, args.update_readme, args.results)
    return 0


if __name__ == "__main__":
    sys.exit(run_main(main))
