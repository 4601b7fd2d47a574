"""Each command and its Python API method read an image the same way and give the same answer,
confidence floor included: classify and Classifier.classify, --multi and read_number, camera and
Classifier.camera, serve and Classifier.classify on the same bytes."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli
from PIL import Image
from test_camera import write_video
from test_preprocess import photo_of

from digitlite import Classifier
from digitlite.edge import cli
from digitlite.edge.settings import (
    CAMERA_FLOOR,
    IMAGE_FLOOR,
    CameraSettings,
    ReadSettings,
    ServeSettings,
)

REAL = REPO.parent / "shared" / "real_photos"


def _real(kind: str, count: int) -> list[Path]:
    files = sorted((REAL / kind).glob("*"))
    assert len(files) >= count, f"{REAL / kind}: the real photos are needed beside the repository"
    return files[:: max(1, len(files) // count)][:count]


@pytest.fixture(scope="module")
def photos(tmp_path_factory, mnist) -> list[Path]:
    """Real photos, scans and drawings of single digits, a rendered phone photo, and a page with two digits."""
    folder = tmp_path_factory.mktemp("photos")
    files = _real("single", 12)
    for i in range(3):
        path = folder / f"rendered_{i}.jpg"
        Image.fromarray(photo_of(mnist.test_images[i], seed=i).astype(np.uint8)).save(path, quality=85)
        files.append(path)
    two = np.full((300, 500), 220, np.uint8)
    two[60:240, 40:220] = 255 - np.array(Image.fromarray(mnist.test_images[1]).resize((180, 180)))
    two[60:240, 280:460] = 255 - np.array(Image.fromarray(mnist.test_images[2]).resize((180, 180)))
    Image.fromarray(two).save(folder / "two.png")
    files.append(folder / "two.png")
    return files


def _cli_json(capsys, *args) -> list[dict]:
    code = cli.main(list(args))
    out = capsys.readouterr().out
    assert code in (0, 1)
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _median_confidence(photos) -> float:
    """A floor that refuses about half of these photos' answers: a floor that changes nothing proves nothing."""
    clf, seen = Classifier(), []
    for path in photos:
        try:
            seen.append(clf.classify(path).confidence)
        except Exception:  # noqa: BLE001, S112 - unreadable ones have no confidence
            continue
    return round(float(np.median(seen)), 4)


@pytest.mark.parametrize("floor", [None, "median"])
def test_classify_answers_as_classifier_classify(photos, capsys, floor):
    floor = _median_confidence(photos) if floor == "median" else None
    flags = [] if floor is None else ["--min-confidence", str(floor)]
    lines = _cli_json(capsys, "classify", *map(str, photos), "--json", *flags)
    clf = Classifier(min_confidence=floor)
    assert len(lines) == len(photos)
    refused = 0
    for path, line in zip(photos, lines, strict=True):
        try:
            reading = clf.classify(path)
        except Exception as e:  # noqa: BLE001 - the command's error line must say the same
            assert "error" in line and str(e) in line["error"], (path, line)
            continue
        assert line == {"path": str(path), **reading.as_dict()}, path
        refused += reading.digit is None
    assert "error" in lines[-1] and "--multi" in lines[-1]["error"]  # the page of two digits
    if floor is not None:
        assert refused >= 2  # the floor was applied, the same by both
    assert clf.min_confidence == (IMAGE_FLOOR if floor is None else floor)


def test_multi_answers_as_read_number(capsys):
    numbers = _real("multi", 10)
    lines = _cli_json(capsys, "classify", "--multi", "--json", *map(str, numbers))
    clf = Classifier()
    for path, line in zip(numbers, lines, strict=True):
        try:
            reading = clf.read_number(path)
        except Exception as e:  # noqa: BLE001
            assert "error" in line and str(e) in line["error"], (path, line)
            continue
        assert line == {"path": str(path), **reading.as_dict()}, path


