"""Hostile inputs through the real product, each with its safe outcome (issue 10; docs/security.md).

- Invalid UTF-8 bytes on the wire (REST channel, the console's POST routes): 400 saying so,
  nothing stored, the server answers the next request.
- SQL metacharacters through every ticket form field and every console field: kept verbatim as
  text, or refused by the field's own validation; the tables are all still there.
- Path traversal in FAQ ids (button payload, `faq show`, `faq new`, an id in faq/*.yml): refused
  or not found; nothing read or written outside faq/.
- Control characters and NUL bytes in messages: handled, kept, and shown escaped.

Already covered elsewhere (not repeated): script and markup (tests/test_console_browser.py,
tests/test_security.py), 1 MB messages and broken JSON (tests/test_security.py), forged socket.io
session ids (tests/test_widget_channel.py), replayed webhook signatures (tests/test_webhook.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import re
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import websockets
import yaml

from bot.cli import main
from bot.console.agents import add_agent
from bot.tickets.store import get_ticket
from tests.handoff_support import PASSWORD, Console, database
from tests.servers import MODEL, ROOT, RunningBot, bot_says, start_bot, support_open_around_the_clock

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")

ARTIFACTS = ROOT / "tests" / "artifacts" / "hostile-inputs"
INVALID_UTF8 = [
    b"\xff\xfe broken",  # bytes that never occur in UTF-8
    b"\xc0\xaf",  # an overlong "/" (the classic path-traversal disguise)
    b"\xed\xa0\x80",  # a UTF-16 surrogate, encoded
    b"caf\xe9",  # Latin-1, as an old client would send it
    b"\xe2\x82",  # cut off in the middle of a character
]
SQL = [
    "'; DROP TABLE tickets; --",
    '" OR 1=1 --',
    "Robert'); DROP TABLE ticket_events;--",
    "1' UNION SELECT password_hash FROM agents --",
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The product with support open around the clock and one agent, maya."""
    folder = tmp_path_factory.mktemp("hostile")
    support = support_open_around_the_clock(folder)
    running = start_bot(folder / "bot", ARTIFACTS, {"SUPPORTBOT_SUPPORT_CONFIG": str(support)})
    add_agent(database(running), "maya", "Maya Tan", PASSWORD, datetime.now(timezone.utc))
    yield running
    running.stop()


@pytest.fixture
def console(bot: RunningBot) -> Iterator[Console]:
    """maya, logged in, her WebSocket open: an agent is online, so chats are queued."""
    opened = Console(bot)
    yield opened
    opened.ws.close()


def user_texts(bot: RunningBot, sender: str) -> list[str]:
    return [e["text"] for e in bot.tracker(sender)["events"] if e["event"] == "user"]


