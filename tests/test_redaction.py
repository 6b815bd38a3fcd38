"""Redaction of customers' personal data (bot.security.redaction) and where it is applied."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timezone

import pytest

from bot.handoff.webhook import HandoffSettings, enqueue_handoff_deliveries, load_handoff_settings
from bot.security.redaction import RedactingFilter, Redactor, luhn_valid
from bot.storage.database import create_engine, transaction
from bot.storage.outbox import due

REDACT = Redactor(r"^KL-?\d{8}$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("email me at siti.aminah@gmail.com pls", "email me at [email] pls"),
        ("budi_s+shop@yahoo.co.id", "[email]"),
        ("call 012-345 6789", "call [phone]"),  # Malaysia, mobile
        ("+60 12-345 6789 or 03-2788 4100", "[phone] or [phone]"),  # Malaysia, international and landline
        ("wa 0812 3456 7890", "wa [phone]"),  # Indonesia
        ("+62 812-3456-7890", "[phone]"),
        ("text me 09171234567", "text me [phone]"),  # Philippines
        ("+63 917 123 4567", "[phone]"),
        ("sdt 0912 345 678", "sdt [phone]"),  # Vietnam
        ("+84 912 345 678", "[phone]"),
        ("card 4111 1111 1111 1111 exp 12/28", "card [card] exp 12/28"),
        ("5500-0000-0000-0004", "[card]"),
        ("order KL-20481234 and kl20481235", "order [order] and [order]"),
    ],
)
def test_personal_data_is_replaced(text, expected):
    assert REDACT(text) == expected


def test_digits_inside_an_id_are_not_a_phone_number():
    """A conversation id's hex ("load-0123456789ee48...") stays whole in the logs, so lines can be followed."""
    line = "conversation load-0123456789ee4852bf1cace251b4eb56: customer upset"
    assert REDACT(line) == line


@pytest.mark.parametrize(
    "text",
    [
        "4111111111111112",  # fails the Luhn check: not a card
        "I paid RM 129.90 on 2026-11-25 at 14:05",
        "tracking MY123456789",
        "room 1203, postcode 50450",
        "qty 3, size 42",
        "TCK-7Q4M2X",  # ticket ids are not personal data
    ],
)
def test_what_is_not_personal_data_stays(text):
    assert REDACT(text) == text


def test_a_card_after_other_digits_or_next_to_another_card_is_redacted():
    # Found by tests/test_properties.py: the candidate was cut at 19 digits, in the middle of the card.
    assert REDACT("0000000 0000 0001 0000 0009") == "0000000 [card]"
    assert REDACT("ref 0042 4111 1111 1111 1111") == "ref 0042 [card]"
    assert REDACT("4111 1111 1111 1111 4111 1111 1111 1111") == "[card] [card]"


def test_luhn():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_json_values_keep_their_shape():
    packet = {"customer": {"email": "a@b.co", "name": "Aisyah"}, "transcript": [{"text": "012-345 6789"}], "n": 3}
    assert REDACT.value(packet) == {
        "customer": {"email": "[email]", "name": "Aisyah"},
        "transcript": [{"text": "[phone]"}],
        "n": 3,
    }


def test_the_log_filter_redacts_formatted_messages():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "customer wrote %r", ("mail siti@gmail.com",), None)
    assert RedactingFilter(REDACT).filter(record)
    assert record.getMessage() == "customer wrote 'mail [email]'"


def test_redacted_handoff_copies(tmp_path):
    assert load_handoff_settings({"SUPPORTBOT_HANDOFF_COPIES_REDACTED": "1"}).redacted
    with pytest.raises(ValueError, match="SUPPORTBOT_HANDOFF_COPIES_REDACTED"):
        load_handoff_settings({"SUPPORTBOT_HANDOFF_COPIES_REDACTED": "yes please"})
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    settings = HandoffSettings(webhook_url="http://127.0.0.1:9/in", webhook_secret="s" * 32, redacted=True)
    packet = {
        "handoff_id": "HND-AAAAAA",
        "reason": "asked",
        "customer": {"email": "siti@gmail.com", "phone": "012-345 6789", "name": "Siti"},
        "transcript": [{"sender": "customer", "text": "my card 4111 1111 1111 1111 was charged twice"}],
    }
    now = datetime.now(timezone.utc)
    with transaction(engine) as connection:
        enqueue_handoff_deliveries(connection, packet, now, settings)
    [message] = due(engine, now)
    body = json.dumps(message.payload)
    assert "siti@gmail.com" not in body and "4111" not in body and "345 6789" not in body
    assert message.payload["customer"]["name"] == "Siti" and "[card]" in body
