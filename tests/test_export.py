"""`digitlite export --target pi`: the bundle, its wheel, its scripts, and every way it can be wrong."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, prepared, run_cli

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"
EXPECTED_FILES = {"README.txt", "SHA256SUMS", "bundle.json", "digitlite-camera.service.in", "install.sh", "run.sh",
                  "requirements.txt", "requirements-tflite-runtime.txt", "model/digits_int8.tflite",
                  "model/digits_int8.json"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "pi"
    result = run_cli("export", "--target", "pi", str(out))
    assert result.returncode == 0, result.stderr
    assert "copy it to the device and run ./install.sh" in result.stdout
    return out


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_bundle_holds_wheel_model_card_requirements_and_scripts(bundle):
    files = _files(bundle)
    wheels = [f for f in files if f.endswith(".whl")]
    assert len(wheels) == 1 and wheels[0].startswith("digitlite-")
    assert files - set(wheels) == EXPECTED_FILES
    assert (bundle / "model/digits_int8.tflite").read_bytes() == SHIPPED.read_bytes()
    assert json.loads((bundle / "model/digits_int8.json").read_text())["sha256"] == \
        hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    assert "ai-edge-litert" in (bundle / "requirements.txt").read_text()
    tfl = (bundle / "requirements-tflite-runtime.txt").read_text()
    assert "tflite-runtime==2.14.0" in tfl and "numpy>=1.23,<2" in tfl and "<4.11" in tfl
    for script in ("install.sh", "run.sh"):
        assert os.access(bundle / script, os.X_OK)
        assert subprocess.run(["sh", "-n", str(bundle / script)]).returncode == 0  # valid shell
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert manifest["target"] == "pi" and manifest["model"] == "model/digits_int8.tflite"
    assert set(manifest["files"]) == files - {"bundle.json", "SHA256SUMS"}
    check = subprocess.run(["sha256sum", "-c", "--quiet", "SHA256SUMS"], cwd=bundle, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    accuracy = json.loads((bundle / "model" / "digits_int8.json").read_text())["tflite_accuracy"]
    assert f"{accuracy * 100:.2f} %" in (bundle / "README.txt").read_text()  # from the card, not typed in


def test_the_wheel_is_the_builds_edge_part_with_valid_metadata(bundle):
    wheel = next(bundle.glob("*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        dist = wheel.name.rsplit("-", 3)[0] + ".dist-info"
        assert {n.rsplit("/", 1)[0] for n in names} == {
            "digitlite", "digitlite/edge", "digitlite/edge/models", "digitlite/edge/web", "digitlite/benchmarks", dist,
            *(f"digitlite/edge/{part}" for part in ("runtime", "vision", "apps", "deploy", "data", "util"))}
        assert {"digitlite/__init__.py", "digitlite/__main__.py", "digitlite/edge/cli.py",
                "digitlite/edge/models/digits_int8.tflite", "digitlite/edge/web/index.html"} <= set(names)
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/package/" in n]
        meta = zf.read(f"{dist}/METADATA").decode().split("\n\n")[0]  # the headers, not the README
        # the build's metadata (pyproject.toml's pins, once), less the extras of the dropped stages
        assert "Name: digitlite\n" in meta and "Requires-Dist: numpy>=1.23" in meta and "Provides-Extra: camera" in meta
        assert "tensorflow" not in meta.lower() and "pytest" not in meta.lower()
        import digitlite
        assert f"Version: {digitlite.__version__}\n" in meta
        entry_points = zf.read(f"{dist}/entry_points.txt").decode()
        assert "digitlite = digitlite.edge.cli:run" in entry_points
        assert "bench = digitlite.benchmarks.cli:register" in entry_points  # the device benchmark goes to the Pi
        assert "train" not in entry_points and "quantize" not in entry_points
        assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("digitlite/benchmarks/")) == [
            "__init__.py", "bench.py", "cli.py", "common.py", "headline.py", "memprobe.py", "publish.py"]
        for line in zf.read(f"{dist}/RECORD").decode().splitlines():  # every hash and size right
            name, digest, size = line.rsplit(",", 2)
            if name.endswith("RECORD"):
                continue
            data = zf.read(name)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            assert digest == f"sha256={expected}" and int(size) == len(data), name


def test_the_same_sources_give_the_same_wheel(bundle, tmp_path):
    from digitlite.edge.deploy.pi import build_edge_wheel

    again = build_edge_wheel(tmp_path)
    assert again.read_bytes() == next(bundle.glob("*.whl")).read_bytes()


def test_the_wheel_installs_and_runs_without_the_checkout(bundle, tmp_path, mnist_dir):
    target = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
                          str(next(bundle.glob("*.whl")))], capture_output=True, text=True)
    assert pip.returncode == 0, pip.stderr
    env = {"PYTHONPATH": str(target)}
    where = subprocess.run([sys.executable, "-c", "import digitlite.edge as e; print(e.__file__)"], cwd=tmp_path, env={
        **os.environ, **env}, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(target)), where  # the installed copy, not the repository
    result = run_cli("eval", str(bundle / "model/digits_int8.tflite"), "--samples", "300", "--json",
                     "--data-dir", str(mnist_dir), env=env,
                     cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["accuracy"] > 0.98
    # exported again from that installed copy (no checkout to build from): the same wheel
    again = run_cli("export", str(tmp_path / "again"), env=env, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    with zipfile.ZipFile(next(bundle.glob("*.whl"))) as first, \
            zipfile.ZipFile(next((tmp_path / "again").glob("*.whl"))) as second:
        assert {n: first.read(n) for n in first.namelist() if not n.endswith("RECORD")} == \
            {n: second.read(n) for n in second.namelist() if not n.endswith("RECORD")}


def test_export_a_trained_model_with_its_card(quantized, tmp_path):
    folder, _ = quantized
    out = tmp_path / "b"
    result = run_cli("export", str(out), "--model", str(folder / "digits_int8.tflite"))
    assert result.returncode == 0, result.stderr
    assert (out / "model/digits_int8.tflite").read_bytes() == (folder / "digits_int8.tflite").read_bytes()


@pytest.mark.parametrize("case, fragment", [
    ("missing model", "nothing.tflite: no such model file"),
    ("corrupt model", "bad.tflite: not a valid TFLite model"),
    ("no card", "digits_int8.json: the model card is missing"),
    ("card of another model", "does not match digits_int8.tflite: not this model's card"),
    ("broken card", "digits_int8.json: unreadable model card"),
])
def test_export_refuses_a_wrong_model(tmp_path, case, fragment):
    model = tmp_path / "digits_int8.tflite"
    shutil.copyfile(SHIPPED, model)
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    if case == "missing model":
        model = tmp_path / "nothing.tflite"
    elif case == "corrupt model":
        model = tmp_path / "bad.tflite"
        model.write_bytes(SHIPPED.read_bytes()[:5000])
    elif case == "card of another model":
        card["sha256"] = "0" * 64
    if case == "broken card":
        model.with_suffix(".json").write_text("{not json")
    elif case != "no card":
        model.with_suffix(".json").write_text(json.dumps(card))
    result = run_cli("export", str(tmp_path / "out"), "--model", str(model))
    assert_one_line_error(result, fragment)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]  # no half-made bundle


def test_export_keeps_a_folder_it_was_not_told_to_replace(bundle, tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert_one_line_error(run_cli("export", str(out)), "folder is not empty (use --force")
    assert (out / "mine.txt").read_text() == "keep me"
    assert run_cli("export", str(out), "--force").returncode == 0
    assert _files(out) == _files(bundle)
    (tmp_path / "file").write_text("x")
    assert_one_line_error(run_cli("export", str(tmp_path / "file")), "exists and is not a folder")
    other = run_cli("export", str(tmp_path / "z"), "--target", "zero")
    assert other.returncode == 2 and "invalid choice: 'zero'" in other.stderr and "Traceback" not in other.stderr


def test_an_export_that_fails_half_way_leaves_the_previous_bundle(bundle, tmp_path, monkeypatch):
    from digitlite.edge.deploy import export, pi

    out = tmp_path / "b"
    shutil.copytree(bundle, out)
    before = {f: (out / f).read_bytes() for f in _files(out)}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pi.shutil, "copyfile", disk_full)
    with pytest.raises(export.DigitliteError, match="No space left on device"):
        export.export_bundle(out, force=True)
    assert {f: (out / f).read_bytes() for f in _files(out)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # the temp folder is gone


# --- the scripts in the bundle ---

def _sh(bundle, script, *args, env=None):
    return subprocess.run(["sh", str(bundle / script), *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture
def copy(bundle, tmp_path):
    out = tmp_path / "bundle"
    shutil.copytree(bundle, out)
    return out


@pytest.mark.parametrize("damage, fragment", [
    (lambda b: next(b.glob("*.whl")).unlink(), "the bundle lacks digitlite-"),
    (lambda b: (b / "model/digits_int8.tflite").unlink(), "the bundle lacks model/digits_int8.tflite"),
    (lambda b: (b / "model/digits_int8.tflite").write_bytes(b"TFL3" * 10), "is damaged (sha256 mismatch"),
    (lambda b: (b / "SHA256SUMS").unlink(), "SHA256SUMS is missing"),
])
def test_install_refuses_an_incomplete_bundle(copy, tmp_path, damage, fragment):
    damage(copy)
    result = _sh(copy, "install.sh", env={"DIGITLITE_VENV": str(tmp_path / "venv")})
    assert result.returncode == 1 and result.stderr.startswith("install.sh: error: ") and fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "venv").exists()


def test_install_refuses_an_unknown_interpreter(copy):
    result = _sh(copy, "install.sh", "onnx")
    assert result.returncode == 1 and "unknown interpreter 'onnx': choose litert or tflite-runtime" in result.stderr


def test_run_before_install_says_to_install(copy, tmp_path):
    result = _sh(copy, "run.sh", env={"DIGITLITE_VENV": str(tmp_path / "none")})
    assert result.returncode == 1 and f"run {copy}/install.sh first" in result.stderr


def test_install_then_run_from_the_bundle(copy, tmp_path, mnist_dir):
    """The whole user path on this machine: install.sh, run.sh, the systemd unit.  pip takes the
    requirements from the wheels tests/prepare.sh fetched, not from the network."""
    venv = tmp_path / "venv"
    env = {"DIGITLITE_VENV": str(venv), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(prepared(".wheels"))}
    result = _sh(copy, "install.sh", env=env)
    assert result.returncode == 0, result.stderr
    assert "interpreter          litert" in result.stdout  # install.sh ends with `digitlite info`
    assert (venv / "bin" / "digitlite").exists()
    # The system's NumPy (which Raspberry Pi OS's Picamera2 is built against) is kept, not shadowed.
    system = subprocess.run(["python3", "-c", "import numpy; print(numpy.__version__, numpy.__file__)"],
                            capture_output=True, text=True).stdout.split()
    venv_numpy = subprocess.run([str(venv / "bin" / "python"), "-c", "import numpy; print(numpy.__version__, "
                                 "numpy.__file__)"], capture_output=True, text=True).stdout.split()
    constraints = (venv / "digitlite-constraints.txt").read_text().splitlines()
    if system:
        assert venv_numpy == system and f"numpy=={system[0]}" in constraints
    else:
        assert str(venv) in venv_numpy[1]
    if (system[0] if system else "").startswith("1.") or (not system and "bookworm" in Path("/etc/os-release").read_text()):
        assert constraints[-2:] == ["numpy<2", "opencv-python-headless<4.11"] and venv_numpy[0].startswith("1.")
    unit = (copy / "digitlite-camera.service").read_text()
    assert f"ExecStart={copy}/run.sh --source 0" in unit and f"Environment=DIGITLITE_VENV={venv}" in unit
    assert "Restart=on-failure" in unit and "StandardOutput=journal" in unit
    assert "@" not in unit.split("[Unit]", 1)[1]  # every placeholder filled

    from PIL import Image
    from test_preprocess import photo_of

    from digitlite.edge.data.mnist import load_mnist

    digit = load_mnist(mnist_dir).test_images[0]  # a 7
    Image.fromarray(photo_of(digit).astype("uint8")).save(tmp_path / "seven.png")
    out = _sh(copy, "run.sh", "classify", str(tmp_path / "seven.png"), "--json", env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["digit"] == 7
    # the device benchmark runs on the Pi, with no MNIST there; training is not in the bundle, and says so
    bench = _sh(copy, "run.sh", "bench", "--no-accuracy", "--no-memory", "--runs", "10", "--min-seconds", "0",
                "--threads", "1", "--batches", "1", env={**env, "DIGITLITE_DATA": str(tmp_path / "no-mnist")})
    assert bench.returncode == 0 and "digits_int8.tflite" in bench.stdout and "✅" in bench.stdout, bench.stderr
    train = subprocess.run([str(venv / "bin" / "digitlite"), "train"], capture_output=True, text=True)
    assert train.returncode == 1 and "'train' is not available in this install" in train.stderr
    # The unit's own command line on a clip (no camera here): empty paper, the 7, empty paper again.
    import shlex

    from test_camera import write_video

    paper = np.full((480, 640), 205, np.uint8)
    seven = photo_of(digit, size=(480, 640), scale=220, seed=3).astype(np.uint8)
    clip = write_video(tmp_path / "desk.avi", [paper] * 8 + [seven] * 12 + [paper] * 8, fps=10)
    exec_start = shlex.split(next(line for line in unit.splitlines() if line.startswith("ExecStart=")).split("=", 1)[1])
    exec_start[exec_start.index("--source") + 1] = str(clip)
    service = subprocess.run(exec_start, capture_output=True, text=True, timeout=300, env={**os.environ, **env})
    assert service.returncode == 0, service.stderr
    assert service.stdout == ""  # the readings go to the log file, not to the journal
    log = [json.loads(line) for line in (copy / "digits.jsonl").read_text().splitlines()]
    assert [(r["event"], r["reading"]) for r in log] == [("change", ""), ("change", "7"), ("change", "")]
    camera = _sh(copy, "run.sh", "--source", "9", env=env)  # no camera here: a clear error for systemd's journal
    assert camera.returncode == 1 and camera.stderr.strip() == \
        "digitlite: error: camera 9: cannot open (is it plugged in, and free?)"
    (copy / "model/digits_int8.tflite").unlink()
    gone = _sh(copy, "run.sh", env=env)
    assert gone.returncode == 1 and "the bundle lacks model/digits_int8.tflite" in gone.stderr


def test_install_keeps_debians_numpy_for_picamera2(copy, tmp_path, mnist_dir):
    """Raspberry Pi OS's Picamera2 is built against its apt NumPy (1.24 on Bookworm): install.sh must
    not shadow it. Proved with Debian 12's own python3 and python3-numpy 1.24 (what Raspberry Pi OS
    Bookworm ships), here on x86: the venv uses that NumPy, with ai-edge-litert and an OpenCV that
    accepts it, and predicts as the main environment does."""
    debian = subprocess.run(["/usr/bin/python3", "-c", "import numpy; print(numpy.__version__, numpy.__file__)"],
                            capture_output=True, text=True)
    assert debian.returncode == 0, "Debian's python3-numpy is needed: sudo apt-get install python3-numpy python3-venv"
    version, where = debian.stdout.split()
    venv = tmp_path / "venv"
    env = {"DIGITLITE_VENV": str(venv), "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(prepared(".wheels")),
           "PATH": "/usr/bin:/bin"}
    result = _sh(copy, "install.sh", env=env)
    assert result.returncode == 0, result.stderr
    from digitlite.benchmarks.pi_emulation import pi_constraints

    # what the emulated Pi is installed with (benchmarks.pi_emulation) is what install.sh does
    assert (venv / "digitlite-constraints.txt").read_text().splitlines() == pi_constraints(version)
    check = subprocess.run([str(venv / "bin" / "python"), "-c", "import numpy, cv2; print(numpy.__file__, cv2.__version__)"],
                           capture_output=True, text=True)
    numpy_file, opencv = check.stdout.split()
    assert numpy_file == where and opencv < "4.11", check  # Debian's own NumPy, not a copy in the venv
    there = _sh(copy, "run.sh", "eval", "--samples", "500", "--json", "--predictions", "--data-dir", str(mnist_dir),
                env=env)
    assert there.returncode == 0, there.stderr
    here = run_cli("eval", str(SHIPPED), "--samples", "500", "--json", "--predictions", "--data-dir", str(mnist_dir))
    assert json.loads(there.stdout)["predictions"] == json.loads(here.stdout)["predictions"]


def test_info_checks_a_model_and_names_a_missing_interpreter():
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["interpreter"] == "litert" and info["card_accuracy"] == json.loads(
        SHIPPED.with_suffix(".json").read_text())["tflite_accuracy"]
    assert info["sha256"] == hashlib.sha256(SHIPPED.read_bytes()).hexdigest()
    missing = run_cli("info", "--runtime", "tflite")  # tflite-runtime is not in the main test install
    assert_one_line_error(missing, "the tflite interpreter is not installed here: pip install tflite-runtime")


def test_the_bundles_requirements_are_the_distributions_own_pins():
    """pyproject.toml holds the pins once: the bundle's files follow a changed pin, keep the edge extras'
    and drop the other stages'."""
    from digitlite.edge.deploy.pi import requirements

    made = requirements(["numpy>=1.26", "pillow>=11", 'ai-edge-litert>=9.9; platform_system != "Windows"',
                         'tensorflow>=2.16; extra == "train"', 'opencv-python>=4.9; extra == "camera"',
                         'paho-mqtt>=2.0; extra == "camera"'])
    assert made == {
        "requirements.txt": ["ai-edge-litert>=9.9", "numpy>=1.26", "pillow>=11", "opencv-python-headless>=4.9",
                             "paho-mqtt>=2.0"],
        "requirements-tflite-runtime.txt": ["tflite-runtime==2.14.0", "numpy>=1.26,<2", "pillow>=11",
                                            "opencv-python-headless>=4.9,<4.11", "paho-mqtt>=2.0"],
    }
    pins = (REPO / "pyproject.toml").read_text()
    for spec in requirements()["requirements.txt"]:
        assert spec.replace("-headless", "") in pins, spec


def test_the_pi_wheel_needs_no_build_backend_and_holds_what_the_backend_builds(tmp_path, monkeypatch):
    """A fresh venv's setuptools (65 on Python 3.11) cannot build a wheel: the export must not need it.
    What it makes from pyproject.toml's package map is what the backend builds, file for file."""
    from digitlite.edge.deploy import pi

    root = pi._checkout()
    backend = pi._edge_part(pi._built_wheel(root, tmp_path))

    def no_backend(*args, **kwargs):
        raise AssertionError("the build backend was run")

    monkeypatch.setattr(pi, "_built_wheel", no_backend)
    wheel = pi.build_edge_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        made = {n: zf.read(n) for n in zf.namelist() if not n.endswith(("/RECORD", "/WHEEL"))}
    assert made == {n: d for n, d in backend.items() if not n.endswith("/WHEEL")}
