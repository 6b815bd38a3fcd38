"""Handoff webhooks against a real local HTTP receiver and a real SQLite file: signing, retries, settings."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.handoff.packet import build_packet, packet_text
from bot.handoff.webhook import (
    HandoffSettings,
    deliver_due,
    encode,
    enqueue_handoff_deliveries,
    load_handoff_settings,
    sign,
    signed_headers,
    verify,
)
from bot.mail import start_mail_worker
from bot.storage.database import create_engine, transaction
from bot.storage.outbox import KIND_EMAIL, KIND_WEBHOOK, due, enqueue_webhook, pending_count
from bot.storage.tables import outbox
from tests.servers import free_port

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
SECRET = "whsec-0123456789abcdef"
PACKET = dict(
    build_packet(
        handoff_id="HND-7Q4M2X",
        conversation_id="d0c3f1e2a9b84c6f",
        reason="asked",
        language="ms",
        events=[
            {"event": "user", "timestamp": NOW.timestamp() - 60, "text": "nak cakap dengan orang", "metadata": {}},
            {"event": "bot", "timestamp": NOW.timestamp() - 59, "text": "Baik, sebentar.", "metadata": {}},
        ],
        slots={"ticket_name": "Siti Aminah", "email": "siti.aminah@gmail.com"},
        created_at=NOW,
    )
)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    verified: bool  # the receiver's `verify` accepted it


class Receiver(ThreadingHTTPServer):
    """A webhook endpoint on 127.0.0.1: checks each request's signature with `verify` and keeps what it got."""

    def __init__(self, port: int = 0, secret: str = SECRET) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.secret = secret
        self.status = 200  # what it answers to a correctly signed request (a wrong signature gets 401)
        self.location: str | None = None  # the Location header of a 3xx answer
        self.delay = 0.0  # seconds before answering
        self.clock: datetime | None = None  # verify against this time; None: the real time
        self.requests: list[Request] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)  # quick shutdown

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hooks/handoff"

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        headers = dict(self.headers)
        verified = verify(self.server.secret, headers, body, self.server.clock or datetime.now(timezone.utc))
        self.server.requests.append(Request(self.path, headers, body, verified))
        time.sleep(self.server.delay)
        self.send_response(self.server.status if verified else 401)
        if self.server.location:
            self.send_header("Location", self.server.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'var' / 'bot.db'}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def settings_for(url: str, **overrides: object) -> HandoffSettings:
    return HandoffSettings(**{"webhook_url": url, "webhook_secret": SECRET, "timeout": 5.0, **overrides})


def queue(engine: Engine, url: str, now: datetime = NOW) -> int:
    with transaction(engine) as connection:
        return enqueue_webhook(connection, url, PACKET, now)


def row(engine: Engine, message_id: int) -> sa.engine.Row:
    """The raw row; SQLite hands its times back naive, in UTC."""
    with engine.connect() as connection:
        return connection.execute(sa.select(outbox).where(outbox.c.id == message_id)).one()


def naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None)


def deliver_at(engine: Engine, receiver: Receiver | None, settings: HandoffSettings, moment: datetime):
    if receiver is not None:
        receiver.clock = moment  # the receiver's clock agrees with the sender's
    return deliver_due(engine, settings, now=moment)


# --- delivery -----------------------------------------------------------------------------------------------------


def test_a_packet_is_delivered_once_signed_with_its_delivery_id(engine, receiver) -> None:
    settings = settings_for(receiver.url)
    with transaction(engine) as connection:
        [message_id] = enqueue_handoff_deliveries(connection, PACKET, NOW, settings)

    assert deliver_at(engine, receiver, settings, NOW) == (1, 0)

    [request] = receiver.requests
    assert request.verified
    assert request.path == "/hooks/handoff"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Supportbot-Delivery"] == str(message_id)
    assert request.headers["X-Supportbot-Timestamp"] == str(int(NOW.timestamp()))
    assert request.headers["X-Supportbot-Signature"] == sign(SECRET, int(NOW.timestamp()), request.body)
    assert request.body == encode(PACKET)
    assert request.body.startswith(b'{"schema_version":1,"handoff_id":"HND-7Q4M2X",')  # compact UTF-8 JSON
    assert json.loads(request.body) == PACKET
    stored = row(engine, message_id)
    assert (stored.kind, stored.sent_at, stored.attempts, stored.last_error) == (KIND_WEBHOOK, naive(NOW), 0, None)
    assert deliver_at(engine, receiver, settings, NOW + timedelta(hours=1)) == (0, 0)  # sent once, never again
    assert len(receiver.requests) == 1


