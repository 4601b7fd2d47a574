"""``digitlite bench``: benchmark inference speed, memory, size and accuracy on this device.

Light on purpose: the ``digitlite`` command loads it to list the options.
"""

from __future__ import annotations

import argparse
import sys

from digitlite.benchmarks.common import UpdateReadme
from digitlite.benchmarks.publish import update_readme
from digitlite.edge.settings import RUNTIMES, DefaultsFormatter
from digitlite.edge.util.errors import DigitliteError

MARKERS = ("<!-- bench-results:begin -->", "<!-- bench-results:end -->")


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def register(subparsers) -> None:
    """Add the ``bench`` subcommand (its defaults are BenchConfig's)."""
    # lazy: only when `digitlite` builds its full help or runs bench
    from digitlite.benchmarks.bench import BenchConfig

    DEFAULTS = BenchConfig(models=[])  # noqa: N806 - read-only, as the module constants elsewhere
    p = subparsers.add_parser(
        "bench", help="benchmark latency, throughput, memory, size and accuracy of .tflite models",
        description="For every model x installed interpreter x thread count: load time, interpreter-call "
                    "latency (p50/p90/p99, warm-up excluded), end-to-end latency from a PNG, batched "
                    "throughput, peak memory of a fresh process, size and MNIST test accuracy.",
        formatter_class=DefaultsFormatter,
    )
    p.add_argument("models", nargs="*", metavar="MODEL", help="the .tflite models, or shipped models by name "
                                                                "(default: the shipped int8 model)")
    p.add_argument("--model", dest="model_options", action="append", metavar="MODEL", default=[],
                   help="a model, as in the other commands (repeatable; added to those named above)")
    p.add_argument("--runtime", action="append", choices=("all", *RUNTIMES),
                   help="interpreters to measure (repeatable; default: all installed)")
    p.add_argument("--threads", type=_ints, default=DEFAULTS.threads, help="thread counts, e.g. 1,4")
    p.add_argument("--batches", type=_ints, default=DEFAULTS.batches, help="batch sizes for throughput")
    p.add_argument("--runs", type=int, default=DEFAULTS.runs, help="timed interpreter calls (at least this many, for at least --min-seconds)")
    p.add_argument("--min-seconds", type=float, default=DEFAULTS.min_seconds, help="least time spent timing each latency")
    p.add_argument("--no-accuracy", action="store_true", help="skip the 10,000-image accuracy run (then no MNIST "
                                                                 "file is needed: the timed digit ships with digitlite)")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocess")
    p.add_argument("--data-dir", default=None, help="folder holding the MNIST .gz files")
    p.add_argument("--json", metavar="FILE", help="write every figure as JSON to FILE")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--plot", metavar="FILE.png", help="write accuracy against latency and size as a PNG")
    p.add_argument("--update-readme", action=UpdateReadme, help="rewrite the README's inference table")
    p.set_defaults(handler=run)


def run(args) -> int:
    """Benchmark as the command line says and print the table."""
    # lazy: `digitlite` lists this command without loading the benchmark
    from digitlite.benchmarks.bench import BenchConfig, plot, table
    from digitlite.benchmarks.bench import run as bench
    from digitlite.edge.runtime.shipped import default_model, model_path
    from digitlite.edge.util import atomic

    if args.runs < 1 or args.min_seconds < 0:
        raise DigitliteError("--runs must be at least 1 and --min-seconds not negative")
    models = [str(model_path(m)) for m in [*args.models, *args.model_options]] or [str(default_model())]
    results = bench(BenchConfig(models=models, runtimes=args.runtime or ["all"], threads=args.threads,
                                batches=args.batches, runs=args.runs, min_seconds=args.min_seconds,
                                accuracy=not args.no_accuracy, memory=not args.no_memory, data_dir=args.data_dir))
    results["command"] = "digitlite " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["bench"] else "digitlite bench"
    if args.json:
        atomic.write_json(args.json, results)
    if args.plot:
        plot(results, args.plot)
    text = table(results, markdown=args.markdown or args.update_readme)
    print(text)
    if args.update_readme:
        update_readme(table(results, markdown=True), MARKERS)
    failed = [r for r in results["rows"] if r["status"] != "passed"]
    return 1 if failed else 0
