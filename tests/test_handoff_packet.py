"""The handoff packet, built from events shaped like rasa_sdk's `tracker.events`, and checked against its schema."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.handoff.packet import MAX_MESSAGES, MAX_TEXT_CHARS, build_packet, packet_text

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "docs" / "handoff-packet.schema.json").read_text())
CREATED = datetime(2026, 11, 25, 15, 54, 30, tzinfo=timezone.utc)
T0 = datetime(2026, 11, 25, 15, 53, 20, tzinfo=timezone.utc).timestamp()

FAQ_RETURNS = {
    "id": None,
    "score": 0.4812345,
    "language": "ms",
    "candidates": [{"id": "returns.policy", "score": 0.4812345}, {"id": "returns.damaged_item", "score": 0.39871}],
}


def user(seconds: float, text: str, *, metadata: dict | None = None, faq: dict | None = None) -> dict[str, Any]:
    parse_data: dict[str, Any] = {
        "intent": {"name": "faq" if faq else "human_handoff", "confidence": 1.0},
        "entities": [],
        "text": text,
        "message_id": f"m{seconds}",
        "metadata": {},
        "intent_ranking": [],
    }
    if faq is not None:
        parse_data["faq"] = faq
    return {
        "event": "user",
        "timestamp": T0 + seconds,
        "metadata": metadata or {},
        "text": text,
        "parse_data": parse_data,
        "input_channel": "widget",
        "message_id": f"m{seconds}",
    }


def bot(seconds: float, text: str | None, *, buttons: list[str] | None = None, metadata: dict | None = None) -> dict:
    data = {"elements": None, "quick_replies": None, "buttons": None, "attachment": None, "image": None, "custom": None}
    if buttons:
        data["buttons"] = [{"title": title, "payload": f"/{title.lower()}"} for title in buttons]
    return {"event": "bot", "timestamp": T0 + seconds, "metadata": metadata or {}, "text": text, "data": data}


def other(seconds: float, kind: str, **fields: Any) -> dict[str, Any]:
    return {"event": kind, "timestamp": T0 + seconds, **fields}


EVENTS: list[dict[str, Any]] = [
    other(0, "action", name="action_session_start", policy=None, confidence=1.0),
    other(0, "session_started"),
    other(0, "action", name="action_listen", policy=None, confidence=None),
    user(0, '/greet{"language": "ms"}', metadata={"hidden": True}),  # the widget's opening, never seen
    other(0, "user_featurization", use_text_for_featurization=False),
    other(0, "slot", name="language", value="ms"),
    bot(1, "Hai! Apa yang boleh saya bantu?", metadata={"utter_action": "utter_greet"}),
    user(10, "barang sampai pecah, boleh pulang?", faq=FAQ_RETURNS),
    other(10, "user_featurization", use_text_for_featurization=False),
    bot(11, "Adakah anda maksudkan:", buttons=["Polisi pulangan", "Barang rosak"]),
    user(20, "/none_of_these", metadata={"display": "Tiada satu pun"}),  # a button click
    other(20, "action", name="action_faq_fallback", policy="RulePolicy", confidence=1.0),
    user(30, "nak cakap dengan orang", metadata={}),
    other(30, "slot", name="ticket_name", value="Siti Aminah"),
    bot(31, "Saya sambungkan anda dengan ejen.", buttons=None),
    bot(40, "Hai Siti, saya Aina. Boleh\nhantar gambar?", metadata={"agent": {"name": "Aina"}}),
]
SLOTS = {
    "language": "ms",
    "ticket_name": "Siti Aminah",
    "email": "siti.aminah@gmail.com",
    "phone": None,
    "order_number": "KL-55512345",
    "ticket_id": None,
    "misses_in_a_row": 1.0,
}


def packet(events: list[dict] = EVENTS, **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "handoff_id": "HND-7Q4M2X",
        "conversation_id": "d0c3f1e2a9b84c6f",
        "reason": "asked",
        "language": "ms",
        "events": events,
        "slots": SLOTS,
        "created_at": CREATED,
    }
    return dict(build_packet(**{**arguments, **overrides}))


def test_every_field_of_a_packet() -> None:
    assert packet() == {
        "schema_version": 1,
        "handoff_id": "HND-7Q4M2X",
        "conversation_id": "d0c3f1e2a9b84c6f",
        "created_at": "2026-11-25T15:54:30Z",
        "reason": "asked",
        "language": "ms",
        "customer": {
            "name": "Siti Aminah",
            "email": "siti.aminah@gmail.com",
            "phone": None,
            "order_number": "KL-55512345",
            "ticket_id": None,
        },
        "transcript": [
            {"at": "2026-11-25T15:53:21Z", "sender": "bot", "text": "Hai! Apa yang boleh saya bantu?"},
            {"at": "2026-11-25T15:53:30Z", "sender": "customer", "text": "barang sampai pecah, boleh pulang?"},
            {
                "at": "2026-11-25T15:53:31Z",
                "sender": "bot",
                "text": "Adakah anda maksudkan: [Polisi pulangan | Barang rosak]",  # the buttons, readably
            },
            {"at": "2026-11-25T15:53:40Z", "sender": "customer", "text": "Tiada satu pun"},
            {"at": "2026-11-25T15:53:50Z", "sender": "customer", "text": "nak cakap dengan orang"},
            {"at": "2026-11-25T15:53:51Z", "sender": "bot", "text": "Saya sambungkan anda dengan ejen."},
            {"at": "2026-11-25T15:54:00Z", "sender": "agent", "text": "Hai Siti, saya Aina. Boleh\nhantar gambar?"},
        ],
        "transcript_truncated": False,
        "faq_candidates": [
            {
                "at": "2026-11-25T15:53:30Z",
                "text": "barang sampai pecah, boleh pulang?",
                "matched": None,
                "score": 0.481,
                "candidates": [
                    {"id": "returns.policy", "score": 0.481},  # scores rounded to 3 decimals
                    {"id": "returns.damaged_item", "score": 0.399},
                ],
            }
        ],
    }


def test_a_packet_is_json_and_valid_against_the_documented_schema() -> None:
    built = packet()
    assert json.loads(json.dumps(built)) == built
    Draft202012Validator.check_schema(SCHEMA)
    Draft202012Validator(SCHEMA).validate(built)
    empty = packet(events=[], slots={}, reason="upset", language="vi")
    Draft202012Validator(SCHEMA).validate(empty)
    assert empty["customer"] == dict.fromkeys(("name", "email", "phone", "order_number", "ticket_id"))
    assert (empty["transcript"], empty["faq_candidates"], empty["transcript_truncated"]) == ([], [], False)


def test_the_schema_refuses_what_is_not_a_packet() -> None:
    validator = Draft202012Validator(SCHEMA)
    good = packet()
    broken = [
        {**good, "reason": "bored"},
        {**good, "created_at": "2026-11-25 15:54:30"},
        {**good, "customer": {**good["customer"], "address": "Jalan 1"}},
        {**good, "transcript": [{**good["transcript"][0], "sender": "system"}]},
        {key: value for key, value in good.items() if key != "faq_candidates"},
    ]
    for packet_ in broken:
        assert not validator.is_valid(packet_), packet_


def test_a_huge_conversation_makes_a_bounded_packet() -> None:
    long_text = "x" * (MAX_TEXT_CHARS + 500)
    events = [user(i, f"message {i}", faq=FAQ_RETURNS) for i in range(MAX_MESSAGES + 50)]
    events.append(bot(1000, long_text, buttons=["Yes", "No"]))
    built = packet(events=events, slots={"ticket_name": long_text})

    assert built["transcript_truncated"] is True
    assert len(built["transcript"]) == MAX_MESSAGES
    assert built["transcript"][0]["text"] == "message 51"  # the last 200 messages: 51..249 and the bot's
    last = built["transcript"][-1]["text"]
    assert len(last) == MAX_TEXT_CHARS and last.endswith("…")  # the buttons fell off with the cut
    assert len(built["customer"]["name"]) == MAX_TEXT_CHARS
    # Only the kept customer messages' candidates: the packet stays bounded too.
    assert [item["text"] for item in built["faq_candidates"]] == [f"message {i}" for i in range(51, 250)]
    Draft202012Validator(SCHEMA).validate(built)
    assert len(json.dumps(built)) < 200_000


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="reason"):
        packet(reason="bored")
    with pytest.raises(ValueError, match="language"):
        packet(language="fr")
    with pytest.raises(ValueError, match="created_at"):
        packet(created_at=datetime(2026, 11, 25, 15, 54))


def test_odd_values_from_a_tracker_do_not_break_the_packet() -> None:
    events = [
        user(0, "", metadata={}),  # nothing said: no line
        bot(1, None, buttons=["Ya", "Tidak"]),  # buttons only
        user(2, "hmm", faq={"id": "shipping.time", "score": float("nan"), "candidates": [{"score": 0.2}, "junk"]}),
        user(3, "ok", metadata=None, faq="not an object"),  # type: ignore[arg-type]
    ]
    built = packet(events=events, slots={"ticket_name": "  ", "order_number": ["KL-1", "KL-2"], "phone": 60123456789})
    assert [line["text"] for line in built["transcript"]] == ["[Ya | Tidak]", "hmm", "ok"]
    assert built["faq_candidates"] == [
        {"at": "2026-11-25T15:53:22Z", "text": "hmm", "matched": "shipping.time", "score": 0.0, "candidates": []}
    ]
    assert (built["customer"]["name"], built["customer"]["order_number"]) == (None, None)
    assert built["customer"]["phone"] == "60123456789"
    Draft202012Validator(SCHEMA).validate(built)


def test_the_plain_text_rendering() -> None:
    text = packet_text(packet())
    assert text == (
        "Handoff HND-7Q4M2X\n"
        "Reason: asked for a person\n"
        "Language: Malay (ms)\n"
        "Conversation: d0c3f1e2a9b84c6f\n"
        "Created: 2026-11-25 15:54:30 UTC\n"
        "Name: Siti Aminah\n"
        "E-mail: siti.aminah@gmail.com\n"
        "Order number: KL-55512345\n"
        "\n"
        "Conversation (times in UTC):\n"
        "[15:53:21] Bot: Hai! Apa yang boleh saya bantu?\n"
        "[15:53:30] Customer: barang sampai pecah, boleh pulang?\n"
        "[15:53:31] Bot: Adakah anda maksudkan: [Polisi pulangan | Barang rosak]\n"
        "[15:53:40] Customer: Tiada satu pun\n"
        "[15:53:50] Customer: nak cakap dengan orang\n"
        "[15:53:51] Bot: Saya sambungkan anda dengan ejen.\n"
        "[15:54:00] Agent: Hai Siti, saya Aina. Boleh\n"
        "    hantar gambar?\n"
        "\n"
        "FAQ candidates considered:\n"
        '[15:53:30] "barang sampai pecah, boleh pulang?": no answer (score 0.481); '
        "candidates: returns.policy 0.481, returns.damaged_item 0.399\n"
    )
    assert "/greet" not in text and "/none_of_these" not in text  # what the customer never typed or saw


def test_the_plain_text_of_a_packet_read_back_from_json_and_truncated() -> None:
    events = [user(i, f"<b>message {i}</b>") for i in range(MAX_MESSAGES + 1)]
    text = packet_text(json.loads(json.dumps(packet(events=events, slots={}, reason="not_understood"))))
    assert "Reason: not understood\n" in text
    assert "Conversation (times in UTC; earlier messages left out):\n" in text
    assert "Name:" not in text and "E-mail:" not in text  # unset customer fields are not shown
    assert "Customer: <b>message 0</b>\n" not in text  # the oldest of 201 is left out
    assert "[15:53:21] Customer: <b>message 1</b>\n" in text  # text stays text: the console escapes it
    assert text.count("Customer:") == MAX_MESSAGES
    assert text.endswith("FAQ candidates considered: none\n")


def test_the_documented_example_is_this_packet() -> None:
    """docs/handoff-packet.md shows the packet and the text built here; a change to either shows up as a failure."""
    doc = (Path(__file__).resolve().parents[1] / "docs" / "handoff-packet.md").read_text(encoding="utf-8")
    example = json.loads(doc.split("```json\n", 1)[1].split("```", 1)[0])
    text = doc.split("```text\n", 1)[1].split("```", 1)[0]
    assert example == packet()
    assert text == packet_text(packet())


def test_what_the_server_triggered_is_not_a_customer_line() -> None:
    # A second handoff in the same conversation: the first one's hand-back is in the tracker.
    handed_back = user(20, "EXTERNAL: handoff_ended", metadata={"is_external": True})
    lines = packet([*EVENTS, handed_back])["transcript"]
    assert [line for line in lines if "EXTERNAL" in line["text"]] == []
