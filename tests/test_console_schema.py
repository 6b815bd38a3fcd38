"""The agent console's API against its own OpenAPI description (bot/console/openapi.yaml).

schemathesis (its `st` command, installed in the project's venv) fuzzes a real running console,
logged in as an agent, with a queue of real handoffs and a real ticket to work on: no answer is a
5xx, every status code, content type and body is one the description allows, and a call without
the session is refused. Then, by hand, every operation the description marks as needing the
session gets 401 without it, every POST gets 403 without the session's CSRF token, and the
description names every route the server has.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from bot.console.agents import add_agent
from tests.handoff_support import PASSWORD, Console, database
from tests.servers import MODEL, ROOT, RunningBot, start_bot, support_open_around_the_clock

pytestmark = pytest.mark.skipif(not MODEL.exists(), reason="no trained model: run `make train` (make test does)")

SPEC_FILE = ROOT / "bot" / "console" / "openapi.yaml"
SPEC: dict[str, Any] = yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))
ARTIFACTS = ROOT / "tests" / "artifacts" / "console-schema"
ST = Path(sys.executable).with_name("st")  # schemathesis's CLI, next to this Python
HANDOFFS = 3  # waiting chats in the queue for the fuzzer to look at, claim, answer and end
FUZZ_SECONDS = 60  # schemathesis's own time budget; the whole file stays under 3 minutes
METHODS = ("get", "post", "put", "delete", "patch")


@dataclass
class Seeded:
    bot: RunningBot
    console: Console  # maya, logged in, her WebSocket open (an agent online, so chats are queued)
    handoff_ids: list[str]
    ticket_id: str


def open_a_ticket(bot: RunningBot) -> str:
    """A ticket made through the REST channel's form, as a customer makes one; its id."""
    sender = uuid.uuid4().hex
    for text in (
        "open a ticket",
        "Nur Aisyah",
        "nur.aisyah@example.com",
        '/inform{"ticket_category": "orders"}',
        "KL-20481234",
        "the parcel never arrived and the tracking page has not changed for a week",
    ):
        bot.say(text, sender)
    confirmation = " ".join(m.get("text", "") for m in bot.say("/affirm", sender))
    found = re.search(r"TCK-[0-9A-Z]{6}", confirmation)
    assert found, confirmation
    return found.group(0)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    folder = tmp_path_factory.mktemp("console-schema")
    bot = start_bot(
        folder / "bot", ARTIFACTS, {"SUPPORTBOT_SUPPORT_CONFIG": str(support_open_around_the_clock(folder))}
    )
    try:
        now = datetime.now(timezone.utc)
        add_agent(database(bot), "maya", "Maya Tan", PASSWORD, now)
        add_agent(database(bot), "sam", "Sam Lee", PASSWORD, now)
        console = Console(bot)
        handoff_ids = []
        for _ in range(HANDOFFS):
            sender = uuid.uuid4().hex
            bot.say("my email is customer@example.com", sender)
            bot.say("I want to talk to a person", sender)
            handoff_ids.append(console.queued(sender)["id"])
        yield Seeded(bot, console, handoff_ids, open_a_ticket(bot))
        console.ws.close()
    finally:
        bot.stop()


def operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op) for path, item in SPEC["paths"].items() for method, op in item.items() if method in METHODS
    ]


def needs_session(operation: dict[str, Any]) -> bool:
    return bool(operation.get("security", SPEC["security"]))


def concrete(path: str, seeded: Seeded) -> str:
    """The path with real ids in it, so a refusal is about the session and not a missing handoff."""
    path = path.replace("{handoff_id}", seeded.handoff_ids[0]).replace("{ticket_id}", seeded.ticket_id)
    return f"{seeded.bot.url}/console{path.replace('{name}', 'console.js')}"


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, op in operations() if needs_session(op)])
def test_without_the_session_every_protected_operation_is_401(seeded: Seeded, path: str, method: str) -> None:
    url = concrete(path, seeded)
    for cookies in ({}, {"supportbot_console": "forged-" + uuid.uuid4().hex}):
        answer = requests.request(method, url, json={}, cookies=cookies, timeout=30)
        assert answer.status_code == 401, (method, url, cookies, answer.text[:200])
        assert answer.json() == {"error": "not logged in"}


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, op in operations() if m == "post" and needs_session(op)])
def test_a_post_without_the_sessions_csrf_token_is_403(seeded: Seeded, path: str, method: str) -> None:
    url = concrete(path, seeded)
    http = seeded.console.http  # the session cookie is sent, the token is not or is wrong
    for headers in ({}, {"X-CSRF-Token": "wrong-" + seeded.console.csrf}):
        answer = http.post(url, json={"text": "hello", "status": "open"}, headers=headers, timeout=30)
        assert answer.status_code == 403, (url, headers, answer.text[:200])


