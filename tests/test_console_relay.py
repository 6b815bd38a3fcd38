"""What replicas share for handed-off chats (bot.console.relay), against a real redis-server: console
frames reach the consoles of every replica, the REST mailbox is one for all, and both keep working
on their own replica while Redis is down."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from bot.console.live import ConsoleHub
from bot.console.relay import ConsoleBus, RedisMailbox
from bot.storage.database import create_engine
from tests.redis_support import REDIS_SERVER, RedisServer, start_redis
from tests.servers import free_port

pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not on PATH (apt-get install redis-server)"
)


class Console:
    """An open console's WebSocket, as the hub sees it: it keeps what it is sent."""

    def __init__(self) -> None:
        self.frames: list[dict] = []

    async def send(self, text: str) -> None:
        self.frames.append(json.loads(text))


@pytest.fixture
def redis_server(tmp_path: Path):
    server = start_redis(tmp_path, free_port())
    yield server
    server.stop()


def replica(tmp_path: Path, server: RedisServer, name: str) -> tuple[ConsoleHub, Console]:
    engine = create_engine(f"sqlite:///{tmp_path / name / 'supportbot.db'}")
    hub = ConsoleHub(engine, RedisMailbox(server.url), ConsoleBus(server.url))
    console = Console()
    hub.sockets.add(console)
    return hub, console


async def eventually(condition, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "not within the time"
        await asyncio.sleep(0.01)


def test_a_frame_from_one_replica_reaches_the_consoles_of_both_once(tmp_path, redis_server):
    async def scenario() -> None:
        (first, on_first), (second, on_second) = (replica(tmp_path, redis_server, n) for n in ("a", "b"))
        ready = [asyncio.Event(), asyncio.Event()]
        hubs = (first, second)
        listeners = [asyncio.create_task(h.bus.listen(h.deliver, e)) for h, e in zip(hubs, ready, strict=True)]
        await asyncio.gather(*(e.wait() for e in ready))
        message = {"id": "m1", "sender": "agent", "text": "Hello <b>there</b>"}
        await first.message("H-1", message)
        await eventually(lambda: on_first.frames and on_second.frames)
        await asyncio.sleep(0.1)  # a second copy would arrive by now
        expected = [{"type": "message", "handoff_id": "H-1", "message": message}]
        assert on_first.frames == expected and on_second.frames == expected
        for listener in listeners:
            listener.cancel()

    asyncio.run(scenario())


def test_the_subscription_outlives_a_quiet_spell(tmp_path, redis_server):
    """No frame for longer than a Redis read timeout (5 s): the next frame still arrives. (A read
    timeout on the subscription made it resubscribe, and frames published meanwhile were lost.)"""

    async def scenario() -> None:
        (first, _), (second, on_second) = (replica(tmp_path, redis_server, n) for n in ("a", "b"))
        subscribed = asyncio.Event()
        listener = asyncio.create_task(second.bus.listen(second.deliver, subscribed))
        await subscribed.wait()
        await asyncio.sleep(5.5)
        await first.message("H-2", {"id": "m2", "sender": "customer", "text": "still there?"})
        await eventually(lambda: on_second.frames)
        assert on_second.frames[0]["message"]["text"] == "still there?"
        listener.cancel()

    asyncio.run(scenario())


def test_the_rest_mailbox_is_one_for_all_replicas(tmp_path, redis_server):
    async def scenario() -> None:
        (first, _), (second, _) = (replica(tmp_path, redis_server, n) for n in ("a", "b"))
        await first.mailbox.put("c1", [{"text": "one", "agent": "Maya"}])
        await first.mailbox.put("c1", [{"text": "two"}])
        assert await second.mailbox.take("c1") == [{"text": "one", "agent": "Maya"}, {"text": "two"}]
        assert await first.mailbox.take("c1") == []  # taken once
        assert redis_server.client().keys("supportbot:mailbox:*") == []

    asyncio.run(scenario())


def test_with_redis_down_each_replica_still_serves_its_own_consoles_and_customers(tmp_path, redis_server, caplog):
    async def scenario() -> None:
        hub, console = replica(tmp_path, redis_server, "a")
        redis_server.stop()
        await hub.message("H-1", {"id": "m1", "sender": "agent", "text": "still here"})
        assert [f["message"]["text"] for f in console.frames] == ["still here"]  # delivered here directly
        await hub.mailbox.put("c1", [{"text": "kept"}])
        assert await hub.mailbox.take("c1") == [{"text": "kept"}]

    asyncio.run(scenario())
    assert "Redis is unreachable" in caplog.text
    assert caplog.text.count("Console relay: Redis is unreachable") == 1  # said once, not per frame
