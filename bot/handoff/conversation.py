"""What the Rasa server does to a handed-off conversation: an agent's words in, the bot back.

Each operation holds the conversation's lock from Rasa's lock store, like a customer message
does, so an agent's reply and a customer's message are never saved over each other. Replies
reach the customer through the channel they last wrote on (the widget's socket.io room);
everything is in the tracker too, so a reload shows it.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, BotUttered, ConversationResumed, Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.channels.rest import Mailbox
from bot.channels.shown import shown_user_text
from bot.channels.widget_socket import WidgetOutput
from bot.console.relay import RedisMailbox


@dataclass(frozen=True)
class AgentName:
    username: str
    display_name: str


def message_of(event: Event) -> dict[str, Any] | None:
    """A user or bot event as the console shows it (`docs/console-api.md`); None for what nobody saw."""
    if isinstance(event, UserUttered):
        text = shown_user_text(event.text, event.metadata)
        if text is None:
            return None
        return {"id": event.message_id, "at": _iso(event.timestamp), "sender": "customer", "text": text}
    if isinstance(event, BotUttered) and (event.text or "").strip():
        metadata = event.metadata or {}
        message = {
            "at": _iso(event.timestamp),
            "sender": "agent" if metadata.get("agent") else "bot",
            "text": event.text,
        }
        if metadata.get("message_id"):
            message["id"] = metadata["message_id"]
        if metadata.get("agent"):
            message["agent_name"] = metadata.get("agent_name") or metadata["agent"]
        return message
    return None


def transcript(tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    return [message for event in tracker.events if (message := message_of(event)) is not None]


def output_channel_for(input_channels: list[InputChannel], tracker: DialogueStateTracker) -> OutputChannel:
    """The output of the channel the customer wrote on last; one that cannot push (REST) collects nothing."""
    latest = tracker.get_latest_input_channel()
    for channel in input_channels:
        if channel.name() == latest:
            output = channel.get_output_channel()
            if output is not None:
                return output
    return CollectingOutputChannel()


class HandedOffConversations:
    """The Rasa agent's view of handed-off conversations, for the console."""

    def __init__(self, agent: Agent, input_channels: list[InputChannel], mailbox: Mailbox | RedisMailbox) -> None:
        self.agent = agent
        self.input_channels = input_channels
        self.mailbox = mailbox  # for customers on REST, whose channel cannot push

    async def transcript(self, conversation_id: str) -> list[dict[str, Any]]:
        tracker = await self.agent.processor.get_tracker(conversation_id)
        return transcript(tracker)

    async def say_as_agent(self, conversation_id: str, text: str, agent: AgentName) -> dict[str, Any]:
        """Store the agent's reply in the conversation and send it to the customer; the message as shown."""
        metadata = {"agent": agent.username, "agent_name": agent.display_name, "message_id": uuid.uuid4().hex}
        event = BotUttered(text, data={}, metadata=metadata, timestamp=time.time())
        async with self.agent.lock_store.lock(conversation_id):
            tracker = await self.agent.processor.get_tracker(conversation_id)
            tracker.update(event)
            await self.agent.processor.save_tracker(tracker)
        output = output_channel_for(self.input_channels, tracker)
        if isinstance(output, WidgetOutput):
            await output.send_agent_message(conversation_id, text, agent.display_name)
        else:
            await output.send_text_message(conversation_id, text)
            if isinstance(output, CollectingOutputChannel):
                output.messages[-1]["agent"] = agent.display_name
            await self._keep_for_rest(conversation_id, output)
        message = message_of(event)
        assert message is not None
        return message

    async def say_as_bot(self, conversation_id: str, response: str, **values: Any) -> dict[str, Any] | None:
        """A response from domain.yml, in the conversation's language, stored and sent; the message as shown."""
        async with self.agent.lock_store.lock(conversation_id):
            tracker = await self.agent.processor.get_tracker(conversation_id)
            output = output_channel_for(self.input_channels, tracker)
            generated = await self.agent.nlg.generate(response, tracker, output.name(), **values)
            if not generated:
                return None
            event = BotUttered(
                generated.get("text"),
                data={k: v for k, v in generated.items() if k != "text"},
                metadata={"utter_action": response, "message_id": uuid.uuid4().hex},
                timestamp=time.time(),
            )
            tracker.update(event)
            await self.agent.processor.save_tracker(tracker)
        await self.agent.processor.execute_side_effects([event], tracker, output)
        await self._keep_for_rest(conversation_id, output)
        return message_of(event)

    async def give_back(self, conversation_id: str, intent: str) -> None:
        """Resume the bot and let it react to `intent` (handoff_ended, handoff_timeout), as trigger_intent does."""
        async with self.agent.lock_store.lock(conversation_id):
            tracker = await self.agent.processor.get_tracker(conversation_id)
            output = output_channel_for(self.input_channels, tracker)
            tracker.update(ConversationResumed())
            if tracker.latest_action_name != ACTION_LISTEN_NAME:
                # The pause stopped the bot before it listened; rules expect the listen a customer message follows.
                tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await self.agent.processor.trigger_external_user_uttered(intent, None, tracker, output)
        await self._keep_for_rest(conversation_id, output)

    async def _keep_for_rest(self, conversation_id: str, output: OutputChannel) -> None:
        if isinstance(output, CollectingOutputChannel):
            await self.mailbox.put(conversation_id, output.messages)


def _iso(timestamp: float | None) -> str:
    moment = datetime.fromtimestamp(timestamp or 0, timezone.utc)
    return moment.isoformat().replace("+00:00", "Z")
