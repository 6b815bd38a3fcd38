"""Delivering handoff packets: the settings, queuing the webhook and e-mail copy, signing, and POSTing due webhooks.

The receiver's side (headers, signature check) is documented in `docs/handoff-packet.md`; `verify` is its reference.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import requests
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.engine import Connection, Engine

from bot.handoff.packet import REASONS, packet_text
from bot.security.redaction import product_redactor
from bot.settings import positive_seconds
from bot.storage.outbox import (
    KIND_WEBHOOK,
    OutboxMessage,
    claim_due,
    enqueue_email,
    enqueue_webhook,
    mark_failed,
    mark_sent,
)

logger = logging.getLogger(__name__)

TIMESTAMP_HEADER = "X-Supportbot-Timestamp"  # unix seconds of this attempt
SIGNATURE_HEADER = "X-Supportbot-Signature"  # "sha256=" + hex HMAC-SHA256 of "{timestamp}.{body}"
DELIVERY_HEADER = "X-Supportbot-Delivery"  # the outbox id: the same on every retry, so receivers can drop repeats
MIN_SECRET_CHARS = 16
TOLERANCE_SECONDS = 300  # a signature older (or newer) than this is refused: a captured request cannot be replayed
MAX_ERROR_CHARS = 200  # last_error keeps the cause, not a page of it


@dataclass(frozen=True)
class HandoffSettings:
    webhook_url: str | None = None  # SUPPORTBOT_HANDOFF_WEBHOOK_URL: http(s) endpoint for packets; unset = no webhook
    webhook_secret: str | None = field(default=None, repr=False)  # SUPPORTBOT_HANDOFF_WEBHOOK_SECRET: signing key
    email: str | None = None  # SUPPORTBOT_HANDOFF_EMAIL: where a plain-text copy goes; unset = no e-mail copy
    timeout: float = 10.0  # SUPPORTBOT_WEBHOOK_TIMEOUT: seconds before a silent endpoint counts as a failure
    # SUPPORTBOT_HANDOFF_COPIES_REDACTED=1: the webhook and e-mail copies carry no e-mail addresses, phone,
    # card or order numbers (for a receiver that must not hold them); the console keeps the full packet.
    redacted: bool = False


def load_handoff_settings(environ: Mapping[str, str] | None = None) -> HandoffSettings:
    """Handoff delivery settings from the environment; ValueError names the variable that is wrong."""
    env = os.environ if environ is None else environ
    url = env.get("SUPPORTBOT_HANDOFF_WEBHOOK_URL", "").strip() or None
    secret = env.get("SUPPORTBOT_HANDOFF_WEBHOOK_SECRET") or None
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"SUPPORTBOT_HANDOFF_WEBHOOK_URL must be an http:// or https:// URL, got {url!r}")
        if secret is None or len(secret) < MIN_SECRET_CHARS:
            # The secret itself is never echoed, only what is wrong with it.
            raise ValueError(
                f"SUPPORTBOT_HANDOFF_WEBHOOK_SECRET must be set, at least {MIN_SECRET_CHARS} characters, "
                f"when SUPPORTBOT_HANDOFF_WEBHOOK_URL is set (it has {len(secret or '')})"
            )
    email = env.get("SUPPORTBOT_HANDOFF_EMAIL", "").strip() or None
    if email is not None:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"SUPPORTBOT_HANDOFF_EMAIL must be an e-mail address, got {email!r}: {error}") from None
    return HandoffSettings(
        webhook_url=url,
        webhook_secret=secret if url is not None else None,
        email=email,
        timeout=positive_seconds("SUPPORTBOT_WEBHOOK_TIMEOUT", env.get("SUPPORTBOT_WEBHOOK_TIMEOUT", "10")),
        redacted=_flag(env, "SUPPORTBOT_HANDOFF_COPIES_REDACTED"),
    )


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "0").strip().lower()
    if value not in ("0", "1", "true", "false", ""):
        raise ValueError(f"{name} must be 1 or 0, got {value!r}")
    return value in ("1", "true")


# --- queuing ----------------------------------------------------------------------------------------------------------


def enqueue_handoff_deliveries(
    connection: Connection, packet: Mapping[str, Any], now: datetime, settings: HandoffSettings
) -> list[int]:
    """Queue the webhook and the e-mail copy that are configured, in the caller's transaction; their outbox ids."""
    queued: list[int] = []
    if settings.redacted:
        packet = product_redactor().value(dict(packet))
    if settings.webhook_url is not None:
        queued.append(enqueue_webhook(connection, settings.webhook_url, packet, now, reference=packet["handoff_id"]))
    if settings.email is not None:
        subject, body = handoff_subject(packet), packet_text(packet)
        queued.append(enqueue_email(connection, settings.email, subject, body, now, reference=packet["handoff_id"]))
    return queued


