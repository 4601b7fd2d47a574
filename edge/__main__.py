"""``python -m edge`` is the ``digitlite`` command."""

from edge.cli import run

run()
