"""The handoff packet: what an agent needs to take a conversation over without the customer repeating anything.

Built from the tracker's events and slots, JSON-able, bounded in size whatever the conversation's length, and
described for receivers by `docs/handoff-packet.schema.json` (keep the two in step; a test checks real packets).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict

from bot.channels.shown import shown_user_text
from bot.knowledge.schema import LANGUAGES

PACKET_SCHEMA_VERSION = 1
MAX_MESSAGES = 200  # the transcript keeps the last this many messages: a week-long chat still makes a small packet
MAX_TEXT_CHARS = 4000  # each text (and customer field) is cut to this many characters, "…" included
MAX_CANDIDATES = 5  # the matcher reports at most 3; the cap only bounds a malformed parse

# Why the bot hands over, in the words the agent reads (header and e-mail subject).
REASONS: dict[str, str] = {
    "asked": "asked for a person",
    "not_understood": "not understood",
    "not_helpful": "answers did not help",
    "upset": "customer upset",
    "needs_person": "needs a person",
}
LANGUAGE_NAMES = {"en": "English", "ms": "Malay", "id": "Indonesian", "tl": "Tagalog", "vi": "Vietnamese"}

# Customer field -> the slot it comes from, and its label in the plain-text rendering.
CUSTOMER_SLOTS: dict[str, tuple[str, str]] = {
    "name": ("ticket_name", "Name"),
    "email": ("email", "E-mail"),
    "phone": ("phone", "Phone"),
    "order_number": ("order_number", "Order number"),
    "ticket_id": ("ticket_id", "Ticket"),
}
SENDER_LABELS = {"customer": "Customer", "bot": "Bot", "agent": "Agent"}

Sender = Literal["customer", "bot", "agent"]


class Customer(TypedDict):
    name: str | None  # slot ticket_name
    email: str | None  # slot email
    phone: str | None  # slot phone
    order_number: str | None  # slot order_number
    ticket_id: str | None  # slot ticket_id, e.g. "TCK-7Q4M2X"


class TranscriptLine(TypedDict):
    at: str | None  # ISO 8601 UTC, "2026-11-25T15:53:20Z"; None only for an event without a timestamp
    sender: Sender
    text: str  # what the customer saw or typed (a button click shows its title), buttons as " [Yes | No]"


class Candidate(TypedDict):
    id: str  # FAQ entry id, e.g. "returns.policy"
    score: float  # calibrated 0-1, 3 decimals


class FaqConsidered(TypedDict):
    at: str | None  # the customer message's time, as in the transcript
    text: str  # the customer message, as in the transcript
    matched: str | None  # the entry answered, None when the bot did not answer with one
    score: float  # the top score, 3 decimals
    candidates: list[Candidate]  # what else it weighed, best first


class HandoffPacket(TypedDict):
    schema_version: int  # PACKET_SCHEMA_VERSION
    handoff_id: str  # e.g. "HND-7Q4M2X"
    conversation_id: str  # the Rasa sender id
    created_at: str  # ISO 8601 UTC with "Z"
    reason: str  # a key of REASONS
    language: str  # one of LANGUAGES: the conversation's language
    customer: Customer
    transcript: list[TranscriptLine]  # oldest first, the last MAX_MESSAGES messages
    transcript_truncated: bool  # True when earlier messages were left out
    faq_candidates: list[FaqConsidered]  # for the transcript's customer messages the matcher scored


@dataclass(frozen=True)
class _Message:
    line: TranscriptLine
    faq: Mapping[str, Any] | None  # the parse's faq object, customer messages only


def build_packet(
    *,
    handoff_id: str,
    conversation_id: str,
    reason: str,
    language: str,
    events: Iterable[Mapping[str, Any]],
    slots: Mapping[str, Any],
    created_at: datetime,
) -> HandoffPacket:
    """The packet for a handoff, from the tracker's events (as dicts) and slots. ValueError names a bad argument."""
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}, got {reason!r}")
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, got {language!r}")
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError(f"created_at must be timezone-aware, got naive {created_at.isoformat()}")
    messages = [message for event in events if (message := _message(event)) is not None]
    kept = messages[-MAX_MESSAGES:]
    return {
        "schema_version": PACKET_SCHEMA_VERSION,
        "handoff_id": handoff_id,
        "conversation_id": conversation_id,
        "created_at": _iso(created_at),
        "reason": reason,
        "language": language,
        "customer": _customer(slots),
        "transcript": [message.line for message in kept],
        "transcript_truncated": len(messages) > len(kept),
        "faq_candidates": [_considered(message.line, message.faq) for message in kept if message.faq is not None],
    }