def handoff_subject(packet: Mapping[str, Any]) -> str:
    """ "Handoff HND-7Q4M2X (asked for a person) – Siti Aminah", on one line whatever the customer typed as a name."""
    subject = f"Handoff {packet['handoff_id']} ({REASONS.get(packet['reason'], packet['reason'])})"
    name = (packet.get("customer") or {}).get("name")
    if name:
        subject += f" – {name[:80]}"
    return " ".join(subject.split())


# --- signing ----------------------------------------------------------------------------------------------------------


def encode(packet: Mapping[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON. The signature covers these exact bytes."""
    return json.dumps(packet, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Supportbot-Signature value: "sha256=" + hex HMAC-SHA256 of b"{timestamp}." + body."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def signed_headers(secret: str, delivery_id: int, body: bytes, now: datetime) -> dict[str, str]:
    """The request's headers for one attempt at `now`."""
    timestamp = int(now.timestamp())
    return {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(secret, timestamp, body),
        DELIVERY_HEADER: str(delivery_id),
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, now: datetime, tolerance_seconds: float = TOLERANCE_SECONDS
) -> bool:
    """True when `body` was signed with `secret` within `tolerance_seconds` of `now` (header names in any case)."""
    named = {key.lower(): value for key, value in headers.items()}
    timestamp = named.get(TIMESTAMP_HEADER.lower(), "")
    signature = named.get(SIGNATURE_HEADER.lower(), "")
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    if abs(now.timestamp() - int(timestamp)) > tolerance_seconds:
        return False
    # Constant time, so the comparison leaks nothing about how much of a forged signature was right.
    return hmac.compare_digest(sign(secret, int(timestamp), body).encode(), signature.encode("utf-8", "replace"))


# --- delivering -------------------------------------------------------------------------------------------------------


def deliver_due(engine: Engine, settings: HandoffSettings, now: datetime | None = None) -> tuple[int, int]:
    """POST every due webhook once; (sent, failed). An unreachable endpoint marks rows failed, it never raises:
    the outbox's back-off schedules the retry."""
    if settings.webhook_secret is None:
        raise ValueError("webhooks cannot be signed: SUPPORTBOT_HANDOFF_WEBHOOK_URL and _SECRET are not set")
    sent = failed = 0
    for message in claim_due(engine, now or datetime.now(timezone.utc), kind=KIND_WEBHOOK):
        # Each attempt has its own time (tests pass a fixed one): a round of slow endpoints does not sign stale.
        moment = now or datetime.now(timezone.utc)
        error = _post(message, settings.webhook_secret, settings.timeout, moment)
        if error is None:
            mark_sent(engine, message.id, moment)
            sent += 1
        else:
            logger.warning("outbox %d: webhook not delivered (attempt %d): %s", message.id, message.attempts + 1, error)
            mark_failed(engine, message.id, error, moment)
            failed += 1
    return sent, failed


def _post(message: OutboxMessage, secret: str, timeout: float, now: datetime) -> str | None:
    """None when the endpoint answered 2xx, else why not (kept as the row's last_error)."""
    if "schema_version" not in message.payload:  # a corrupt row decodes to {}: never POST an empty packet
        return "cannot send: the payload is not a handoff packet"
    body = encode(message.payload)
    try:
        # The timestamp is this attempt's, so a retry an hour later is not refused as stale. No redirects: a 3xx
        # could send the signed packet to another host. stream=True: the response body is never read.
        with requests.post(
            message.destination,
            data=body,
            headers=signed_headers(secret, message.id, body, now),
            timeout=timeout,
            allow_redirects=False,
            stream=True,
        ) as response:
            status = response.status_code
    except requests.RequestException as error:
        return f"{error.__class__.__name__}: {error}"[:MAX_ERROR_CHARS]
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return f"HTTP {status} (redirects are not followed)"
    return f"HTTP {status}"
