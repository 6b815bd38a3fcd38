"""The agent console's server: its page, its JSON API and its WebSocket, on the Rasa server (`docs/console-api.md`).

Agents log in with the accounts `supportbot agents add` creates. The session is an HttpOnly,
SameSite=Strict cookie; every POST also carries the session's CSRF token in `X-CSRF-Token`,
and the WebSocket accepts only the console's own origin. Nothing here trusts the browser with
more than the agent's own actions.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta, timezone
from functools import wraps
from http.cookies import CookieError
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sanic import Blueprint, Sanic, response
from sanic.exceptions import NotFound, WebsocketClosed
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine
from websockets.exceptions import ConnectionClosed

from bot.console.agents import Session, log_in, log_out, mark_seen, session_for
from bot.console.live import ConsoleHub
from bot.handoff.conversation import AgentName, HandedOffConversations
from bot.handoff.store import ACTIVE, Handoff, HandoffConflict, claim, end, get_handoff, record_first_reply
from bot.handoff.tickets import ticket_from_handoff
from bot.reports.figures import build_report
from bot.reports.html import CONTENT_SECURITY_POLICY, render_html
from bot.reports.period import parse_day, period_for
from bot.storage.database import StorageError
from bot.storage.outbox import deliveries_about
from bot.storage.tracker_store import configured_tracker_url, open_tracker
from bot.tickets.sla import SupportCalendar, format_promise
from bot.tickets.store import STATUSES, get_ticket, list_tickets, set_status

logger = logging.getLogger(__name__)

STATIC = Path(__file__).resolve().parent / "static"
OPENAPI = Path(__file__).resolve().parent / "openapi.yaml"  # the API's description (docs/console-api.md)
STATIC_FILES = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
COOKIE = "supportbot_console"
MAX_REPLY_CHARS = 2000  # as the widget's message cap
MAX_NOTE_CHARS = 2000
MAX_BODY_BYTES = 16 * 1024
LOGIN_ATTEMPTS_PER_USER = 5  # failed log-ins allowed per username ...
LOGIN_ATTEMPTS_PER_ADDRESS = 20  # ... and per address (an office shares one) ...
LOGIN_WINDOW_SECONDS = 300  # ... within this many seconds
EDGE_DAYS = timedelta(days=400)  # a report's days stay this far from date.min/max: its arithmetic must not overflow
# A page that cannot be framed, loads nothing from elsewhere and runs only its own script.
PAGE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}


class LoginThrottle:
    """Counts failed log-ins per key ("user:…", "ip:…") in a sliding window."""

    def __init__(self, window: float = LOGIN_WINDOW_SECONDS) -> None:
        self.window = window
        self.failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            failures = self.failures[key]
            while failures and failures[0] < now - self.window:
                failures.popleft()
            if not failures:
                del self.failures[key]  # the table holds only keys with recent failures
        return any(len(self.failures.get(key, ())) >= _limit(key) for key in keys)

    def failed(self, *keys: str) -> None:
        for key in keys:
            self.failures[key].append(time.monotonic())

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self.failures.pop(key, None)


def session_cookie(request: Request) -> str | None:
    """The console's session cookie; None when there is none or the Cookie header cannot be parsed
    (Sanic raises on an illegal cookie name, e.g. `%@O=1`: that is no session, not a server error)."""
    try:
        return request.cookies.get(COOKIE)
    except CookieError:
        return None


def _limit(key: str) -> int:
    return LOGIN_ATTEMPTS_PER_USER if key.startswith("user:") else LOGIN_ATTEMPTS_PER_ADDRESS


def error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def now() -> datetime:
    return datetime.now(timezone.utc)


def install(
    app: Sanic,
    engine: Engine,
    hub: ConsoleHub,
    conversations: Callable[[], HandedOffConversations],
    calendar: SupportCalendar,
) -> None:
    """Add the console's routes to the Rasa server's app. `conversations` gives the loaded Rasa agent's view."""
    console = Blueprint("agent_console", url_prefix="/console")
    throttle = LoginThrottle()

    def run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return asyncio.to_thread(function, *args, **kwargs)  # the database calls are blocking

    async def current_session(request: Request) -> Session | None:
        return await run(session_for, engine, session_cookie(request), now())

    def agent_only(handler: Callable[..., Awaitable[HTTPResponse]]) -> Callable[..., Awaitable[HTTPResponse]]:
        """401 without a live session; 403 for a POST without the session's CSRF token."""

        @wraps(handler)
        async def checked(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            session = await current_session(request)
            if session is None:
                return error(401, "not logged in")
            if request.method == "POST" and request.headers.get("X-CSRF-Token") != session.csrf_token:
                return error(403, "missing or wrong CSRF token")
            try:
                return await handler(request, session, *args, **kwargs)
            except StorageError:
                logger.exception("console request %s failed", request.path)
                return error(503, "the database is not available; try again")

        return checked

    def body(request: Request) -> dict[str, Any] | HTTPResponse:
        """The JSON object a POST sends, or a 400 that says what is wrong with it."""
        raw = request.body or b"{}"
        if len(raw) > MAX_BODY_BYTES:
            return error(400, f"the body is over {MAX_BODY_BYTES // 1024} KiB")
        try:
            # Decoded first and strictly: json.loads(bytes) would guess UTF-16/32 from the first bytes.
            value = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return error(400, "the body is not valid UTF-8")
        except ValueError:
            return error(400, "the body is not JSON")
        return value if isinstance(value, dict) else error(400, "the body must be a JSON object")

    def me(session: Session) -> dict[str, Any]:
        agent = session.agent
        return {
            "agent": {"username": agent.username, "display_name": agent.display_name},
            "csrf_token": session.csrf_token,
        }

    async def mine(session: Session, handoff_id: str) -> Handoff | HTTPResponse:
        """The handoff when it is open and the agent's to work on; an error response otherwise."""
        handoff = await run(get_handoff, engine, handoff_id)
        if handoff is None:
            return error(404, "no such handoff")
        if handoff.status != ACTIVE or handoff.claimed_by != session.agent.username:
            return error(
                409, "claim the chat first" if handoff.status == "waiting" else f"the chat is {handoff.status}"
            )
        return handoff

    # --- the page ---------------------------------------------------------------------------------------------------

    @console.get("/")
    async def page(_: Request) -> HTTPResponse:
        return await response.file(STATIC / "console.html", mime_type="text/html; charset=utf-8", headers=PAGE_HEADERS)

    @console.get("/static/<name>")
    async def static(_: Request, name: str) -> HTTPResponse:
        if name not in STATIC_FILES:
            raise NotFound(f"no console file {name}")
        return await response.file(STATIC / name, mime_type=STATIC_FILES[name], headers=PAGE_HEADERS)

    @console.get("/openapi.yaml")
    async def openapi(_: Request) -> HTTPResponse:
        # The API's description is in the repository anyway; serving it lets tools check a live console.
        return await response.file(OPENAPI, mime_type="application/yaml; charset=utf-8")

    # --- log-in -----------------------------------------------------------------------------------------------------

    @console.post("/api/login")
    async def login(request: Request) -> HTTPResponse:
        details = body(request)
        if isinstance(details, HTTPResponse):
            return details  # no log-in was tried, so it does not count as a failed one
        username, password = str(details.get("username") or "").strip().lower(), str(details.get("password") or "")
        address = request.remote_addr or request.ip or "unknown"
        keys = (f"ip:{address}", f"user:{username}")
        if throttle.blocked(*keys):
            return error(429, "too many failed log-ins; wait a few minutes")
        logged_in = await run(log_in, engine, username, password, now()) if username and password else None
        if logged_in is None:
            throttle.failed(*keys)
            return error(401, "wrong username or password")
        throttle.succeeded(*keys)
        token, session = logged_in
        answer = response.json(me(session))
        answer.cookies[COOKIE] = token
        cookie = answer.cookies[COOKIE]
        cookie["httponly"] = True
        cookie["samesite"] = "Strict"
        cookie["path"] = "/console"
        cookie["expires"] = session.expires_at
        cookie["secure"] = request.scheme == "https"
        return answer

    @console.post("/api/logout")
    @agent_only
    async def logout(request: Request, session: Session) -> HTTPResponse:
        await run(log_out, engine, session_cookie(request) or "")
        answer = response.json({})
        # Expired with the path it was set with: `del answer.cookies[...]` sends no path, and a browser
        # then keeps the /console cookie (the default path would be /console/api).
        answer.cookies[COOKIE] = ""
        gone = answer.cookies[COOKIE]
        gone["path"] = "/console"
        gone["max-age"] = 0
        gone["expires"] = datetime(1970, 1, 1, tzinfo=timezone.utc)
        gone["httponly"] = True
        gone["samesite"] = "Strict"
        return answer

    @console.get("/api/me")
    @agent_only
    async def whoami(_: Request, session: Session) -> HTTPResponse:
        return response.json(me(session))

    # --- the queue and the chats ------------------------------------------------------------------------------------

    @console.get("/api/queue")
    @agent_only
    async def queue(_: Request, session: Session) -> HTTPResponse:
        await hub.refresh()
        return response.json({"handoffs": (await run(hub.queue_frame))["handoffs"]})

    @console.get("/api/handoffs/<handoff_id>")
    @agent_only
    async def handoff_details(_: Request, session: Session, handoff_id: str) -> HTTPResponse:
        handoff = await run(get_handoff, engine, handoff_id)
        if handoff is None:
            return error(404, "no such handoff")
        return response.json(
            {
                "handoff": await run(hub.summary, handoff),
                "packet": handoff.packet,
                "transcript": await conversations().transcript(handoff.conversation_id),
                "deliveries": await run(deliveries_about, engine, handoff.id),
            }
        )

    @console.post("/api/handoffs/<handoff_id>/claim")
    @agent_only
    async def claim_handoff(_: Request, session: Session, handoff_id: str) -> HTTPResponse:
        try:
            handoff = await run(claim, engine, handoff_id, session.agent.username, now())
        except LookupError:
            return error(404, "no such handoff")
        except HandoffConflict as conflict:
            return error(409, str(conflict))
        await hub.handoff_changed(handoff)
        joined = await conversations().say_as_bot(
            handoff.conversation_id, "utter_handoff_agent_joined", agent_name=session.agent.display_name
        )
        if joined:
            await hub.message(handoff.id, joined)
        return response.json({"handoff": await run(hub.summary, handoff)})

    @console.post("/api/handoffs/<handoff_id>/messages")
    @agent_only
    async def reply(request: Request, session: Session, handoff_id: str) -> HTTPResponse:
        details = body(request)
        if isinstance(details, HTTPResponse):
            return details
        text = str(details.get("text") or "").strip()
        if not text or len(text) > MAX_REPLY_CHARS:
            return error(400, f"a reply is 1 to {MAX_REPLY_CHARS} characters")
        handoff = await mine(session, handoff_id)
        if isinstance(handoff, HTTPResponse):
            return handoff
        agent = AgentName(session.agent.username, session.agent.display_name)
        message = await conversations().say_as_agent(handoff.conversation_id, text, agent)
        await run(record_first_reply, engine, handoff.id, now())  # kept only for the first: time to first reply
        await hub.message(handoff.id, message)
        return response.json({"message": message})

    async def finish(handoff: Handoff, ticket_id: str | None) -> HTTPResponse:
        try:
            ended = await run(end, engine, handoff.id, now(), ticket_id)
        except HandoffConflict as conflict:
            return error(409, str(conflict))
        await hub.handoff_changed(ended)
        await conversations().give_back(ended.conversation_id, "handoff_ended")
        return response.json({"handoff": await run(hub.summary, ended), "ticket_id": ticket_id})

    @console.post("/api/handoffs/<handoff_id>/end")
    @agent_only
    async def end_handoff(_: Request, session: Session, handoff_id: str) -> HTTPResponse:
        handoff = await mine(session, handoff_id)
        return handoff if isinstance(handoff, HTTPResponse) else await finish(handoff, None)

    @console.post("/api/handoffs/<handoff_id>/ticket")
    @agent_only
    async def ticket_from_chat(_: Request, session: Session, handoff_id: str) -> HTTPResponse:
        handoff = await mine(session, handoff_id)
        if isinstance(handoff, HTTPResponse):
            return handoff
        made = await ticket_from_handoff(engine, calendar, conversations(), handoff, session.agent.display_name)
        if isinstance(made, str):
            return error(400, made)
        await conversations().say_as_bot(
            handoff.conversation_id,
            "utter_ticket_created",
            ticket_id=made.id,
            ticket_name=made.name,
            email=made.email,
            reply_by=format_promise(made.reply_by, made.language),
        )
        return await finish(handoff, made.id)

    # --- tickets ----------------------------------------------------------------------------------------------------

    def ticket_row(ticket: Any) -> dict[str, Any]:
        notes = [entry["note"] for entry in ticket.history if entry.get("note")]
        return {
            "id": ticket.id,
            "status": ticket.status,
            "name": ticket.name,
            "email": ticket.email,
            "order_number": ticket.order_number,
            "category": ticket.category,
            "language": ticket.language,
            "created_at": ticket.created_at.isoformat(),
            "reply_by": ticket.reply_by.isoformat(),
            "last_note": notes[-1] if notes else None,
        }

    @console.get("/api/tickets")
    @agent_only
    async def tickets(request: Request, session: Session) -> HTTPResponse:
        status = request.args.get("status") or None
        if status is not None and status not in STATUSES:
            return error(400, f"status is one of {', '.join(STATUSES)}")
        found = await run(list_tickets, engine, status, 200)
        return response.json({"tickets": [ticket_row(t) for t in found]})

    @console.post("/api/tickets/<ticket_id>/status")
    @agent_only
    async def ticket_status(request: Request, session: Session, ticket_id: str) -> HTTPResponse:
        details = body(request)
        if isinstance(details, HTTPResponse):
            return details
        status, note = details.get("status"), str(details.get("note") or "").strip() or None
        if status not in STATUSES:
            return error(400, f"status is one of {', '.join(STATUSES)}")
        if note is not None and len(note) > MAX_NOTE_CHARS:
            return error(400, f"a note is at most {MAX_NOTE_CHARS} characters")
        if not await run(set_status, engine, ticket_id, status, session.agent.display_name, note, now()):
            return error(404, "no such ticket")
        return response.json({"ticket": ticket_row(await run(get_ticket, engine, ticket_id))})

    # --- the support lead's report -----------------------------------------------------------------------------------

    @console.get("/report")
    @agent_only
    async def report(request: Request, session: Session) -> HTTPResponse:
        try:
            since, until = (parse_day(request.args.get(name), name) for name in ("since", "until"))
            _within_calendar(since=since, until=until)
            period = period_for(calendar.timezone, since, until)
        except ValueError as problem:
            return error(400, str(problem))
        tracker = open_tracker(configured_tracker_url())  # the file endpoints.yml names, read-only
        page = render_html(await run(build_report, engine, tracker, period), console=True)
        policy = f"{CONTENT_SECURITY_POLICY}; frame-ancestors 'none'"  # its own style sheet; no script at all
        return response.html(page, headers={**PAGE_HEADERS, "Content-Security-Policy": policy})

    # --- live updates -----------------------------------------------------------------------------------------------

    @console.websocket("/ws")
    async def live(request: Request, ws: Any) -> None:
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            await ws.close(code=4403, reason="wrong origin")  # another site's page must not listen in
            return
        token = session_cookie(request) or ""
        if await current_session(request) is None:
            await ws.close(code=4401, reason="not logged in")
            return
        await run(mark_seen, engine, token, now())
        hub.sockets.add(ws)
        try:
            await hub.refresh()
            await hub.send(ws, await run(hub.queue_frame))
            while True:
                frame = _frame(await ws.recv())
                if frame.get("type") != "ping":
                    continue
                if await current_session(request) is None:
                    await ws.close(code=4401, reason="session ended")
                    return
                await run(mark_seen, engine, token, now())  # keeps the agent counted as online
        except (ConnectionClosed, WebsocketClosed):
            pass  # the console went away; it reconnects and refetches
        finally:
            hub.sockets.discard(ws)

    app.blueprint(console)


def _within_calendar(**days: date | None) -> None:
    """ValueError for a day so near year 1 or 9999 that the report's day arithmetic would overflow (a 500 before)."""
    for name, day in days.items():
        if day is not None and not date.min + EDGE_DAYS <= day <= date.max - EDGE_DAYS:
            raise ValueError(f"{name} must be between {date.min + EDGE_DAYS} and {date.max - EDGE_DAYS}, got {day}")


def _frame(raw: Any) -> dict[str, Any]:
    try:
        frame = json.loads(raw) if isinstance(raw, (str, bytes)) and len(raw) < 4096 else {}
    except ValueError:
        return {}
    return frame if isinstance(frame, dict) else {}
