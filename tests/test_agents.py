"""Agents of the console: accounts, password hashes, sessions that expire, who is online; the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from bot.console.agents import (
    SESSION_LIFETIME,
    add_agent,
    agents_online,
    check_password,
    hash_password,
    list_agents,
    log_in,
    log_out,
    mark_seen,
    remove_agent,
    session_for,
)
from bot.storage.database import create_engine
from bot.storage.tables import agent_sessions, agents

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
PASSWORD = "correct horse battery"


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'product.db'}")


def test_passwords_are_salted_scrypt_hashes():
    first, second = hash_password(PASSWORD), hash_password(PASSWORD)
    assert first.startswith("scrypt$") and first != second and PASSWORD not in first
    assert check_password(PASSWORD, first) and check_password(PASSWORD, second)
    assert not check_password("correct horse battery!", first)
    assert not check_password(PASSWORD, "plain$text") and not check_password(PASSWORD, "")


def test_an_agent_logs_in_and_the_session_expires(engine):
    add_agent(engine, "siti", "Siti Aminah", PASSWORD, NOW)
    assert log_in(engine, "siti", "wrong password", NOW) is None
    assert log_in(engine, "nobody", PASSWORD, NOW) is None
    token, session = log_in(engine, "siti", PASSWORD, NOW)
    assert session.agent.display_name == "Siti Aminah" and len(token) >= 40 and len(session.csrf_token) >= 40
    assert session_for(engine, token, NOW + timedelta(hours=1)).agent.username == "siti"
    assert session_for(engine, token, NOW + SESSION_LIFETIME) is None
    assert session_for(engine, "a forged token", NOW) is None and session_for(engine, None, NOW) is None
    with engine.connect() as connection:  # only the token's hash is stored
        stored = connection.execute(sa.select(agent_sessions.c.token_hash)).scalar_one()
        assert stored != token and token not in stored
        assert PASSWORD not in connection.execute(sa.select(agents.c.password_hash)).scalar_one()
    log_out(engine, token)
    assert session_for(engine, token, NOW) is None


def test_an_agent_is_online_while_the_console_is_seen(engine):
    add_agent(engine, "siti", "Siti", PASSWORD, NOW)
    assert agents_online(engine, NOW) == 0
    token, _ = log_in(engine, "siti", PASSWORD, NOW)
    assert agents_online(engine, NOW + timedelta(seconds=30)) == 1
    assert agents_online(engine, NOW + timedelta(seconds=90)) == 0  # console closed a while ago
    mark_seen(engine, token, NOW + timedelta(seconds=80))
    assert agents_online(engine, NOW + timedelta(seconds=90)) == 1


def test_bad_agent_details_are_refused(engine):
    with pytest.raises(ValueError, match="at least 10"):
        add_agent(engine, "siti", "Siti", "short", NOW)
    with pytest.raises(ValueError, match="username"):
        add_agent(engine, "Siti Aminah", "Siti", PASSWORD, NOW)
    add_agent(engine, "siti", "Siti", PASSWORD, NOW)
    with pytest.raises(ValueError, match="already exists"):
        add_agent(engine, "siti", "Other", PASSWORD, NOW)


def test_removing_an_agent_ends_their_sessions(engine):
    add_agent(engine, "siti", "Siti", PASSWORD, NOW)
    token, _ = log_in(engine, "siti", PASSWORD, NOW)
    assert remove_agent(engine, "siti") and not remove_agent(engine, "siti")
    assert session_for(engine, token, NOW) is None and list_agents(engine) == []


def test_the_cli_adds_lists_and_removes_agents_with_the_password_from_stdin(tmp_path):
    database = f"sqlite:///{tmp_path / 'product.db'}"

    def supportbot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "bot.cli", "agents", *args, "--database", database]
        return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60)

    added = supportbot("add", "siti", "--name", "Siti Aminah", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert PASSWORD not in added.stdout
    assert supportbot("list").stdout.split() == ["siti", "Siti", "Aminah"]
    refused = supportbot("add", "bob", stdin="short\n")
    assert refused.returncode == 2 and "at least 10 characters" in refused.stderr
    assert supportbot("remove", "siti").returncode == 0
    assert supportbot("remove", "siti").returncode == 1
