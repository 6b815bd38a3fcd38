"""Agents and their console sessions: accounts, scrypt password hashes, expiring log-ins.

Plain SQLAlchemy; the console's web routes and `supportbot agents` both use it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.storage.database import as_utc, reading, transaction
from bot.storage.tables import agent_sessions, agents

# scrypt's recommended interactive parameters: ~50 ms and 16 MiB per check, so guessing is slow.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SESSION_LIFETIME = timedelta(hours=12)  # a work day; then the agent logs in again
ONLINE_WITHIN = timedelta(seconds=60)  # the console refreshes `seen_at` every 20 s while open
MIN_PASSWORD_LENGTH = 10
USERNAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._-")


@dataclass(frozen=True)
class Agent:
    id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class Session:
    agent: Agent
    csrf_token: str
    expires_at: datetime


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def validate_new_agent(username: str, display_name: str, password: str) -> str | None:
    """Why these cannot be an agent's details, or None when they can."""
    if not username or len(username) > 64 or not set(username) <= USERNAME_CHARS:
        return "a username is 1-64 characters of a-z, 0-9, '.', '_' and '-'"
    if not display_name.strip() or len(display_name) > 100:
        return "a display name is 1-100 characters"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password has at least {MIN_PASSWORD_LENGTH} characters"
    return None


def add_agent(engine: Engine, username: str, display_name: str, password: str, now: datetime) -> Agent:
    problem = validate_new_agent(username, display_name, password)
    if problem:
        raise ValueError(problem)
    with transaction(engine) as connection:
        if connection.execute(sa.select(agents.c.id).where(agents.c.username == username)).first():
            raise ValueError(f"an agent {username!r} already exists")
        result = connection.execute(
            agents.insert().values(
                username=username,
                display_name=display_name.strip(),
                password_hash=hash_password(password),
                created_at=now,
            )
        )
        return Agent(int(result.inserted_primary_key[0]), username, display_name.strip())


def list_agents(engine: Engine) -> list[Agent]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(agents).order_by(agents.c.username))
        return [Agent(row.id, row.username, row.display_name) for row in rows]


def remove_agent(engine: Engine, username: str) -> bool:
    """Delete an agent and end their sessions; False when there is no such agent."""
    with transaction(engine) as connection:
        agent_id = connection.execute(sa.select(agents.c.id).where(agents.c.username == username)).scalar()
        if agent_id is None:
            return False
        connection.execute(agent_sessions.delete().where(agent_sessions.c.agent_id == agent_id))
        connection.execute(agents.delete().where(agents.c.id == agent_id))
        return True


def log_in(engine: Engine, username: str, password: str, now: datetime) -> tuple[str, Session] | None:
    """A new session token and its session for the right password, else None."""
    with engine.connect() as connection:
        row = connection.execute(sa.select(agents).where(agents.c.username == username)).first()
    if row is None:
        check_password(password, hash_password("timing"))  # as slow as a real check: no user enumeration
        return None
    if not check_password(password, row.password_hash):
        return None
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    with transaction(engine) as connection:
        connection.execute(agent_sessions.delete().where(agent_sessions.c.expires_at < now))
        connection.execute(
            agent_sessions.insert().values(
                token_hash=_token_hash(token),
                agent_id=row.id,
                csrf_token=csrf,
                created_at=now,
                expires_at=expires,
                seen_at=now,
            )
        )
    return token, Session(Agent(row.id, row.username, row.display_name), csrf, expires)


def session_for(engine: Engine, token: str | None, now: datetime) -> Session | None:
    """The live session of a cookie's token, else None (unknown or expired)."""
    if not token:
        return None
    query = (
        sa.select(agent_sessions, agents.c.username, agents.c.display_name)
        .join(agents, agents.c.id == agent_sessions.c.agent_id)
        .where(agent_sessions.c.token_hash == _token_hash(token))
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    if row is None or as_utc(row.expires_at) <= now:
        return None
    return Session(Agent(row.agent_id, row.username, row.display_name), row.csrf_token, as_utc(row.expires_at))


def mark_seen(engine: Engine, token: str, now: datetime) -> None:
    with transaction(engine) as connection:
        connection.execute(
            agent_sessions.update().where(agent_sessions.c.token_hash == _token_hash(token)).values(seen_at=now)
        )


def log_out(engine: Engine, token: str) -> None:
    with transaction(engine) as connection:
        connection.execute(agent_sessions.delete().where(agent_sessions.c.token_hash == _token_hash(token)))


def agents_online(engine: Engine, now: datetime) -> int:
    """Agents with the console open (a session seen within the last minute, not expired)."""
    query = (
        sa.select(sa.func.count(sa.distinct(agent_sessions.c.agent_id)))
        .where(agent_sessions.c.seen_at >= now - ONLINE_WITHIN)
        .where(agent_sessions.c.expires_at > now)
    )
    with reading(engine) as connection:
        return int(connection.execute(query).scalar_one())


def agents_seen_since(engine: Engine, moment: datetime) -> set[str]:
    """Usernames of the agents with a live session whose console was seen since `moment`."""
    query = (
        sa.select(agents.c.username)
        .join(agent_sessions, agent_sessions.c.agent_id == agents.c.id)
        .where(agent_sessions.c.seen_at >= moment, agent_sessions.c.expires_at > moment)
        .distinct()
    )
    with reading(engine) as connection:
        return set(connection.execute(query).scalars())


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
