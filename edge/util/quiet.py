"""Keep native libraries' chatter off stdout and stderr.

TensorFlow 2.19+ logs through absl before logging is initialised, which
TF_CPP_MIN_LOG_LEVEL no longer silences (tensorflow/tensorflow#100442); the TFLite
converter prints the whole exported signature on stdout; TFLite interpreters announce
their delegates and FFmpeg prints its exceptions, all straight to the file descriptors.
Those lines would bury the tables and one-line errors this tool promises, so ``quiet``
points the descriptors at /dev/null around such calls.  Errors still surface as Python
exceptions.  Importing this module imports nothing heavy.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile


@contextlib.contextmanager
def _pointed_at(target: int, fds: tuple[int, ...]):
    """Point the file descriptors ``fds`` at ``target`` inside the block, then restore them."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    try:
        for fd in fds:
            os.dup2(target, fd)
        yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)


@contextlib.contextmanager
def quiet(stdout: bool = True):
    """Silence fd 2 (and fd 1 and ``sys.stdout`` when ``stdout``) inside the block."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    redirect = contextlib.redirect_stdout(io.StringIO()) if stdout else contextlib.nullcontext()
    try:
        with _pointed_at(devnull, (1, 2) if stdout else (2,)), redirect:
            yield
    finally:
        os.close(devnull)


def captured(call) -> str:
    """Run ``call`` with fds 1 and 2 written to a temp file; return what a native library printed."""
    with tempfile.TemporaryFile() as tmp:
        with _pointed_at(tmp.fileno(), (1, 2)):
            call()
        tmp.seek(0)
        return tmp.read().decode(errors="replace")


def import_tensorflow():
    """Return the ``tensorflow`` module, imported quietly and with its CPU device set up."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with quiet(stdout=False):
        # optional: TensorFlow, the [train] extra
        import tensorflow as tf

        tf.config.list_logical_devices("CPU")  # the device probe logs too (cuInit); do it now
    return tf
