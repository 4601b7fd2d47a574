"""camera --mqtt against a real broker: Debian's mosquitto, started by the tests on a free port.

Waits below only bound how long to wait before failing; no assertion is about speed.
"""

from __future__ import annotations

import getpass
import json
import shutil
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
from conftest import assert_one_line_error, run_cli
from test_camera import write_video
from test_preprocess import photo_of

from digitlite.edge.util.errors import DigitliteError

PATIENCE = 60.0  # seconds before a wait gives up (a busy machine is slow, not wrong)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(condition, what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


class Broker:
    """A mosquitto process on 127.0.0.1:port; stop() and start() again on the same port."""

    def __init__(self, folder, users: dict | None = None, tls: dict | None = None):
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        assert shutil.which(binary), "the MQTT tests need Debian's mosquitto: sudo apt-get install mosquitto"
        self.binary, self.port, self.proc = binary, _free_port(), None
        # as this user: mosquitto started by root would switch to its own user, who cannot read a test's folder
        conf = [f"listener {self.port} 127.0.0.1", "persistence false", f"user {getpass.getuser()}"]
        if users:
            passwords = folder / "passwords"
            passwords.write_text("")
            for user, password in users.items():
                subprocess.run(["mosquitto_passwd", "-b", str(passwords), user, password], check=True)
            conf += ["allow_anonymous false", f"password_file {passwords}"]
        else:
            conf.append("allow_anonymous true")
        if tls:
            conf += [f"cafile {tls['ca']}", f"certfile {tls['cert']}", f"keyfile {tls['key']}"]
        self.conf = folder / "mosquitto.conf"
        self.conf.write_text("\n".join(conf) + "\n")

    def start(self) -> None:
        log = self.conf.with_name("mosquitto.log")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=out, stderr=out)

        def listening():
            assert self.proc.poll() is None, f"mosquitto exited: {log.read_text()[-500:]}"
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        _wait(listening, "mosquitto to listen")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    b.start()
    yield b
    if b.proc.poll() is None:
        b.stop()


class Subscriber:
    """Collects (topic, payload, retained) of everything under ``topic/#``."""

    def __init__(self, port: int, topic: str, user: str | None = None, password: str | None = None,
                 ca: str | None = None):
        from paho.mqtt import client as mqtt

        self.messages: list[tuple[str, str, bool]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        if user:
            self.client.username_pw_set(user, password)
        if ca:
            self.client.tls_set(ca_certs=ca)
        self.client.on_connect = lambda c, *a: c.subscribe(f"{topic}/#", qos=1)
        self.client.on_subscribe = lambda *a: self.ready.set()
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload.decode(), bool(m.retain)))
        self.client.connect("localhost" if ca else "127.0.0.1", port)
        self.client.loop_start()
        assert self.ready.wait(PATIENCE)

    def readings(self) -> list[str | None]:
        return [json.loads(p)["reading"] for t, p, _ in self.messages if t.endswith("/reading")]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture(scope="module")
def clip(tmp_path_factory, mnist):
    """Empty paper, a 7, empty paper, a 3: four readings."""
    paper = np.full((480, 640), 205, np.uint8)
    seven = photo_of(mnist.test_images[0], size=(480, 640), scale=220, seed=3).astype(np.uint8)
    three = photo_of(mnist.test_images[18], size=(480, 640), scale=220, seed=4).astype(np.uint8)
    assert mnist.test_labels[0] == 7 and mnist.test_labels[18] == 3
    return write_video(tmp_path_factory.mktemp("mqtt") / "desk.avi",
                       [paper] * 6 + [seven] * 8 + [paper] * 6 + [three] * 8, fps=10)


def test_camera_publishes_each_change_with_a_retained_reading_and_status(broker, clip):
    sub = Subscriber(broker.port, "desk/digits")
    try:
        result = run_cli("camera", "--source", str(clip), "--headless", "--log", "changes",
                         "--mqtt", f"mqtt://127.0.0.1:{broker.port}/desk/digits")
        assert result.returncode == 0, result.stderr
        local = [json.loads(line)["reading"] for line in result.stdout.splitlines()]
        assert local == ["", "7", "", "3"]
        _wait(lambda: ("desk/digits/status", "offline", False) in sub.messages, "the status to go offline")
        assert sub.readings() == local  # every change, in order
        statuses = [p for t, p, _ in sub.messages if t == "desk/digits/status"]
        assert statuses == ["online", "offline"]
        assert f"mqtt: publishing to 127.0.0.1:{broker.port}/desk/digits/reading" in result.stderr
    finally:
        sub.close()
    late = Subscriber(broker.port, "desk/digits")  # a client that comes later gets the last state at once
    try:
        _wait(lambda: len(late.messages) >= 2, "the retained messages")
        assert sorted((t, p if t.endswith("status") else json.loads(p)["reading"], r) for t, p, r in late.messages) \
            == [("desk/digits/reading", "3", True), ("desk/digits/status", "offline", True)]
    finally:
        late.close()


