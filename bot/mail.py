"""Sending the outbox's e-mails over SMTP, and the worker thread that delivers the outbox (e-mails and webhooks).

Retries are left to the outbox; the webhooks themselves are POSTed by `bot.handoff.webhook`.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any

from sqlalchemy.engine import Engine

from bot.handoff.webhook import HandoffSettings, deliver_due, load_handoff_settings
from bot.settings import positive_seconds
from bot.storage.outbox import KIND_EMAIL, OutboxMessage, claim_due, mark_failed, mark_sent

logger = logging.getLogger(__name__)

DEFAULT_SENDER = "Kedai Lumina Support <help@kedailumina.example>"
MAIL_OFF_MESSAGE = "e-mail is off (SUPPORTBOT_SMTP_HOST is not set): confirmation e-mails wait in the outbox"


@dataclass(frozen=True)
class MailSettings:
    host: str  # SUPPORTBOT_SMTP_HOST: the mail server; unset means e-mail is off
    port: int = 25  # SUPPORTBOT_SMTP_PORT
    user: str | None = None  # SUPPORTBOT_SMTP_USER: login name, used together with the password
    password: str | None = field(default=None, repr=False)  # SUPPORTBOT_SMTP_PASSWORD: kept out of repr and logs
    starttls: bool = False  # SUPPORTBOT_SMTP_STARTTLS: "1" upgrades the connection to TLS before logging in
    sender: str = DEFAULT_SENDER  # SUPPORTBOT_MAIL_FROM: the From header and envelope sender
    timeout: float = 10.0  # SUPPORTBOT_SMTP_TIMEOUT: seconds before a silent server counts as a failure


def load_mail_settings(environ: Mapping[str, str] | None = None) -> MailSettings | None:
    """Mail settings from the environment, or None when SUPPORTBOT_SMTP_HOST is unset (e-mail off)."""
    env = os.environ if environ is None else environ
    host = env.get("SUPPORTBOT_SMTP_HOST", "").strip()
    if not host:
        return None
    user = env.get("SUPPORTBOT_SMTP_USER") or None
    password = env.get("SUPPORTBOT_SMTP_PASSWORD") or None
    if (user is None) != (password is None):
        # One without the other is a half-done configuration; sending unauthenticated instead would hide it.
        raise ValueError("SUPPORTBOT_SMTP_USER and SUPPORTBOT_SMTP_PASSWORD must be set together, or neither")
    return MailSettings(
        host=host,
        port=_port(env.get("SUPPORTBOT_SMTP_PORT", "25")),
        user=user,
        password=password,
        starttls=_flag("SUPPORTBOT_SMTP_STARTTLS", env.get("SUPPORTBOT_SMTP_STARTTLS", "0")),
        sender=_sender(env.get("SUPPORTBOT_MAIL_FROM", DEFAULT_SENDER)),
        timeout=positive_seconds("SUPPORTBOT_SMTP_TIMEOUT", env.get("SUPPORTBOT_SMTP_TIMEOUT", "10")),
    )


def _port(value: str) -> int:
    if not value.strip().isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"SUPPORTBOT_SMTP_PORT must be a port number 1-65535, got {value!r}")
    return int(value)


def _flag(name: str, value: str) -> bool:
    if value.strip() not in ("0", "1"):
        raise ValueError(f'{name} must be "1" or "0", got {value!r}')
    return value.strip() == "1"


def _sender(value: str) -> str:
    if "@" not in parseaddr(value)[1]:
        raise ValueError(f'SUPPORTBOT_MAIL_FROM must be an address such as "Name <help@example.com>", got {value!r}')
    return value


# --- sending ----------------------------------------------------------------------------------------------------------


def send_due(engine: Engine, settings: MailSettings, now: datetime | None = None) -> tuple[int, int]:
    """Send every due e-mail once; (sent, failed). A mail-server outage marks rows failed, it never raises."""
    now = now or datetime.now(timezone.utc)
    sent = failed = 0
    for message in claim_due(engine, now, kind=KIND_EMAIL):
        error = _deliver(settings, message, now)
        if error is None:
            mark_sent(engine, message.id, now)
            sent += 1
        else:
            logger.warning("outbox %d: e-mail not sent (attempt %d): %s", message.id, message.attempts + 1, error)
            mark_failed(engine, message.id, error, now)
            failed += 1
    return sent, failed


def _deliver(settings: MailSettings, message: OutboxMessage, now: datetime) -> str | None:
    """None when the server accepted the e-mail, else why not (kept as the row's last_error)."""
    try:
        email = build_email(settings, message, now)
    except (KeyError, TypeError, ValueError) as error:
        return f"cannot build the e-mail: {error.__class__.__name__}: {error}"
    try:
        # One connection per message: a broken connection then costs only the message it broke.
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            if settings.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.user is not None and settings.password is not None:
                smtp.login(settings.user, settings.password)
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as error:  # SMTPException is an OSError; both named for the reader
        return f"{error.__class__.__name__}: {error}"
    return None


def build_email(settings: MailSettings, message: OutboxMessage, now: datetime) -> EmailMessage:
    """The outbox row as a plain-text UTF-8 e-mail."""
    subject, body = message.payload["subject"], message.payload["body"]
    if not isinstance(subject, str) or not isinstance(body, str):
        raise TypeError("the payload's subject and body must be text")
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = message.destination
    email["Subject"] = subject
    email["Date"] = format_datetime(now.astimezone(timezone.utc))
    email["Message-ID"] = make_msgid(
        idstring=f"outbox-{message.id}", domain=parseaddr(settings.sender)[1].split("@")[-1]
    )
    # Quoted-printable keeps the body 7-bit, so servers without 8BITMIME take it; it stays readable for ASCII.
    email.set_content(body, charset="utf-8", cte="quoted-printable")
    return email


# --- the background worker --------------------------------------------------------------------------------------------


class OutboxWorker(threading.Thread):
    """Every `interval` seconds until stop(): sends due e-mails (when `settings` is given) and POSTs due webhooks
    (when `handoff` has a webhook URL). A failing round is logged and the next one tries again."""

    def __init__(
        self,
        engine: Engine,
        settings: MailSettings | None,
        interval: float = 5.0,
        *,
        handoff: HandoffSettings | None = None,
    ) -> None:
        # Daemon: a stuck SMTP or HTTP call must not keep the process alive at exit; unsent rows stay in the outbox.
        super().__init__(name="outbox", daemon=True)
        self.engine = engine
        self.settings = settings  # None: e-mail is off, e-mails wait in the outbox
        self.handoff = handoff  # None or without a URL: webhooks are off
        self.interval = interval
        self._stopping = threading.Event()  # not `_stop`: threading.Thread already has a method by that name

    def run(self) -> None:
        while not self._stopping.is_set():
            self.run_once()
            self._stopping.wait(self.interval)

    def run_once(self) -> tuple[int, int]:
        """One round over both kinds; (sent, failed), counting a kind whose round failed (e.g. the database is
        down) as (0, 0). One kind failing does not hold up the other."""
        rounds = []
        if self.settings is not None:
            rounds.append(self._round("e-mail", send_due, self.settings))
        if self.handoff is not None and self.handoff.webhook_url is not None:
            rounds.append(self._round("webhook", deliver_due, self.handoff))
        return sum(sent for sent, _ in rounds), sum(failed for _, failed in rounds)

    def _round(self, kind: str, deliver: Callable[[Engine, Any], tuple[int, int]], settings: Any) -> tuple[int, int]:
        try:
            return deliver(self.engine, settings)
        except Exception:  # the worker must outlive any one bad round
            logger.exception("outbox round failed (%s); trying again in %.1f s", kind, self.interval)
            return 0, 0

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the thread to finish its round and wait for it (at most `timeout` seconds)."""
        self._stopping.set()
        if self.is_alive():
            self.join(timeout)


def start_mail_worker(
    engine: Engine, *, environ: Mapping[str, str] | None = None, interval: float = 5.0
) -> OutboxWorker | None:
    """Start delivering the outbox in the background: e-mails when SMTP is set, handoff webhooks when their URL is
    set (even with e-mail off). None when neither is; e-mail being off is one INFO line either way."""
    settings = load_mail_settings(environ)
    handoff = load_handoff_settings(environ)
    if settings is None:
        logger.info(MAIL_OFF_MESSAGE)
        if handoff.webhook_url is None:
            return None
    worker = OutboxWorker(engine, settings, interval, handoff=handoff)
    worker.start()
    return worker
