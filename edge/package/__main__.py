"""``python -m digitlite`` is the ``digitlite`` command."""

from digitlite.edge.cli import run

run()
