"""One redaction of customers' personal data, for everywhere it is not needed: logs, the unanswered inbox,
reports and the optional redacted webhook copy.

E-mail addresses, phone numbers as written in Malaysia, Indonesia, the Philippines and Vietnam
(local and international forms), card numbers (only digit runs that pass the Luhn check, so order
numbers and amounts stay), and the shop's order numbers (the pattern from support.yml).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from bot.settings import load_settings
from bot.tickets.fields import load_rules

EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
# A run of digit groups split by single spaces or dashes (as cards are printed); `_card` finds the
# cards in it. The whole run, not 13-19 digits of it: a card after other digits ("ref 0042 4111 1111
# 1111 1111") would otherwise straddle the end of the candidate and never be checked.
CARD_CANDIDATE = re.compile(r"(?<!\d)\d+(?:[ -]\d+)*(?!\d)")
CARD_DIGITS = (13, 19)
# International: +60 (MY), +62 (ID), +63 (PH), +84 (VN), with or without "+" or "00".
# Local: 0 then the area or mobile prefix; 9-13 digits in all, in groups split by spaces, dots or dashes.
PHONE = re.compile(
    r"(?<![\w+])(?:(?:\+|00)?(?:60|62|63|84)[ .-]?\(?0?\)?|0)"  # country code, or the trunk 0
    r"\d{1,4}(?:[ .-]?\d{2,4}){2,3}(?!\w)"  # not inside a word: "load-0123456789ee48..." is an id
)
MIN_PHONE_DIGITS, MAX_PHONE_DIGITS = 9, 14


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class Redactor:
    """Replaces personal data in text with labels like "[email]"; `order_pattern` is the shop's order number."""

    def __init__(self, order_pattern: str | None = None) -> None:
        self.order = re.compile(_unanchored(order_pattern), re.IGNORECASE) if order_pattern else None

    def __call__(self, text: str) -> str:
        text = EMAIL.sub("[email]", text)
        text = CARD_CANDIDATE.sub(_card, text)
        if self.order is not None:
            text = self.order.sub("[order]", text)
        return PHONE.sub(_phone, text)

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (dicts, lists), keeping its shape."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {key: self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value


def _card(match: re.Match[str]) -> str:
    """Each card number in a run of digit groups, redacted: from the leftmost group that starts one,
    the longest run of whole groups that passes the Luhn check; the other groups kept.

    "4111 1111 1111 1111 2" is a card and a quantity: the candidate as a whole fails the Luhn check.
    """
    text = match.group(0)
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", text)]
    shortest, longest = CARD_DIGITS
    pieces, kept_from, first = [], 0, 0
    while first < len(groups):
        digits, card_end = "", None
        for last in range(first, len(groups)):
            digits += text[groups[last][0] : groups[last][1]]
            if len(digits) > longest:
                break
            if len(digits) >= shortest and luhn_valid(digits):
                card_end = last
        if card_end is None:
            first += 1
            continue
        pieces += [text[kept_from : groups[first][0]], "[card]"]
        kept_from, first = groups[card_end][1], card_end + 1
    return "".join(pieces) + text[kept_from:]


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "[phone]" if MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS else match.group(0)


def _unanchored(pattern: str) -> str:
    """support.yml's order pattern matches a whole field (^…$); inside text it is a word."""
    return r"\b" + pattern.removeprefix("^").removesuffix("$") + r"\b"


class RedactingFilter(logging.Filter):
    """Redacts each log record's message (its arguments filled in) before any handler writes it."""

    def __init__(self, redact: Callable[[str], str]) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report, not ours
            return True
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_logs(redactor: Redactor) -> None:
    """Put the redaction on every handler of the root logger (where Rasa, Sanic and ours end up)."""
    redacting = RedactingFilter(redactor)
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)


def product_redactor() -> Redactor:
    """The redaction with this shop's order-number pattern (support.yml); without it when that cannot be read."""
    try:
        return Redactor(load_rules(load_settings().support_config).order_number.pattern)
    except (OSError, ValueError):
        return Redactor()
