"""The chat widget's channel: Rasa's socket.io channel with what a public website needs.

Rasa's `SocketIOInput` lets the browser choose its session id and send messages into any
session by naming it, accepts every Origin and any message size, and (with the
python-socketio this Rasa installs) never joins the session's room because `enter_room` is a
coroutine it does not await. This subclass keeps Rasa's events (`session_request`,
`session_confirm`, `user_uttered`, `bot_uttered`) and adds:

- server-issued session tokens (`bot.channels.session_ids`): a socket speaks only for the
  conversation the server confirmed to it;
- an Origin check: the page's own origin plus `allowed_origins` from credentials.yml;
- a size cap on messages (`max_message_chars`) and on socket.io packets;
- the conversation so far (`history`) when a browser comes back, read from the tracker store,
  so a reload or another page of the shop shows the same chat;
- an acknowledgement once a message is handled, and no second handling of a message the
  browser re-sends after a dropped connection (its id is the Rasa message id);
- with several Rasa servers (the cluster, docs/scale.md), emits to a conversation's room reach
  its browsers on every server through Redis when `SUPPORTBOT_SOCKETIO_REDIS_URL` is set.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput, SocketIOOutput
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncRedisManager, AsyncServer

from bot.channels.rest import BUSY_RETRY_AFTER
from bot.channels.session_ids import SessionIds
from bot.channels.shown import shown_user_text
from bot.rasa_speedups import AdmissionFull, refusing
from bot.security.limits import MessageLimits, limits_from_credentials

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGE_CHARS = 2000
# A socket.io packet carries one message and its metadata: far below engine.io's 1 MB default.
MAX_PACKET_BYTES = 64 * 1024
# What the widget may attach to a message; anything else a client sends is dropped.
DISPLAY_TEXT_CHARS = 200
# Where the servers of a cluster pass emits to each other (a Redis URL); unset: one server, no queue.
REDIS_URL_VARIABLE = "SUPPORTBOT_SOCKETIO_REDIS_URL"
REDIS_CHANNEL = "supportbot:socketio"


def client_manager(environ: dict[str, str] | None = None) -> AsyncRedisManager | None:
    """python-socketio's Redis message queue when configured, else None (its in-process manager).

    A browser's socket lives on one Rasa server, but an agent's reply or another tab's message is
    emitted to the conversation's room on whichever server handled it; the queue relays the emit
    to the servers that hold the room's sockets. Reached with `redis.asyncio` (redis>=4.2).
    """
    url = (os.environ if environ is None else environ).get(REDIS_URL_VARIABLE, "")
    return AsyncRedisManager(url, channel=REDIS_CHANNEL) if url else None


class WidgetOutput(SocketIOOutput):
    """One socket.io message per bot message; Rasa's splits paragraphs into several.

    The widget lays out paragraphs and lists itself, so a live answer and the same answer
    shown again after a reload look alike.
    """

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_message(recipient_id, {"text": text})

    async def send_agent_message(self, recipient_id: str, text: str, agent_name: str) -> None:
        """A reply a person from the support team typed in the agent console."""
        await self._send_message(recipient_id, {"text": text, "agent": agent_name})

    async def send_text_with_buttons(
        self, recipient_id: str, text: str, buttons: list[dict[str, Any]], **kwargs: Any
    ) -> None:
        await self._send_message(recipient_id, {"text": text, "quick_replies": quick_replies(buttons)})


def quick_replies(buttons: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))} for b in buttons]


def transcript(events: Iterable[Event]) -> list[dict[str, Any]]:
    """What the widget shows of a conversation: its user and bot messages, in order."""
    messages: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, UserUttered):
            text = shown_user_text(event.text, event.metadata)
            if text is not None:
                messages.append({"sender": "user", "text": text, "id": event.message_id})
        elif isinstance(event, BotUttered) and (event.text or event.data.get("buttons")):
            agent = (event.metadata or {}).get("agent_name") or (event.metadata or {}).get("agent")
            message: dict[str, Any] = {"sender": "agent" if agent else "bot", "text": event.text or ""}
            if agent:
                message["agent"] = agent
            if event.data.get("buttons"):
                message["quick_replies"] = quick_replies(event.data["buttons"])
            messages.append(message)
    return messages


def message_metadata(raw: object) -> dict[str, Any]:
    """The metadata the widget may set: a button's title to show instead of its payload, or
    `hidden` for its opening message. Customers' browsers are not trusted with more."""
    if not isinstance(raw, dict):
        return {}
    metadata: dict[str, Any] = {}
    if isinstance(raw.get("display"), str):
        metadata["display"] = raw["display"][:DISPLAY_TEXT_CHARS]
    if raw.get("hidden") is True:
        metadata["hidden"] = True
    return metadata


def client_address(environ: dict[str, Any]) -> str | None:
    """The browser's address (engine.io's environ only knows it through the Sanic request)."""
    request = environ.get("sanic.request")
    return (request.remote_addr or request.ip) if request is not None else environ.get("REMOTE_ADDR")


