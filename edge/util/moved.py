"""The modules' old names, from before edge/ was split into subpackages by role (0.1 series).

``import digitlite.edge.preprocess`` (or any other old flat name) still works: it gives the module
under its new name's contents, with one DeprecationWarning naming where it lives now.  The old
``digitlite.edge.runtime`` is now a subpackage; its old names are handed on by its ``__init__``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "card": "runtime.card", "reading": "runtime.reading",
    "preprocess": "vision.preprocess", "lines": "vision.lines", "imageops": "vision.imageops",
    "classify": "apps.classify", "camera": "apps.camera", "serve": "apps.serve", "mqtt": "apps.mqtt",
    "readings_log": "apps.readings_log", "evaluate": "apps.evaluate",
    "mnist": "data.mnist", "metrics": "data.metrics",
    "export": "deploy.export", "browser": "deploy.web", "mcu": "deploy.mcu", "npm": "deploy.npm",
    "errors": "util.errors", "atomic": "util.atomic", "cache": "util.cache", "digest": "util.digest",
    "signals": "util.signals", "heap": "util.heap", "quiet": "util.quiet",
}
# names that left their module in the split, and where they are now
ALSO = {
    "classify": ("runtime.shipped",), "serve": ("runtime.shipped",), "browser": ("runtime.shipped",),
    "export": ("deploy.bundle", "deploy.pi"),
    "preprocess": ("vision.inputs", "vision.errors", "vision.decode", "vision.ink", "vision.mnist_input"),
}
PREFIX = "digitlite.edge."


def warn_moved(old: str, new: str) -> None:
    """The one-line warning for a name that moved."""
    warnings.warn(f"{old} has moved to {new}: import it from there (the old name goes in a later release)",
                  DeprecationWarning, stacklevel=3)


class OldNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``digitlite.edge.<old name>`` and loads it as a copy of the module's new name."""

    def find_spec(self, fullname, path=None, target=None):
        """A spec for an old name of MOVED; None for every other module."""
        if fullname.startswith(PREFIX) and fullname[len(PREFIX):] in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def exec_module(self, module) -> None:
        """Fill the old name's module with the new module's names."""
        old = module.__name__[len(PREFIX):]
        new = PREFIX + MOVED[old]
        warn_moved(module.__name__, new)
        for name in (*ALSO.get(old, ()), MOVED[old]):  # the module's own names last: they win
            target = importlib.import_module(PREFIX + name)
            module.__dict__.update({k: v for k, v in vars(target).items() if not k.startswith("__")})


def install() -> None:
    """Put the finder for the old names on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, OldNames) for f in sys.meta_path):
        sys.meta_path.append(OldNames())  # last: a real module of that name always wins
