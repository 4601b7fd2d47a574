"""``digitlite export --target pi|mcu|web OUT``: one entry over the three deployment targets.

Each target writes its folder in a temp folder beside ``OUT`` and renames it into place
(``bundle.export_folder``), so an interrupted export leaves no half-made bundle; an existing
non-empty ``OUT`` is replaced only with ``force``.
"""

from __future__ import annotations

import os
import warnings

from digitlite.edge.deploy.mcu import export_mcu
from digitlite.edge.deploy.pi import export_pi
from digitlite.edge.deploy.web import export_web
from digitlite.edge.runtime.shipped import model_path
from digitlite.edge.settings import TARGETS
from digitlite.edge.util.errors import DigitliteError


def export_bundle(out: str | os.PathLike, target: str = "pi", model: str | os.PathLike | None = None,
                  force: bool = False, data_dir: str | None = None, runtime_dir: str | None = None,
                  min_confidence: float = 0.0) -> dict:
    """Write the deployment folder for ``target`` into ``out``; return its manifest.

    ``data_dir`` is no longer used (the microcontroller example's digit ships with digitlite); ``runtime_dir`` a folder of
    LiteRT.js tarballs (web, offline), ``min_confidence`` the web page's floor.
    """
    if target not in TARGETS:
        raise DigitliteError(f"unknown target {target!r}; choose {', '.join(TARGETS)}")
    model = model_path(model) if model else None  # a shipped model may be named (micronet)
    if data_dir is not None:
        warnings.warn("export_bundle's data_dir is no longer used: the example digit ships with digitlite",
                      DeprecationWarning, stacklevel=2)
    if target == "mcu":
        return export_mcu(out, model, force)
    if target == "web":
        return export_web(out, model, force, runtime_dir, min_confidence)
    return export_pi(out, model, force)