def test_an_unreachable_endpoint_delays_a_packet_but_never_loses_or_repeats_it(engine, caplog) -> None:
    port = free_port()  # nothing listens here yet: the endpoint is down
    settings = settings_for(f"http://127.0.0.1:{port}/hooks/handoff")
    message_id = queue(engine, settings.webhook_url)

    with caplog.at_level(logging.WARNING, logger="bot.handoff.webhook"):
        assert deliver_at(engine, None, settings, NOW) == (0, 1)
    stored = row(engine, message_id)
    assert (stored.sent_at, stored.attempts) == (None, 1)
    assert stored.last_error.startswith("ConnectionError: ") and len(stored.last_error) <= 200
    assert stored.next_attempt_at == naive(NOW + timedelta(seconds=30))
    assert [r.getMessage() for r in caplog.records] == [
        f"outbox {message_id}: webhook not delivered (attempt 1): {stored.last_error}"
    ]

    with Receiver(port) as receiver:  # it comes back, but overloaded
        receiver.status = 503
        assert deliver_at(engine, receiver, settings, NOW + timedelta(seconds=10)) == (0, 0)  # waiting out the back-off
        second = NOW + timedelta(seconds=31)
        assert deliver_at(engine, receiver, settings, second) == (0, 1)
        stored = row(engine, message_id)
        assert (stored.attempts, stored.last_error) == (2, "HTTP 503")
        assert stored.next_attempt_at == naive(second + timedelta(seconds=60))  # the back-off doubled

        receiver.status = 200  # and recovers
        third = second + timedelta(seconds=61)
        assert deliver_at(engine, receiver, settings, third) == (1, 0)
        assert deliver_at(engine, receiver, settings, third + timedelta(hours=2)) == (0, 0)

    assert [r.verified for r in receiver.requests] == [True, True]
    # The same delivery id on each attempt (receivers drop repeats), each signed at its own time (never stale).
    assert {r.headers["X-Supportbot-Delivery"] for r in receiver.requests} == {str(message_id)}
    assert [r.headers["X-Supportbot-Timestamp"] for r in receiver.requests] == [
        str(int(second.timestamp())),
        str(int(third.timestamp())),
    ]
    assert json.loads(receiver.requests[-1].body) == PACKET
    assert row(engine, message_id).sent_at == naive(third)
    assert pending_count(engine) == 0


def test_a_redirect_is_a_failure_and_is_not_followed(engine, receiver) -> None:
    with Receiver() as elsewhere:
        receiver.status = 302
        receiver.location = elsewhere.url
        settings = settings_for(receiver.url)
        message_id = queue(engine, receiver.url)
        assert deliver_at(engine, receiver, settings, NOW) == (0, 1)
    assert row(engine, message_id).last_error == "HTTP 302 (redirects are not followed)"
    assert len(receiver.requests) == 1
    assert elsewhere.requests == []  # the signed packet never went to the other host


def test_a_silent_endpoint_times_out(engine, receiver) -> None:
    receiver.delay = 1.0
    message_id = queue(engine, receiver.url)
    assert deliver_at(engine, receiver, settings_for(receiver.url, timeout=0.2), NOW) == (0, 1)
    assert row(engine, message_id).last_error.startswith("ReadTimeout: ")


def test_a_receiver_with_another_secret_refuses_the_packet(engine) -> None:
    with Receiver(secret="another-secret-0123456789") as receiver:
        message_id = queue(engine, receiver.url)
        assert deliver_at(engine, receiver, settings_for(receiver.url), NOW) == (0, 1)
    assert [r.verified for r in receiver.requests] == [False]
    assert row(engine, message_id).last_error == "HTTP 401"


