"""What every benchmark shares: where results go, the machine they ran on, the README's tables."""

from __future__ import annotations

import os
import platform
from pathlib import Path

from edge import atomic

RESULTS = Path(__file__).resolve().parent / "results"
README = Path(__file__).resolve().parents[1] / "README.md"


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


def publish(name: str, data, table: str, markers: tuple[str, str], readme: bool, results: Path | None = None) -> None:
    """Write ``results/<name>.json`` and ``<name>.md``, print the table, and paste it into the
    README between ``markers`` when ``readme`` is true."""
    folder = Path(results or RESULTS)
    atomic.write_json(folder / f"{name}.json", data)
    atomic.write_bytes(folder / f"{name}.md", (table + "\n").encode())
    print(table)
    if readme:
        update_readme(table, markers)


def update_readme(table: str, markers: tuple[str, str], readme: Path | None = None) -> None:
    """Replace the text between ``markers`` in the README with ``table``."""
    readme = readme or README
    text = readme.read_text()
    begin, end = markers
    if begin not in text or end not in text:
        raise SystemExit(f"{readme}: markers {begin} / {end} not found")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    atomic.write_bytes(readme, (head + begin + "\n" + table + "\n" + end + tail).encode())