@pytest.fixture(scope="module")
def clip(tmp_path_factory, mnist) -> Path:
    """30 frames, 640x480: a 7 sliding over lit paper, then a blank sheet."""
    frames = [photo_of(mnist.test_images[0], size=(480, 640), scale=200, at=(140, 60 + 12 * i), seed=i,
                       gradient=0.3, noise=6).astype(np.uint8) for i in range(20)]
    frames += [np.clip(np.random.default_rng(i).normal(205, 6, (480, 640)), 0, 255).astype(np.uint8) for i in range(10)]
    return write_video(tmp_path_factory.mktemp("clip") / "clip.avi", frames)


@pytest.mark.parametrize("floor", [None, 0.95])
def test_camera_answers_as_classifier_camera(clip, floor):
    flags = [] if floor is None else ["--min-confidence", str(floor)]
    run = run_cli("camera", "--source", str(clip), "--headless", *flags)
    assert run.returncode == 0, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    results = list(Classifier(min_confidence=floor).camera(str(clip)))
    assert len(lines) == len(results) == 30
    for line, result in zip(lines, results, strict=True):
        mine = result.as_dict()
        assert line["number"] == mine["number"] and line["frame"] == mine["frame"]
        assert [(d["digit"], d["confidence"], d["box"]) for d in line["digits"]] == \
               [(d["digit"], d["confidence"], d["box"]) for d in mine["digits"]]
    assert sum(line["number"] == "7" for line in lines) >= 15
    assert not any(line["number"] for line in lines[20:])
    # the camera's floor is the command's default for Classifier().camera() too
    assert Classifier().settings.floor(camera=True) == CAMERA_FLOOR != IMAGE_FLOOR


def _serve(*flags):
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--port", "0", "--workers", "1", *flags],
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    port = re.search(r":(\d+)/", line)
    assert port, line
    return proc, int(port.group(1))


def _post(port: int, body: bytes) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/predict?input=1", data=body,
                                     headers={"Content-Type": "image/png"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return json.loads(r.read())
    except urllib.error.HTTPError as e:
        return {"status": e.code, **json.loads(e.read())}


@pytest.mark.parametrize("floor", [None, "median"])
def test_serve_answers_as_classifier_classify_on_the_same_bytes(photos, floor):
    floor = _median_confidence(photos[:8] + photos[-4:-1]) if floor == "median" else None
    refused = 0
    proc, port = _serve(*([] if floor is None else ["--min-confidence", str(floor)]))
    clf = Classifier(min_confidence=floor)
    try:
        for path in photos[:8] + photos[-4:-1]:
            with Image.open(path) as im:
                buf = io.BytesIO()
                im.convert("RGB").save(buf, format="PNG")
            body = buf.getvalue()
            answer = _post(port, body)
            reading = clf.classify(body)
            assert {k: v for k, v in answer.items() if k not in ("latency_ms", "input")} == reading.as_dict(), path
            refused += reading.digit is None
            assert answer["input"] == clf.preprocess(body).tolist()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert refused >= (2 if floor is not None else 0)


def test_settings_are_checked_once_with_the_name_the_caller_used():
    with pytest.raises(Exception, match=r"^min_confidence must be between 0 and 1 \(got 2\)$"):
        ReadSettings(min_confidence=2.0)
    with pytest.raises(Exception, match=r"^unknown ink 'red'; choose auto, dark, light$"):
        CameraSettings(ink="red")
    with pytest.raises(Exception, match="port must be between 0 and 65535"):
        ServeSettings(port=70000)
    with pytest.raises(Exception, match="max_mb must be above 0"):
        CameraSettings(max_mb=0.0)
    assert ServeSettings(workers=None).processes() >= 1 and ReadSettings().floor() == IMAGE_FLOOR
    bad = run_cli("camera", "--heartbeat", "-1")
    assert bad.returncode == 1 and bad.stderr.strip() == "digitlite: error: --heartbeat must not be negative (got -1)"


def test_the_flags_are_the_settings_fields():
    """Every settings field is a flag of its command, with the field's default."""
    import argparse
    import dataclasses

    from digitlite.edge.settings import ClassifySettings, add_flags, flag_of

    for cls in (ReadSettings, ClassifySettings, CameraSettings, ServeSettings):
        p = argparse.ArgumentParser()
        add_flags(p, cls)
        args = p.parse_args([])
        for f in dataclasses.fields(cls):
            assert getattr(args, f.name) == f.default, (cls.__name__, f.name)
            assert flag_of(f) in p.format_help()
