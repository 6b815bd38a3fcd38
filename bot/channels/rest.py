"""Rasa's REST channel, with what a customer on REST misses during a handoff.

REST can only answer the request in front of it, so what an agent (or the bot, handing the chat
back) says in between waits in the hub's mailbox and comes first in the reply to the customer's
next message. Customer messages during a handoff reach the agent's console at once, as the
widget's do.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.bounded import remember_latest
from bot.knowledge.response_translations import response_text
from bot.knowledge.schema import DEFAULT_LANGUAGE, LANGUAGES
from bot.rasa_speedups import AdmissionFull
from bot.security.limits import MessageLimits, limits_from_credentials

DEFAULT_MAX_MESSAGE_CHARS = 2000  # as the widget's
BUSY_RETRY_AFTER = 5  # seconds a customer refused because the bot is full is asked to wait
# Set in the request's task when Rasa's waiting room refused the message (bot.rasa_speedups).
_REFUSED_AS_BUSY: ContextVar[bool] = ContextVar("supportbot_rest_refused_as_busy", default=False)

MAILBOX_CONVERSATIONS = 10_000  # REST conversations with undelivered messages kept at most (oldest dropped)
MAILBOX_MESSAGES = 100  # per conversation


class Mailbox:
    """Messages for REST customers, who get them with the reply to their next message, in this process.
    Replicas share theirs in Redis instead (bot.console.relay.RedisMailbox, the same methods)."""

    def __init__(self) -> None:
        self.waiting: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    async def put(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        kept = self.waiting.pop(conversation_id, []) + messages
        remember_latest(self.waiting, conversation_id, kept[-MAILBOX_MESSAGES:], MAILBOX_CONVERSATIONS)

    async def take(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.waiting.pop(conversation_id, [])


class SupportRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> SupportRestInput:
        credentials = credentials or {}
        return cls(
            int(credentials.get("max_message_chars", DEFAULT_MAX_MESSAGE_CHARS)), limits_from_credentials(credentials)
        )

    def __init__(self, max_message_chars: int = DEFAULT_MAX_MESSAGE_CHARS, limits: MessageLimits | None = None) -> None:
        self.max_message_chars = max_message_chars
        self.limits = limits or MessageLimits()
        self.app: Sanic | None = None

    def refusal(self, request: Request) -> HTTPResponse | None:
        """An answer instead of handling: a malformed request (400), a message over the size cap, or sent too fast."""
        try:
            (request.body or b"").decode("utf-8")
        except UnicodeDecodeError:  # said plainly: Sanic's JSON error would not say what is wrong
            return response.json({"error": "the body is not valid UTF-8"}, status=400)
        try:
            body = request.json
        except Exception:  # Sanic's own error for a body that is not JSON
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("message"), str) or not body.get("sender"):
            return response.json({"error": 'send a JSON object {"sender": "…", "message": "…"}'}, status=400)
        sender, text = str(body["sender"]), body["message"]
        if len(text) > self.max_message_chars:
            return self._polite(request, sender, "utter_message_too_long", 413, limit=str(self.max_message_chars))
        wait = self.limits.wait(sender, request.remote_addr or request.ip)
        if wait:
            headers = {"Retry-After": str(max(1, round(wait)))}
            return self._polite(request, sender, "utter_slow_down", 429, headers=headers)
        return None

    def _polite(
        self,
        request: Request,
        sender: str,
        name: str,
        status: int,
        headers: dict[str, str] | None = None,
        **values: str,
    ) -> HTTPResponse:
        # The conversation's language would cost a tracker read per refused message; the browser's is free.
        language = next(
            (tag[:2] for tag in request.headers.get("Accept-Language", "").lower().split(",") if tag[:2] in LANGUAGES),
            DEFAULT_LANGUAGE,
        )
        agent = getattr(self.app.ctx, "agent", None) if self.app else None
        responses = agent.domain.responses if agent and agent.domain else {}
        text = response_text(responses, name, language, name).format(**values)
        return response.json([{"recipient_id": sender, "text": text}], status=status, headers=headers)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def handle(message: UserMessage) -> None:
            try:
                await on_new_message(message)
            except AdmissionFull:  # Rasa's route would answer 200 and nothing: the response middleware says why
                _REFUSED_AS_BUSY.set(True)
                return
            relay = getattr(self.app.ctx, "handoff_relay", None) if self.app else None
            if relay is None:
                return
            await relay.customer_wrote(message.sender_id, message.message_id, message.text or "")
            missed = await relay.mailbox.take(message.sender_id)
            if missed and isinstance(message.output_channel, CollectingOutputChannel):
                message.output_channel.messages[:0] = missed  # they were said before this reply

        blueprint = super().blueprint(handle)

        @blueprint.middleware("request")
        async def refuse_floods_and_huge_messages(request: Request) -> HTTPResponse | None:
            return self.refusal(request) if request.method == "POST" else None

        @blueprint.middleware("response")
        async def say_busy(request: Request, _: HTTPResponse) -> HTTPResponse | None:
            if not _REFUSED_AS_BUSY.get():
                return None
            sender = str((request.json or {}).get("sender", ""))  # checked by the request middleware
            return self._polite(request, sender, "utter_busy", 503, headers={"Retry-After": str(BUSY_RETRY_AFTER)})

        @blueprint.listener("before_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app

        return blueprint