def tables(bot: RunningBot) -> dict[str, int]:
    """Every table of the product database with its row count: a DROP or a mass UPDATE would show."""
    with sqlite3.connect(bot.workdir / "var" / "supportbot.db") as connection:
        names = [row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def supportbot(*args: str) -> tuple[int, str, str]:
    """The CLI, in this process (its start-up would cost seconds a call): exit code, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


def handoff_for(bot: RunningBot, console: Console, first_words: str) -> tuple[str, dict[str, Any]]:
    """A new customer's chat, handed to the console's agent and claimed: (conversation id, handoff)."""
    sender = uuid.uuid4().hex
    bot.say(first_words, sender)
    bot.say("I want to talk to a person", sender)
    queued = console.queued(sender)
    assert console.post(f"/handoffs/{queued['id']}/claim").status_code == 200
    return sender, queued


# --- invalid UTF-8 on the wire ------------------------------------------------------------------


@pytest.mark.parametrize("bad", INVALID_UTF8, ids=lambda b: b.hex())
def test_invalid_utf8_to_the_rest_channel_is_a_400_that_says_so(bot: RunningBot, bad: bytes) -> None:
    sender = f"utf8-{uuid.uuid4().hex}"
    body = b'{"sender": "' + sender.encode() + b'", "message": "' + bad + b'"}'
    answer = requests.post(
        f"{bot.url}/webhooks/rest/webhook",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400 and answer.json() == {"error": "the body is not valid UTF-8"}
    assert user_texts(bot, sender) == []  # nothing stored
    assert bot.say("how do i track my order", sender)[0]["text"]  # and the server still answers


def test_invalid_utf8_to_the_consoles_post_routes_is_a_400_that_says_so(bot: RunningBot, console: Console) -> None:
    _, handoff = handoff_for(bot, console, "my parcel is late")
    ticket_id = open_ticket(bot, "Nur Aisyah", "nur@example.com", "the parcel never came, please check it")
    before = get_ticket(database(bot), ticket_id)
    url = f"{bot.url}/console/api"
    posts = {
        f"{url}/handoffs/{handoff['id']}/messages": b'{"text": "hello \xff\xfe"}',
        f"{url}/tickets/{ticket_id}/status": b'{"status": "resolved", "note": "\xc0\xaf\xc0\xaf"}',
    }
    for address, body in posts.items():
        answer = console.http.post(address, data=body, headers={"X-CSRF-Token": console.csrf})
        assert answer.status_code == 400 and answer.json() == {"error": "the body is not valid UTF-8"}, address
    after = get_ticket(database(bot), ticket_id)
    assert (after.status, after.history) == (before.status, before.history)  # nothing stored
    transcript = console.get(f"/handoffs/{handoff['id']}").json()["transcript"]
    assert not [m for m in transcript if m["sender"] == "agent"]
    # Log-in: a 400, and not a failed log-in (more of them than the throttle's 5 per username).
    for _ in range(7):
        refused = requests.post(f"{url}/login", data=b'{"username": "maya", "password": "\xff"}', timeout=30)
        assert refused.status_code == 400 and refused.json() == {"error": "the body is not valid UTF-8"}
    assert requests.post(f"{url}/login", json={"username": "maya", "password": PASSWORD}, timeout=30).ok
    assert console.post(f"/handoffs/{handoff['id']}/messages", {"text": "still here"}).ok


# --- SQL metacharacters --------------------------------------------------------------------------


def open_ticket(bot: RunningBot, name: str, email: str, description: str, order: str = "KL-20481234") -> str:
    """A ticket made through the REST channel's form, as a customer makes one; its id."""
    sender = uuid.uuid4().hex
    for text in ("open a ticket", name, email, '/inform{"ticket_category": "orders"}', order, description):
        bot.say(text, sender)
    confirmation = " ".join(m.get("text", "") for m in bot.say("/affirm", sender))
    found = re.search(r"TCK-[0-9A-Z]{6}", confirmation)
    assert found, confirmation
    return found.group(0)


def test_sql_metacharacters_in_every_ticket_field_are_kept_as_text(bot: RunningBot) -> None:
    before = tables(bot)
    name = "Robert' OR '1'='1"
    email = "robert.tables+1@example.com"
    description = "the parcel never arrived'; DELETE FROM tickets; -- \" OR 1=1 -- at all"
    ticket_id = open_ticket(bot, name, email, description)
    ticket = get_ticket(database(bot), ticket_id)
    assert (ticket.name, ticket.email, ticket.description) == (name, email, description)  # verbatim
    after = tables(bot)
    assert after.keys() == before.keys()  # every table still there
    assert after["tickets"] == before["tickets"] + 1  # one ticket more, nothing deleted


def test_a_name_with_drop_table_is_taken_as_a_name_and_changes_no_table(bot: RunningBot) -> None:
    # "drop" is one word among others here, not "stop the form" (form_intent_min_similarity).
    name, before, sender = "Robert'); DROP TABLE tickets; --", tables(bot), uuid.uuid4().hex
    bot.say("open a ticket", sender)
    said = [m["text"] for m in bot.say(name, sender)]
    assert said == [bot_says("utter_ask_email")]
    assert bot.tracker(sender)["slots"]["ticket_name"] == name
    assert tables(bot) == before


def test_an_email_address_with_sql_metacharacters_is_kept_whole(bot: RunningBot) -> None:
    email = "o'brien--or'1'='1@example.com"  # ', - and = are all allowed in an address
    ticket_id = open_ticket(bot, "Sean O'Brien", email, "the parcel never arrived and nobody answers the phone")
    assert get_ticket(database(bot), ticket_id).email == email


@pytest.mark.parametrize(
    ("order", "kept"), [("KL-20481234'; DROP TABLE tickets; --", "KL-20481234"), ("' OR 1=1 --", None)]
)
def test_sql_metacharacters_as_an_order_number_are_refused_by_its_format(
    bot: RunningBot, order: str, kept: str | None
) -> None:
    sender = uuid.uuid4().hex
    for text in ("open a ticket", "Siti", "siti@example.com", '/inform{"ticket_category": "orders"}'):
        bot.say(text, sender)
    replies = [m.get("text", "") for m in bot.say(order, sender)]
    # Only a well-formed order number is taken out of the message; without one the customer is asked again.
    assert bot.tracker(sender)["slots"]["order_number"] == kept
    if kept is None:
        assert replies[0] == bot_says("utter_invalid_order_number")


def test_sql_metacharacters_in_console_fields_are_kept_as_text(bot: RunningBot, console: Console) -> None:
    before = tables(bot)
    ticket_id = open_ticket(bot, "Tan Wei Ming", "tan@example.com", "the blender arrived broken and leaks water")
    for note in SQL:
        changed = console.post(f"/tickets/{ticket_id}/status", {"status": "in_progress", "note": note})
        assert changed.status_code == 200 and changed.json()["ticket"]["last_note"] == note
    notes = [e["note"] for e in get_ticket(database(bot), ticket_id).history if e["note"]]
    assert notes == SQL

    _, handoff = handoff_for(bot, console, "where is my order")
    for text in SQL:
        sent = console.post(f"/handoffs/{handoff['id']}/messages", {"text": text})
        assert sent.status_code == 200 and sent.json()["message"]["text"] == text
    said = [m["text"] for m in console.get(f"/handoffs/{handoff['id']}").json()["transcript"]]
    assert all(text in said for text in SQL)

    for username in ["admin' OR '1'='1' --", "maya' --", '" OR ""="']:
        answer = requests.post(
            f"{bot.url}/console/api/login", json={"username": username, "password": "' OR ''='"}, timeout=30
        )
        assert answer.status_code == 401 and "supportbot_console" not in answer.cookies

    after = tables(bot)
    assert after.keys() == before.keys() and after["tickets"] == before["tickets"] + 1
    assert after["agents"] == before["agents"]


# --- path traversal in FAQ ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    "faq_id", ["../../etc/passwd", "../../../../../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "faq/../x"]
)
def test_a_faq_button_with_a_path_gets_the_no_answer_reply_and_reads_no_file(bot: RunningBot, faq_id: str) -> None:
    sender = uuid.uuid4().hex
    replies = [m.get("text", "") for m in bot.say('/faq{"faq_id": "' + faq_id + '"}', sender)]
    assert replies == [bot_says("utter_answer_unavailable")]
    assert not any("root:" in reply for reply in replies)
    assert bot.tracker(sender)["slots"]["last_topic"] is None  # nothing was answered


