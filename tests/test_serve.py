"""`digitlite serve`: the JSON API, its bad requests, a bounded loopback load, and a real browser."""

from __future__ import annotations

import http.client
import io
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import (
    DRAWN,
    REPO,
    assert_one_line_error,
    chromium_page,
    draw_digit,
    run_cli,
)
from PIL import Image

SHIPPED = REPO / "edge" / "models" / "digits_int8.tflite"


@pytest.fixture(scope="module")
def server():
    """The server on a free loopback port, in a thread, with the shipped model."""
    from digitlite.edge.apps.serve import DigitServer
    from digitlite.edge.runtime.interpreter import Model

    srv = DigitServer(("127.0.0.1", 0), Model(SHIPPED), SHIPPED)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address
    srv.shutdown()
    srv.server_close()


def request(address, method, path, body=b"", headers=None):
    conn = http.client.HTTPConnection(*address, timeout=30)
    conn.request(method, path, body=body, headers=headers or {})
    res = conn.getresponse()
    data = res.read()
    conn.close()
    return res.status, res.getheader("Content-Type"), data


def drawing_png(image: np.ndarray) -> bytes:
    """A digit as the page sends it: dark strokes on a white 280x280 canvas, PNG."""
    buf = io.BytesIO()
    Image.fromarray(255 - image).resize((280, 280), Image.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


def test_page_and_static_files(server):
    status, kind, body = request(server, "GET", "/")
    assert status == 200 and kind.startswith("text/html")
    page = body.decode()
    for element in ('id="pad"', 'id="clear"', 'id="digit"', 'id="probs"'):
        assert element in page
    assert "http" not in page.replace("http-equiv", "")  # no CDN: everything comes from this server
    assert request(server, "GET", "/static/app.js")[0] == 200
    assert request(server, "GET", "/static/style.css")[0] == 200
    assert request(server, "GET", "/static/../serve.py")[0] == 404


def test_health_gives_the_model_card(server):
    status, kind, body = request(server, "GET", "/api/health")
    health = json.loads(body)
    card = json.loads(SHIPPED.with_suffix(".json").read_text())
    assert status == 200 and kind == "application/json"
    assert health["status"] == "ok" and health["model"]["sha256"] == card["sha256"]


def test_predict_png_and_pixels(server, mnist):
    from digitlite.edge.runtime.interpreter import Model
    from digitlite.edge.vision.preprocess import preprocess_gray

    reference = Model(SHIPPED)
    for i in range(5):
        image = mnist.test_images[i]
        status, _, body = request(server, "POST", "/api/predict?input=1", drawing_png(image),
                                  {"Content-Type": "image/png"})
        answer = json.loads(body)
        assert status == 200 and answer["digit"] == int(mnist.test_labels[i])
        assert len(answer["probabilities"]) == 10 and answer["latency_ms"] > 0
        assert np.array(answer["input"]).shape == (28, 28)
        pixels = json.dumps({"pixels": image.tolist()}).encode()
        status, _, body = request(server, "POST", "/api/predict", pixels, {"Content-Type": "application/json"})
        expected = int(reference.predict_proba(preprocess_gray(image.astype(np.float32))).argmax())
        assert status == 200 and json.loads(body)["digit"] == expected
        assert "input" not in json.loads(body)  # 784 numbers only when asked for (?input=1, as the page asks)


def test_min_confidence_makes_an_unsure_answer_no_digit(mnist):
    from digitlite.edge.apps.serve import DigitServer
    from digitlite.edge.runtime.interpreter import Model

    srv = DigitServer(("127.0.0.1", 0), Model(SHIPPED), SHIPPED, min_confidence=1.0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        status, _, body = request(srv.server_address, "POST", "/api/predict", drawing_png(mnist.test_images[0]),
                                  {"Content-Type": "image/png"})
    finally:
        srv.shutdown()
        srv.server_close()
    answer = json.loads(body)
    assert status == 200 and answer["digit"] is None and 0 < answer["confidence"] < 1.0
    assert len(answer["probabilities"]) == 10


def test_a_drawing_of_two_digits_is_not_answered_as_one(server, mnist):
    pair = np.hstack([mnist.test_images[0], np.zeros((28, 8), np.uint8), mnist.test_images[1]])  # a 7 and a 2
    status, _, body = request(server, "POST", "/api/predict", drawing_png(pair), {"Content-Type": "image/png"})
    assert status == 422 and json.loads(body)["error"] == "2 digits side by side: draw one digit at a time"


@pytest.mark.parametrize("method, path, body, headers, status, fragment", [
    ("POST", "/api/predict", drawing_png(np.zeros((28, 28), np.uint8)), {"Content-Type": "image/png"}, 422, "no digit"),
    ("POST", "/api/predict", b"\x89PNG garbage", {"Content-Type": "image/png"}, 400, "drawing"),
    ("POST", "/api/predict", b'{"pixels": [1, 2, 3]}', {"Content-Type": "application/json"}, 400, "2-D array"),
    ("POST", "/api/predict", b'{"pixels": "nope"}', {"Content-Type": "application/json"}, 400, "expected JSON"),
    ("POST", "/api/predict", b'{"pixels": [[1, 300]]}', {"Content-Type": "application/json"}, 400, "0 to 255"),
    ("POST", "/api/predict", b"{not json", {"Content-Type": "application/json"}, 400, "expected JSON"),
    ("POST", "/api/predict", b"hello", {"Content-Type": "text/plain"}, 415, "send an image (image/png, image/jpeg, image/webp) or application/json"),
    ("POST", "/api/predict", b"", {"Content-Type": "image/png"}, 400, "empty body"),
    ("GET", "/api/predict", b"", {}, 405, "POST"),
    ("PUT", "/api/predict", b"x", {"Content-Type": "image/png"}, 405, "not allowed"),
    ("GET", "/nowhere", b"", {}, 404, "no such path"),
    ("POST", "/elsewhere", b"x", {"Content-Type": "image/png"}, 404, "cannot POST"),
])
def test_bad_requests_get_a_json_4xx(server, method, path, body, headers, status, fragment):
    got, kind, data = request(server, method, path, body, headers)
    assert got == status and kind == "application/json"
    assert fragment in json.loads(data)["error"]


def test_oversized_body_is_refused_without_reading_it(server):
    conn = http.client.HTTPConnection(*server, timeout=30)
    conn.putrequest("POST", "/api/predict")
    conn.putheader("Content-Type", "image/png")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    res = conn.getresponse()
    assert res.status == 413 and "limit" in json.loads(res.read())["error"]
    conn.close()
    assert request(server, "GET", "/api/health")[0] == 200


def test_a_client_sending_a_whole_oversized_body_reads_the_413(server):
    """Closing on unread data resets the connection: the server drops the rest of the body first."""
    for _ in range(20):
        conn = http.client.HTTPConnection(*server, timeout=30)
        conn.request("POST", "/api/predict", body=b"\0" * (2 * 1024 * 1024 + 1), headers={"Content-Type": "image/png"})
        res = conn.getresponse()
        assert res.status == 413 and "limit" in json.loads(res.read())["error"]
        conn.close()


def test_bounded_load_with_malformed_requests(server, mnist):
    """2,000 requests from 16 concurrent clients on loopback; every valid answer right, no 5xx."""
    goods = [(drawing_png(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(20)]

    def one(k):
        if k % 5 == 4:  # one in five is garbage
            status, _, _ = request(server, "POST", "/api/predict", b"junk" * k, {"Content-Type": "image/png"})
            return status in (400, 422), status
        png, label = goods[k % len(goods)]
        status, _, body = request(server, "POST", "/api/predict", png, {"Content-Type": "image/png"})
        return status == 200 and json.loads(body)["digit"] == label, status

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(2000)))
    assert all(ok for ok, _ in results), [s for ok, s in results if not ok][:10]
    assert not any(s >= 500 for _, s in results)
    status, _, body = request(server, "GET", "/api/health")
    assert status == 200 and json.loads(body)["served"] >= 1600


def test_a_burst_on_a_busy_machine_is_queued_never_reset(mnist):
    """64 clients at once against the server's own processes, both cores kept busy: every
    request is answered (right, or 4xx for a malformed one); none is reset, none times out."""
    from digitlite.benchmarks.serve import busy_cores, drawing, measure, server_process

    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(10)]
    with server_process("--workers", "2") as (_, port), busy_cores(2):
        r = measure(("127.0.0.1", port), bodies, requests=320, clients=64, malformed=True)
    assert r["resets"] == r["timeouts"] == r["status_5xx"] == 0, r
    assert r["correct"] == r["valid"] == 256 and r["malformed_4xx"] == r["malformed"] == 64


def test_workers_answer_together_and_stop_together(mnist):
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import default_signals

    from digitlite.benchmarks.serve import drawing

    png = drawing(mnist.test_images[0])
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--port", "0", "--workers", "2"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        import re

        line = proc.stderr.readline()
        assert "2 workers" in line, line
        port = int(re.search(r"localhost:(\d+)/", line).group(1))

        def workers_now():
            return [int(p) for p in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]

        deadline = time.monotonic() + 30
        while len(workers_now()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        workers = workers_now()
        assert len(workers) == 2
        for _ in range(12):
            assert request(("127.0.0.1", port), "POST", "/api/predict", png, {"Content-Type": "image/png"})[0] == 200
        assert json.loads(request(("127.0.0.1", port), "GET", "/api/health")[2])["served"] == 12  # both workers' count
        os.kill(workers[0], signal.SIGKILL)  # a worker dies: another takes its place
        assert "starting another" in proc.stderr.readline()
        for _ in range(6):
            assert request(("127.0.0.1", port), "POST", "/api/predict", png, {"Content-Type": "image/png"})[0] == 200
        workers = workers_now()
        assert len(workers) == 2
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
    assert not any(os.path.exists(f"/proc/{p}") for p in workers)  # every worker stopped and reaped


def test_workers_do_not_outlive_a_killed_server():
    """kill -9 of the server (an OOM kill, a crashed supervisor): no worker stays holding the port."""
    import re
    import subprocess
    import sys
    import time

    from conftest import default_signals

    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--port", "0", "--workers", "2"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=default_signals)
    try:
        port = int(re.search(r"localhost:(\d+)/", proc.stderr.readline()).group(1))
        assert request(("127.0.0.1", port), "GET", "/api/health")[0] == 200
        workers = [int(p) for p in open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
    finally:
        proc.kill()
        proc.wait(timeout=30)

    def alive(pid):
        try:
            return "zombie" not in open(f"/proc/{pid}/status").read().lower()
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + 60  # not a timing claim: only how long to wait before failing
    while any(alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(p) for p in workers), workers


# --- a real browser --------------------------------------------------------------------------------

def test_drawing_in_a_real_browser(server, tmp_path):
    """Headless Chromium draws digits on #pad with pointer events and reads #digit: a POST per stroke."""
    from digitlite.benchmarks.realworld import TEMPLATES

    posts = []
    with chromium_page() as page:
        page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
        page.goto(f"http://{server[0]}:{server[1]}/")
        read = {k: draw_digit(page, *k) for k in DRAWN}
        assert "on the server" in page.inner_text("#status")
        page.screenshot(path=str(tmp_path / "page.png"))
    assert read == {k: str(k[0]) for k in read}, read
    assert len(posts) == sum(len(TEMPLATES[d][s]) for d, s in DRAWN)  # one per stroke lifted
    assert (tmp_path / "page.png").stat().st_size > 5000


def test_serve_command_starts_answers_and_stops_on_ctrl_c_and_sigterm():
    import re
    import signal
    import subprocess
    import sys

    from conftest import default_signals

    for stop in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, and systemctl stop
        proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--port", "0"], stderr=subprocess.PIPE,
                                text=True, preexec_fn=default_signals)
        try:
            line = proc.stderr.readline()
            port = int(re.search(r"localhost:(\d+)/", line).group(1))
            status, _, body = request(("127.0.0.1", port), "GET", "/api/health")
            assert status == 200 and json.loads(body)["status"] == "ok"
        finally:
            proc.send_signal(stop)
            _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "Traceback" not in err, (stop, err)


def test_a_port_in_use_is_one_line(server):
    from conftest import assert_one_line_error, run_cli

    assert_one_line_error(run_cli("serve", "--port", str(server[1])), "cannot listen on", str(server[1]))
    assert_one_line_error(run_cli("serve", "--port", "70000"), "--port must be between 0 and 65535")
    assert_one_line_error(run_cli("serve", "--workers", "0"), "--workers must be at least 1")


def test_serve_benchmark_counts_every_request(server, mnist):
    from digitlite.benchmarks.serve import drawing, measure

    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(3)]
    result = measure(server, bodies, requests=24, clients=4)
    assert result["status_200"] == result["correct"] == 24 and result["requests_per_second"] > 0
    assert result["server_latency"]["n"] == result["round_trip"]["n"] == 24


def test_soak_of_a_server_process_keeps_answers_right_and_memory_flat(mnist):
    """`benchmarks.serve --soak` on a short run: a leak of tens of KB per request would show."""
    from digitlite.benchmarks.serve import drawing, malformed_requests, soak

    bodies = [(drawing(mnist.test_images[i]), int(mnist.test_labels[i])) for i in range(10)]
    r = soak(bodies, requests=700, clients=4, samples=4)
    assert r["server_alive_at_end"] and r["status_5xx"] == 0
    assert r["valid_right"] == r["valid"] == 560
    assert r["malformed_4xx"] == r["malformed"] == 140 and r["resets"] == 0  # a 2 MB body too reads its 413
    assert len(malformed_requests()) == 7 and len(r["rss_mb"]) == 5
    assert r["rss_growth_mb"] < 20, r["rss_mb"]


def test_the_body_limit_is_an_option_and_the_413_names_it(mnist):
    from digitlite.edge.apps.serve import DigitServer
    from digitlite.edge.runtime.interpreter import Model

    photo = io.BytesIO()
    big = np.random.default_rng(0).integers(0, 255, (1500, 2000), np.uint8)  # a phone photo's few megabytes
    Image.fromarray(big).save(photo, format="PNG")
    assert photo.tell() > 2 * 1024 * 1024
    for limit, expected in [(2 * 1024 * 1024, 413), (8 * 1024 * 1024, 200)]:  # 200: read, and noise is no digit
        srv = DigitServer(("127.0.0.1", 0), Model(SHIPPED), SHIPPED, max_body=limit)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            status, _, body = request(srv.server_address, "POST", "/api/predict", photo.getvalue(),
                                      {"Content-Type": "image/png"})
        finally:
            srv.shutdown()
            srv.server_close()
        assert status == expected, body
        if status == 413:
            assert "--max-body-mb" in json.loads(body)["error"]
        else:
            assert json.loads(body)["digit"] is None
    assert_one_line_error(run_cli("serve", "--max-body-mb", "0"), "--max-body-mb must be above 0")


def test_listening_on_every_interface_says_where_a_phone_opens_it():
    from digitlite.edge.apps.serve import lan_addresses

    found = lan_addresses()
    assert all(not a.startswith("127.") and a.count(".") == 3 for a in found)
    proc = subprocess.Popen([sys.executable, "-m", "digitlite", "serve", "--host", "0.0.0.0", "--port", "0",
                             "--workers", "1"], stderr=subprocess.PIPE, text=True)
    try:
        first, second = proc.stderr.readline(), proc.stderr.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "draw a digit at http://0.0.0.0:" in first
    assert second.startswith("on this network: ")
    assert all(f"http://{a}:" in second for a in found) or "no network address found" in second
