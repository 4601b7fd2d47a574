"""--collect DIR (classify, camera, serve): each digit read saved as its crop and its input, sorted by
reading, indexed, never overwritten; and the folder read back as samples for `digitlite tune`."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from PIL import Image
from test_preprocess import photo_of

REAL = Path(__file__).resolve().parents[2] / "shared" / "real_photos"


def _files(folder: Path) -> dict[str, list[str]]:
    return {p.name: sorted(f.name for f in p.iterdir()) for p in sorted(folder.iterdir()) if p.is_dir()}


@pytest.fixture(scope="module")
def photos(tmp_path_factory, mnist):
    """Six photos of MNIST test digits (labels known) and one blank page."""
    folder = tmp_path_factory.mktemp("photos")
    for k in range(6):
        Image.fromarray(photo_of(mnist.test_images[k], seed=k).astype(np.uint8)).save(folder / f"p{k}.jpg")
    Image.fromarray(np.full((200, 300), 210, np.uint8)).save(folder / "blank.png")
    return folder, [int(v) for v in mnist.test_labels[:6]]


def test_classify_collect_saves_each_digit_under_its_reading_with_an_index(photos, tmp_path):
    folder, labels = photos
    out = tmp_path / "samples"
    result = run_cli("classify", str(folder), "--collect", str(out), "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    read = {Path(r["path"]).name: r for r in lines if "digit" in r}
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert len(index) == len(read) == 6  # the blank page is an error, not a sample
    for record in index:
        r = read[Path(record["source"]).name]
        assert record["digit"] == r["digit"] and record["confidence"] == r["confidence"]
        expected = str(r["digit"]) if r["digit"] is not None and r["confidence"] >= 0.9 else "unsorted"
        assert record["folder"] == expected
        crop, pixels = out / record["crop"], out / record["input"]
        assert crop.parent.name == pixels.parent.name == expected
        with Image.open(pixels) as img:
            assert img.size == (28, 28) and img.mode == "L"
        with Image.open(crop) as img:
            assert max(img.size) <= 512 and max(img.size) >= 100  # the picture, not the 28x28 input
    assert "collected 6 samples into" in result.stderr
    # the same input the model saw, byte for byte
    saved = tmp_path / "seen"
    run_cli("classify", str(folder / "p0.jpg"), "--save-preprocessed", str(saved))
    first = next(r for r in index if r["source"].endswith("p0.jpg"))
    assert np.array_equal(np.asarray(Image.open(out / first["input"])), np.asarray(Image.open(saved / "p0.png")))


def test_collecting_again_adds_and_never_overwrites(photos, tmp_path):
    folder, _ = photos
    out = tmp_path / "samples"
    run_cli("classify", str(folder / "p0.jpg"), str(folder / "p1.jpg"), "--collect", str(out))
    before = {p: p.read_bytes() for p in out.rglob("*.png")}
    run_cli("classify", str(folder / "p0.jpg"), str(folder / "p1.jpg"), "--collect", str(out))
    after = list(out.rglob("*.png"))
    assert len(after) == 2 * len(before) == 8
    assert all(p.read_bytes() == data for p, data in before.items())
    assert len((out / "index.jsonl").read_text().splitlines()) == 4


def test_threads_saving_the_same_name_at_once_each_get_their_own_files(tmp_path):
    from digitlite.edge.apps.collect import Collector
    from digitlite.edge.runtime.reading import Reading

    collector = Collector(tmp_path / "c")
    reading = Reading.from_probabilities([0.0] * 3 + [1.0] + [0.0] * 6)
    errors = []

    def save(k):
        try:
            for _ in range(10):
                collector.save(reading, np.full((28, 28), k, np.uint8), None, "same-name.png")
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=save, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    inputs = sorted((tmp_path / "c" / "3").glob("*.input.png"))
    assert len(inputs) == 40 and len(set(p.name for p in inputs)) == 40
    values = sorted(int(np.asarray(Image.open(p))[0, 0]) for p in inputs)
    assert values == sorted([0, 1, 2, 3] * 10)  # no sample replaced another
    assert collector.saved["3"] == 40


def test_unsure_and_not_a_digit_go_unsorted(tmp_path):
    from digitlite.edge.apps.collect import Collector, folder_for
    from digitlite.edge.runtime.reading import Reading

    sure = Reading.from_probabilities([0.95] + [0.005] * 9 + [0.005])
    unsure = Reading.from_probabilities([0.6] + [0.04] * 9 + [0.04])
    refused = Reading.from_probabilities([0.01] * 10 + [0.9])
    assert [folder_for(r) for r in (sure, unsure, refused)] == ["0", "unsorted", "unsorted"]
    collector = Collector(tmp_path / "c")
    sample = collector.save(refused, np.zeros((28, 28), np.uint8), None, "x.png")
    assert sample.folder == "unsorted" and sample.crop.exists() and sample.input.exists()
    record = json.loads((tmp_path / "c" / "index.jsonl").read_text())
    assert record["digit"] is None and record["reason"] == "not a digit"
    # a label the person chose (the page's "wrong? it was ...")
    assert collector.save(unsure, np.zeros((28, 28), np.uint8), None, "x.png", folder="8").folder == "8"
    with pytest.raises(Exception, match="not a label"):
        collector.save(unsure, np.zeros((28, 28), np.uint8), None, "x.png", folder="eight")


def test_an_unwritable_collect_folder_is_one_line_before_any_work(photos, tmp_path):
    folder, _ = photos
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("classify", str(folder / "p0.jpg"), "--collect", str(blocker / "sub"))
    assert_one_line_error(result, "cannot collect samples here")


def test_multi_collects_each_digit_of_a_number_with_its_crop(mnist, tmp_path):
    page = np.full((300, 700), 215.0, np.float32)
    for k, x in enumerate((60, 260, 460)):
        digit = photo_of(mnist.test_images[k], size=(300, 200), scale=150, seed=k, gradient=0.0, noise=2)
        page[:, x:x + 200] = np.minimum(page[:, x:x + 200], digit)
    Image.fromarray(page.astype(np.uint8)).save(tmp_path / "number.png")
    out = tmp_path / "samples"
    result = run_cli("classify", str(tmp_path / "number.png"), "--multi", "--json", "--collect", str(out))
    number = json.loads(result.stdout)["number"]
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert "".join(str(r["digit"]) for r in index) == number and len(number) == 3
    for record in index:
        with Image.open(out / record["crop"]) as img:
            assert img.size[0] < 400  # one digit's part of the page, not the page


def test_multi_collects_each_digit_as_the_number_read_it(mnist, tmp_path):
    # the rendered ruled numbers' 37th (seed 7), 126: its thin 1, which the model alone calls "not a
    # digit", is read as the 1 in the number and so collected as a 1, not as "not a digit"
    from digitlite.benchmarks.realworld import build_numbers

    build_numbers(tmp_path / "set", 37, 7, mnist.test_images, mnist.test_labels)
    out = tmp_path / "samples"
    result = run_cli("classify", str(tmp_path / "set" / "0036_on.jpg"), "--multi", "--json", "--collect", str(out))
    assert json.loads(result.stdout)["number"] == "126"
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [r["folder"] for r in index] == ["1", "2", "6"]


def test_camera_collects_a_digit_once_it_holds_not_every_frame(tmp_path, mnist):
    from test_camera import write_video

    still = photo_of(mnist.test_images[0], size=(480, 640), scale=200, seed=1, gradient=0.2, noise=3)
    blank = np.full((480, 640), 205, np.uint8)
    frames = [still.astype(np.uint8)] * 25 + [blank] * 15 + [still.astype(np.uint8)] * 25
    video = write_video(tmp_path / "v.avi", frames)
    out = tmp_path / "samples"
    result = run_cli("camera", "--source", str(video), "--headless", "--collect", str(out))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert sum(line["number"] == "7" for line in lines) >= 40
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert [r["digit"] for r in index] == [7, 7]  # once per time it was shown, after 10 frames held
    assert all("#frame" in r["source"] for r in index)
    assert "collected 2 samples" in result.stderr


@pytest.mark.skipif(not (REAL / "single").is_dir(), reason="needs ../shared/real_photos")
def test_a_collected_folder_reads_back_as_samples_once_each(tmp_path):
    from digitlite.train.samples import read_samples

    out = tmp_path / "samples"
    photos = sorted((REAL / "single").glob("*.jpg"))[:12]
    run_cli("classify", *map(str, photos), "--collect", str(out))
    sorted_ = sum(len(list((out / str(d)).glob("*.input.png"))) for d in range(10) if (out / str(d)).is_dir())
    unsorted = len(list((out / "unsorted").glob("*.input.png"))) if (out / "unsorted").is_dir() else 0
    samples = read_samples(out, for_tuning=False)
    assert len(samples.labels) == sorted_ and samples.unsorted == unsorted and sorted_ + unsorted == 12
    # a picture alone (the person dropped a photo in, or moved a crop without its input) is read by the reader
    crop = next(p for p in out.rglob("*.png") if not p.name.endswith(".input.png"))
    (out / "4").mkdir(exist_ok=True)
    (out / "4" / "mine.png").write_bytes(crop.read_bytes())
    again = read_samples(out, for_tuning=False)
    assert len(again.labels) == len(samples.labels) + 1
    from digitlite.edge.vision.inputs import digit_input

    k = again.files.index(str(out / "4" / "mine.png"))
    assert again.labels[k] == 4 and np.array_equal(again.images[k], digit_input(str(out / "4" / "mine.png")))


def test_serve_collect_saves_api_answers_and_the_pages_corrections(tmp_path, mnist):
    """Two workers: what /api/predict reads is saved (not the page's answers while drawing, ?collect=0);
    /api/collect?label=D saves a drawing under the person's label; a bad label is a 400."""
    from test_serve import drawing_png, request

    from digitlite.benchmarks.serve import server_process

    out = tmp_path / "samples"
    png = drawing_png(mnist.test_images[0])  # a 7
    with server_process("--workers", "2", "--collect", str(out)) as (_, port):
        address = ("127.0.0.1", port)
        status, _, body = request(address, "GET", "/api/health")
        assert json.loads(body)["collect"] is True
        answers = [json.loads(request(address, "POST", "/api/predict", png, {"Content-Type": "image/png"})[2])
                   for _ in range(6)]
        drafts = [request(address, "POST", "/api/predict?collect=0&input=1", png, {"Content-Type": "image/png"})
                  for _ in range(3)]
        status, _, body = request(address, "POST", "/api/collect?label=1", png, {"Content-Type": "image/png"})
        saved = json.loads(body)
        bad = request(address, "POST", "/api/collect?label=seven", png, {"Content-Type": "image/png"})
    assert all(a["digit"] == 7 and a["collected"] == "7" for a in answers)
    assert all(d[0] == 200 and "collected" not in json.loads(d[2]) for d in drafts)
    assert status == 200 and saved["label"] == "1" and saved["read_as"]["digit"] == 7
    assert bad[0] == 400 and "not a label" in json.loads(bad[2])["error"]
    assert len(list((out / "7").glob("*.input.png"))) == 6 and len(list((out / "1").glob("*.input.png"))) == 1
    assert len((out / "index.jsonl").read_text().splitlines()) == 7


def test_serve_without_collect_says_how_to_turn_it_on(mnist):
    from test_serve import SHIPPED, drawing_png, request

    from digitlite.edge.apps.serve import DigitServer
    from digitlite.edge.runtime.interpreter import Model

    srv = DigitServer(("127.0.0.1", 0), Model(SHIPPED), SHIPPED)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, _, body = request(srv.server_address, "POST", "/api/collect?label=7", drawing_png(mnist.test_images[0]),
                                  {"Content-Type": "image/png"})
        health = json.loads(request(srv.server_address, "GET", "/api/health")[2])
    finally:
        srv.shutdown()
        srv.server_close()
    assert status == 404 and "--collect DIR" in json.loads(body)["error"]
    assert health["collect"] is False


def test_the_pages_wrong_it_was_saves_the_drawing_under_the_chosen_digit(tmp_path):
    """In Chromium: draw a 1, pick "wrong? it was 7": the drawing is saved in 7/; "right" keeps it under 1."""
    from conftest import chromium_page, draw_digit

    from digitlite.benchmarks.serve import server_process

    out = tmp_path / "samples"
    with server_process("--workers", "1", "--collect", str(out)) as (_, port), chromium_page() as page:
        page.goto(f"http://localhost:{port}/")
        page.wait_for_selector("#collect", state="attached")
        assert not page.is_visible("#collect")  # nothing drawn yet
        assert draw_digit(page, 1, 0) == "1"
        assert page.is_visible("#collect")
        page.select_option("#wrong", "7")
        page.wait_for_function("document.body.dataset.saved")
        assert "saved as 7" in page.inner_text("#status")
        first = page.evaluate("document.body.dataset.saved")
        page.click("#right")
        page.wait_for_function(f"document.body.dataset.saved !== {json.dumps(first)}")
        page.screenshot(path=str(tmp_path / "page.png"))
    assert first.startswith("7/")
    assert len(list((out / "7").glob("*.input.png"))) == 1 and len(list((out / "1").glob("*.input.png"))) == 1
    assert not (out / "unsorted").exists()  # the page's answers while drawing are not samples
