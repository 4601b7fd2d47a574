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


def test_a_window_with_no_display_is_one_line_not_an_abort(moving_digit):
    """OpenCV's Qt build aborts the process (exit 134) when there is no display: say so first."""
    result = run_cli("camera", "--source", str(moving_digit), "--max-frames", "5",
                     env={"DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert_one_line_error(result, "cannot show the camera window: there is no display", "add --headless")


def test_why_no_window_can_open():
    from digitlite.edge.apps.camera import no_window_reason

    class FakeCv2:
        def __init__(self, gui):
            self.info = f"  Video I/O:\n  GUI:                           {gui}\n    QT: NO\n"

        def getBuildInformation(self):
            return self.info

    assert "opencv-python-headless" in no_window_reason(FakeCv2("NONE"), {"DISPLAY": ":0"}, "linux")
    assert "no display" in no_window_reason(FakeCv2("QT5"), {}, "linux")
    assert no_window_reason(FakeCv2("QT5"), {"DISPLAY": ":0"}, "linux") is None
    assert no_window_reason(FakeCv2("QT5"), {"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert no_window_reason(FakeCv2("COCOA"), {}, "darwin") is None  # macOS needs no DISPLAY


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
    from digitlite.edge.apps.camera import FrameResult, draw
    from digitlite.edge.runtime.reading import NumberReading, Reading

    frame = np.full((240, 320, 3), 255, np.uint8)
    result = FrameResult(0, NumberReading((Reading(3, 0.97, (0.0,) * 10, (100, 60, 160, 180)),
                                           Reading(None, 0.3, (0.0,) * 10, (200, 60, 260, 180)))), 1.0)
    out = draw(frame.copy(), result, fps=123.4, roi=(10, 10, 300, 220))
    assert (out[60, 100:160] == [0, 200, 0]).all()  # a green box for a confident digit
    assert (out[60, 200:260] == [0, 0, 255]).all()  # a red box for an unknown one
    assert (out[5:35, 5:120] != 255).any()  # the FPS text


@pytest.mark.parametrize("args, fragment", [
    (["--roi", "1,2,0,5"], "is empty or off the frame"),
    (["--max-frames", "-1"], "--max-frames must not be negative"),
    (["--stable", "-2"], "--stable must not be negative"),
    (["--ink", "purple"], "invalid choice: 'purple'"),
])
def test_bad_options(moving_digit, args, fragment):
    result = run_cli("camera", "--source", str(moving_digit), "--headless", *args)
    assert result.returncode != 0 and fragment in result.stderr and "Traceback" not in result.stderr


def test_stable_reports_a_reading_once_it_has_held(moving_digit):
    result = run_cli("camera", "--source", str(moving_digit), "--headless", "--stable", "3", "--max-frames", "8")
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert [line["stable"] for line in lines[:2]] == [None, None]  # not yet held for 3 frames
    assert all(line["stable"] == line["number"] == str(SHIPPED_DIGIT) for line in lines[2:])
    plain = _lines(run_cli("camera", "--source", str(moving_digit), "--headless", "--max-frames", "2").stdout)
    assert "stable" not in plain[0]


def test_stabilizer_changes_only_after_a_reading_holds():
    from digitlite.edge.apps.camera import Stabilizer

    steady = Stabilizer(3)
    fed = ["", "", "", "4", "1", "4", "4", "4", "", "4", "", "", ""]
    out = [steady.update(r) for r in fed]
    assert out == [None, None, "", "", "", "", "", "4", "4", "4", "4", "4", ""]
    with pytest.raises(Exception, match="--stable must be at least 1"):
        Stabilizer(0)


def test_empty_lined_paper_under_a_passing_shadow_reads_no_digit(tmp_path):
    from test_lines import page

    frames = []
    for i in range(24):
        a = page(23, spacing=36, kind="grid" if i >= 12 else "ruled", seed=i)
        yy, xx = np.mgrid[0:480, 0:640]
        d = np.sqrt(((xx - 40 * i) / 180.0) ** 2 + ((yy - 240) / 140.0) ** 2)
        a = a * (1 - 0.45 / (1 + np.exp((d - 1) * 6)))  # a hand's soft shadow sweeping across
        frames.append(np.clip(a, 0, 255).astype(np.uint8))
    video = write_video(tmp_path / "paper.avi", frames)
    lines = _lines(run_cli("camera", "--source", str(video), "--headless").stdout)
    assert len(lines) == 24
    assert [line["number"] for line in lines] == [""] * 24


def test_a_desk_clip_reads_numbers_and_empty_paper(tmp_path, mnist):
    from digitlite.benchmarks import camera as bench
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model

    video, truth_file = bench.write_desk_set(tmp_path / "desk", seed=11, clips=3, frames=90,
                                             mnist_images=mnist.test_images, mnist_labels=mnist.test_labels)
    run = bench.read_video(video, Model(default_model(), threads=1), stable=3)  # the shipped model
    groups = bench.score(run["readings"], json.loads(truth_file.read_text())["truth"])["groups"]
    assert groups["digit"]["frames"] >= 40 and groups["empty"]["frames"] >= 40
    assert groups["digit"]["rate"] >= 0.85, groups["digit"]  # the figures themselves come from benchmarks.camera
    assert groups["empty"]["rate"] >= 0.95, groups["empty"]


def test_a_fainter_digit_beside_a_dark_one_is_read_with_it(mnist):
    # a number whose second digit is written lighter (a pencil beside a pen): under the frame's
    # threshold, which the dark digit sets; it was dropped (the desk set's 802 read 82, 73 read 3)
    from PIL import Image

    from digitlite.edge.apps.camera import FrameReader
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model

    reader = FrameReader(Model(default_model()))
    expected = "".join(str(d) for d in mnist.test_labels[:2])
    for seed in range(3):
        rng = np.random.default_rng(seed)
        page = np.full((480, 640), 210.0, np.float32)
        for k, (x, ink) in enumerate([(170, 0.75), (330, 0.2)]):
            big = np.asarray(Image.fromarray(mnist.test_images[k]).resize((140, 140), Image.BICUBIC), np.float32)
            page[170:310, x:x + 140] -= big * ink
        page += rng.normal(0, 3, page.shape)
        assert reader.read(np.clip(page, 0, 255).astype(np.uint8)).number == expected


@pytest.mark.parametrize("shape", [(480, 640), (480, 640, 3), (1, 640), (640, 1), (1, 640, 3), (2, 2), (1, 1)])
@pytest.mark.parametrize("kind", ["black", "saturated", "noise"])
def test_frames_with_nothing_to_read_are_no_digit(shape, kind):
    from digitlite.edge.apps.camera import FrameReader
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.runtime.shipped import default_model

    reader = FrameReader(Model(default_model()))
    rng = np.random.default_rng(0)
    frame = {"black": np.zeros(shape, np.uint8), "saturated": np.full(shape, 255, np.uint8),
             "noise": rng.integers(0, 256, shape, dtype=np.uint8)}[kind]
    result = reader.read(frame)
    assert result.number == "" and result.as_dict()["number"] == ""


def test_light_ink_is_read_when_asked_for(tmp_path, mnist):
    frames = [255 - photo_of(mnist.test_images[0], size=(480, 640), scale=200, at=(140, 60 + 8 * i), seed=i,
                             gradient=0.3, noise=4).astype(np.uint8) for i in range(10)]  # chalk on a board
    video = write_video(tmp_path / "board.avi", frames)
    light = _lines(run_cli("camera", "--source", str(video), "--headless", "--ink", "light").stdout)
    assert [line["number"] for line in light].count(str(SHIPPED_DIGIT)) >= 9
    auto = _lines(run_cli("camera", "--source", str(video), "--headless", "--ink", "auto").stdout)
    assert [line["number"] for line in auto].count(str(SHIPPED_DIGIT)) >= 9


def test_a_region_off_the_frame_is_one_line_error(moving_digit):
    result = run_cli("camera", "--source", str(moving_digit), "--headless", "--roi", "700,10,50,50")
    assert_one_line_error(result, "--roi 700,10,50,50 is off the 640x480 frame")


# --- the Raspberry Pi camera module (--source picamera), through a stand-in Picamera2 ---

STANDIN = '''
"""A stand-in for Raspberry Pi OS's picamera2 package: frames from a .npy file, faults on request."""
import json, os
import numpy as np

MODE = os.environ.get("STANDIN_MODE", "ok")
LOG = os.environ["STANDIN_LOG"]
if MODE == "numpy-abi":  # what Raspberry Pi OS's simplejpeg raises under a NumPy 2 in the venv
    raise ValueError("numpy.dtype size changed, may indicate binary incompatibility. "
                     "Expected 96 from C header, got 88 from PyObject")
if MODE == "no-libcamera":
    import libcamera  # noqa: F401 - absent here, as when python3-libcamera is missing


def _log(event, **kw):
    with open(LOG, "a") as f:
        f.write(json.dumps({"event": event, **kw}) + "\\n")


class Picamera2:
    @staticmethod
    def global_camera_info():
        if MODE == "broken":
            raise RuntimeError("libcamera: failed to start the camera manager")
        return [] if MODE == "none" else [{"Model": "imx708", "Num": 0}]

    def __init__(self, camera_num=0):
        self.frames = np.load(os.environ["STANDIN_FRAMES"])
        self.i = 0
        _log("open", num=camera_num)

    def create_video_configuration(self, main=None, **kw):
        return {"main": main}

    def configure(self, config):
        _log("configure", format=config["main"]["format"], size=list(config["main"]["size"]))

    def start(self):
        if MODE == "busy":
            raise RuntimeError("Failed to acquire camera: Device or resource busy")
        _log("start")

    def capture_array(self, name="main"):
        if MODE == "stall" and self.i >= 3:
            raise RuntimeError("Camera frontend has timed out!")
        frame = self.frames[self.i % len(self.frames)]
        self.i += 1
        return frame

    def stop(self):
        _log("stop")

    def close(self):
        _log("close")
'''


@pytest.fixture
def picamera(tmp_path, mnist):
    """Env for run_cli with the stand-in picamera2 importable; frames: the 7 in BGR and in XRGB8888."""
    (tmp_path / "picamera2").mkdir()
    (tmp_path / "picamera2" / "__init__.py").write_text(STANDIN)
    gray = photo_of(mnist.test_images[0], size=(480, 640), scale=220, seed=3).astype(np.uint8)
    bgr = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
    xrgb = np.concatenate([bgr, np.full((480, 640, 1), 255, np.uint8)], axis=2)
    np.save(tmp_path / "frames.npy", np.stack([bgr, xrgb[..., :3]]))
    np.save(tmp_path / "frames4.npy", np.stack([xrgb, xrgb]))
    log = tmp_path / "log.jsonl"

    def env(mode="ok", frames="frames.npy"):
        return {"PYTHONPATH": str(tmp_path), "STANDIN_MODE": mode, "STANDIN_LOG": str(log),
                "STANDIN_FRAMES": str(tmp_path / frames)}

    env.events = lambda: [json.loads(line)["event"] for line in log.read_text().splitlines()]
    env.log = log
    return env


@pytest.mark.parametrize("frames", ["frames.npy", "frames4.npy"])
def test_picamera_frames_go_through_the_same_pipeline(picamera, frames):
    result = run_cli("camera", "--source", "picamera", "--headless", "--max-frames", "6", env=picamera(frames=frames))
    assert result.returncode == 0, result.stderr
    lines = _lines(result.stdout)
    assert [line["number"] for line in lines] == [str(SHIPPED_DIGIT)] * 6
    assert picamera.events() == ["open", "configure", "start", "stop", "close"]
    configure = json.loads(picamera.log.read_text().splitlines()[1])
    assert configure["format"] == "RGB888" and configure["size"] == [640, 480]  # B, G, R bytes: OpenCV's order


@pytest.mark.parametrize("mode, fragment", [
    ("none", "picamera:0: no camera module found"),
    ("broken", "libcamera could not list the cameras (libcamera: failed to start the camera manager)"),
    ("busy", "picamera:0: cannot start (Failed to acquire camera: Device or resource busy)"),
    ("stall", "camera picamera: stopped delivering frames"),
])
def test_picamera_faults_are_one_line_errors(picamera, mode, fragment):
    result = run_cli("camera", "--source", "picamera", "--headless", env=picamera(mode), timeout=60)
    assert_one_line_error(result, fragment)
    if mode in ("busy", "stall"):
        assert picamera.events()[-2:] == ["stop", "close"]  # the camera is released on the way out
    if mode == "stall":
        assert len(_lines(result.stdout)) == 3  # the frames before the stall were reported


@pytest.mark.parametrize("mode, fragments", [
    ("numpy-abi", ["Picamera2 was built for Raspberry Pi OS's NumPy, not the NumPy", "numpy.dtype size changed",
                   "pip uninstall -y numpy", "opencv-python-headless<4.11"]),
    ("no-libcamera", ["Picamera2 is installed but cannot load (No module named 'libcamera')",
                      "sudo apt install --reinstall python3-picamera2 python3-libcamera"]),
])
def test_a_camera_stack_that_cannot_load_is_one_line(picamera, mode, fragments):
    result = run_cli("camera", "--source", "picamera", "--headless", env=picamera(mode))
    assert_one_line_error(result, *fragments)


def test_picamera_without_picamera2_says_what_to_install(tmp_path):
    # an empty folder first on the path, and no picamera2 anywhere on this machine
    result = run_cli("camera", "--source", "picamera:1", "--headless", env={"PYTHONPATH": str(tmp_path)})
    assert_one_line_error(result, "sudo apt install python3-picamera2", "--system-site-packages")


def test_a_bad_picamera_number(picamera):
    result = run_cli("camera", "--source", "picamera:x", "--headless", env=picamera())
    assert_one_line_error(result, "expected picamera or picamera:N")


# --- damaged and stalled sources ---

def _corrupt_frames(video, first, last, seed=0):
    """Overwrite bytes inside the JPEG data of frames first..last-1 (their headers stay)."""
    data = bytearray(video.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xD8]
    rng = np.random.default_rng(seed)
    for k in range(first, last):
        for j in rng.integers(starts[k] + 2000, starts[k] + 6000, 200):
            data[j] = int(rng.integers(0, 256))
    return bytes(data)


def test_damaged_frames_are_read_through_quietly(moving_digit, tmp_path):
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(_corrupt_frames(moving_digit, 10, 20))
    result = run_cli("camera", "--source", str(damaged), "--headless", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"40 frames read from {damaged}"  # no decoder noise on stderr
    numbers = [line["number"] for line in _lines(result.stdout)]
    assert len(numbers) == 40 and numbers[:10] == numbers[20:30] == [str(SHIPPED_DIGIT)] * 10


def test_a_stream_that_stalls_is_an_error_not_a_hang(moving_digit):
    """An HTTP stream that sends half the video, then nothing, holding the connection open."""
    import http.server
    import threading
    import time

    data = moving_digit.read_bytes()
    release = threading.Event()

    class Stalling(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "video/x-msvideo")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            release.wait(60)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalling)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/clip.avi"
    try:
        started = time.monotonic()
        result = run_cli("camera", "--source", url, "--headless", timeout=90)
        took = time.monotonic() - started
    finally:
        release.set()
        server.shutdown()
    assert_one_line_error(result, url, "the stream stopped delivering frames")
    assert 0 < len(_lines(result.stdout)) < 40  # the frames that came were reported
    assert took < 60


# --- what a service logs: changes and heartbeats, in a file with a size cap ---

def test_changes_and_heartbeats_from_frame_records():
    from digitlite.edge.apps.readings_log import ChangeLog

    clock = iter([0.0, 1.0, 2.0, 30.0, 61.0, 62.0, 125.0]).__next__
    log = ChangeLog(heartbeat=60.0, clock=clock)
    numbers = ["", "", "7", "7", "7", "", ""]
    records = [log.update({"frame": i, "number": n, "digits": []}) for i, n in enumerate(numbers)]
    assert [[(r["event"], r["reading"]) for r in rs] for rs in records] == [
        [("change", "")], [], [("change", "7")], [], [("heartbeat", "7")], [("change", "")], [("heartbeat", "")]]
    assert records[2][0]["previous"] == "" and records[0][0]["previous"] is None
    assert records[4][0]["fps"] == round(4 / 61.0, 2) and records[6][0]["fps"] == round(2 / 64.0, 2)
    steady = ChangeLog(heartbeat=0, clock=iter(range(10)).__next__)  # with --stable: None is "not settled yet"
    out = [steady.update({"frame": i, "number": "7", "stable": s}) for i, s in enumerate([None, None, "7", "7"])]
    assert [len(o) for o in out] == [0, 0, 1, 0] and out[2][0]["reading"] == "7"


def test_the_log_file_rotates_at_its_cap_and_keeps_every_line(moving_digit, tmp_path):
    out = tmp_path / "digits.jsonl"
    result = run_cli("camera", "--source", str(moving_digit), "--headless", "--output", str(out), "--max-mb", "0.002")
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    old, new = (tmp_path / "digits.jsonl.1").read_text().splitlines(), out.read_text().splitlines()
    assert (tmp_path / "digits.jsonl.1").stat().st_size <= 2000 and out.stat().st_size <= 2000
    frames = [json.loads(line)["frame"] for line in old + new]
    read = int(result.stderr.split(" frames read")[0].split()[-1])
    assert frames == list(range(frames[0], frames[0] + len(frames))) and frames[-1] == read - 1  # the newest, in order
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.jsonl", "digits.jsonl.1"]


def test_log_changes_keeps_only_what_changed(moving_digit):
    every = _lines(run_cli("camera", "--source", str(moving_digit), "--headless").stdout)
    changes = _lines(run_cli("camera", "--source", str(moving_digit), "--headless", "--log", "changes").stdout)
    expected = [(line["frame"], line["number"]) for k, line in enumerate(every)
                if k == 0 or line["number"] != every[k - 1]["number"]]
    assert [(r["frame"], r["reading"]) for r in changes if r["event"] == "change"] == expected
    assert len(changes) < len(every)


def test_log_options_refuse_bad_values(moving_digit, tmp_path):
    assert_one_line_error(run_cli("camera", "--source", str(moving_digit), "--headless", "--heartbeat", "-1"),
                          "--heartbeat must not be negative")
    assert_one_line_error(run_cli("camera", "--source", str(moving_digit), "--headless", "--max-mb", "0"),
                          "--max-mb must be above 0")
    (tmp_path / "ro").mkdir(mode=0o500)
    target = tmp_path / "ro" / "sub" / "digits.jsonl"  # a folder that does not exist: unwritable even for root
    assert_one_line_error(run_cli("camera", "--source", str(moving_digit), "--headless", "--output", str(target)),
                          f"{target}: cannot write the log")
