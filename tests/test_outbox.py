"""The outbox and its mail sender, against a real SQLite file and a real local SMTP server."""

from __future__ import annotations

import email
import email.policy
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import Engine

import bot.mail
from bot.mail import MAIL_OFF_MESSAGE, MailSettings, OutboxWorker, load_mail_settings, send_due, start_mail_worker
from bot.storage.database import create_engine, transaction
from bot.storage.outbox import CLAIM_SECONDS, claim_due, due, enqueue_email, mark_failed, pending_count, retry_delay
from bot.storage.tables import outbox
from tests.servers import free_port

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
SUBJECT = "Tiket anda TCK-7Q4M2X"
BODY = "Terima kasih, Siti — tiket TCK-7Q4M2X diterima.\nKami akan membalas sebelum Selasa 17:00.\n"
SENDER = "Kedai Lumina Support <help@kedailumina.example>"


class Collector:
    """An aiosmtpd handler keeping what it received, parsed."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []  # (envelope sender, recipients, message)

    async def handle_DATA(self, server, session, envelope) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / 'var' / 'bot.db'}")


def start_smtp(port: int, **options) -> tuple[Controller, Collector]:
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=port, **options)
    controller.start()
    return controller, collector


@pytest.fixture
def smtp() -> Iterator[tuple[MailSettings, Collector]]:
    port = free_port()
    controller, collector = start_smtp(port)
    yield MailSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5), collector
    controller.stop()


def queue(engine: Engine, to: str = "siti@example.com", now: datetime = NOW) -> int:
    with transaction(engine) as connection:
        return enqueue_email(connection, to, SUBJECT, BODY, now)


def body_of(message: EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")  # SMTP carries lines ending in CRLF


def row(engine: Engine, message_id: int) -> sa.engine.Row:
    """The raw row; SQLite hands its times back naive, in UTC."""
    with engine.connect() as connection:
        return connection.execute(sa.select(outbox).where(outbox.c.id == message_id)).one()


def test_a_queued_email_is_delivered_intact_and_marked_sent(engine, smtp) -> None:
    settings, collector = smtp
    message_id = queue(engine)
    assert pending_count(engine) == 1

    assert send_due(engine, settings, now=NOW) == (1, 0)

    [(mail_from, recipients, message)] = collector.messages
    assert (mail_from, recipients) == ("help@kedailumina.example", ["siti@example.com"])
    assert message["From"] == SENDER
    assert message["To"] == "siti@example.com"
    assert message["Subject"] == SUBJECT
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert body_of(message) == BODY  # the em dash and the text survive the trip
    stored = row(engine, message_id)
    assert (stored.sent_at, stored.attempts, stored.last_error) == (NOW.replace(tzinfo=None), 0, None)
    assert pending_count(engine) == 0
    assert send_due(engine, settings, now=NOW + timedelta(hours=1)) == (0, 0)  # sent once, kept, never again
    assert len(collector.messages) == 1


def test_an_outage_delays_an_email_but_never_loses_or_repeats_it(engine, caplog) -> None:
    port = free_port()  # nothing listens here yet: the mail server is down
    settings = MailSettings(host="127.0.0.1", port=port, sender=SENDER, timeout=5)
    message_id = queue(engine)

    with caplog.at_level(logging.WARNING, logger="bot.mail"):
        assert send_due(engine, settings, now=NOW) == (0, 1)
    stored = row(engine, message_id)
    assert stored.sent_at is None
    assert stored.attempts == 1
    assert "ConnectionRefusedError" in stored.last_error
    assert stored.next_attempt_at == (NOW + timedelta(seconds=30)).replace(tzinfo=None)
    assert [r.getMessage() for r in caplog.records] == [
        f"outbox {message_id}: e-mail not sent (attempt 1): {stored.last_error}"
    ]

    controller, collector = start_smtp(port)  # the server comes back
    try:
        assert send_due(engine, settings, now=NOW + timedelta(seconds=10)) == (0, 0)  # still waiting out the backoff
        assert send_due(engine, settings, now=NOW + timedelta(seconds=31)) == (1, 0)
        assert send_due(engine, settings, now=NOW + timedelta(hours=2)) == (0, 0)
    finally:
        controller.stop()
    [(_, recipients, message)] = collector.messages
    assert (recipients, message["Subject"], body_of(message)) == (["siti@example.com"], SUBJECT, BODY)
    assert row(engine, message_id).sent_at is not None
    assert pending_count(engine) == 0


def test_the_worker_thread_delivers_and_stops(engine, smtp) -> None:
    settings, collector = smtp
    environ = {"SUPPORTBOT_SMTP_HOST": settings.host, "SUPPORTBOT_SMTP_PORT": str(settings.port)}
    worker = start_mail_worker(engine, environ=environ, interval=0.1)
    assert worker is not None and worker.daemon
    try:
        queue(engine, now=datetime.now(timezone.utc))
        deadline = time.monotonic() + 5
        while not collector.messages and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop(timeout=5)
    assert not worker.is_alive()
    assert len(collector.messages) == 1
    assert pending_count(engine) == 0


def test_the_worker_survives_a_failing_round(engine, smtp, monkeypatch, caplog) -> None:
    settings, _ = smtp
    calls: list[int] = []

    def flaky_send_due(*args, **kwargs) -> tuple[int, int]:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database is locked")
        return 0, 0

    monkeypatch.setattr(bot.mail, "send_due", flaky_send_due)
    worker = OutboxWorker(engine, settings, interval=0.05)
    with caplog.at_level(logging.ERROR, logger="bot.mail"):
        worker.start()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.stop(timeout=5)
    assert len(calls) >= 3  # it went on after the error
    assert not worker.is_alive()
    assert "outbox round failed" in caplog.text


def test_login_is_used_when_user_and_password_are_set(engine) -> None:
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret", handled=False)  # unhandled: the server answers 535

    port = free_port()
    # PLAIN only, so each login is one attempt (smtplib tries every advertised mechanism in turn).
    controller, collector = start_smtp(
        port, authenticator=authenticator, auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    )
    try:
        environ = {
            "SUPPORTBOT_SMTP_HOST": "127.0.0.1",
            "SUPPORTBOT_SMTP_PORT": str(port),
            "SUPPORTBOT_SMTP_USER": "bot",
            "SUPPORTBOT_SMTP_PASSWORD": "s3cret",
        }
        queue(engine)
        assert send_due(engine, load_mail_settings(environ), now=NOW) == (1, 0)
        wrong = load_mail_settings({**environ, "SUPPORTBOT_SMTP_PASSWORD": "wrong"})
        failing_id = queue(engine)
        assert send_due(engine, wrong, now=NOW) == (0, 1)
    finally:
        controller.stop()
    assert logins == [(b"bot", b"s3cret"), (b"bot", b"wrong")]
    assert len(collector.messages) == 1
    assert "SMTPAuthenticationError" in row(engine, failing_id).last_error


def test_a_row_that_cannot_become_an_email_fails_alone(engine, smtp) -> None:
    settings, collector = smtp
    with transaction(engine) as connection:
        connection.execute(
            outbox.insert().values(
                kind="email",
                destination="x@example.com",
                payload="not json",
                created_at=NOW,
                attempts=0,
                next_attempt_at=NOW,
            )
        )
    good_id = queue(engine)
    assert send_due(engine, settings, now=NOW) == (1, 1)
    assert len(collector.messages) == 1
    assert row(engine, good_id).sent_at is not None
    assert pending_count(engine) == 1


def test_enqueue_commits_with_the_callers_transaction(engine) -> None:
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction(engine) as connection:
        enqueue_email(connection, "siti@example.com", SUBJECT, BODY, NOW)
        raise Rollback  # what caused the e-mail failed, so the e-mail is not queued either
    assert pending_count(engine) == 0
    with pytest.raises(ValueError, match="line breaks"), transaction(engine) as connection:
        enqueue_email(connection, "siti@example.com", "Subject\nBcc: everyone@example.com", BODY, NOW)


def test_due_is_oldest_first_and_waits_for_the_backoff(engine) -> None:
    first = queue(engine, now=NOW)
    second = queue(engine, now=NOW + timedelta(seconds=1))
    assert [m.id for m in due(engine, NOW)] == [first]
    assert [m.id for m in due(engine, NOW + timedelta(seconds=1))] == [first, second]
    mark_failed(engine, first, "timed out", NOW + timedelta(seconds=1))
    [message] = due(engine, NOW + timedelta(seconds=1))
    assert (message.id, message.payload) == (second, {"subject": SUBJECT, "body": BODY})
    assert message.next_attempt_at.tzinfo == timezone.utc
    with pytest.raises(LookupError, match="outbox message 999"):
        mark_failed(engine, 999, "x", NOW)


def test_backoff_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in range(9)] == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert retry_delay(10_000) == timedelta(hours=1)


def test_no_smtp_host_means_email_is_off(engine, caplog) -> None:
    assert load_mail_settings({}) is None
    with caplog.at_level(logging.INFO, logger="bot.mail"):
        assert start_mail_worker(engine, environ={}) is None
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("INFO", MAIL_OFF_MESSAGE)]
    assert MAIL_OFF_MESSAGE == (
        "e-mail is off (SUPPORTBOT_SMTP_HOST is not set): confirmation e-mails wait in the outbox"
    )


def test_mail_settings_from_the_environment() -> None:
    settings = load_mail_settings(
        {
            "SUPPORTBOT_SMTP_HOST": "smtp.example.com",
            "SUPPORTBOT_SMTP_PORT": "587",
            "SUPPORTBOT_SMTP_USER": "bot",
            "SUPPORTBOT_SMTP_PASSWORD": "s3cret",
            "SUPPORTBOT_SMTP_STARTTLS": "1",
            "SUPPORTBOT_SMTP_TIMEOUT": "2.5",
        }
    )
    assert settings == MailSettings("smtp.example.com", 587, "bot", "s3cret", True, SENDER, 2.5)
    assert "s3cret" not in repr(settings)
    assert load_mail_settings({"SUPPORTBOT_SMTP_HOST": "mail"}) == MailSettings("mail")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SUPPORTBOT_SMTP_PORT", "smtp"),
        ("SUPPORTBOT_SMTP_STARTTLS", "yes"),
        ("SUPPORTBOT_SMTP_TIMEOUT", "-1"),
        ("SUPPORTBOT_MAIL_FROM", "nobody"),
        ("SUPPORTBOT_SMTP_USER", "bot"),  # without a password
    ],
)
def test_a_bad_mail_setting_is_named(key: str, value: str) -> None:
    with pytest.raises(ValueError, match=key):
        load_mail_settings({"SUPPORTBOT_SMTP_HOST": "mail", key: value})


def test_of_several_workers_each_due_message_goes_to_exactly_one(tmp_path) -> None:
    """Four workers (the action servers of a cluster) on one database take due messages at once:
    every message is taken, none twice. With `due` alone, each would send every message."""
    path = tmp_path / "shared.db"
    engines = [create_engine(f"sqlite:///{path}", timeout=30) for _ in range(4)]
    queued = {queue(engines[0], to=f"customer{n}@example.com") for n in range(60)}
    start = threading.Barrier(len(engines))

    def work(engine: Engine) -> list[int]:
        start.wait()
        taken: list[int] = []
        while batch := claim_due(engine, NOW + timedelta(seconds=1), limit=7):
            taken += [message.id for message in batch]
        return taken

    with ThreadPoolExecutor(len(engines)) as pool:
        taken = [message_id for ids in pool.map(work, engines) for message_id in ids]
    assert sorted(taken) == sorted(queued)  # each exactly once


def test_a_claimed_message_is_left_to_its_worker_then_due_again_if_it_died(engine) -> None:
    first = queue(engine)
    assert [m.id for m in claim_due(engine, NOW)] == [first]
    assert claim_due(engine, NOW) == []  # another worker does not get it
    assert due(engine, NOW + timedelta(seconds=CLAIM_SECONDS - 1)) == []
    assert [m.id for m in due(engine, NOW + timedelta(seconds=CLAIM_SECONDS))] == [first]  # its worker never came back
