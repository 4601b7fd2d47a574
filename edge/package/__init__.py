"""digitlite: handwritten digit recognition for the edge.

The Python API::

    from digitlite import Classifier

    clf = Classifier()                    # the shipped int8 model, whichever TFLite interpreter is installed
    reading = clf.classify("digit.jpg")   # a path, bytes, a PIL image or a numpy array
    reading.digit, reading.confidence, reading.probabilities
    clf.read_number("number.png").number  # several digits, left to right, with their boxes

Every bad input or model is a ``DigitliteError`` (one line).  The stages live in
subpackages (``digitlite.edge``, ``digitlite.train``, ``digitlite.quantize``,
``digitlite.benchmarks``); the command line is ``digitlite`` (or ``python -m digitlite``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digitlite.edge import (
    __version__,  # written once, in edge/__init__.py (pyproject.toml reads it there)
)

__all__ = ["Classifier", "DigitliteError", "ImageError", "NumberReading", "Reading", "__version__"]

if TYPE_CHECKING:
    from digitlite.edge.api import (
        Classifier,
        DigitliteError,
        ImageError,
        NumberReading,
        Reading,
    )


def __dir__() -> list[str]:
    # the API's names are loaded lazily (below): list them as if they were here
    return sorted({*globals(), *__all__})


def __getattr__(name: str):
    # The API loads numpy, Pillow and the preprocessing: only when asked for, so that the
    # command line (which imports this package first) starts fast.
    if name in __all__:
        # lazy: the command line imports this package first and must start fast
        from digitlite.edge import api

        return getattr(api, name)
    raise AttributeError(f"module 'digitlite' has no attribute {name!r}")
