"""One import name: digitlite.  Nothing generic lands beside the user's own modules."""

from __future__ import annotations

import pytest
from conftest import run_cli

pytestmark = pytest.mark.edge

STAGES = ("edge", "train", "quantize", "benchmarks")


def test_a_users_own_modules_named_like_the_stages_change_nothing(tmp_path):
    # a folder holding the user's train.py (and friends): each would break digitlite if it were imported
    for name in STAGES:
        (tmp_path / f"{name}.py").write_text("raise SystemExit('the user module was imported')\n")
    listing = run_cli("--help", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    for command in ("classify", "train", "quantize", "bench"):
        assert command in listing.stdout
    train = run_cli("train", "--help", cwd=tmp_path)
    assert train.returncode == 0 and "--epochs" in train.stdout, train.stderr


def test_the_package_is_digitlite_and_the_stages_are_its_subpackages():
    import digitlite
    from digitlite.edge import cli

    assert cli.__name__ == "digitlite.edge.cli" and digitlite.__version__
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"digitlite {digitlite.__version__}"
