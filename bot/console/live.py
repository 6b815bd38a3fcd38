"""The consoles' live view: WebSocket frames for the queue, handed-off chats' messages and handoff changes.

One `ConsoleHub` per Rasa server process. The queue is read from the database once a second
(`watch_queue`), which is also where handoffs created by the action server and time-outs are
noticed; messages are pushed the moment they are written (customer messages by the channels
through `customer_wrote`, agent replies by the console's API). On a cluster, message and handoff
frames go through Redis to every replica's consoles (`bot.console.relay.ConsoleBus`); each replica
reads the queue itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.engine import Engine

from bot.channels.rest import Mailbox
from bot.console.agents import agents_seen_since, list_agents
from bot.console.relay import ConsoleBus, RedisMailbox
from bot.handoff.store import ACTIVE, WAITING, Handoff, HandoffConflict, end, open_queue, time_out

logger = logging.getLogger(__name__)

QUEUE_CHECK_SECONDS = 1.0  # how stale the queue on a console can be at most
SEND_TIMEOUT_SECONDS = 5.0  # a console that takes longer to accept a frame is dropped; it reconnects and refetches


class ConsoleHub:
    """The open consoles and the open handoffs, with what to send each console when something changes."""

    def __init__(
        self, engine: Engine, mailbox: Mailbox | RedisMailbox | None = None, bus: ConsoleBus | None = None
    ) -> None:
        self.engine = engine
        self.mailbox = mailbox or Mailbox()
        self.bus = bus  # None: one process, frames go to its consoles directly
        self.sockets: set[Any] = set()
        self.handoffs: list[Handoff] = []  # waiting and active, oldest first, as last read
        self._by_conversation: dict[str, Handoff] = {}

    def summary(self, handoff: Handoff, names: dict[str, str] | None = None) -> dict[str, Any]:
        """`Handoff.summary()` plus the claiming agent's display name."""
        names = names if names is not None else self.agent_names()
        return {**handoff.summary(), "claimed_by_name": names.get(handoff.claimed_by or "")}

    def agent_names(self) -> dict[str, str]:
        return {agent.username: agent.display_name for agent in list_agents(self.engine)}

    def queue_frame(self) -> dict[str, Any]:
        names = self.agent_names()
        return {"type": "queue", "handoffs": [self.summary(h, names) for h in self.handoffs]}

    def handoff_of(self, conversation_id: str) -> Handoff | None:
        return self._by_conversation.get(conversation_id)

    async def refresh(self) -> bool:
        """Read the open queue; send it to every console when it changed. True when it changed."""
        handoffs = await asyncio.to_thread(open_queue, self.engine)
        if handoffs == self.handoffs:
            return False
        self.handoffs = handoffs
        self._by_conversation = {h.conversation_id: h for h in handoffs}
        await self.broadcast(await asyncio.to_thread(self.queue_frame))
        return True

    async def customer_wrote(self, conversation_id: str, message_id: str, text: str) -> None:
        """A message from a customer whose chat is handed off goes to the consoles at once."""
        handoff = self._by_conversation.get(conversation_id)
        if handoff is None:
            return
        at = datetime.fromtimestamp(time.time(), timezone.utc).isoformat().replace("+00:00", "Z")
        message = {"id": message_id, "at": at, "sender": "customer", "text": text}
        await self.share({"type": "message", "handoff_id": handoff.id, "message": message})

    async def message(self, handoff_id: str, message: dict[str, Any]) -> None:
        await self.share({"type": "message", "handoff_id": handoff_id, "message": message})

    async def handoff_changed(self, handoff: Handoff) -> None:
        await self.share({"type": "handoff", "handoff": await asyncio.to_thread(self.summary, handoff)})
        await self.refresh()

    async def share(self, frame: dict[str, Any]) -> None:
        """To every console of every replica (through the bus), or of this process when there is none."""
        text = json.dumps(frame, ensure_ascii=False)
        if self.bus is None or not await self.bus.publish(text):
            await self.deliver(text)

    async def broadcast(self, frame: dict[str, Any]) -> None:
        """To this process's consoles (the queue: each replica reads it itself)."""
        await self.deliver(json.dumps(frame, ensure_ascii=False))

    async def deliver(self, text: str) -> None:
        await asyncio.gather(*(self._send(socket, text) for socket in list(self.sockets)))

    async def deliver_shared(self, text: str) -> None:
        """A frame from the bus (any replica): to this process's consoles. A handoff's change also
        refreshes this replica's view of the queue at once, so that the next message of a chat an
        agent on another replica just claimed is relayed, not left for the next poll."""
        await self.deliver(text)
        if json.loads(text).get("type") == "handoff":
            await self.refresh()

    async def send(self, socket: Any, frame: dict[str, Any]) -> None:
        await self._send(socket, json.dumps(frame, ensure_ascii=False))

    async def _send(self, socket: Any, text: str) -> None:
        try:
            await asyncio.wait_for(socket.send(text), SEND_TIMEOUT_SECONDS)
        except Exception:  # a closed or stuck console: forget it; it reconnects and refetches what it missed
            self.sockets.discard(socket)


async def watch_queue(
    hub: ConsoleHub,
    wait_for_agent: timedelta,
    agent_away: timedelta,
    on_timed_out: Callable[[Handoff], Awaitable[None]],
) -> None:
    """Keep the consoles' queue current; give back to the bot the chats no agent claimed within `wait_for_agent`
    and those whose agent's console has been closed for `agent_away`."""
    while True:
        try:
            await hub.refresh()
            now = datetime.now(timezone.utc)
            for handoff in [h for h in hub.handoffs if h.status == WAITING and h.created_at < now - wait_for_agent]:
                await _give_back(hub, handoff, time_out, on_timed_out)
            claimed_long_ago = [h for h in hub.handoffs if h.status == ACTIVE and h.claimed_at < now - agent_away]
            if claimed_long_ago:
                present = await asyncio.to_thread(agents_seen_since, hub.engine, now - agent_away)
                for handoff in [h for h in claimed_long_ago if h.claimed_by not in present]:
                    logger.warning(
                        "%s: agent %s has gone; the chat goes back to the bot", handoff.id, handoff.claimed_by
                    )
                    await _give_back(hub, handoff, end, on_timed_out)
        except asyncio.CancelledError:
            raise
        except Exception:  # a database hiccup must not stop the watcher for good
            logger.exception("checking the handoff queue failed; trying again in %.0f s", QUEUE_CHECK_SECONDS)
        await asyncio.sleep(QUEUE_CHECK_SECONDS)


async def _give_back(
    hub: ConsoleHub,
    handoff: Handoff,
    close: Callable[[Engine, str, datetime], Handoff],
    on_timed_out: Callable[[Handoff], Awaitable[None]],
) -> None:
    try:
        closed = await asyncio.to_thread(close, hub.engine, handoff.id, datetime.now(timezone.utc))
    except HandoffConflict:
        return  # claimed or ended meanwhile, or another server did it
    await hub.handoff_changed(closed)
    await on_timed_out(closed)
