"""`digitlite camera` on video files the tests write: a digit moving over paper, blank paper, bad files."""

from __future__ import annotations

import json

import cv2  # the camera extra is part of the test install
import numpy as np
import pytest

from conftest import assert_one_line_error, run_cli
from test_preprocess import photo_of

SHIPPED_DIGIT = 7  # MNIST test image 0 is a 7


def write_video(path, frames, fps=20):
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    assert writer.isOpened()
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_GRAY2BGR) if f.ndim == 2 else f)
    writer.release()
    return path


@pytest.fixture(scope="module")
def moving_digit(tmp_path_factory, mnist):
    """40 frames, 640x480: a handwritten 7 sliding left to right over lit, textured paper."""
    frames = [photo_of(mnist.test_images[0], size=(480, 640), scale=200, at=(140, 60 + 8 * i), seed=i,
                       gradient=0.3, noise=4).astype(np.uint8) for i in range(40)]
    return write_video(tmp_path_factory.mktemp("video") / "digit.avi", frames)


def _lines(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_headless_reads_the_digit_in_every_frame_and_follows_it(moving_digit):
    result = run_cli("camera", "--source", str(moving_digit), "--headless")
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert [line["frame"] for line in lines] == list(range(40))
    assert "40 frames read" in result.stderr
    read = [line["number"] for line in lines]
    assert read.count(str(SHIPPED_DIGIT)) >= 38, read  # the shipped model, frame after frame
    lefts = [line["digits"][0]["box"][0] for line in lines if line["digits"]]
    assert lefts[-1] - lefts[0] > 250  # the box moves with the digit (8 px a frame)
    for line in lines:
        assert line["latency_ms"] > 0
        for d in line["digits"]:
            x0, y0, x1, y1 = d["box"]
            assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 480


def test_max_frames_and_region_of_interest(moving_digit):
    result = run_cli("camera", "--source", str(moving_digit), "--headless", "--max-frames", "5",
                     "--roi", "0,0,320,480")
    lines = _lines(result.stdout)
    assert len(lines) == 5
    for line in lines:  # the digit starts at x = 60..260: inside the left half
        assert line["number"] == str(SHIPPED_DIGIT)
        assert line["digits"][0]["box"][2] <= 320


def test_empty_paper_does_not_flicker_digits(tmp_path):
    rng = np.random.default_rng(0)
    frames = [np.clip(rng.normal(200, 3, (480, 640)) * np.linspace(0.8, 1.0, 640), 0, 255).astype(np.uint8)
              for _ in range(20)]
    video = write_video(tmp_path / "blank.avi", frames)
    lines = _lines(run_cli("camera", "--source", str(video), "--headless").stdout)
    assert len(lines) == 20
    assert sum(1 for line in lines if line["number"].strip("?")) <= 1


def test_a_video_that_ends_early_is_read_to_its_end(moving_digit, tmp_path):
    data = moving_digit.read_bytes()
    (tmp_path / "cut.avi").write_bytes(data[: len(data) // 2])
    result = run_cli("camera", "--source", str(tmp_path / "cut.avi"), "--headless")
    assert "Traceback" not in result.stderr
    if result.returncode == 0:
        assert 0 < len(_lines(result.stdout)) < 40
    else:  # some OpenCV builds refuse a file without its index: then it is one clear line
        assert_one_line_error(result, "cut.avi")


@pytest.mark.parametrize("make, fragment", [
    (lambda p: p / "missing.avi", "missing.avi: cannot open"),
    (lambda p: (p / "junk.avi").write_bytes(b"\x00not a video" * 100) and p / "junk.avi", "junk.avi: cannot open"),
])
def test_sources_that_cannot_be_opened(tmp_path, make, fragment):
    result = run_cli("camera", "--source", str(make(tmp_path)), "--headless", timeout=60)
    assert_one_line_error(result, fragment)


def test_a_missing_device_is_an_error_not_a_hang():
    result = run_cli("camera", "--source", "9", "--headless", timeout=60)
    assert_one_line_error(result, "camera 9: cannot open")


def test_overlay_draws_boxes_and_fps(mnist):
    from edge.camera import FrameResult, draw

    frame = np.full((240, 320, 3), 255, np.uint8)
    result = FrameResult(0, [{"digit": 3, "confidence": 0.97, "box": [100, 60, 160, 180]},
                             {"digit": None, "confidence": 0.3, "box": [200, 60, 260, 180]}], 1.0)
    out = draw(frame.copy(), result, fps=123.4, roi=(10, 10, 300, 220))
    assert (out[60, 100:160] == [0, 200, 0]).all()  # a green box for a confident digit
    assert (out[60, 200:260] == [0, 0, 255]).all()  # a red box for an unknown one
    assert (out[5:35, 5:120] != 255).any()  # the FPS text


@pytest.mark.parametrize("args, fragment", [
    (["--roi", "1,2,0,5"], "is empty or off the frame"),
    (["--max-frames", "-1"], "--max-frames must not be negative"),
])
def test_bad_options(moving_digit, args, fragment):
    result = run_cli("camera", "--source", str(moving_digit), "--headless", *args)
    assert result.returncode != 0 and fragment in result.stderr and "Traceback" not in result.stderr
