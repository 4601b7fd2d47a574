"""The real-world set, the quantization table and the camera benchmark, on tiny inputs."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import NPM
from PIL import Image

from digitlite.benchmarks import camera, nondigits, quantization, realworld
from digitlite.edge.api import Classifier
from digitlite.edge.vision.decode import load_image


def test_every_digit_template_draws_ink_inside_the_canvas():
    rng = np.random.default_rng(0)
    for digit in range(10):
        for _ in range(5):
            ink = realworld.stroke_digit(digit, rng)
            assert ink.shape == (realworld.CANVAS, realworld.CANVAS) and 0 <= ink.min() and ink.max() <= 1
            assert 0.005 < ink.mean() < 0.4  # strokes (a fine-liner 1 is little ink), not empty or filled
            assert ink[:3].max() < 0.5 and ink[-3:].max() < 0.5  # the digit is not cut by the edge


def test_real_world_set_is_seeded_and_complete(tmp_path, mnist):
    a = realworld.build_set(tmp_path / "a", 3, seed=11, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    b = realworld.build_set(tmp_path / "b", 3, seed=11, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    rows = list(csv.DictReader(open(a / "labels.csv")))
    assert len(rows) == 30 and sorted({int(r["label"]) for r in rows}) == list(range(10))
    assert {r["source"] for r in rows} == {"strokes", "mnist-shapes"}
    for r in rows:
        assert (a / r["file"]).read_bytes() == (b / r["file"]).read_bytes()  # same seed, same files
        assert load_image(a / r["file"]).size > 0
    c = realworld.build_set(tmp_path / "c", 3, seed=12, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    assert (a / rows[0]["file"]).read_bytes() != (c / rows[0]["file"]).read_bytes()


def test_real_world_evaluation_counts_every_image(tmp_path, mnist, quantized):

    folder = realworld.build_set(tmp_path / "set", 2, seed=3, mnist_images=mnist.test_images,
                                 mnist_labels=mnist.test_labels)
    result = realworld.evaluate(folder, Classifier(quantized[0] / "digits_int8.tflite"))
    acc = result["accuracy"]
    assert acc["all"]["total"] == 20 == result["images"]
    assert acc["source=strokes"]["total"] + acc["source=mnist-shapes"]["total"] == 20
    assert acc["all"]["correct"] == 20 - len(result["wrong"])
    table = realworld.markdown({**result, "model": "m.tflite", "seed": 3})
    assert "| all rendered images | 20 |" in table


def test_ruled_numbers_are_seeded_half_on_a_rule_and_read_whole(tmp_path, mnist):
    a = realworld.build_numbers(tmp_path / "a", 6, seed=5, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    b = realworld.build_numbers(tmp_path / "b", 6, seed=5, mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    rows = list(csv.DictReader((a / "labels.csv").read_text().splitlines()))
    assert len(rows) == 6 and all(2 <= len(r["label"]) <= 4 and r["label"].isdigit() for r in rows)
    assert [r["conditions"].split("+")[1] for r in rows] == ["on-rule", "between-rules"] * 3
    for r in rows:
        assert (a / r["file"]).read_bytes() == (b / r["file"]).read_bytes()
        assert load_image(a / r["file"]).shape[:2] == (480, 640)
    # read with the shipped model: a number read whole counts once, in its group and in all
    result = realworld.evaluate_numbers(a, Classifier())
    groups = result["groups"]
    assert groups["all"]["total"] == 6 == groups["on-rule"]["total"] + groups["between-rules"]["total"]
    assert groups["all"]["right"] == 6 - len(result["misses"]) >= 4
    table = realworld.markdown({"accuracy": {}, "numbers": result, "model": "m.tflite", "seed": 5, "images": 0,
                                "seconds": 0})
    assert f"| numbers on ruled paper, rendered, read whole (`--multi`) | 6 | {groups['all']['right']} |" in table


def test_quantization_table_from_cards(quantized, tmp_path):
    out, _ = quantized
    cards = quantization.load_cards([str(out / f"digits_{v}.tflite") for v in ("int8", "float32")])
    table = quantization.markdown(cards)
    assert "| `digits_int8.tflite` | int8 |" in table and "uint8 / uint8" in table and "| yes |" in table
    (tmp_path / "x.tflite").write_bytes(b"")
    with pytest.raises(SystemExit, match="x.json: the model card is missing"):
        quantization.load_cards([str(tmp_path / "x.tflite")])


def test_camera_benchmark_reads_every_frame(tmp_path, mnist, quantized):
    from digitlite.edge.runtime.interpreter import Model

    video = camera.make_video(tmp_path / "v.avi", mnist.test_images[0], frames=10)
    result = camera.read_video(video, Model(quantized[0] / "digits_int8.tflite", threads=1), stable=3, frames=25)
    assert result["frames"] == 25 and result["fps"] > 0
    assert len(result["readings"]) == len(result["stable_readings"]) == 25  # the 10-frame file is looped
    assert result["stable_readings"][:2] == [None, None]  # nothing has held 3 frames yet
    assert result["decode"]["n"] == result["find_preprocess_infer"]["n"] == 25


def test_the_desk_set_has_a_truth_for_every_frame(tmp_path, mnist):
    from digitlite.benchmarks.desk import make_clip, truth_of

    video, truth_file = camera.write_desk_set(tmp_path / "desk", seed=5, clips=2, frames=40,
                                              mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    truth = json.loads(truth_file.read_text())["truth"]
    assert len(truth) == 80 and video.stat().st_size > 0
    again = json.loads(camera.write_desk_set(tmp_path / "again", 5, 2, 40, mnist.test_images,
                                             mnist.test_labels)[1].read_text())["truth"]
    assert again == truth  # the same seed, the same clips
    clip = make_clip(5000, 150, mnist.test_images, mnist.test_labels)
    kinds = {("cut" if t.number is None else "digit" if t.number else "empty") for t in
             (truth_of(clip, i) for i in range(150))}
    assert kinds == {"cut", "digit", "empty"}  # numbers come in, stay and leave; empty paper between
    for i in range(150):
        t = truth_of(clip, i)
        assert t.number is None or t.number == "" or t.number.isdigit()


def test_camera_scores_whole_numbers_and_empty_frames():
    truth = [{"clip": 0, "number": n, "paper": "ruled", "ink": "pen" if n else "", "conditions": ["margin line"]}
             for n in ["", "", None, "12", "12", "12", ""]]
    readings = ["", "1", "7", "12", "1", "12?", ""]
    scored = camera.score(readings, truth)["groups"]
    assert scored["digit"] == {"right": 1, "frames": 3, "rate": 1 / 3}  # a missing or extra digit is wrong
    assert scored["empty"] == {"right": 2, "frames": 3, "rate": 2 / 3}  # the cut frame is not scored
    assert scored["empty / margin line"]["frames"] == 3
    held = camera.score(["", "", "", "", "12", "12", ""], truth, held=2)["groups"]
    assert held["digit"]["frames"] == 2 and held["empty"]["frames"] == 1  # frames whose truth has held 2


def test_memprobe_reports_its_own_process(quantized):
    import json

    run = subprocess.run([sys.executable, "-m", "digitlite.benchmarks.memprobe", str(quantized[0] / "digits_int8.tflite"),
                          "--images", "200"], capture_output=True, text=True)
    report = json.loads(run.stdout)
    assert report["runtime"] == "litert" and report["tensorflow_loaded"] is False
    assert 0 < report["start_mb"] <= report["loaded_mb"] <= report["peak_mb"] < 500


def test_the_reject_comparison_labels_candidates_and_scores_each_way(tmp_path, mnist):
    from digitlite.benchmarks import reject
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model

    classifier = Model(default_model())
    x, y = reject.harvest(1, 150, mnist, classifier)
    assert len(x) == len(y) > 0 and x.shape[1:] == (28, 28)
    assert set(y.tolist()) <= set(range(11))
    camera.write_desk_set(tmp_path, seed=5, clips=1, frames=120, mnist_images=mnist.test_images,
                          mnist_labels=mnist.test_labels)
    always_junk = lambda pixels: np.tile(np.eye(11)[reject.NOT_A_DIGIT], (len(pixels), 1))  # noqa: E731
    rules = reject.score_way(tmp_path, classifier)
    dropped = reject.score_way(tmp_path, classifier, always_junk)
    assert rules["dropped_by_model"] == 0 and rules["digit"]["frames"] > 0 and rules["digit"]["right"] > 0
    assert dropped["empty"]["rate"] == 1.0 and dropped["dropped_by_model"] > 0
    assert dropped["digit"]["right"] == 0  # a model that drops everything reads no digit
    from digitlite.edge.vision import ink
    with reject.without_line_rules():
        assert not ink.find_lines(np.zeros((50, 50)), np.zeros((50, 50), bool))
    assert ink.find_lines.__module__ == "digitlite.edge.vision.lines"  # put back


def test_a_table_is_pasted_where_its_markers_are_and_the_headline_follows(tmp_path, monkeypatch):
    """Tables live in docs/ pages or the README; the README's headline is refreshed from the results."""
    from digitlite.benchmarks import common, headline, publish, training

    readme, docs = tmp_path / "README.md", tmp_path / "docs"
    docs.mkdir()
    readme.write_text(f"# t\n{headline.MARKERS[0]}\nstale\n{headline.MARKERS[1]}\nend\n")
    (docs / "results.md").write_text(f"# r\n{training.MARKERS[0]}\nold\n{training.MARKERS[1]}\ntail\n")
    results = tmp_path / "results"
    results.mkdir()
    (results / "serve.json").write_text(json.dumps({"machine": {"cpu": "Test CPU", "cores": 3}, "rows": [
        {"clients": 64, "busy_cores": 2, "requests_per_second": 123.4, "resets": 0, "status_5xx": 0}]}))
    monkeypatch.setattr(common, "RESULTS", results)
    publish.update_readme("| new table |", training.MARKERS, readme)
    assert (docs / "results.md").read_text() == f"# r\n{training.MARKERS[0]}\n| new table |\n{training.MARKERS[1]}\ntail\n"
    text = readme.read_text()
    assert "stale" not in text and text.endswith(f"{headline.MARKERS[1]}\nend\n")
    assert "**123 requests/s**, 0 resets, 0 errors | `python -m digitlite.benchmarks.serve` |" in text
    assert "| model size | not measured |" in text  # no quantization results: never a guess
    assert "On Test CPU (3 cores)" in text
    with pytest.raises(SystemExit, match="not found"):
        publish.update_readme("x", ("<!-- nowhere:begin -->", "<!-- nowhere:end -->"), readme)


