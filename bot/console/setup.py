"""Wire the agent console and the handoff relay into the Rasa server's app (called by `bot.server`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sanic import Sanic
from sqlalchemy.engine import Engine

from bot.console import api
from bot.console.live import ConsoleHub, watch_queue
from bot.console.relay import ConsoleBus, RedisMailbox, relay_redis_url
from bot.handoff.conversation import HandedOffConversations
from bot.handoff.store import Handoff
from bot.handoff.thresholds import load_thresholds
from bot.settings import load_settings
from bot.tickets.sla import load_calendar


def install(app: Sanic, engine: Engine, endpoints_path: str) -> None:
    """The console's routes, the hub the widget's channel relays customer messages to, and the queue watcher."""
    thresholds = load_thresholds(endpoints_path)
    calendar = load_calendar(load_settings().support_config)
    shared = relay_redis_url()  # replicas share console frames and the REST mailbox through Redis
    hub = ConsoleHub(engine, RedisMailbox(shared), ConsoleBus(shared)) if shared else ConsoleHub(engine)
    app.ctx.handoff_relay = hub  # read by the channels (bot.channels.rest, bot.channels.widget_socket)

    def conversations() -> HandedOffConversations:
        return HandedOffConversations(app.ctx.agent, getattr(app.ctx, "input_channels", None) or [], hub.mailbox)

    async def timed_out(handoff: Handoff) -> None:
        await conversations().give_back(handoff.conversation_id, "handoff_timeout")

    async def start_watching(app: Sanic, _: Any) -> None:
        wait = timedelta(seconds=thresholds.wait_for_agent_seconds)
        away = timedelta(seconds=thresholds.agent_away_seconds)
        app.add_task(watch_queue(hub, wait, away, timed_out), name="handoff_queue_watcher")
        if hub.bus is not None:
            app.add_task(hub.bus.listen(hub.deliver_shared), name="console_relay_listener")

    api.install(app, engine, hub, conversations, calendar)
    app.register_listener(start_watching, "after_server_start")
