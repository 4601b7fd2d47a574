"""The user cache folder, where what is downloaded once is kept (MNIST, the browser runtime)."""

from __future__ import annotations

import os
from pathlib import Path


def user_cache(name: str) -> Path:
    """``$XDG_CACHE_HOME/digitlite/<name>``, default ``~/.cache/digitlite/<name>``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "digitlite" / name