def _message(event: Mapping[str, Any]) -> _Message | None:
    """A user or bot event as a transcript line; None for every other event and for what the customer never saw."""
    kind = event.get("event")
    metadata = event.get("metadata") or {}
    at = _iso(datetime.fromtimestamp(event["timestamp"], timezone.utc)) if event.get("timestamp") else None
    if kind == "user":
        text = shown_user_text(event.get("text"), metadata)
        if text is None:
            return None
        faq = (event.get("parse_data") or {}).get("faq")
        line: TranscriptLine = {"at": at, "sender": "customer", "text": _cut(str(text))}
        return _Message(line, faq if isinstance(faq, Mapping) else None)
    if kind == "bot":
        titles = [str(b.get("title", "")) for b in (event.get("data") or {}).get("buttons") or []]
        text = " ".join(part for part in (event.get("text") or "", f"[{' | '.join(titles)}]" if titles else "") if part)
        sender: Sender = "agent" if metadata.get("agent") else "bot"
        return _Message({"at": at, "sender": sender, "text": _cut(text)}, None) if text else None
    return None


def _considered(line: TranscriptLine, faq: Mapping[str, Any]) -> FaqConsidered:
    candidates = faq.get("candidates") or []
    return {
        "at": line["at"],
        "text": line["text"],
        "matched": str(faq["id"]) if faq.get("id") else None,
        "score": _score(faq.get("score")),
        "candidates": [
            {"id": str(c["id"]), "score": _score(c.get("score"))}
            for c in candidates[:MAX_CANDIDATES]
            if isinstance(c, Mapping) and c.get("id")
        ],
    }


def _customer(slots: Mapping[str, Any]) -> Customer:
    values = {field: _slot_text(slots.get(slot)) for field, (slot, _) in CUSTOMER_SLOTS.items()}
    return {
        "name": values["name"],
        "email": values["email"],
        "phone": values["phone"],
        "order_number": values["order_number"],
        "ticket_id": values["ticket_id"],
    }


def _slot_text(value: Any) -> str | None:
    # Text slots hold strings; a number is shown as typed, anything else (a list, a dict) is not a customer field.
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return _cut(value.strip()) if isinstance(value, str) and value.strip() else None


def _score(value: Any) -> float:
    # Calibrated scores are 0-1 already; anything else (a malformed parse, nan) must not make the packet invalid.
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return 0.0
    return round(min(max(float(value), 0.0), 1.0), 3)


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1] + "…"


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- plain text ---------------------------------------------------------------------------------------------------


def packet_text(packet: Mapping[str, Any]) -> str:
    """The packet (as built, or read back from JSON) as plain text for the e-mail copy and the agents' console."""
    language = packet["language"]
    lines = [
        f"Handoff {packet['handoff_id']}",
        f"Reason: {REASONS.get(packet['reason'], packet['reason'])}",
        f"Language: {LANGUAGE_NAMES.get(language, language)} ({language})",
        f"Conversation: {packet['conversation_id']}",
        f"Created: {_clock(packet['created_at'], date=True)} UTC",
    ]
    customer = packet.get("customer") or {}
    lines += [f"{label}: {customer[field]}" for field, (_, label) in CUSTOMER_SLOTS.items() if customer.get(field)]

    left_out = "; earlier messages left out" if packet.get("transcript_truncated") else ""
    lines += ["", f"Conversation (times in UTC{left_out}):"]
    for line in packet.get("transcript") or []:
        sender = SENDER_LABELS.get(line["sender"], line["sender"])
        lines.append(_indented(f"[{_clock(line['at'])}] {sender}: {line['text']}"))

    considered = packet.get("faq_candidates") or []
    lines += ["", "FAQ candidates considered:" if considered else "FAQ candidates considered: none"]
    for item in considered:
        matched = f"answered with {item['matched']}" if item["matched"] else "no answer"
        others = ", ".join(f"{c['id']} {c['score']:.3f}" for c in item["candidates"]) or "none"
        said = f'[{_clock(item["at"])}] "{item["text"]}"'
        lines.append(_indented(f"{said}: {matched} (score {item['score']:.3f}); candidates: {others}"))
    return "\n".join(lines) + "\n"


def _clock(at: str | None, *, date: bool = False) -> str:
    if not at:
        return "--:--:--"
    moment = datetime.fromisoformat(at.replace("Z", "+00:00"))  # Python 3.10 does not read "Z" itself
    return moment.strftime("%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S")


def _indented(text: str) -> str:
    # A multi-line message keeps every transcript line starting with its time.
    return "\n    ".join(text.splitlines())