def test_a_row_that_is_not_a_packet_fails_alone(engine, receiver) -> None:
    with transaction(engine) as connection:
        connection.execute(
            outbox.insert().values(
                kind=KIND_WEBHOOK,
                destination=receiver.url,
                payload="not json",
                created_at=NOW,
                attempts=0,
                next_attempt_at=NOW,
            )
        )
    good_id = queue(engine, receiver.url)
    assert deliver_at(engine, receiver, settings_for(receiver.url), NOW) == (1, 1)
    assert [r.headers["X-Supportbot-Delivery"] for r in receiver.requests] == [str(good_id)]
    [corrupt] = due(engine, NOW + timedelta(minutes=1))
    assert corrupt.last_error == "cannot send: the payload is not a handoff packet"


def test_the_worker_delivers_webhooks_with_email_off(engine, receiver) -> None:
    environ = {"SUPPORTBOT_HANDOFF_WEBHOOK_URL": receiver.url, "SUPPORTBOT_HANDOFF_WEBHOOK_SECRET": SECRET}
    worker = start_mail_worker(engine, environ=environ, interval=0.1)  # no SUPPORTBOT_SMTP_HOST
    assert worker is not None and worker.settings is None
    try:
        queue(engine, receiver.url, now=datetime.now(timezone.utc))
        deadline = time.monotonic() + 5
        while pending_count(engine) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(timeout=5)
    assert not worker.is_alive()
    assert [r.verified for r in receiver.requests] == [True]  # checked against the real clock
    assert pending_count(engine) == 0


# --- queuing ------------------------------------------------------------------------------------------------------


def test_the_configured_deliveries_are_queued_in_the_callers_transaction(engine) -> None:
    settings = settings_for("https://agents.example/hooks/handoff", email="agents@kedailumina.example")
    with transaction(engine) as connection:
        webhook_id, email_id = enqueue_handoff_deliveries(connection, PACKET, NOW, settings)
    webhook, email = due(engine, NOW)
    assert (webhook.id, webhook.kind, webhook.destination, webhook.payload) == (
        webhook_id,
        KIND_WEBHOOK,
        "https://agents.example/hooks/handoff",
        PACKET,
    )
    assert (email.id, email.kind, email.destination) == (email_id, KIND_EMAIL, "agents@kedailumina.example")
    assert email.payload == {
        "subject": "Handoff HND-7Q4M2X (asked for a person) – Siti Aminah",
        "body": packet_text(PACKET),
    }

    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction(engine) as connection:
        enqueue_handoff_deliveries(connection, PACKET, NOW, settings)
        raise Rollback  # the handoff was not stored, so nothing is delivered either
    assert pending_count(engine) == 2
    with transaction(engine) as connection:
        assert enqueue_handoff_deliveries(connection, PACKET, NOW, HandoffSettings()) == []  # nothing configured
        with pytest.raises(ValueError, match="http"):
            enqueue_webhook(connection, "file:///etc/passwd", PACKET, NOW)


def test_a_name_with_line_breaks_stays_on_the_subject_line(engine) -> None:
    packet = {**PACKET, "customer": {**PACKET["customer"], "name": "Siti\r\nBcc: everyone@example.com"}}
    with transaction(engine) as connection:
        enqueue_handoff_deliveries(connection, packet, NOW, HandoffSettings(email="agents@kedailumina.example"))
    [email] = due(engine, NOW)
    assert email.payload["subject"] == "Handoff HND-7Q4M2X (asked for a person) – Siti Bcc: everyone@example.com"


# --- signing ------------------------------------------------------------------------------------------------------


def test_verify_accepts_only_the_right_secret_and_body() -> None:
    body = encode(PACKET)
    headers = signed_headers(SECRET, 7, body, NOW)
    assert verify(SECRET, headers, body, NOW)
    assert verify(SECRET, {name.lower(): value for name, value in headers.items()}, body, NOW)  # any header case
    assert not verify("wrong-secret-0123456789", headers, body, NOW)
    assert not verify(SECRET, headers, body.replace(b"Siti", b"Sita"), NOW)  # tampered
    assert not verify(SECRET, {**headers, "X-Supportbot-Signature": "sha256=" + "0" * 64}, body, NOW)
    assert not verify(SECRET, {**headers, "X-Supportbot-Signature": "sha256=ü"}, body, NOW)
    assert not verify(SECRET, {"Content-Type": "application/json"}, body, NOW)  # unsigned


