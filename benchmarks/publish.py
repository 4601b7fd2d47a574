"""Publish a benchmark's figures: its results file, its table in the README or docs/, and the
README's headline refreshed from the results (the headline quotes them).

Every benchmark command ends here; ``common`` below it holds the paths and the machine's description.
"""

from __future__ import annotations

from pathlib import Path

from digitlite.benchmarks import common, headline
from digitlite.edge.util import atomic


def publish(name: str, data, table: str, markers: tuple[str, str], readme: bool, results: Path | None = None) -> None:
    """Print the table; with ``readme``, publish it: ``results/<name>.json`` and ``<name>.md``
    written and the table pasted between ``markers``.  A run without ``readme`` leaves the
    repository's results folder alone, so that the figures the README quotes (its headline reads
    them) are always those of the run that pasted them; a results folder named elsewhere is
    always written."""
    folder = Path(results or common.RESULTS)
    if readme or folder.resolve() != common.RESULTS.resolve():
        atomic.write_json(folder / f"{name}.json", data)
        atomic.write_bytes(folder / f"{name}.md", (table + "\n").encode())
    print(table)
    if readme:
        update_readme(table, markers)


def update_readme(table: str, markers: tuple[str, str], readme: Path | None = None) -> None:
    """Replace the text between ``markers`` with ``table`` in the README or the docs/ page that
    holds them; then refresh the README's headline figures, which quote the results."""
    begin, end = markers
    pages = common.documents(readme)
    page = next((p for p in pages if p.is_file() and begin in p.read_text() and end in p.read_text()), None)
    if page is None:
        raise SystemExit(f"{pages[0]}: markers {begin} / {end} not found there nor in docs/")
    common.paste(page, table, markers)
    if markers != headline.MARKERS and headline.MARKERS[0] in pages[0].read_text():
        common.paste(pages[0], headline.markdown(common.RESULTS), headline.MARKERS)
