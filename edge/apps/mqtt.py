"""Readings to an MQTT broker, the way home and factory devices send them (Home Assistant, Node-RED).

``camera --mqtt mqtt://host[:port]/topic`` (``mqtts://`` for TLS) publishes each change of reading
as JSON to ``topic/reading``, retained (a client that subscribes later gets the last reading at
once), and ``online``/``offline`` to ``topic/status``, retained, with ``offline`` as the last will
(the broker says it for a camera that vanished).  User and password come from
``DIGITLITE_MQTT_USER`` and ``DIGITLITE_MQTT_PASSWORD``; ``DIGITLITE_MQTT_CA`` names a CA file for
a broker with its own certificate authority.

Home Assistant finds the camera by itself (MQTT discovery): on each connection a retained config
message goes to ``homeassistant/sensor/digitlite_<topic>/reading/config`` (``discovery`` names
another prefix, or None for none), describing a sensor whose state is the last reading, whose
attributes are the reading's JSON, and whose availability is ``topic/status``: no YAML to write.

A broker that is not there, or goes away, is retried in the background with back-off (1 s up to
30 s), never a crash; readings made meanwhile wait in a queue of ``queue`` (the oldest are dropped
past it, and counted) and are sent, in order, once the broker is back.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

from digitlite.edge import __version__
from digitlite.edge.util.errors import DigitliteError, first_line

QUEUE = 1000  # readings kept while the broker is away
DISCOVERY_PREFIX = "homeassistant"  # Home Assistant's MQTT discovery prefix (its default)
RECONNECT = (1, 30)  # seconds: first retry, longest wait between retries
CLOSE_WAIT = 5.0  # seconds to deliver what is left when the camera stops


@dataclass(frozen=True)
class Broker:
    """Where to publish: host, port, base topic, and whether to use TLS."""

    host: str
    port: int
    topic: str
    tls: bool


def discovery_config(broker: Broker, prefix: str = DISCOVERY_PREFIX) -> tuple[str, dict]:
    """Home Assistant's MQTT discovery message for this camera: (its config topic, its payload)."""
    node = re.sub(r"[^A-Za-z0-9_-]", "_", broker.topic)
    device = {"identifiers": [f"digitlite_{node}"], "name": f"digitlite {broker.topic}", "manufacturer": "digitlite",
              "model": "digit reader (digitlite camera)", "sw_version": __version__}
    config = {"name": "Reading", "unique_id": f"digitlite_{node}_reading", "object_id": f"digitlite_{node}",
              "state_topic": f"{broker.topic}/reading", "value_template": "{{ value_json.reading }}",
              "json_attributes_topic": f"{broker.topic}/reading", "availability_topic": f"{broker.topic}/status",
              "payload_available": "online", "payload_not_available": "offline", "icon": "mdi:numeric",
              "device": device}
    return f"{prefix}/sensor/digitlite_{node}/reading/config", config