def test_the_documented_receiver_snippet_verifies_a_real_delivery() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "handoff-packet.md").read_text(encoding="utf-8")
    namespace: dict = {}
    exec(doc.split("```python\n", 1)[1].split("```", 1)[0], namespace)  # the snippet receivers copy
    verify_supportbot = namespace["verify_supportbot"]
    body = encode(PACKET)
    headers = signed_headers(SECRET, 7, body, datetime.now(timezone.utc))
    assert verify_supportbot(SECRET, headers, body)
    assert not verify_supportbot("wrong-secret-0123456789", headers, body)
    assert not verify_supportbot(SECRET, signed_headers(SECRET, 7, body, NOW), body)  # long ago


def test_verify_refuses_a_replayed_or_future_timestamp() -> None:
    body = encode(PACKET)
    headers = signed_headers(SECRET, 7, body, NOW)
    assert verify(SECRET, headers, body, NOW + timedelta(seconds=299))
    assert not verify(SECRET, headers, body, NOW + timedelta(seconds=301))  # replayed later
    assert not verify(SECRET, headers, body, NOW - timedelta(seconds=301))  # from the future
    assert verify(SECRET, headers, body, NOW + timedelta(hours=1), tolerance_seconds=7200)
    # A replay with a fresh timestamp but the old signature: the timestamp is signed too.
    fresh = {**headers, "X-Supportbot-Timestamp": str(int(NOW.timestamp()) + 3600)}
    assert not verify(SECRET, fresh, body, NOW + timedelta(hours=1))
    assert not verify(SECRET, {**headers, "X-Supportbot-Timestamp": "soon"}, body, NOW)


# --- settings -----------------------------------------------------------------------------------------------------


def test_handoff_settings_from_the_environment() -> None:
    assert load_handoff_settings({}) == HandoffSettings()
    settings = load_handoff_settings(
        {
            "SUPPORTBOT_HANDOFF_WEBHOOK_URL": "https://agents.example/hooks/handoff",
            "SUPPORTBOT_HANDOFF_WEBHOOK_SECRET": SECRET,
            "SUPPORTBOT_HANDOFF_EMAIL": "agents@kedailumina.example",
            "SUPPORTBOT_WEBHOOK_TIMEOUT": "2.5",
        }
    )
    assert settings == HandoffSettings(
        "https://agents.example/hooks/handoff", SECRET, "agents@kedailumina.example", 2.5
    )
    assert SECRET not in repr(settings)
    assert load_handoff_settings({"SUPPORTBOT_HANDOFF_EMAIL": "agents@kedailumina.example"}).webhook_url is None


URL_KEY, SECRET_KEY = "SUPPORTBOT_HANDOFF_WEBHOOK_URL", "SUPPORTBOT_HANDOFF_WEBHOOK_SECRET"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({URL_KEY: "https://agents.example/h"}, SECRET_KEY),
        ({URL_KEY: "https://agents.example/h", SECRET_KEY: "short"}, SECRET_KEY),  # fewer than 16 characters
        ({URL_KEY: "ftp://agents.example/h", SECRET_KEY: SECRET}, URL_KEY),
        ({URL_KEY: "https:///no-host", SECRET_KEY: SECRET}, URL_KEY),
        ({"SUPPORTBOT_HANDOFF_EMAIL": "agents"}, "SUPPORTBOT_HANDOFF_EMAIL"),
        ({"SUPPORTBOT_WEBHOOK_TIMEOUT": "0"}, "SUPPORTBOT_WEBHOOK_TIMEOUT"),
    ],
)
def test_a_bad_handoff_setting_is_named(environ: dict[str, str], named: str) -> None:
    with pytest.raises(ValueError, match=named) as raised:
        load_handoff_settings(environ)
    assert "short" not in str(raised.value)  # a secret is never echoed