@pytest.mark.parametrize(("path", "method"), [(p, m) for p, m, op in operations() if not needs_session(op)])
def test_what_the_description_calls_public_is_public(seeded: Seeded, path: str, method: str) -> None:
    if method == "post":  # log-in: wrong details, but an answer about them rather than about a session
        answer = requests.post(concrete(path, seeded), json={"username": "nobody", "password": "x"}, timeout=30)
        assert answer.status_code == 401 and answer.json() == {"error": "wrong username or password"}
    else:
        assert requests.get(concrete(path, seeded), timeout=30).status_code == 200


def test_the_served_description_is_the_file(seeded: Seeded) -> None:
    answer = requests.get(f"{seeded.bot.url}/console/openapi.yaml", timeout=30)
    assert answer.headers["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(answer.text) == SPEC


def test_the_description_names_every_route_of_the_console() -> None:
    from sanic import Sanic

    from bot.console.api import install

    app = Sanic(f"console_routes_{uuid.uuid4().hex[:8]}")
    install(app, None, None, None, None)  # type: ignore[arg-type]  # only the routes are read
    served = {
        (re.sub(r"<(\w+):\w+>", r"{\1}", route.path.removeprefix("console")) or "/", method.lower())
        for route in app.router.routes
        for method in route.methods
        if route.path != "console/ws"  # the WebSocket: not an OpenAPI operation (docs/console-api.md)
    }
    described = {(path, method) for path, method, _ in operations()}
    assert served == described


def test_logout_ends_the_session_as_described(seeded: Seeded) -> None:
    other = Console(seeded.bot, "sam")
    other.ws.close()
    token = other.http.cookies["supportbot_console"]
    answer = other.http.post(f"{seeded.bot.url}/console/api/logout", headers={"X-CSRF-Token": other.csrf}, timeout=30)
    assert answer.status_code == 200 and answer.json() == {}
    assert "supportbot_console" not in other.http.cookies  # the server removed the cookie
    stale = requests.get(f"{seeded.bot.url}/console/api/me", cookies={"supportbot_console": token}, timeout=30)
    assert stale.status_code == 401  # and the session is gone on the server, not only in the browser


@pytest.mark.parametrize(
    "query",
    ["until=0001-01-01", "since=0001-01-01", "since=9999-12-31", "until=9999-12-31", "since=2026-13-01"],
)
def test_a_report_for_days_at_the_calendars_edges_is_a_400_not_a_500(seeded: Seeded, query: str) -> None:
    # until=0001-01-01 and 9999-12-31 overflowed the report's day arithmetic: a 500 before.
    answer = seeded.console.http.get(f"{seeded.bot.url}/console/report?{query}", timeout=30)
    assert answer.status_code == 400 and "error" in answer.json()


# Last: fuzzing the log-in trips the per-address log-in throttle (429) for five minutes.
def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_description(seeded: Seeded) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cookie = seeded.console.http.cookies["supportbot_console"]
    # The auth blocks are named after the description's securitySchemes, so schemathesis knows what to
    # leave out for its ignored_auth check (a call without the session must be refused).
    config = ARTIFACTS / "schemathesis.toml"
    config.write_text(
        f'[auth.openapi.session]\napi_key = "{cookie}"\n[auth.openapi.csrf]\napi_key = "{seeded.console.csrf}"\n',
        encoding="utf-8",
    )
    checks = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
    command = [
        str(ST),
        "--config-file",
        str(config),
        "run",
        str(SPEC_FILE),
        "--url",
        f"{seeded.bot.url}/console",
        "--checks",
        f"{checks},ignored_auth",
        "--exclude-operation-id",
        "logout",  # it would end the very session the run is using (checked by hand below)
        "--max-examples",
        "30",
        "--max-time",
        str(FUZZ_SECONDS),
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--report",
        "junit",
        "--report-dir",
        str(ARTIFACTS),
    ]
    started = time.monotonic()
    run = subprocess.run(
        command,
        cwd=ARTIFACTS,  # its .hypothesis folder and reports stay out of the repository
        env={**os.environ, "SCHEMATHESIS_TELEMETRY": "false", "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=FUZZ_SECONDS + 60,
    )
    (ARTIFACTS / "schemathesis.out").write_text(run.stdout + run.stderr, encoding="utf-8")
    assert run.returncode == 0, f"schemathesis found problems (whole log in {ARTIFACTS}):\n{run.stdout[-6000:]}"
    assert "Tested: " in run.stdout and time.monotonic() - started < FUZZ_SECONDS + 30
    # It really reached the API's logic: the seeded handoffs were claimed or looked at through the links.
    assert seeded.console.get("/me").status_code == 200  # and the session survived it