def parse_url(url: str) -> Broker:
    """``mqtt://host[:port]/topic`` or ``mqtts://…``; DigitliteError in one line otherwise."""
    usage = "--mqtt takes mqtt://host[:port]/topic (or mqtts:// for TLS)"
    if "#" in url or "+" in url:  # checked on the raw text: a URL parser takes "#" for a fragment
        raise DigitliteError(f"--mqtt: the topic cannot hold MQTT wildcards (+, #): {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise DigitliteError(f"{usage}, not {url!r}") from None
    topic = parts.path.strip("/")
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or not topic or parts.query or parts.fragment:
        raise DigitliteError(f"{usage}, not {url!r}")
    if parts.username or parts.password:
        raise DigitliteError("--mqtt: put the user and password in DIGITLITE_MQTT_USER and DIGITLITE_MQTT_PASSWORD, "
                             "not in the URL (it shows in the process list)")
    tls = parts.scheme == "mqtts"
    return Broker(parts.hostname, port or (8883 if tls else 1883), topic, tls)


class Publisher:
    """Publishes readings to a broker from a background thread that keeps the connection."""

    def __init__(self, url: str, queue: int = QUEUE, log=None, environ=os.environ,
                 discovery: str | None = DISCOVERY_PREFIX):
        try:
            # optional: paho-mqtt, the [camera] extra
            from paho.mqtt import client as mqtt
        except ImportError:
            raise DigitliteError("--mqtt needs paho-mqtt: pip install 'digitlite[camera]' (or paho-mqtt)") from None
        self.broker = parse_url(url)
        self.discovery = discovery
        self.log = log or sys.stderr  # looked up now: a caller may have pointed sys.stderr elsewhere
        self.pending: deque[str] = deque(maxlen=queue)
        self.dropped = self.sent = 0
        self.connected = False
        self._said = None  # the last state reported on stderr: say each change once, not each retry
        self._lock = threading.Lock()
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"digitlite-{os.getpid()}")
        user = environ.get("DIGITLITE_MQTT_USER")
        if user:
            client.username_pw_set(user, environ.get("DIGITLITE_MQTT_PASSWORD"))
        if self.broker.tls:
            try:
                client.tls_set(ca_certs=environ.get("DIGITLITE_MQTT_CA") or None)
            except (OSError, ValueError) as e:
                raise DigitliteError(f"--mqtt: cannot set up TLS ({e})") from None
        client.will_set(self.status_topic, "offline", qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT)
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        self.client = client
        try:
            client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError) as e:
            raise DigitliteError(f"--mqtt: cannot connect to {self.broker.host}:{self.broker.port} ({e})") from None
        client.loop_start()  # connects, and reconnects with back-off, in its own thread

    @property
    def status_topic(self) -> str:
        """Where online/offline goes."""
        return f"{self.broker.topic}/status"

    @property
    def reading_topic(self) -> str:
        """Where each change of reading goes."""
        return f"{self.broker.topic}/reading"

    def _say(self, state: str, text: str) -> None:
        if state != self._said:
            self._said = state
            print(f"mqtt: {text}", file=self.log, flush=True)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        where = f"{self.broker.host}:{self.broker.port}"
        if reason_code.is_failure:
            self._say(f"refused {reason_code}", f"{where} refused the connection ({reason_code}); "
                                                "check DIGITLITE_MQTT_USER and DIGITLITE_MQTT_PASSWORD; retrying")
            return
        if self.discovery:  # before "online": Home Assistant knows the sensor when it hears of it
            topic, config = discovery_config(self.broker, self.discovery)
            client.publish(topic, json.dumps(config), qos=1, retain=True)
        client.publish(self.status_topic, "online", qos=1, retain=True)
        with self._lock:
            self.connected = True
            backlog = list(self.pending)
            self.pending.clear()
        for payload in backlog:
            self._send(payload)
        self._say("connected", f"publishing to {where}/{self.reading_topic}"
                  + (f" ({len(backlog)} queued readings sent)" if backlog else ""))

    def _on_connect_fail(self, client, userdata) -> None:
        error = sys.exc_info()[1]  # paho calls this while handling the connection's OSError
        self._say(f"failed {error!s}", f"cannot connect to {self.broker.host}:{self.broker.port} "
                  f"({first_line(error) if error else 'no answer'}); retrying, readings queued "
                  f"(up to {self.pending.maxlen})")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self.connected = False
        if reason_code != 0:
            self._say("away", f"{self.broker.host}:{self.broker.port} is unreachable ({reason_code}); retrying, "
                              f"readings queued (up to {self.pending.maxlen})")

    def _send(self, payload: str) -> None:
        self.client.publish(self.reading_topic, payload, qos=1, retain=True)
        self.sent += 1

    def publish(self, record: dict) -> None:
        """Send a reading now, or queue it while the broker is away."""
        payload = json.dumps(record)
        with self._lock:
            if not self.connected:
                if len(self.pending) == self.pending.maxlen:
                    self.dropped += 1
                self.pending.append(payload)
                return
        self._send(payload)

    def close(self, wait: float = CLOSE_WAIT) -> None:
        """Say offline, deliver what can be within ``wait`` seconds, disconnect."""
        if self.connected:
            info = self.client.publish(self.status_topic, "offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=wait)
            except (RuntimeError, ValueError):
                pass  # the connection went away meanwhile: the will says offline
        left = len(self.pending)
        self.client.disconnect()
        self.client.loop_stop()
        if left or self.dropped:
            print(f"mqtt: {left} readings not delivered (no connection to the broker), {self.dropped} dropped "
                  "from the queue",
                  file=self.log, flush=True)
