"""Ctrl-C and SIGTERM, the same way in every command.

``kill``, ``systemctl stop`` and ``timeout`` send SIGTERM, whose default ends Python on the
spot: no temp file removed, no camera released.  ``sigterm_as_ctrl_c`` makes it a Ctrl-C.
Around TensorFlow's C++ work (training steps, the converter, which calls back into
Python), a KeyboardInterrupt raised from a handler can break TensorFlow or be swallowed by
it; ``signals_to`` routes both signals to a callable instead, so the caller can act on them
between steps or when the call returns.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Callable, Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def sigterm_as_ctrl_c() -> None:
    """Raise KeyboardInterrupt on SIGTERM, as on Ctrl-C (main thread only; elsewhere a no-op)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (main() called from a test's thread)
        pass


@contextlib.contextmanager
def signals_to(handler: Callable) -> Iterator[None]:
    """Route SIGINT and SIGTERM to ``handler(signum, frame)`` inside the block, then restore.

    A signal the process was started with ignored (nohup and friends) stays ignored; outside
    the main thread nothing is changed.
    """
    try:
        previous = {sig: signal.signal(sig, handler) for sig in SIGNALS
                    if signal.getsignal(sig) is not signal.SIG_IGN}
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
