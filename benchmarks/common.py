"""What every benchmark shares: where results go, the machine they ran on, the README's tables."""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

from digitlite.edge.util import atomic
from digitlite.edge.util.errors import DigitliteError, first_line

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parents[1]  # the repository, when digitlite runs from a checkout
README = ROOT / "README.md"


def no_checkout() -> str | None:
    """Why the figures cannot be published here (an installed copy, not a source checkout), or None.

    Publishing writes the repository's README, docs/ and benchmarks/results/; an installed
    digitlite has none of them, and must never write beside itself in site-packages.
    """
    if (ROOT / "pyproject.toml").is_file() and README.is_file() and RESULTS.is_dir():
        return None
    return ("--update-readme publishes into a digitlite source checkout (README.md, docs/, benchmarks/results/) "
            "and this is an installed copy: run it from a checkout (pip install -e .), or keep the figures with --json")


class UpdateReadme(argparse.Action):
    """``--update-readme``: a flag that is refused at once (not after the run) where there is no checkout."""

    def __init__(self, option_strings, dest, help="publish: paste the table into the README or its docs/ page "
                 "and write benchmarks/results/"):
        super().__init__(option_strings, dest, nargs=0, default=False, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        if problem := no_checkout():
            parser.error(problem)
        setattr(namespace, self.dest, True)


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith(("model name", "hardware")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Where the figures were measured."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "os": platform.platform(),
            "python": platform.python_version()}


def documents(readme: Path | None = None) -> list[Path]:
    """The README and the pages of docs/ beside it: where the benchmarks' tables live."""
    readme = Path(readme or README)
    return [readme, *sorted((readme.parent / "docs").glob("*.md"))]


def paste(page: Path, table: str, markers: tuple[str, str]) -> None:
    """Replace the text between ``markers`` on ``page`` with ``table`` (written atomically)."""
    begin, end = markers
    head, rest = page.read_text().split(begin, 1)
    _, tail = rest.split(end, 1)
    atomic.write_bytes(page, (head + begin + "\n" + table + "\n" + end + tail).encode())


def run_main(main, argv=None) -> int:
    """A benchmark's ``main``, its bad input (no MNIST offline, a wrong model, a missing folder)
    answered in one line and exit 1, as `digitlite` answers it (``python -m <module>: error: ...``,
    as argparse names the command); a ``SystemExit`` passes through."""
    try:
        return main(argv)
    except DigitliteError as e:
        spec = getattr(sys.modules.get(main.__module__), "__spec__", None)  # run as __main__ by -m
        print(f"python -m {spec.name if spec else main.__module__}: error: {first_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
