"""What a new user trips over (issue 25): naming the shipped models, commands that need no MNIST, the
Python API's edges, folders and the inputs saved from them."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from conftest import REPO, assert_one_line_error, run_cli
from PIL import Image

import digitlite
from digitlite import Classifier, DigitliteError, ImageError

OFFLINE = {"DIGITLITE_DATA": "", "HOME": "/nonexistent-home", "XDG_CACHE_HOME": "/nonexistent-cache"}


def _offline(tmp_path) -> dict:
    """No MNIST anywhere: no DIGITLITE_DATA, and a cache folder that holds nothing and cannot be reached."""
    env = {k: v for k, v in os.environ.items() if k != "DIGITLITE_DATA"}
    env.update(HOME=str(tmp_path / "home"), XDG_CACHE_HOME=str(tmp_path / "cache"))
    return env


def _run(env, *args):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "digitlite", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def test_digitlite_models_lists_the_shipped_models_from_their_cards():
    result = run_cli("models", "--json")
    assert result.returncode == 0, result.stderr
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert set(rows) == {"digits", "digits_b1", "micronet"}
    for r in rows.values():
        card = json.loads((REPO / "edge" / "models" / (os.path.basename(r["file"])[:-7] + ".json")).read_text())
        assert r["accuracy"] == card["tflite_accuracy"] and r["size_bytes"] == os.path.getsize(r["file"])
        assert r["for"]
    assert rows["digits"]["outputs"] == 11 and rows["micronet"]["outputs"] == 10
    text = run_cli("models").stdout
    assert "micronet" in text and "KB" in text and "%" in text


@pytest.mark.parametrize("name", ["micronet", "micronet_int8", "micronet_int8.tflite"])
def test_a_shipped_model_is_named_by_its_name_everywhere(name, tmp_path):
    info = run_cli("info", "--model", name, "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["model"].endswith("edge/models/micronet_int8.tflite")
    assert Classifier(name).path.name == "micronet_int8.tflite"
    export = _run(_offline(tmp_path), "export", "--target", "mcu", str(tmp_path / "mcu"), "--model", name)
    assert export.returncode == 0, export.stderr  # and with no MNIST anywhere: the example digit ships
    assert json.loads((tmp_path / "mcu" / "bundle.json").read_text())["model"].endswith("micronet_int8.tflite")


def test_an_unknown_model_name_says_which_names_there_are():
    assert_one_line_error(run_cli("classify", "x.png", "--model", "micronets"),
                          "micronets: no such model file", "digits, digits_b1, micronet", "digitlite models")


def test_eval_takes_its_model_positionally_or_with_model():
    one = run_cli("eval", "micronet", "--samples", "300", "--json")
    other = run_cli("eval", "--model", "micronet", "--samples", "300", "--json")
    assert one.returncode == other.returncode == 0, one.stderr + other.stderr
    assert json.loads(one.stdout)["accuracy"] == json.loads(other.stdout)["accuracy"]
    assert_one_line_error(run_cli("eval", "digits", "--model", "micronet"), "two models named")


def test_bench_without_accuracy_needs_no_mnist(tmp_path):
    result = _run(_offline(tmp_path), "bench", "--model", "micronet", "--no-accuracy", "--no-memory", "--runtime",
                  "litert", "--threads", "1", "--batches", "1", "--runs", "20", "--min-seconds", "0")
    assert result.returncode == 0, result.stderr
    assert "micronet_int8.tflite" in result.stdout and "✅" in result.stdout
    needs = _run(_offline(tmp_path), "eval", "--samples", "10")
    assert_one_line_error(needs, "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz")  # the two it needs


def test_the_shipped_sample_digit_is_mnist_test_image_0(mnist):
    from digitlite.edge.runtime.shipped import sample_digit

    pixels, label = sample_digit()
    assert np.array_equal(pixels, mnist.test_images[0]) and label == int(mnist.test_labels[0])


@pytest.fixture(scope="module")
def drawn(mnist):
    """A 2 as black ink on a transparent sheet: RGBA, the ink opaque, the rest clear."""
    digit = np.array(Image.fromarray(mnist.test_images[1]).resize((112, 112), Image.BILINEAR))
    rgba = np.zeros((140, 140, 4), np.uint8)
    rgba[14:126, 14:126, 3] = digit  # opacity is the ink; colour black everywhere
    return rgba, int(mnist.test_labels[1])


def test_an_rgba_array_reads_as_its_png_file_does(drawn, tmp_path):
    rgba, label = drawn
    Image.fromarray(rgba, "RGBA").save(tmp_path / "ink.png")
    clf = Classifier()
    from_file, from_array = clf.classify(tmp_path / "ink.png"), clf.classify(rgba)
    assert from_file.digit == from_array.digit == label
    assert np.array_equal(clf.preprocess(rgba), clf.preprocess(tmp_path / "ink.png"))
    assert clf.classify(rgba.astype(np.float32) / 255).digit == label  # the same as floats 0-1


@pytest.mark.parametrize("array, fragment", [
    (np.full((40, 40), 300.0, np.float32), "floats from 300 to 300; expected 0-255"),
    (np.full((40, 40), -2.0), "floats from -2 to -2"),
    (np.full((40, 40), -5, np.int16), "integers from -5 to -5"),
    (np.full((40, 40), 4000, np.int32), "integers from 4000 to 4000"),
])
def test_arrays_outside_the_pixel_range_are_refused(array, fragment):
    with pytest.raises(ImageError, match=fragment):
        Classifier().classify(array)


def test_classify_batch_can_answer_per_image(drawn):
    rgba, label = drawn
    clf = Classifier()
    with pytest.raises(ImageError):
        clf.classify_batch([rgba, np.zeros((30, 30), np.uint8)])
    answers = clf.classify_batch([rgba, np.zeros((30, 30), np.uint8), b"not an image", rgba], errors="return")
    assert [type(a).__name__ for a in answers] == ["Reading", "NoDigit", "ImageError", "Reading"]
    assert answers[0].digit == answers[3].digit == label and "no digit found" in str(answers[1])
    with pytest.raises(DigitliteError, match="errors must be"):
        clf.classify_batch([rgba], errors="skip")


def test_a_blank_page_is_the_number_nothing_in_the_api_and_the_command(tmp_path):
    Image.fromarray(np.full((200, 300), 235, np.uint8)).save(tmp_path / "blank.png")
    number = Classifier().read_number(tmp_path / "blank.png")
    assert number.number == "" and number.digits == ()
    line = run_cli("classify", "--multi", "--json", str(tmp_path / "blank.png"))
    assert line.returncode == 0, line.stderr
    assert json.loads(line.stdout) == {"path": str(tmp_path / "blank.png"), **number.as_dict()}
    with pytest.raises(ImageError, match="not an image"):
        Classifier().read_number(b"not an image")  # a bad file is still an error


def test_a_missing_interpreter_asked_for_by_name_says_what_to_install():
    with pytest.raises(DigitliteError, match=r"^the tflite interpreter is not installed here: pip install tflite-runtime$"):
        Classifier(runtime="tflite")


def test_the_package_lists_its_api():
    assert {"Classifier", "DigitliteError", "ImageError", "NumberReading", "Reading"} <= set(dir(digitlite))


@pytest.fixture()
def folder(tmp_path, mnist):
    root = tmp_path / "photos"
    (root / "more" / "deeper").mkdir(parents=True)
    for i, where in enumerate([root, root / "more", root / "more" / "deeper"]):
        Image.fromarray(255 - mnist.test_images[i]).resize((112, 112)).save(where / f"d{i}.png")
    Image.fromarray(255 - mnist.test_images[3]).resize((112, 112)).save(root / "d0.jpg")  # d0.png's name, as JPEG
    return root


def test_subfolders_are_counted_and_read_with_recursive(folder):
    flat = run_cli("classify", str(folder), "--json")
    assert flat.returncode == 0 and len(flat.stdout.splitlines()) == 2
    assert "1 subfolder not read: add --recursive to read them" in flat.stderr
    deep = run_cli("classify", str(folder), "--json", "--recursive")
    assert deep.returncode == 0 and len(deep.stdout.splitlines()) == 4 and "not read" not in deep.stderr


def test_an_empty_folder_is_an_error_not_silence(tmp_path, folder):
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run_cli("classify", str(tmp_path / "empty")), "empty: no image files here")
    only_sub = tmp_path / "nested"
    (only_sub / "inside").mkdir(parents=True)
    assert_one_line_error(run_cli("classify", str(only_sub)), "no image files here", "add --recursive")


def test_saved_inputs_never_overwrite_each_other(folder, tmp_path):
    out = tmp_path / "seen"
    result = run_cli("classify", str(folder / "d0.png"), str(folder / "d0.jpg"), "--save-preprocessed", str(out))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["d0.jpg.png", "d0.png"]
    assert not np.array_equal(np.array(Image.open(out / "d0.png")), np.array(Image.open(out / "d0.jpg.png")))


# --- small CLI things (issue 25, item 10) ---

def test_bare_digitlite_shows_its_help_not_an_error():
    result = run_cli()
    assert result.returncode == 0 and "error" not in result.stderr
    assert result.stdout.startswith("usage: digitlite") and "classify" in result.stdout and "tune" in result.stdout


@pytest.mark.parametrize("command", ["bench", "quantize", "train", "tune"])
def test_help_says_each_default_once_and_never_none(command):
    text = run_cli(command, "--help").stdout
    assert "(default: None)" not in text and "(default: )" not in text
    assert text.count("(default: the shipped int8 model)") <= 1
    assert "default: the shipped int8 model) (default" not in text


def test_top_k_is_in_the_json_too(drawn, tmp_path):
    path = tmp_path / "d.png"
    Image.fromarray(drawn[0]).save(path)
    record = json.loads(run_cli("classify", str(path), "--json", "--top", "3").stdout)
    top = record["top"]
    assert len(top) == 3 and top[0][0] == record["digit"] and top[0][1] == record["confidence"]
    assert top[0][1] >= top[1][1] >= top[2][1]
    assert "top" not in json.loads(run_cli("classify", str(path), "--json").stdout)


def test_multi_text_shows_each_digits_confidence(mnist, tmp_path):
    page = np.zeros((28, 56), np.uint8)
    page[:, :28], page[:, 28:] = mnist.test_images[0], mnist.test_images[1]
    path = tmp_path / "n.png"
    Image.fromarray(255 - np.kron(page, np.ones((6, 6), np.uint8))).save(path)
    text = run_cli("classify", str(path), "--multi").stdout
    record = json.loads(run_cli("classify", str(path), "--multi", "--json").stdout)
    for d in record["digits"]:
        assert f"{d['digit']}@{','.join(map(str, d['box']))} {d['confidence'] * 100:.1f}%" in text


def test_one_frame_is_one_frame(mnist, tmp_path):
    import cv2
    from test_camera import write_video

    video = write_video(tmp_path / "one.avi", [np.full((120, 160), 200, np.uint8)])
    result = run_cli("camera", "--source", str(video), "--headless")
    assert result.returncode == 0 and "1 frame read from" in result.stderr and cv2 is not None


def test_debug_shows_the_cause_behind_a_files_error(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    plain = run_cli("classify", str(bad))
    assert "Traceback" not in plain.stderr
    debug = run_cli("classify", str(bad), "--debug")
    assert "Traceback" in debug.stderr and "ImageError" in debug.stderr and debug.returncode == 1
    assert "digitlite: error: " in debug.stderr.splitlines()[-2]


def test_quantize_of_a_missing_file_says_so_before_anything_else(tmp_path):
    result = run_cli("quantize", str(tmp_path / "nothing.keras"))
    assert_one_line_error(result, "nothing.keras: no such model file")
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1  # no TensorFlow chatter first


# --- the README's first screen, and a section per command (issue 25, item 11) ---

def test_the_readmes_first_screen_holds_a_command_to_paste():
    first_screen = "\n".join((REPO / "README.md").read_text().splitlines()[:25])
    block = first_screen.split("```bash\n", 1)[1].split("```", 1)[0]
    assert "pip install -e ." in block and "digitlite classify" in block and "train" not in block


def test_every_command_has_its_own_section_in_the_usage_page():
    import re

    listed = re.findall(r"^    (\w+)\s{2,}", run_cli("--help").stdout, re.M)
    assert {"classify", "camera", "serve", "tune", "export", "bench", "models"} <= set(listed)
    page = (REPO / "docs" / "usage.md").read_text()
    for command in listed:
        assert f"### `digitlite {command}" in page, command
