"""Rasa's REST channel, with what a customer on REST misses during a handoff.

REST can only answer the request in front of it, so what an agent (or the bot, handing the chat
back) says in between waits in the hub's mailbox and comes first in the reply to the customer's
next message. Customer messages during a handoff reach the agent's console at once, as the
widget's do.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, Sanic

MAILBOX_CONVERSATIONS = 10_000  # REST conversations with undelivered messages kept at most (oldest dropped)
MAILBOX_MESSAGES = 100  # per conversation


class Mailbox:
    """Messages for REST customers, who get them with the reply to their next message (bot.channels.rest)."""

    def __init__(self) -> None:
        self.waiting: OrderedDict[str, list[dict[str, Any]]] = OrderedDict()

    def put(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        kept = self.waiting.pop(conversation_id, []) + messages
        self.waiting[conversation_id] = kept[-MAILBOX_MESSAGES:]
        while len(self.waiting) > MAILBOX_CONVERSATIONS:
            self.waiting.popitem(last=False)

    def take(self, conversation_id: str) -> list[dict[str, Any]]:
        return self.waiting.pop(conversation_id, [])


class SupportRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def __init__(self) -> None:
        self.app: Sanic | None = None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        async def handle(message: UserMessage) -> None:
            await on_new_message(message)
            relay = getattr(self.app.ctx, "handoff_relay", None) if self.app else None
            if relay is None:
                return
            await relay.customer_wrote(message.sender_id, message.message_id, message.text or "")
            missed = relay.mailbox.take(message.sender_id)
            if missed and isinstance(message.output_channel, CollectingOutputChannel):
                message.output_channel.messages[:0] = missed  # they were said before this reply

        blueprint = super().blueprint(handle)

        @blueprint.listener("before_server_start")
        async def remember_app(app: Sanic, _: Any) -> None:
            self.app = app

        return blueprint
