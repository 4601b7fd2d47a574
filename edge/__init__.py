"""digitlite's edge runtime: the MNIST reader, the TFLite runtime, preprocessing, classify, camera and server."""

import os

__version__ = "0.1.0"  # the one place the version is written: pyproject.toml and the package's face read it here

# Every matrix here is small (a 28x28 input, an image of 320 pixels): OpenBLAS's threads cost
# more than they save and spin on the other cores between calls (measured: the server's CPU per
# request 9.5 ms with them, 5.0 ms without).  Set before numpy loads; a program that loaded numpy
# first keeps its own setting.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from digitlite.edge.util import moved  # noqa: E402 - after the thread setting, which must precede numpy

moved.install()  # the modules' names from before the subpackages still import, with a warning
