"""The Python API, ``from digitlite import Classifier``: every entry point, against the command line, and bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, run_cli
from PIL import Image
from test_camera import write_video
from test_preprocess import photo_of

import digitlite
from digitlite import Classifier, DigitliteError, ImageError, NumberReading, Reading


@pytest.fixture(scope="module")
def clf():
    return Classifier()


@pytest.fixture(scope="module")
def photo(tmp_path_factory, mnist):
    """A 640x480 JPEG of MNIST test image 0 (a 7) on lit paper."""
    path = tmp_path_factory.mktemp("api") / "seven.jpg"
    Image.fromarray(photo_of(mnist.test_images[0]).astype(np.uint8)).save(path, quality=90)
    return path


def test_the_api_is_at_the_top_of_the_package_and_loads_lazily():
    assert {"Classifier", "Reading", "NumberReading", "DigitliteError", "ImageError"} <= set(digitlite.__all__)
    assert issubclass(ImageError, DigitliteError)
    code = "import sys, digitlite; print('numpy' in sys.modules, digitlite.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.split() == ["False", digitlite.__version__], out.stderr  # the CLI's first import stays light
    with pytest.raises(AttributeError):
        digitlite.NoSuchThing  # noqa: B018


def test_a_path_gives_what_classify_gives(clf, photo):
    reading = clf.classify(photo)
    assert isinstance(reading, Reading) and reading.digit == 7 and reading.box is None
    assert len(reading.probabilities) == 10 and sum(reading.probabilities) == pytest.approx(1.0, abs=0.02)
    cli = json.loads(run_cli("classify", str(photo), "--json").stdout)
    assert reading.as_dict() == {k: cli[k] for k in ("digit", "confidence", "probabilities", "not_a_digit")}


def test_every_kind_of_image_gives_the_same_reading(clf, photo, mnist):
    by_path = clf.classify(str(photo))
    assert clf.classify(photo.read_bytes()).probabilities == by_path.probabilities
    assert clf.classify(Image.open(photo)).digit == 7
    gray = np.asarray(Image.open(photo).convert("L"))
    assert clf.classify(gray).probabilities == clf.classify(Image.fromarray(gray)).probabilities
    rgb = np.asarray(Image.open(photo).convert("RGB"))
    assert clf.classify(rgb).digit == 7 and clf.classify(rgb[..., :1]).digit == 7
    digit = mnist.test_images[0]
    assert clf.classify(digit).digit == 7  # white on black, MNIST's polarity
    assert clf.classify(255 - digit).digit == 7  # dark on light
    assert clf.classify(digit.astype(np.float32) / 255).probabilities == clf.classify(digit).probabilities
    big = np.asarray(Image.fromarray(255 - digit).resize((1200, 1200)))
    assert clf.classify(big).digit == 7  # any size


def test_a_batch_is_one_call_with_the_same_answers(clf, mnist):
    images = list(mnist.test_images[:40])
    batch = clf.classify_batch(images)
    assert [r.digit for r in batch] == [clf.classify(img).digit for img in images]
    assert np.mean([r.digit for r in batch] == mnist.test_labels[:40]) >= 0.95
    assert clf.classify_batch([]) == []


def test_read_number_gives_each_digit_with_its_box_as_the_cli_does(clf, mnist, tmp_path):
    page = np.full((300, 760), 225, np.uint8)
    for k, i in enumerate([0, 1, 2]):  # 7, 2, 1
        page[50:250, 30 + k * 240:230 + k * 240] -= (np.asarray(Image.fromarray(mnist.test_images[i]).resize(
            (200, 200), Image.BICUBIC)) * 0.8).astype(np.uint8)
    Image.fromarray(page).save(tmp_path / "n.png")
    number = clf.read_number(tmp_path / "n.png")
    assert isinstance(number, NumberReading) and number.number == "721"
    cli = json.loads(run_cli("classify", str(tmp_path / "n.png"), "--multi", "--json").stdout)
    assert number.as_dict() == {k: cli[k] for k in ("number", "digits")}
    for k, d in enumerate(number.digits):
        x0, y0, x1, y1 = d.box
        assert x0 <= 30 + k * 240 + 100 <= x1 and y0 <= 150 <= y1
    with pytest.raises(ImageError, match="3 digits side by side, not one"):
        clf.classify(page)  # one digit asked, a number given


def test_min_confidence_is_the_same_rule_as_the_commands(photo):
    sure = Classifier(min_confidence=0.0).classify(photo)
    unsure = Classifier(min_confidence=1.0).classify(photo)
    assert unsure.digit is None and unsure.confidence == sure.confidence < 1.0


def test_the_camera_iterator_reads_what_the_camera_command_reads(clf, mnist, tmp_path):
    frames = [photo_of(mnist.test_images[0], size=(480, 640), scale=200, at=(140, 60 + 8 * i), seed=i,
                       gradient=0.3, noise=4).astype(np.uint8) for i in range(12)]
    video = write_video(tmp_path / "clip.avi", frames)
    read = list(clf.camera(video))
    assert [r.index for r in read] == list(range(12)) and all(r.number == "7" for r in read)
    assert read[0].digits[0].box is not None and read[0].digits[0].digit == 7
    cli = [json.loads(line) for line in run_cli("camera", "--source", str(video), "--headless").stdout.splitlines()]
    assert [line["number"] for line in cli] == [r.number for r in read]
    assert len(list(clf.camera(video, max_frames=3))) == 3
    with pytest.raises(DigitliteError, match="cannot open"):
        next(clf.camera(tmp_path / "missing.avi"))


@pytest.mark.parametrize("image, fragment", [
    ("/no/such/file.png", "/no/such/file.png: no such file"),
    (b"not an image at all", "<bytes>: not an image"),
    (b"", "<bytes>:"),
    ({"pixels": 1}, "cannot read a dict"),
    ([[0, 255]], "cannot read a list"),
    (np.zeros((0, 5)), "expected an (H, W) or (H, W, 3|4) image array"),
    (np.zeros((4, 4, 2)), "expected an (H, W) or (H, W, 3|4) image array"),
    (np.full((30, 30), np.nan), "NaN or infinite"),
    (np.zeros((30, 30), bool), "expected numbers"),
    (np.array([["a"]]), "expected numbers"),
    (np.zeros((60, 60), np.uint8), "no digit found"),
])
def test_bad_input_is_one_exception_type_with_one_line(clf, image, fragment):
    with pytest.raises(DigitliteError) as caught:
        clf.classify(image)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
    if fragment != "no digit found":
        with pytest.raises(DigitliteError):
            clf.read_number(image)


def test_bad_models_and_settings_are_one_exception_type(tmp_path):
    (tmp_path / "junk.tflite").write_bytes(b"\0" * 100)
    for make, fragment in [
        (lambda: Classifier(tmp_path / "none.tflite"), "no such model file"),
        (lambda: Classifier(tmp_path / "junk.tflite"), "not a valid TFLite model"),
        (lambda: Classifier(runtime="onnx"), "unknown runtime 'onnx'"),
        (lambda: Classifier(threads=0), "threads must be at least 1"),
        (lambda: Classifier(min_confidence=1.5), "min_confidence must be between 0 and 1"),
    ]:
        with pytest.raises(DigitliteError, match=fragment):
            make()


def test_info_checks_the_model_runs_here(clf):
    info = clf.info(calls=20)
    assert info["digitlite"] == digitlite.__version__ and info["model"].endswith("digits_int8.tflite")
    shipped = json.loads(Path(info["model"]).with_suffix(".json").read_text())["tflite_accuracy"]  # from the card
    assert info["card_accuracy"] == pytest.approx(shipped) and info["calls"] == 20 and info["call_p50_us"] > 0


def test_readme_example_runs(photo, tmp_path):
    """The README's example, as printed there, on a real file."""
    text = (REPO / "README.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    code = example.replace("photo.jpg", str(photo)).replace("number.png", str(photo))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("7 "), result.stdout


def test_a_bytes_stream_of_a_png(clf, mnist):
    buf = io.BytesIO()
    Image.fromarray(255 - mnist.test_images[1]).save(buf, format="PNG")
    assert clf.classify(buf.getvalue()).digit == 2


def pen(strokes, size=200, width=7) -> np.ndarray:
    """Pen strokes (points in a unit box) drawn dark on white: float gray."""
    from PIL import ImageDraw

    img = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(img)
    for stroke in strokes:
        draw.line([(x * size, y * size) for x, y in stroke], fill=0, width=width, joint="curve")
    return np.asarray(img, np.float32)


LETTERS = {
    "A": [[(0.2, 0.85), (0.5, 0.15), (0.8, 0.85)], [(0.32, 0.58), (0.68, 0.58)]],
    "H": [[(0.25, 0.15), (0.25, 0.85)], [(0.75, 0.15), (0.75, 0.85)], [(0.25, 0.5), (0.75, 0.5)]],
    "#": [[(0.4, 0.15), (0.33, 0.85)], [(0.68, 0.15), (0.61, 0.85)], [(0.15, 0.38), (0.85, 0.38)],
          [(0.13, 0.62), (0.83, 0.62)]],
}


def test_the_shipped_model_says_not_a_digit_for_a_letter_and_reads_a_digit(clf, tmp_path):
    assert clf.model.classes == 11
    for name, strokes in LETTERS.items():
        reading = clf.classify(pen(strokes), name)
        assert reading.digit is None and reading.reason == "not a digit", (name, reading)
        assert reading.not_a_digit == reading.confidence > 0.5
    seven = clf.classify(pen([[(0.25, 0.2), (0.75, 0.2), (0.45, 0.85)]]), "7")
    assert seven.digit == 7 and seven.reason is None and seven.not_a_digit < 0.5
    # the command line says the same, in words and in JSON
    Image.fromarray(pen(LETTERS["A"]).astype(np.uint8)).save(tmp_path / "a.png")
    text = run_cli("classify", str(tmp_path / "a.png"))
    assert text.returncode == 0 and text.stdout.split("  ")[1:] == ["-", text.stdout.split("  ")[2], "(not a digit)\n"]
    record = json.loads(run_cli("classify", str(tmp_path / "a.png"), "--json").stdout)
    assert record["digit"] is None and record["reason"] == "not a digit" and record["not_a_digit"] == record["confidence"]
    assert len(record["probabilities"]) == 10


def test_classify_inputs_reads_camera_candidates_as_the_camera_does(monkeypatch):
    from digitlite.edge.api import Classifier
    from digitlite.edge.apps.camera import FrameReader
    from digitlite.edge.vision.preprocess import Digit

    clf = Classifier()
    row = np.zeros(11)
    row[3], row[8], row[10] = 0.27, 0.03, 0.70  # a blurred 3 the model half calls "not a digit"
    monkeypatch.setattr(clf, "predict_proba", lambda pixels: np.tile(row, (len(pixels), 1)))
    pixels = np.zeros((1, 28, 28), np.uint8)
    assert clf.classify_inputs(pixels)[0].reason == "not a digit"  # an image: the likelier answer
    assert clf.classify_inputs(pixels, camera=True)[0].digit == 3  # a frame: only a sure "not a digit"
    reader = FrameReader(clf)
    monkeypatch.setattr(reader, "candidates", lambda frame: [Digit(pixels[0], (0, 0, 28, 28))])
    frame = reader.read(np.zeros((48, 64), np.uint8))
    assert frame.number == "3"
    assert frame.seen[0][0] == clf.classify_inputs(pixels, [(0, 0, 28, 28)], camera=True)[0]