def test_readings_wait_for_a_broker_that_is_away_then_arrive_in_order(broker, capsys):
    from digitlite.edge.apps.mqtt import Publisher

    sub = Subscriber(broker.port, "t")
    publisher = Publisher(f"mqtt://127.0.0.1:{broker.port}/t", queue=2)
    try:
        _wait(lambda: publisher.connected, "the first connection")
        publisher.publish({"reading": "1"})
        _wait(lambda: sub.readings() == ["1"], "the first reading")
        broker.stop()  # the broker goes away (a Wi-Fi drop, a restart)
        _wait(lambda: not publisher.connected, "the publisher to notice")
        for reading in "234":  # made while it is away: the queue keeps the last 2
            publisher.publish({"reading": reading})
        assert publisher.dropped == 1 and list(publisher.pending) == ['{"reading": "3"}', '{"reading": "4"}']
        sub.close()
        broker.start()
        sub = Subscriber(broker.port, "t")
        _wait(lambda: "4" in sub.readings(), "the queued readings after the broker came back")
        assert sub.readings() == ["3", "4"]  # in order, and the retained last is the newest
    finally:
        publisher.close()
        sub.close()
    err = capsys.readouterr().err
    assert "is unreachable" in err and "retrying, readings queued (up to 2)" in err and "2 queued readings sent" in err


def test_no_broker_at_all_never_stops_the_camera(clip, tmp_path):
    port = _free_port()  # nothing listens there
    result = run_cli("camera", "--source", str(clip), "--headless", "--log", "changes",
                     "--mqtt", f"mqtt://127.0.0.1:{port}/t")
    assert result.returncode == 0, result.stderr
    assert [json.loads(line)["reading"] for line in result.stdout.splitlines()] == ["", "7", "", "3"]
    assert "Traceback" not in result.stderr
    assert f"mqtt: cannot connect to 127.0.0.1:{port} ([Errno 111] Connection refused); retrying" in result.stderr
    assert "mqtt: 4 readings not delivered (no connection to the broker), 0 dropped from the queue" in result.stderr


def test_user_and_password_come_from_the_environment(tmp_path, clip):
    broker = Broker(tmp_path, users={"cam": "s3cret"})
    broker.start()
    try:
        sub = Subscriber(broker.port, "t", "cam", "s3cret")
        url = f"mqtt://127.0.0.1:{broker.port}/t"
        good = run_cli("camera", "--source", str(clip), "--headless", "--mqtt", url,
                       env={"DIGITLITE_MQTT_USER": "cam", "DIGITLITE_MQTT_PASSWORD": "s3cret"})
        assert good.returncode == 0, good.stderr
        _wait(lambda: sub.readings() == ["", "7", "", "3"], "the readings")
        sub.close()
        bad = run_cli("camera", "--source", str(clip), "--headless", "--mqtt", url,
                      env={"DIGITLITE_MQTT_USER": "cam", "DIGITLITE_MQTT_PASSWORD": "wrong"})
        assert bad.returncode == 0 and "Traceback" not in bad.stderr  # the camera goes on, and says why
        assert "refused the connection" in bad.stderr and "check DIGITLITE_MQTT_USER and DIGITLITE_MQTT_PASSWORD" \
            in bad.stderr
    finally:
        broker.stop()


