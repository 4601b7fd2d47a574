"""`digitlite classify`: paths, output formats, --multi, thresholds, and a batch with bad files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image
from test_preprocess import photo_of


@pytest.fixture(scope="module")
def images(tmp_path_factory, mnist):
    """Eight photos of test digits (dark ink on lit paper) and two MNIST-style PNGs."""
    folder = tmp_path_factory.mktemp("images")
    for i in range(8):
        Image.fromarray(photo_of(mnist.test_images[i], seed=i).astype(np.uint8)).save(folder / f"photo_{i}.jpg",
                                                                                      quality=90)
    for i in (8, 9):
        Image.fromarray(mnist.test_images[i]).save(folder / f"mnist_{i}.png")
    return folder


@pytest.fixture(scope="module")
def model(quantized):
    return str(quantized[0] / "digits_int8.tflite")


def _json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_folder_json_lines_agree_with_the_runtime_on_the_same_inputs(images, model):
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.views import Viewed
    from digitlite.edge.vision.inputs import preprocess_file

    result = run_cli("classify", str(images), "--model", model, "--json")
    assert result.returncode == 0, result.stderr
    records = _json_lines(result.stdout)
    paths = sorted(str(p) for p in images.iterdir())
    assert [r["path"] for r in records] == paths
    clf = Viewed(Model(model))  # each input read in its seven views, as classify reads
    for r in records:
        assert set(r) - {"reason", "not_a_digit"} == {"path", "digit", "confidence", "probabilities"}
        expected = clf.predict_proba(preprocess_file(r["path"]))[0]
        assert r["digit"] == int(expected.argmax())
        assert r["confidence"] == pytest.approx(float(expected.max()), abs=1e-6)
        assert len(r["probabilities"]) == 10 and sum(r["probabilities"]) == pytest.approx(1.0, abs=0.02)


def test_human_lines_globs_and_top_k(images, model):
    result = run_cli("classify", str(images / "photo_*.jpg"), "--model", model, "--top", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 8
    for line in lines:
        path, digit, confidence, *top = line.split("  ")
        assert path.endswith(".jpg") and digit.isdigit() and confidence.endswith("%")
        assert len(top) == 3 and top[0].startswith(digit + ":")
    assert "8 of 8 images classified, 0 failed" in result.stderr


def test_save_preprocessed_writes_what_the_model_saw(images, model, tmp_path):
    result = run_cli("classify", str(images / "photo_0.jpg"), "--model", model, "--save-preprocessed", str(tmp_path))
    assert result.returncode == 0, result.stderr
    saved = np.asarray(Image.open(tmp_path / "photo_0.png"))
    from digitlite.edge.vision.inputs import preprocess_file

    np.testing.assert_array_equal(saved, preprocess_file(images / "photo_0.jpg"))


def test_min_confidence_turns_a_guess_into_no_digit(images, model):
    result = run_cli("classify", str(images / "mnist_8.png"), "--model", model, "--json", "--min-confidence", "1.0")
    record = _json_lines(result.stdout)[0]
    assert record["digit"] is None and 0 < record["confidence"] < 1.0
    human = run_cli("classify", str(images / "mnist_8.png"), "--model", model, "--min-confidence", "1.0")
    assert human.stdout.split("  ")[1] == "-"


def test_multi_reads_a_number_left_to_right(mnist, model, tmp_path):
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.vision.preprocess import find_digits

    page = np.full((300, 1000), 220.0, np.float32)
    for k, i in enumerate([1, 0, 2, 3]):
        big = np.asarray(Image.fromarray(mnist.test_images[i]).resize((200, 200), Image.BICUBIC), np.float32)
        page[50:250, 30 + k * 240: 230 + k * 240] -= big * 0.8
    Image.fromarray(page.astype(np.uint8)).save(tmp_path / "number.png")
    result = run_cli("classify", str(tmp_path / "number.png"), "--model", model, "--multi", "--json")
    assert result.returncode == 0, result.stderr
    record = _json_lines(result.stdout)[0]
    assert len(record["digits"]) == 4 and len(record["number"]) == 4
    found = find_digits(page)
    expected = Model(model).predict_proba(np.stack([d.pixels for d in found])).argmax(axis=1)
    assert record["number"] == "".join(map(str, expected))
    lefts = [d["box"][0] for d in record["digits"]]
    assert lefts == sorted(lefts)
    for k, d in enumerate(record["digits"]):  # each box covers where digit k was drawn
        x0, y0, x1, y1 = d["box"]
        assert x0 <= 30 + k * 240 + 100 <= x1 and y0 <= 150 <= y1
    single = run_cli("classify", str(tmp_path / "number.png"), str(tmp_path / "number.png"), "--model", model)
    assert single.returncode == 1 and single.stdout == ""  # never one confident digit of a number
    assert single.stderr.splitlines()[0] == "digitlite: error: " \
        + f"{tmp_path / 'number.png'}: 4 digits side by side, not one: add --multi to read them as a number"
    as_json = _json_lines(run_cli("classify", str(tmp_path / "number.png"), "--model", model, "--json").stdout)
    assert as_json == [{"path": str(tmp_path / "number.png"),
                        "error": f"{tmp_path / 'number.png'}: 4 digits side by side, not one: add --multi to read "
                                 "them as a number"}]
    # the one "no digit" rule: a number of only unsure digits reads as no number, as in the camera
    unsure = run_cli("classify", str(tmp_path / "number.png"), "--model", model, "--multi", "--min-confidence", "1.0")
    assert unsure.returncode == 0 and unsure.stdout.split("  ")[1] == "-"
    assert unsure.stdout.count("?@") == 4  # each box shown, its digit unknown


def test_multi_boxes_of_a_big_jpeg_are_in_its_own_pixels(mnist, tmp_path):
    page = np.full((1500, 4000), 220.0, np.float32)  # decoded at 1/8 of its size
    for k, i in enumerate([1, 0, 2]):
        big = np.asarray(Image.fromarray(mnist.test_images[i]).resize((900, 900), Image.BICUBIC), np.float32)
        page[300:1200, 200 + k * 1300: 1100 + k * 1300] -= big * 0.8
    Image.fromarray(page.astype(np.uint8)).save(tmp_path / "number.jpg", quality=90)
    result = run_cli("classify", str(tmp_path / "number.jpg"), "--multi", "--json")  # the shipped model
    assert result.returncode == 0, result.stderr
    record = _json_lines(result.stdout)[0]
    assert record["number"] == "".join(str(mnist.test_labels[i]) for i in (1, 0, 2))
    for k, d in enumerate(record["digits"]):
        x0, y0, x1, y1 = d["box"]
        assert x0 <= 200 + k * 1300 + 450 <= x1 and y0 <= 750 <= y1 and x1 - x0 > 150 and y1 <= 1500


def test_empty_ruled_paper_is_no_digit(tmp_path):
    from test_lines import page

    Image.fromarray(page(12, kind="ruled", seed=9).astype(np.uint8)).save(tmp_path / "ruled.jpg", quality=90)
    Image.fromarray(page(40, kind="grid", seed=9).astype(np.uint8)).save(tmp_path / "squared.jpg", quality=90)
    result = run_cli("classify", str(tmp_path / "ruled.jpg"), str(tmp_path / "squared.jpg"))
    assert result.returncode == 1 and "Traceback" not in result.stderr and not result.stdout.strip()
    for name in ("ruled.jpg", "squared.jpg"):
        assert f"digitlite: error: {tmp_path / name}: no digit found" in result.stderr


def test_a_batch_goes_on_past_bad_files(images, model, tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("not a picture")
    good = images / "photo_1.jpg"
    (tmp_path / "cut.jpg").write_bytes(good.read_bytes()[:2000])
    Image.new("L", (64, 64), 240).save(tmp_path / "blank.png")
    result = run_cli("classify", str(tmp_path / "empty.png"), str(good), str(tmp_path / "text.jpg"),
                     str(tmp_path / "cut.jpg"), str(tmp_path / "blank.png"), str(tmp_path / "missing.png"),
                     "--model", model)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 and result.stdout.startswith(str(good))
    errors = [line for line in result.stderr.splitlines() if line.startswith("digitlite: error: ")]
    assert len(errors) == 5
    for name in ("empty.png", "text.jpg", "cut.jpg", "blank.png", "missing.png"):
        assert sum(name in e for e in errors) == 1, name
    assert "no digit found" in next(e for e in errors if "blank.png" in e)
    assert "1 of 6 images classified, 5 failed" in result.stderr


def test_json_lines_name_failed_files_too(tmp_path, model):
    (tmp_path / "bad.png").write_bytes(b"\x00\x01")
    result = run_cli("classify", str(tmp_path / "bad.png"), "--model", model, "--json")
    assert result.returncode == 1
    assert _json_lines(result.stdout) == [{"path": str(tmp_path / "bad.png"),
                                          "error": f"{tmp_path / 'bad.png'}: not an image (or a format Pillow cannot read)"}]


@pytest.mark.parametrize("make, fragments", [
    (lambda p: p / "none.tflite", ["none.tflite", "no such model file"]),
    (lambda p: (p / "junk.tflite").write_bytes(b"\x00" * 64) and p / "junk.tflite", ["junk.tflite", "not a valid TFLite model"]),
])
def test_bad_model_is_one_line(make, fragments, tmp_path, images):
    result = run_cli("classify", str(images / "photo_0.jpg"), "--model", str(make(tmp_path)))
    assert_one_line_error(result, *fragments)


@pytest.mark.parametrize("args, fragment", [
    (["--top", "0"], "--top must be between 1 and 10"),
    (["--min-confidence", "1.5"], "--min-confidence must be between 0 and 1"),
    (["--threads", "0"], "--threads must be at least 1"),
])
def test_bad_options(args, fragment, images, model):
    assert_one_line_error(run_cli("classify", str(images / "photo_0.jpg"), "--model", model, *args), fragment)


def glibc_heap():
    """(glibc, a function giving this process's resident pages) with the heap's thresholds fixed
    by ``heap.keep_small``; skips the test where the C library is not glibc."""
    import ctypes

    from digitlite.edge.util import heap

    if not heap.keep_small():
        pytest.skip("not glibc: nothing to set")
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc, lambda: int(open("/proc/self/statm").read().split()[1])


def test_the_heap_keeps_no_freed_photo_around():
    import ctypes

    # a freed block above the threshold goes back to the system at once
    libc, resident = glibc_heap()
    before = resident()
    for _ in range(20):
        block = libc.malloc(8 << 20)
        ctypes.memset(block, 1, 8 << 20)
        libc.free(block)
    assert resident() - before < (4 << 20) // 4096  # pages: far less than one 8 MB block kept


def test_the_heap_gives_back_what_small_freed_blocks_leave_between_live_ones():
    import ctypes

    from digitlite.edge.util import heap

    libc, resident = glibc_heap()
    # 32 MB in 64 KB blocks (under the mmap threshold: from the heap), all freed but the last, which
    # keeps the heap's top where it is, so freeing alone returns nothing (a folder's photos did this)
    blocks = [libc.malloc(64 << 10) for _ in range(512)]
    for block in blocks:
        ctypes.memset(block, 1, 64 << 10)
    for block in blocks[:-1]:
        libc.free(block)
    held = resident()
    heap.give_back()
    assert held - resident() > (16 << 20) // 4096  # pages: most of the 32 MB went back
    libc.free(blocks[-1])


def test_a_folder_gives_back_its_heap_after_every_chunk(images, model, monkeypatch):
    from digitlite.edge.api import Classifier
    from digitlite.edge.apps import classify

    calls = []
    monkeypatch.setattr(classify.heap, "give_back", lambda: calls.append(1))
    monkeypatch.setattr(classify, "CHUNK", 2)
    paths = sorted(str(p) for p in images.glob("*.jpg"))[:5]
    results = list(classify.classify_files(Classifier(model), paths))
    assert len(results) == 5 and all(r.error is None for r in results) and len(calls) == 3
