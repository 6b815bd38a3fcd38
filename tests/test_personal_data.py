"""Export and deletion of a customer's data, and the retention purge, on a real running product's databases."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.cli import main
from bot.security.personal_data import Subject, both_databases, delete, export, purge
from bot.security.retention import purge_once, retention_days
from bot.storage.tables import data_requests, faq_feedback, outbox, tickets
from tests.handoff_support import database
from tests.servers import RunningBot

TICKET_ID = "TCK-"


def open_ticket(bot: RunningBot, sender: str, email: str) -> str:
    for text in (
        "open a ticket",
        "Nur Aisyah",
        email,
        '/inform{"ticket_category": "billing"}',
        "I need an official receipt with my company name on it",
    ):
        bot.say(text, sender)
    created = bot.say("/affirm", sender)[0]["text"]
    return created[created.index(TICKET_ID) : created.index(TICKET_ID) + 10]


@pytest.fixture
def customers(handoff_bot: RunningBot) -> tuple[str, str, str]:
    """Two conversations of one customer (a ticket; feedback after giving the address) and someone else's."""
    email = f"aisyah.{uuid.uuid4().hex[:8]}@example.my"
    first, second, other = (f"pd-{uuid.uuid4().hex}" for _ in range(3))
    open_ticket(handoff_bot, first, email)
    handoff_bot.say(f"my email is {email}", second)
    handoff_bot.say("how do i track my order", second)
    handoff_bot.say("yes", second)
    open_ticket(handoff_bot, other, f"someone.else.{uuid.uuid4().hex[:8]}@example.my")
    return email, first, second, other


def said(bot: RunningBot, sender: str) -> list[str]:
    """What the customer said in the conversation, as the Rasa server has it (a fresh tracker has nothing)."""
    return [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]


def tracker_db(bot: RunningBot):
    return str(bot.workdir / "var" / "tracker.db")


def test_export_then_delete_everything_of_one_customer_and_nothing_else(handoff_bot, customers):
    email, first, second, other = customers
    engine = database(handoff_bot)
    now = datetime.now(timezone.utc)
    with both_databases(engine, tracker_db(handoff_bot)) as connection:
        exported = export(connection, Subject(email=email.upper()), "dpo", now)  # the address in any case
    assert {c["id"] for c in exported["conversations"]} == {first, second}
    assert [t["email"] for t in exported["tickets"]] == [email]
    assert exported["faq_feedback"] and exported["outbox"]  # the "was this helpful" answer, the confirmation e-mail
    assert any(e.get("text") == f"my email is {email}" for c in exported["conversations"] for e in c["events"])
    json.dumps(exported)  # it is JSON as it is

    with both_databases(engine, tracker_db(handoff_bot)) as connection:
        counts = delete(connection, Subject(email=email), "dpo", now)
    assert counts["tickets"] == 1 and counts["events"] > 10 and counts["outbox"] == 1 and counts["faq_feedback"] == 1
    for sender in (first, second):
        assert said(handoff_bot, sender) == []
    with engine.connect() as connection:
        assert connection.execute(sa.select(tickets).where(tickets.c.email == email)).first() is None
        assert connection.execute(sa.select(outbox).where(outbox.c.destination == email)).first() is None
        assert (
            connection.execute(sa.select(faq_feedback).where(faq_feedback.c.conversation_id == second)).first() is None
        )
        audit = connection.execute(sa.select(data_requests).order_by(data_requests.c.id)).all()[-2:]
    assert [a.kind for a in audit] == ["export", "delete"]
    assert audit[1].subject == hashlib.sha256(email.encode()).hexdigest() and email not in audit[1].rows
    assert len(said(handoff_bot, other)) == 6  # untouched
    assert "My orders" in handoff_bot.say("how do i track my order", second)[0]["text"]  # the bot still works


def test_a_deleted_address_is_nowhere_in_the_database_files(handoff_bot, customers):
    """Deleted rows leave their bytes in SQLite's free pages and write-ahead log unless they are wiped."""
    email, *_ = customers
    files = [
        path
        for name in ("tracker.db", "supportbot.db")
        for path in (handoff_bot.workdir / "var").glob(name + "*")  # the file, its -wal and -shm
    ]
    assert any(email.encode() in path.read_bytes() for path in files)  # there before
    with both_databases(database(handoff_bot), tracker_db(handoff_bot)) as connection:
        delete(connection, Subject(email=email), "dpo", datetime.now(timezone.utc))
    assert [path.name for path in files if path.exists() and email.encode() in path.read_bytes()] == []


def test_one_conversation_can_be_deleted_by_its_id(handoff_bot):
    sender = f"pd-one-{uuid.uuid4().hex}"
    handoff_bot.say("how do i reset my password", sender)
    with both_databases(database(handoff_bot), tracker_db(handoff_bot)) as connection:
        counts = delete(connection, Subject(conversation_id=sender), "dpo", datetime.now(timezone.utc))
    assert counts["events"] > 0 and said(handoff_bot, sender) == []


def test_the_retention_purge_keeps_recent_and_unfinished_conversations(handoff_bot):
    old, busy, fresh = (f"pd-age-{uuid.uuid4().hex}" for _ in range(3))
    handoff_bot.say("how do i reset my password", old)
    open_ticket(handoff_bot, busy, f"busy.{uuid.uuid4().hex[:8]}@example.my")  # its ticket is still open
    time.sleep(1.5)
    cutoff = datetime.now(timezone.utc)
    handoff_bot.say("how do i reset my password", fresh)
    with both_databases(database(handoff_bot), tracker_db(handoff_bot)) as connection:
        counts = purge(connection, cutoff, "retention", cutoff + timedelta(seconds=5))
    assert purge_once(database(handoff_bot), tracker_db(handoff_bot), days=1) == {
        name: 0 for name in counts
    }  # nothing is a day old
    assert counts["events"] > 0
    assert said(handoff_bot, old) == []
    assert said(handoff_bot, busy) and said(handoff_bot, fresh)


def test_a_subject_is_an_address_or_a_conversation():
    with pytest.raises(ValueError):
        Subject()
    with pytest.raises(ValueError):
        Subject(email="a@b.co", conversation_id="c1")


def test_the_retention_setting():
    assert retention_days({}) is None and retention_days({"SUPPORTBOT_RETENTION_DAYS": "365"}) == 365
    for bad in ("0", "-3", "a year", "1.5"):
        with pytest.raises(ValueError, match="SUPPORTBOT_RETENTION_DAYS"):
            retention_days({"SUPPORTBOT_RETENTION_DAYS": bad})


def test_the_data_commands(handoff_bot, tmp_path, capsys):
    email = f"cli.{uuid.uuid4().hex[:8]}@example.my"
    sender = f"pd-cli-{uuid.uuid4().hex}"
    open_ticket(handoff_bot, sender, email)
    where = [
        "--database",
        f"sqlite:///{handoff_bot.workdir / 'var' / 'supportbot.db'}",
        "--tracker-db",
        str(tracker_db(handoff_bot)),
    ]
    out = tmp_path / "export.json"
    assert main(["data", "export", "--email", email, "--out", str(out), *where]) == 0
    assert json.loads(out.read_text())["tickets"][0]["email"] == email
    assert main(["data", "delete", "--email", email, *where]) == 2  # not without --yes
    assert said(handoff_bot, sender)
    assert main(["data", "delete", "--email", email, "--yes", *where]) == 0
    assert "tickets 1" in capsys.readouterr().out and said(handoff_bot, sender) == []
    assert main(["data", "purge", "--older-than-days", "30", "--yes", *where]) == 0