def test_a_dry_run_leaves_the_published_results_alone(tmp_path, monkeypatch, capsys):
    """Without --update-readme nothing changes in benchmarks/results: the README's headline reads
    those files, so they must stay those of the run that pasted the tables."""
    from digitlite.benchmarks import common, publish, training

    results, readme = tmp_path / "results", tmp_path / "README.md"
    results.mkdir()
    readme.write_text(f"{training.MARKERS[0]}\nold\n{training.MARKERS[1]}\n")
    monkeypatch.setattr(common, "RESULTS", results)
    monkeypatch.setattr(common, "README", readme)
    publish.publish("training", {"x": 1}, "| dry |", training.MARKERS, readme=False)
    assert list(results.iterdir()) == [] and "old" in readme.read_text() and "| dry |" in capsys.readouterr().out
    publish.publish("training", {"x": 2}, "| real |", training.MARKERS, readme=True)
    assert json.loads((results / "training.json").read_text()) == {"x": 2} and "| real |" in readme.read_text()
    elsewhere = tmp_path / "mine"
    publish.publish("training", {"x": 3}, "| mine |", training.MARKERS, readme=False, results=elsewhere)
    assert json.loads((elsewhere / "training.json").read_text()) == {"x": 3}  # asked for: written


def test_mcu_benchmark_checks_the_exported_sources_against_litert(mnist):
    from digitlite.benchmarks import mcu
    from digitlite.edge.runtime.shipped import default_model

    row = mcu.measure(default_model(), mnist.test_images[:60], mnist.test_labels[:60])
    assert row["same_as_litert"] == 60 and row["images"] == 60 and row["accuracy"] >= 0.95
    assert row["ram_bytes"] == row["arena_bytes"] + 784 and row["invoke_p50_ms"] > 0
    table = mcu.markdown({"models": [row], "machine": {"cpu": "test CPU", "cores": 2, "python": "3"}})
    size = f"**{default_model().stat().st_size / 1024:.1f} KB**"
    assert f"| `digits_int8.tflite` | {size} |" in table and "60/60" in table and "reference kernels" in table