class OriginCheck:
    """Engine.io's Origin check: the page's own origin, or one listed in credentials.yml."""

    def __init__(self, allowed_origins: Iterable[str]) -> None:
        self.allowed = {origin.rstrip("/") for origin in allowed_origins}

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if origin is None:
            return True  # not a browser; browsers always send Origin on socket.io requests
        if "*" in self.allowed or origin in self.allowed:
            return True
        host = environ.get("HTTP_X_FORWARDED_HOST") or environ.get("HTTP_HOST", "")
        scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
        own = urlsplit(f"{scheme.split(',')[0].strip()}://{host.split(',')[0].strip()}")
        return origin == f"{own.scheme}://{own.netloc}"


class WidgetSocketInput(SocketIOInput):
    """socket.io for the chat widget (configured in credentials.yml)."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            secret=os.environ.get("SUPPORTBOT_API_TOKEN", ""),
            allowed_origins=credentials.get("allowed_origins") or [],
            max_message_chars=int(credentials.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            limits=limits_from_credentials(credentials),
        )

    def __init__(
        self,
        secret: str,
        allowed_origins: Iterable[str] = (),
        max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS,
        socketio_path: str = "/socket.io",
        limits: MessageLimits | None = None,
    ) -> None:
        super().__init__(session_persistence=True, socketio_path=socketio_path)
        self.session_ids = SessionIds(secret)
        self.origin_check = OriginCheck(allowed_origins)
        self.max_message_chars = max_message_chars
        self.limits = limits or MessageLimits()
        self.app: Sanic | None = None

    def get_output_channel(self) -> OutputChannel | None:
        return WidgetOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = AsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.origin_check,
            max_http_buffer_size=MAX_PACKET_BYTES,
            client_manager=client_manager(),
        )
        self.sio = sio
        blueprint = SocketBlueprint(sio, self.socketio_path, "widget_socketio", __name__)

        @blueprint.listener("before_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app  # the history is read through the app's agent, loaded at start

        @blueprint.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            token = data.get("session_id") if isinstance(data, dict) else None
            conversation_id = self.session_ids.conversation_of(token)
            if conversation_id is None:
                conversation_id, token = self.session_ids.issue()
            await sio.save_session(sid, {"conversation_id": conversation_id})
            await sio.enter_room(sid, conversation_id)
            await sio.emit("session_confirm", token, room=sid)
            await sio.emit("history", {"messages": await self.history(conversation_id)}, room=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> dict[str, Any]:
            conversation_id = (await sio.get_session(sid)).get("conversation_id")
            if conversation_id is None:
                return {"ok": False, "error": "no_session"}
            if not isinstance(data, dict) or not isinstance(data.get("message"), str):
                return {"ok": False, "error": "bad_message"}
            text = data["message"]
            if len(text) > self.max_message_chars:
                return {"ok": False, "error": "too_long", "limit": self.max_message_chars}
            wait = self.limits.wait(conversation_id, client_address(sio.environ.get(sid) or {}))
            if wait:
                return {"ok": False, "error": "rate_limited", "retry_after": round(wait, 1)}
            message_id = str(data.get("message_id") or "")[:64] or None
            if message_id and data.get("retry") and await self.already_handled(conversation_id, message_id):
                return {"ok": True, "duplicate": True}
            metadata = message_metadata(data.get("metadata"))
            if refusing():  # before the echo: other tabs must not show a message the bot never took
                return {"ok": False, "error": "busy", "retry_after": BUSY_RETRY_AFTER}
            visible = not metadata.get("hidden")  # hidden (the greeting): never echoed or relayed
            if visible:
                # Other tabs of the same conversation show what was typed here.
                echo = {"text": metadata.get("display") or text, "id": message_id}
                await sio.emit("user_echo", echo, room=conversation_id, skip_sid=sid)
            message = UserMessage(
                text,
                WidgetOutput(sio, self.bot_message_evt),
                conversation_id,
                input_channel=self.name(),
                message_id=message_id,
                metadata=metadata,
            )
            try:
                await on_new_message(message)
            except AdmissionFull:  # Rasa's waiting room is full: the widget says so and keeps the text
                if visible:  # the room filled during the echo: the other tabs take it back
                    await sio.emit("user_echo_withdrawn", {"id": message_id}, room=conversation_id, skip_sid=sid)
                return {"ok": False, "error": "busy", "retry_after": BUSY_RETRY_AFTER}
            relay = getattr(self.app.ctx, "handoff_relay", None) if self.app else None
            if relay is not None and visible:
                # During a handoff the bot is paused: the agent's console shows the message at once.
                await relay.customer_wrote(conversation_id, message.message_id, metadata.get("display") or text)
            return {"ok": True}

        return blueprint

    async def history(self, conversation_id: str) -> list[dict[str, Any]]:
        tracker = await self._tracker(conversation_id)
        return transcript(tracker.events) if tracker else []

    async def already_handled(self, conversation_id: str, message_id: str) -> bool:
        tracker = await self._tracker(conversation_id)
        if tracker is None:
            return False
        return any(isinstance(e, UserUttered) and e.message_id == message_id for e in reversed(tracker.events))

    async def _tracker(self, conversation_id: str) -> Any:
        agent = getattr(self.app.ctx, "agent", None) if self.app else None
        if agent is None or agent.tracker_store is None:
            return None
        return await agent.tracker_store.retrieve(conversation_id)
