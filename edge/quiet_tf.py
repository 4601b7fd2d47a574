"""Import TensorFlow without its C++ start-up chatter on stderr.

TensorFlow 2.19+ logs through absl before logging is initialised, which
TF_CPP_MIN_LOG_LEVEL no longer silences (tensorflow/tensorflow#100442).  Those lines
would bury the one-line errors this tool promises, so stderr's file descriptor points
at /dev/null for the import and device set-up only.  Importing this module imports
nothing heavy; call the function when TensorFlow is really needed.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def _stderr_silenced():
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow():
    """Return the ``tensorflow`` module, imported quietly and with its CPU device set up."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices("CPU")  # the device probe logs too (cuInit); do it now
    return tf
