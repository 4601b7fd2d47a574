"""The commands that produce the README's figures."""

import os

# The figures are for one thread: numpy's OpenBLAS would otherwise start its own (see edge/__init__.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
