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


def test_debug_shows_the_traceback_with_the_cause_the_message_hides(tmp_path):
    plain = run_cli("export", "/proc/no/such/folder")
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.strip() == "digitlite: error: /proc/no/such/folder: cannot write here (No such file or directory)"
    for debug in (run_cli("export", "/proc/no/such/folder", "--debug"),
                  run_cli("--debug", "export", "/proc/no/such/folder"),
                  run_cli("export", "/proc/no/such/folder", env={"DIGITLITE_DEBUG": "1"})):
        assert debug.returncode == 1 and "Traceback" in debug.stderr
        assert "FileNotFoundError" in debug.stderr  # the OSError behind the one-line message
        assert debug.stderr.strip().splitlines()[-1] == plain.stderr.strip()  # the same line, last


def test_an_unexpected_error_is_one_line_naming_it_a_bug(monkeypatch, capsys):
    from digitlite.edge import cli

    def broken(args):
        raise TypeError("unsupported operand")

    monkeypatch.setattr(cli, "_run_info", broken)
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("digitlite: error: unexpected TypeError (a bug: --debug")
    assert err[0].endswith("unsupported operand")
    assert cli.main(["info", "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_ctrl_c_exits_130_wherever_it_lands(monkeypatch, capsys):
    from digitlite.edge import cli

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "build_parser", interrupted)  # before any command runs
    assert cli.main(["classify", "x.png"]) == 130
    assert capsys.readouterr().err.strip() == "digitlite: interrupted"
    monkeypatch.setattr(cli, "main", interrupted)  # even while the first one is being reported
    with pytest.raises(SystemExit) as stopped:
        cli.run()
    assert stopped.value.code == 130


class _FakeEntryPoint:
    def __init__(self, name, error):
        self.name, self.error = name, error

    def load(self):
        raise self.error


@pytest.mark.parametrize("error, fragment", [
    (ModuleNotFoundError("No module named 'digitlite.train'", name="digitlite.train"),
     "'train' is not available in this install (pip install 'digitlite[train]'"),
    (ImportError("numpy.core.multiarray failed to import"),
     "'train' could not be loaded: ImportError: numpy.core.multiarray failed to import"),
])
def test_a_stage_that_cannot_load_says_why(monkeypatch, capsys, error, fragment):
    from digitlite.edge import cli

    monkeypatch.setattr(cli, "_stage_entry_points", lambda: {"train": _FakeEntryPoint("train", error)})
    assert cli.main(["train", "--epochs", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err
    listing = cli.build_parser()
    assert "train" in listing.format_help()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """``python -m build`` (no isolation: no network) on a copy of the checkout: (wheel, sdist)."""
    import shutil
    import subprocess
    import sys

    from conftest import REPO

    src = tmp_path_factory.mktemp("src") / "digitlite"
    shutil.copytree(REPO, src, ignore=shutil.ignore_patterns(
        ".git", ".venv*", ".wheels*", ".npm", ".pi-work", "__pycache__", "build", "dist", "*.egg-info", ".ruff_cache"))
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return next(out.glob("*.whl")), next(out.glob("*.tar.gz"))


def test_build_makes_a_wheel_and_an_sdist_that_twine_accepts(built):
    import subprocess
    import sys
    import tarfile
    import zipfile

    import digitlite

    wheel, sdist = built
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert wheel.name == f"digitlite-{digitlite.__version__}-py3-none-any.whl"  # the version, from one place
    shipped = {"edge/models/digits_int8.tflite", "edge/models/digits_int8.json", "edge/models/digits_int8_b1.tflite",
               "edge/models/digits_int8_b1.json", "edge/web/index.html", "edge/web/app.js", "edge/web/pad.js",
               "edge/web/local.js", "edge/web/preprocess.js", "edge/web/sw.js", "edge/web/style.css"}
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert {n.split("/")[0] for n in names} == {"digitlite", f"digitlite-{digitlite.__version__}.dist-info"}
    assert {f"digitlite/{s}" for s in shipped} <= set(names) and "digitlite/py.typed" in names
    assert not [n for n in names if "/tests/" in n or n.split("/")[-1].startswith("test_") or "/package/" in n]
    # LiteRT.js is fetched by the web export, never packed: the browser page costs the wheel its few scripts
    assert not [n for n in names if n.endswith(".wasm") or "litert" in n.lower()], names
    with zipfile.ZipFile(wheel) as zf:
        web = sum(zf.getinfo(n).compress_size for n in names if "/edge/web/" in n
                  or n.endswith(("/edge/deploy/web.py", "/edge/deploy/npm.py")))
    assert web < 40_000, web  # the page's scripts; its batch-1 model is the model's own size
    with tarfile.open(sdist) as tf:
        members = [m.split("/", 1)[1] for m in tf.getnames() if "/" in m]
    assert shipped <= set(members) and "pyproject.toml" in members and "README.md" in members
    assert not [m for m in members if m.startswith("tests/") or "/test_" in m], members


def test_the_installed_wheel_neither_reads_nor_writes_the_readme(built, tmp_path):
    import os
    import subprocess
    import sys

    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                          str(built[0])], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    work = tmp_path / "work"
    work.mkdir()
    for name in STAGES:  # the user's own modules beside them, as in the issue
        (work / f"{name}.py").write_text("raise SystemExit('the user module was imported')\n")
    env = {**os.environ, "PYTHONPATH": str(site)}
    where = subprocess.run([sys.executable, "-m", "digitlite", "--version"], cwd=work, env=env,
                           capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    bench = subprocess.run([sys.executable, "-m", "digitlite", "bench", "--update-readme", "--runs", "5"],
                           cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert bench.returncode == 2 and "Traceback" not in bench.stderr
    assert bench.stderr.strip().splitlines()[-1].endswith(
        "--update-readme publishes into a digitlite source checkout (README.md, docs/, benchmarks/results/) and "
        "this is an installed copy: run it from a checkout (pip install -e .), or keep the figures with --json")
    written = [p for p in site.rglob("*") if p.name.endswith(".md") or p.name == "results"]
    assert written == [], written  # nothing written beside the installed package