def test_mqtts_with_the_brokers_own_certificate_authority(tmp_path, clip):
    """TLS when asked: a broker whose certificate a private CA signed, named by DIGITLITE_MQTT_CA."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=digitlite test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    (tmp_path / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext")
    ca = str(tmp_path / "ca.pem")
    broker = Broker(tmp_path, tls={"ca": ca, "cert": tmp_path / "server.pem", "key": tmp_path / "server.key"})
    broker.start()
    try:
        sub = Subscriber(broker.port, "t", ca=ca)
        url = f"mqtts://localhost:{broker.port}/t"
        result = run_cli("camera", "--source", str(clip), "--headless", "--mqtt", url, env={"DIGITLITE_MQTT_CA": ca})
        assert result.returncode == 0, result.stderr
        _wait(lambda: sub.readings() == ["", "7", "", "3"], "the readings over TLS")
        sub.close()
        untrusted = run_cli("camera", "--source", str(clip), "--headless", "--mqtt", url)  # the system's CAs
        assert untrusted.returncode == 0 and "Traceback" not in untrusted.stderr
        assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr  # never sent to a broker it cannot trust
        assert "4 readings not delivered" in untrusted.stderr
    finally:
        broker.stop()


@pytest.mark.parametrize("url, fragment", [
    ("http://host/t", "--mqtt takes mqtt://host[:port]/topic"),
    ("mqtt://host", "--mqtt takes mqtt://host[:port]/topic"),
    ("mqtt://host:99999/t", "--mqtt takes mqtt://host[:port]/topic"),
    ("mqtt://user:pw@host/t", "put the user and password in DIGITLITE_MQTT_USER"),
    ("mqtt://host/a/#", "cannot hold MQTT wildcards"),
])
def test_a_bad_broker_url_is_one_line(clip, url, fragment):
    assert_one_line_error(run_cli("camera", "--source", str(clip), "--headless", "--mqtt", url), fragment)


def test_urls_parse_to_host_port_topic_and_tls():
    from digitlite.edge.apps.mqtt import Broker as Target
    from digitlite.edge.apps.mqtt import parse_url

    assert parse_url("mqtt://pi.local/home/meter") == Target("pi.local", 1883, "home/meter", False)
    assert parse_url("mqtts://broker:8884/m/") == Target("broker", 8884, "m", True)
    assert parse_url("mqtts://broker/m").port == 8883
    with pytest.raises(DigitliteError):
        parse_url("mqtt:///t")


def test_home_assistant_finds_the_camera_by_discovery_with_no_yaml(broker, clip):
    """A retained discovery config under homeassistant/: a sensor whose state is the reading, whose
    availability is the status topic; a Home Assistant started later still finds it."""
    url = f"mqtt://127.0.0.1:{broker.port}/desk/digits"
    result = run_cli("camera", "--source", str(clip), "--headless", "--log", "changes", "--mqtt", url)
    assert result.returncode == 0, result.stderr
    late = Subscriber(broker.port, "homeassistant")  # Home Assistant, (re)started after the camera
    try:
        _wait(lambda: late.messages, "the retained discovery config")
        (topic, payload, retained), = late.messages
        assert topic == "homeassistant/sensor/digitlite_desk_digits/reading/config" and retained
        config = json.loads(payload)
        assert config["state_topic"] == "desk/digits/reading" and config["value_template"] == "{{ value_json.reading }}"
        assert config["availability_topic"] == "desk/digits/status"
        assert (config["payload_available"], config["payload_not_available"]) == ("online", "offline")
        assert config["unique_id"] == "digitlite_desk_digits_reading" and config["device"]["manufacturer"] == "digitlite"
    finally:
        late.close()
    readings = Subscriber(broker.port, "desk/digits")
    try:  # the state the template reads is there: the last reading's JSON has "reading"
        _wait(lambda: any(t == "desk/digits/reading" for t, _, _ in readings.messages), "the last reading")
        assert json.loads(next(p for t, p, _ in readings.messages if t == "desk/digits/reading"))["reading"] == "3"
    finally:
        readings.close()


def test_discovery_can_be_turned_off_or_moved(tmp_path, clip):
    for flag, prefix in [("", None), ("ha", "ha")]:
        (tmp_path / (flag or "off")).mkdir(exist_ok=True)
        b = Broker(tmp_path / (flag or "off"))
        b.start()
        try:
            result = run_cli("camera", "--source", str(clip), "--headless", "--max-frames", "8",
                             "--mqtt", f"mqtt://127.0.0.1:{b.port}/t", "--mqtt-discovery", flag)
            assert result.returncode == 0, result.stderr
            watcher = Subscriber(b.port, "marker")  # everything retained under every prefix, then a marker
            try:
                watcher.client.subscribe("homeassistant/#", qos=1)
                watcher.client.subscribe("ha/#", qos=1)
                # one connection, in order: the broker sends what it retains under each prefix, then the marker
                watcher.client.publish("marker/end", "x", qos=1)
                _wait(lambda: any(t == "marker/end" for t, _, _ in watcher.messages), "the marker")
                found = [t for t, _, _ in watcher.messages if not t.startswith("marker/")]
                assert found == ([] if prefix is None else ["ha/sensor/digitlite_t/reading/config"])
            finally:
                watcher.close()
        finally:
            b.stop()