def test_web_benchmark_measures_both_pages_and_reads_every_digit(tmp_path):
    """One load and a few drawings of each page: every figure there, every digit read right."""
    from conftest import REPO

    from digitlite.benchmarks import headline, web

    result = web.run(loads=1, drawings=3, runtime_dir=str(REPO / ".npm"))
    for page in (result["web"], result["serve"]):
        assert page["misread"] == 0 and page["drawn"] == 4
        assert page["first_prediction_ms"] > page["ready_ms"] > 0 and page["drawing_ms"]["n"] == 3
        assert page["call_ms"] > 0 and page["weight"]["bytes"] > page["weight"]["gzip_bytes"] > 0
    assert result["web"]["network_per_drawing_bytes"] == 0 and result["serve"]["network_per_drawing_bytes"] > 1000
    # the page loads one WebAssembly build: most of its weight, and ~9.4 MB
    assert 9e6 < result["web"]["weight"]["bytes"] < 11e6 and result["serve"]["weight"]["bytes"] < 100_000
    table = web.markdown(result)
    assert "| digits drawn, read right | 4/4 | 4/4 |" in table
    (tmp_path / "web.json").write_text(json.dumps(result))
    row = next(r for r in headline.rows(tmp_path) if r[2] == "web")
    assert row[1].startswith("**") and "gzipped once" in row[1]