@pytest.fixture
def faq_copy(tmp_path: Path) -> Path:
    """A copy of faq/ one level down, so anything written beside it (outside faq/) would show."""
    shutil.copytree(ROOT / "faq", tmp_path / "kb" / "faq")
    return tmp_path / "kb" / "faq"


def files_under(folder: Path) -> set[Path]:
    return {path for path in folder.rglob("*")}


@pytest.mark.parametrize("entry_id", ["../../etc/passwd", "../x", "returns/../../x"])
def test_faq_show_with_a_path_is_not_found(faq_copy: Path, entry_id: str) -> None:
    code, out, err = supportbot("faq", "show", entry_id, "--faq", str(faq_copy))
    assert code == 1 and f"no FAQ entry {entry_id!r}" in err
    assert "root:" not in out + err


@pytest.mark.parametrize(
    ("entry_id", "file"),
    [
        ("../../evil.entry", None),
        ("../evil", None),
        ("payments.bitcoin/../../../evil", None),
        ("payments.bitcoin\n", None),  # a line break would end the id's YAML line
        ("payments.bitcoin", "../evil.yml"),
        ("payments.bitcoin", "/tmp/supportbot-evil.yml"),
    ],
)
def test_faq_new_writes_nothing_outside_faq(faq_copy: Path, entry_id: str, file: str | None) -> None:
    kb = faq_copy.parent
    before = files_under(kb)
    code, out, err = supportbot("faq", "new", entry_id, "--faq", str(faq_copy), *(["--file", file] if file else []))
    assert code == 1 and err.startswith("supportbot: "), out + err
    assert files_under(kb) == before and not Path("/tmp/supportbot-evil.yml").exists()


