"""digitlite: handwritten digit recognition for the edge.

The stages live in subpackages (``digitlite.edge``, ``digitlite.train``,
``digitlite.quantize``, ``digitlite.benchmarks``); the command line is ``digitlite``
(or ``python -m digitlite``).
"""

__version__ = "0.1.0"