def fake_real_set(folder, mnist):
    """A real-photos folder as ../shared/real_photos lays it out: single/, multi/ and labels.csv (labels as
    strings: a number keeps its leading zero)."""
    (folder / "single").mkdir(parents=True)
    (folder / "multi").mkdir()
    rows = []
    for k in range(4):
        Image.fromarray(255 - mnist.test_images[k]).resize((112, 112)).save(folder / "single" / f"r__d__{k}.png")
        rows.append((f"single/r__d__{k}.png", str(mnist.test_labels[k]), "drawn" if k % 2 else "photo", "r/d"))
    zero = mnist.test_images[int(np.flatnonzero(mnist.test_labels == 0)[0])]
    seven = mnist.test_images[0]
    pair = np.concatenate([np.zeros((28, 8), np.uint8), zero, np.zeros((28, 10), np.uint8), seven,
                           np.zeros((28, 8), np.uint8)], axis=1)
    Image.fromarray(255 - pair).resize((pair.shape[1] * 4, 112)).save(folder / "multi" / "r__d__07.png")
    rows.append(("multi/r__d__07.png", "07", "drawn", "r/d"))
    with open(folder / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows([("file", "label", "kind", "source_repo"), *rows])
    return folder


def test_the_real_set_is_read_as_classify_reads_it_and_each_folder_is_a_row(tmp_path, quantized, mnist):

    real = fake_real_set(tmp_path / "real", mnist)
    result = realworld.evaluate_real(real, Classifier(quantized[0] / "digits_int8.tflite"))
    single, multi = result["single"]["groups"], result["multi"]["groups"]
    assert single["all"]["total"] == 4 and single["photo"]["total"] == 2 and single["drawn"]["total"] == 2
    assert single["all"]["right"] + len(result["single"]["misses"]) == 4
    assert multi["all"]["total"] == 1 and multi["all"]["right"] + len(result["multi"]["misses"]) == 1
    cal = result["single"]["calibration"]
    assert cal["samples"] + sum(m["why"] is not None and m["confidence"] is None for m in result["single"]["misses"]) == 4
    table = realworld.markdown({"accuracy": {}, "model": "m.tflite", "seed": 1, "images": 0, "seconds": 0,
                                "real": result, "mnist_calibration": cal})
    assert "| **single digits (headline)** | 4 |" in table and "| **numbers, read whole** (`--multi`) | 1 |" in table
    assert "| MNIST test (10,000) |" in table and "ECE" in table


def test_the_training_never_sees_the_fonts_the_non_digit_benchmark_tests_with():
    from digitlite.train.synthetic import FONT_LETTERS, FONTS

    assert not {p.name for p in FONTS} & {p.name for p in nondigits.FONTS}
    assert not set(nondigits.LETTERS) & set("OoQDIlijJSsZzBbGgq0123456789")
    assert not set(FONT_LETTERS) & set("OoQDIlijJSsZzBbGgq0123456789")


def test_the_non_digit_set_is_seeded_and_scored_per_kind(tmp_path, quantized, mnist):
    fonts = nondigits.font_files(str(NPM))[:2]
    a = nondigits.build_set(tmp_path / "a", 2, seed=5, fonts=fonts, mnist_images=mnist.test_images,
                            mnist_labels=mnist.test_labels)
    b = nondigits.build_set(tmp_path / "b", 2, seed=5, fonts=fonts, mnist_images=mnist.test_images,
                            mnist_labels=mnist.test_labels)
    rows = list(csv.DictReader(open(a / "labels.csv")))
    assert {r["kind"] for r in rows} == set(nondigits.KINDS) and len(rows) == 2 * 3 + 2 * 5
    assert all((a / r["file"]).read_bytes() == (b / r["file"]).read_bytes() for r in rows)
    assert all(load_image(a / r["file"]).size > 0 for r in rows)
    real = fake_real_set(tmp_path / "real", mnist)
    # real empty paper: the white margins beside two of the real digits, and one that holds the digit
    crops = tmp_path / "crops.csv"
    crops.write_text("file,x0,y0,x1,y1,what\nsingle/r__d__0.png,0,0,14,112,margin\n"
                     "single/r__d__1.png,98,0,112,112,margin\nsingle/r__d__2.png,0,0,112,112,not empty\n")
    scored = nondigits.evaluate(a, real, quantized[0] / "digits_int8.tflite", [0.0, 0.9], crops)
    assert [e["floor"] for e in scored] == [0.0, 0.9]
    cut = sorted((a / "real_paper").iterdir())
    assert [Image.open(p).size for p in cut] == [(14, 112), (14, 112), (112, 112)]
    edited = tmp_path / "edited.csv"  # an edited list is cut again, never read from the old crops
    edited.write_text("file,x0,y0,x1,y1,what\nsingle/r__d__0.png,0,0,10,20,margin\n")
    assert [Image.open(p).size for p in nondigits.cut_real_paper(real, a / "real_paper", edited)] == [(10, 20)]
    # a list naming a photo the real set lacks is one clear error, not a traceback halfway through
    gap = tmp_path / "gap.csv"
    gap.write_text("file,x0,y0,x1,y1,what\nsingle/r__d__0.png,0,0,10,20,margin\nsingle/gone.png,0,0,10,20,margin\n")
    from digitlite.edge.util.errors import DigitliteError
    with pytest.raises(DigitliteError, match="gone.png: missing \\(1 of the 2 photos"):
        nondigits.cut_real_paper(real, a / "real_paper", gap)
    for e in scored:
        assert e["refused"]["all non-digits"]["of"] == 14 and e["refused"]["empty paper"]["of"] == 2
        assert e["refused"]["real paper"]["of"] == 3 and e["refused"]["real paper"]["refused"] == 2
        assert e["real"]["images"] == 4 and e["real"]["right"] + e["real"]["refused"] <= 4
    # a higher floor refuses at least as much
    assert scored[1]["refused"]["all non-digits"]["refused"] >= scored[0]["refused"]["all non-digits"]["refused"]
    table = nondigits.markdown({"seed": 5, "images": len(rows), "machine": {"cpu": "x"}, "rows": scored})
    assert table.count("| `digits_int8.tflite` |") == 2 and "**all non-digits**" in table
    assert "| 66.7% (2/3) |" in table
    # without the real photos there is no real paper to cut, and the column says so
    alone = nondigits.evaluate(a, tmp_path / "nothing", quantized[0] / "digits_int8.tflite", [0.0], crops)
    assert "real paper" not in alone[0]["refused"]


def test_the_real_empty_paper_is_cut_inside_its_photos():
    """Every crop that benchmarks/real_paper.csv lists lies inside its photo, upright, and is no sliver."""
    from PIL import ImageOps

    rows = list(csv.DictReader(open(nondigits.REAL_PAPER)))
    assert len(rows) >= 60 and len({r["file"].split("__")[0] for r in rows}) >= 10
    assert (nondigits.REAL / rows[0]["file"]).is_file(), "../shared/real_photos must be beside the repository"
    for r in rows:
        with Image.open(nondigits.REAL / r["file"]) as img:
            w, h = ImageOps.exif_transpose(img).size
        x0, y0, x1, y1 = (int(r[c]) for c in ("x0", "y0", "x1", "y1"))
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, r["file"]
        assert min(x1 - x0, y1 - y0) >= 0.15 * min(w, h), r["file"]


def test_the_fonts_offline_without_a_copy_is_one_line(tmp_path):
    from digitlite.edge.util.errors import DigitliteError

    with pytest.raises(DigitliteError, match="--fonts-dir"):
        nondigits.font_files(str(tmp_path))


def test_the_headline_quotes_the_real_set_and_the_non_digits(tmp_path):
    from digitlite.benchmarks import headline

    (tmp_path / "realworld.json").write_text(json.dumps({"real": {
        "single": {"groups": {"all": {"right": 308, "refused": 1, "sure_wrong": 0, "total": 311}}},
        "multi": {"groups": {"all": {"right": 40, "total": 44}}}}}))
    (tmp_path / "nondigits.json").write_text(json.dumps({"rows": [{"model": headline.MODEL, "floor": 0.0, "refused": {
        "all non-digits": {"rate": 0.952}, "empty paper": {"rate": 1.0, "of": 60},
        "real paper": {"rate": 0.985, "of": 67}}}]}))
    figures = {what: figure for what, figure, _ in headline.rows(tmp_path)}
    real = next(f for w, f in figures.items() if w.startswith("real photos"))
    assert real == "**99.0%** of 311 read right, 0 wrong at over 90% confidence"
    assert next(f for w, f in figures.items() if w.startswith("real handwritten numbers")) == "**90.9%** of 44"
    assert next(f for w, f in figures.items() if w.startswith("letters")) == "**95.2%** answered \"not a digit\""
    assert next(f for w, f in figures.items() if w.startswith("empty paper")) == (
        "**100.0%** of 60 rendered and **98.5%** of 67 real \"no digit\"")


def test_the_readme_headline_is_what_the_results_give():
    from digitlite.benchmarks import common, headline

    text = common.README.read_text()
    block = text.split(headline.MARKERS[0], 1)[1].split(headline.MARKERS[1], 1)[0].strip()
    assert block == headline.markdown(common.RESULTS).strip(), "re-run python -m digitlite.benchmarks.headline --update-readme"


def test_the_results_describe_the_shipped_model():
    from digitlite.benchmarks import common
    from digitlite.edge.runtime.shipped import default_model
    from digitlite.edge.util.digest import sha256_file

    shipped = sha256_file(default_model())
    cards = json.loads((common.RESULTS / "quantization.json").read_text())
    assert next(c for c in cards if c["file"] == "digits_int8.tflite")["sha256"] == shipped
    mcu = json.loads((common.RESULTS / "mcu.json").read_text())
    assert next(m for m in mcu["models"] if m["model"] == "digits_int8.tflite")["sha256"] == shipped


def test_the_speed_benchmark_times_the_classify_command_beside_pillows_decode():
    from digitlite.benchmarks import speed

    inputs = speed.make_inputs(4)
    folder = speed.time_folder(inputs["photo"], rounds=1)
    assert folder["n"] == 4 and folder["classify_ms"] > 0 and folder["pillow_gray_ms"] > 0
    assert folder["ratio"] == pytest.approx(folder["classify_ms"] / folder["pillow_gray_ms"])
    assert sum(a == k % 10 for k, a in enumerate(folder["answers"])) >= 3  # what the command printed, read back


def test_the_camera_benchmark_times_the_camera_command_itself(tmp_path, mnist):
    from digitlite.benchmarks import camera
    from digitlite.edge.runtime.shipped import default_model

    video, _ = camera.write_desk_set(tmp_path, seed=5, clips=1, frames=20, mnist_images=mnist.test_images,
                                     mnist_labels=mnist.test_labels, noise=camera.SENSOR_NOISE)
    run = camera.command_fps(video, default_model(), passes=1)
    assert run["frames"] == 20 and run["fps"] > 0  # a JSON line per frame, counted from the command's output


@pytest.mark.parametrize("script", ["reject", "realworld", "views"])
def test_a_benchmark_without_its_data_answers_in_one_line(tmp_path, script):
    # no MNIST where DIGITLITE_DATA points (it was the DataError's traceback): one line, exit 1
    import os

    env = {**os.environ, "DIGITLITE_DATA": str(tmp_path / "nothing here")}
    run = subprocess.run([sys.executable, "-m", f"digitlite.benchmarks.{script}", "--results", str(tmp_path)],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    lines = run.stderr.strip().splitlines()
    assert run.returncode != 0 and "Traceback" not in run.stderr, run.stderr
    assert lines and lines[-1].startswith(f"python -m digitlite.benchmarks.{script}: error: "), run.stderr


def test_a_ten_class_trainings_validation_set_is_its_split_alone(mnist, mnist_dir):
    """No re-drawing and no non-digits: the set is the split's digits as they are (no class 10, no fonts)."""
    from digitlite.benchmarks import views as bench
    from digitlite.train.config import TrainConfig
    from digitlite.train.data import split_validation

    images, labels = bench.validation_set(TrainConfig(val_size=50, negatives=0, redrawn=0.0, data_dir=str(mnist_dir)))
    _, (x_val, y_val) = split_validation(mnist.train_images, mnist.train_labels, 50, 1)
    assert np.array_equal(images, x_val) and np.array_equal(labels, y_val) and not (labels == 10).any()


def test_the_views_benchmark_rebuilds_the_trainings_validation_set_and_fits_its_temperature(mnist, mnist_dir,
                                                                                            quantized):
    from digitlite.benchmarks import views as bench
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.views import Viewed
    from digitlite.train.config import TrainConfig
    from digitlite.train.data import split_validation

    images, labels = bench.validation_set(TrainConfig(val_size=60, negatives=200, data_dir=str(mnist_dir)))
    assert images.shape == (80, 28, 28) and images.dtype == np.uint8 and (labels == 10).sum() == 20
    _, (_, held_out) = split_validation(mnist.train_images, mnist.train_labels, 60, 1)
    assert np.array_equal(labels[:60], held_out)  # the digits the training holds out, in its order
    from digitlite.edge.runtime.shipped import default_model
    from digitlite.edge.util.errors import DigitliteError

    with pytest.raises(DigitliteError, match="ten-class"):  # the tiny model has no "not a digit"
        bench.measure(quantized[0] / "digits_int8.tflite", images, labels)
    model = default_model()
    result = bench.measure(model, images, labels)
    digit = labels < 10
    for key, predictor in (("one_view", Model(model)), ("seven_views", Viewed(Model(model)))):
        answer = predictor.predict_proba(images).argmax(axis=1)
        assert result[key]["digits_right"] == int((answer[digit] == labels[digit]).sum())
        assert result[key]["not_a_digit_refused"] == int((answer[~digit] == 10).sum())
    assert 0.25 < result["fitted_temperature"] < 8 and result["images"] == 80
    table = bench.markdown(result)
    assert table.count("\n| ") == 3 and str(result["fitted_temperature"]) in table  # a row each way


def test_the_speed_benchmark_times_a_digit_in_seven_views_beside_one(quantized):
    from digitlite.benchmarks import speed
    from digitlite.edge.runtime.shipped import default_model

    inputs = speed.make_inputs(2)
    paths = speed.measure(Classifier(default_model(), threads=1), inputs)
    assert set(paths) == {"photo", "phone", "canvas", "seven views", "one view"}
    assert paths["seven views"]["n"] == paths["one view"]["n"] == len(inputs["photo"])
    assert paths["seven views"]["answers"] == [d.digit for d in Classifier(default_model()).classify_batch(inputs["photo"])]
    table = speed.markdown({"model": "m.tflite", "paths": paths, "labels": {k: [0] * 2 for k in ("photo", "phone", "canvas")},
                            "machine": {"cpu": "cpu", "cores": 2, "python": "3.11"}})
    assert "| seven views, pooled" in table and "| one view (a number's candidate)" in table