def test_an_id_with_a_path_in_a_faq_file_is_a_lint_error(tmp_path: Path) -> None:
    entry = {
        "id": "../../etc/passwd",
        "title": {"en": "Passwords"},
        "questions": {"en": [f"how do I read the password file {n}" for n in range(8)]},
        "answer": {"en": "No."},
    }
    (tmp_path / "traversal.yml").write_text(yaml.safe_dump({"version": 1, "entries": [entry]}), encoding="utf-8")
    code, out, err = supportbot("faq", "lint", "--faq", str(tmp_path))
    assert code == 1 and "id '../../etc/passwd' must look like 'topic.name'" in out + err


# --- control characters and NUL bytes ------------------------------------------------------------

CONTROL = "stop\x00here \x1b[2J\x1b[31mred\x07 bell\x08\x08 back \r\n done \u202eevil\u202c \x7f"


def test_control_characters_are_kept_and_shown_escaped(bot: RunningBot, console: Console) -> None:
    sender, handoff = handoff_for(bot, console, "hello")
    answer = requests.post(f"{bot.url}/webhooks/rest/webhook", json={"sender": sender, "message": CONTROL}, timeout=30)
    assert answer.status_code == 200
    assert CONTROL in user_texts(bot, sender)  # kept exactly
    details = console.get(f"/handoffs/{handoff['id']}")
    assert CONTROL in [m["text"] for m in details.json()["transcript"]]  # the agent sees what was sent ...
    assert b"\x00" not in details.content and b"\x1b" not in details.content  # ... JSON-escaped on the wire

    ticket_id = open_ticket(bot, "Ana \x1b[2JReyes", "ana@example.com", f"my order {CONTROL} please help")
    code, shown, err = supportbot(
        "tickets", "show", ticket_id, "--database", f"sqlite:///{bot.workdir / 'var' / 'supportbot.db'}"
    )
    assert code == 0, err
    assert "\x1b" not in shown and "\x00" not in shown and "\x07" not in shown
    assert "Ana \\x1b[2JReyes" in shown and "stop\\x00here" in shown  # escaped, readable


# --- Compressed bombs: nothing is inflated past the caps ----------------------------------------------------


def test_a_gzip_bomb_to_the_rest_channel_is_never_inflated(bot):
    """Sanic does not decode Content-Encoding: 20 MB of JSON gzipped to ~20 KB stays 20 KB of
    bytes that are not JSON (400), well under the 2 MiB body cap."""
    inflated = b'{"sender": "bomb", "message": "' + b"a" * 20_000_000 + b'"}'
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 100_000
    answer = requests.post(f"{bot.url}/webhooks/rest/webhook", data=bomb, timeout=30,
                           headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})  # fmt: skip
    assert answer.status_code == 400
    assert [e for e in bot.tracker("bomb")["events"] if e["event"] == "user"] == []
    assert bot.say("how do i track my order", uuid.uuid4().hex)  # the server is fine


def test_a_deflate_bomb_over_the_widgets_websocket_is_cut_off_at_the_cap(bot):
    """A WebSocket message compressed with permessage-deflate (5 MB of one letter, a few KB on the
    wire) is inflated only up to Sanic's 1 MiB frame cap, then the connection is closed (1009)."""

    async def send_bomb() -> int | None:
        url = bot.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        async with websockets.connect(url, origin=bot.url, compression="deflate", max_size=None) as socket:
            assert (await socket.recv()).startswith("0")  # engine.io's open packet
            await socket.send("40")  # socket.io: connect to the namespace
            assert (await socket.recv()).startswith("40")
            with contextlib.suppress(websockets.ConnectionClosed):  # closed while sending or after
                await socket.send('42["user_uttered",{"message":"' + "a" * 5_000_000 + '"}]')
                while True:
                    await asyncio.wait_for(socket.recv(), 10)
            return socket.close_code

    assert asyncio.run(send_bomb()) == 1009  # "message too big"
    assert bot.say("how do i track my order", uuid.uuid4().hex)  # the server is fine


def test_a_malformed_cookie_header_is_no_session_not_a_server_error(bot):
    """Found by schemathesis: Sanic raises on an illegal cookie name; the console treats it as no session."""
    for header in ("%@O=1", "supportbot_console=x; %@O=1", "=\x7f"):
        me = requests.get(f"{bot.url}/console/api/me", headers={"Cookie": header}, timeout=10)
        assert me.status_code == 401, header
    logout = requests.post(f"{bot.url}/console/api/logout", headers={"Cookie": "%@O=1"}, timeout=10)
    assert logout.status_code < 500
