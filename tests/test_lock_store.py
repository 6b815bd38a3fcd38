"""Lock stores (bot/storage/lock_store.py): FIFO, wake-up at release, mutual exclusion, no growth.

The in-memory store is tested with real asyncio; the Redis store against a private redis-server
(several store instances and OS processes playing replicas); the whole product with two Rasa
servers sharing one Redis lock store and one tracker database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import statistics
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
import yaml
from rasa.core.lock_store import InMemoryLockStore, LockError, LockStore
from rasa.core.utils import AvailableEndpoints

from bot.storage import lock_store as lock_store_module
from bot.storage.lock_store import AtomicRedisLockStore, WakingInMemoryLockStore
from bot.storage.redis_locks import LockKeys, RedisLockConfig
from tests.redis_support import REDIS_SERVER, RedisServer, start_redis, worker
from tests.servers import MODEL, RunningBot, free_port, start_bot

ROOT = Path(__file__).resolve().parent.parent
# A waiter woken at release gets the lock in well under this; polling every second would not.
WAKE_WITHIN = 0.05
needs_redis = pytest.mark.skipif(
    REDIS_SERVER is None, reason="redis-server is not on PATH (apt-get install redis-server)"
)

LockFactory = Callable[..., AbstractAsyncContextManager[Any]]


async def until(condition: Callable[[], Any], timeout: float = 10.0) -> None:
    """Bounded polling for a state the test cannot await directly."""
    deadline = time.monotonic() + timeout
    while not await _value(condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.001)


async def _value(result: Any) -> Any:
    return await result if asyncio.iscoroutine(result) else result


# Scenarios shared by the in-memory and Redis stores


async def arrival_order(holder: LockFactory, waiters: list[LockFactory], queued: Callable[[int], Any]) -> list[int]:
    """The order in which waiters get the lock, each queued after the one before."""
    order: list[int] = []
    gate = asyncio.Event()

    async def hold() -> None:
        async with holder("c"):
            await gate.wait()

    async def wait(index: int, lock: LockFactory) -> None:
        async with lock("c"):
            order.append(index)
            await asyncio.sleep(0)  # give a task that barges in a chance to run inside

    tasks = [asyncio.create_task(hold())]
    await until(lambda: queued(-1))
    for index, lock in enumerate(waiters):
        tasks.append(asyncio.create_task(wait(index, lock)))
        await until(lambda i=index: queued(i))
    gate.set()
    await asyncio.gather(*tasks)
    return order


async def wake_delay(holder: LockFactory, waiter: LockFactory, queued: Callable[[], Any]) -> float:
    """Seconds from the holder's release to the waiter's acquisition."""
    holding_now, gate, released_at = asyncio.Event(), asyncio.Event(), 0.0

    async def hold() -> None:
        nonlocal released_at
        async with holder("c"):
            holding_now.set()
            await gate.wait()
            released_at = time.perf_counter()

    async def wait() -> float:
        async with waiter("c"):
            return time.perf_counter()

    holding = asyncio.create_task(hold())
    await holding_now.wait()
    waiting = asyncio.create_task(wait())
    await until(queued)
    gate.set()
    await holding
    return await waiting - released_at


async def increments(lock: LockFactory, tasks: int = 200, conversations: int = 5) -> tuple[int, int]:
    """Concurrent read-yield-write increments under `lock`: (overlaps seen, increments lost)."""
    counters = dict.fromkeys(range(conversations), 0)
    inside = dict.fromkeys(range(conversations), 0)
    overlaps = 0

    async def increment(index: int) -> None:
        nonlocal overlaps
        conversation = index % conversations
        for _ in range(index % 7):
            await asyncio.sleep(0)  # stagger arrivals, so some come while a lock changes hands
        async with lock(f"c{conversation}"):
            inside[conversation] += 1
            overlaps += inside[conversation] > 1
            value = counters[conversation]
            await asyncio.sleep(0)  # where a second holder would slip in
            counters[conversation] = value + 1
            inside[conversation] -= 1

    await asyncio.gather(*(increment(i) for i in range(tasks)))
    return overlaps, tasks - sum(counters.values())


@asynccontextmanager
async def no_lock(conversation_id: str) -> AsyncIterator[None]:
    yield None


# The in-memory store


def test_in_memory_serves_a_conversation_in_arrival_order() -> None:
    async def scenario() -> tuple[list[int], int]:
        store = WakingInMemoryLockStore()

        def queued(index: int) -> bool:
            return store.waiting("c") == index + 1 if index >= 0 else store.conversations_in_use == 1

        order = await arrival_order(store.lock, [store.lock] * 20, queued)
        return order, store.conversations_in_use

    order, left = asyncio.run(scenario())
    assert order == list(range(20))
    assert left == 0


def _in_memory_wake_delay(store: LockStore) -> float:
    async def scenario() -> float:
        def queued() -> bool:
            if isinstance(store, WakingInMemoryLockStore):
                return store.waiting("c") == 1
            return store.get_lock("c") is not None and len(store.get_lock("c").tickets) == 2

        return await wake_delay(store.lock, store.lock, queued)

    return asyncio.run(scenario())


def test_in_memory_wakes_the_waiter_at_release() -> None:
    delays = [_in_memory_wake_delay(WakingInMemoryLockStore()) for _ in range(5)]
    assert statistics.median(delays) < WAKE_WITHIN, delays
    assert max(delays) < 0.25, delays  # even the slowest was woken, not polled


def test_rasa_in_memory_store_polls_every_second() -> None:
    """The measurement above catches polling: Rasa's own store makes the waiter wait ~1 s."""
    assert _in_memory_wake_delay(InMemoryLockStore()) > 0.5


def test_in_memory_excludes_under_many_concurrent_tasks() -> None:
    store = WakingInMemoryLockStore()
    overlaps, lost = asyncio.run(increments(store.lock))
    assert (overlaps, lost) == (0, 0)
    assert store.conversations_in_use == 0


def test_the_increments_detect_a_missing_lock() -> None:
    """The control: without a lock the same increments overlap and lose updates."""
    overlaps, lost = asyncio.run(increments(no_lock))
    assert overlaps > 0 and lost > 0


def test_in_memory_newcomer_cannot_slip_in_when_the_lock_changes_hands() -> None:
    async def scenario() -> tuple[list[str], int]:
        store, gate, got, inside, overlaps = WakingInMemoryLockStore(), asyncio.Event(), [], [0], [0]
        newcomer: list[asyncio.Task[None]] = []

        async def take(name: str) -> None:
            async with store.lock("c"):
                inside[0] += 1
                overlaps[0] += inside[0] > 1
                got.append(name)
                await asyncio.sleep(0)
                inside[0] -= 1

        async def hold() -> None:
            async with store.lock("c"):
                got.append("holder")
                await gate.wait()
            # Arrives after the release, and runs before the woken waiter does.
            newcomer.append(asyncio.create_task(take("newcomer")))

        holder = asyncio.create_task(hold())
        await until(lambda: store.conversations_in_use == 1)
        waiter = asyncio.create_task(take("waiter"))
        await until(lambda: store.waiting("c") == 1)
        gate.set()
        await asyncio.gather(holder, waiter)
        await newcomer[0]
        return got, overlaps[0]

    assert asyncio.run(scenario()) == (["holder", "waiter", "newcomer"], 0)


def test_in_memory_waiters_that_give_up_leave_nothing_behind() -> None:
    async def scenario() -> tuple[int, int]:
        store, gate = WakingInMemoryLockStore(), asyncio.Event()

        async def hold() -> None:
            async with store.lock("c"):
                await gate.wait()

        async def impatient() -> None:
            async with store.lock("c", lock_lifetime=0.05):
                raise AssertionError("entered while another held the lock")

        async def wait_forever() -> None:
            async with store.lock("c"):
                raise AssertionError("entered while another held the lock")

        holding = asyncio.create_task(hold())
        await until(lambda: store.conversations_in_use == 1)
        cancelled = asyncio.create_task(wait_forever())
        await until(lambda: store.waiting("c") == 1)
        with pytest.raises(LockError):
            await impatient()
        cancelled.cancel()
        await asyncio.gather(cancelled, return_exceptions=True)
        waiting_after = store.waiting("c")
        gate.set()
        await holding
        async with store.lock("c", lock_lifetime=0.05):  # free at once: nothing stale queued
            pass
        return waiting_after, store.conversations_in_use

    assert asyncio.run(scenario()) == (0, 0)


def test_in_memory_lock_handed_to_a_cancelled_waiter_goes_to_the_next() -> None:
    async def scenario() -> tuple[list[str], bool, int]:
        store, gate, got = WakingInMemoryLockStore(), asyncio.Event(), []
        waiters: dict[str, asyncio.Task[None]] = {}

        async def take(name: str) -> None:
            async with store.lock("c"):
                got.append(name)

        async def hold_then_cancel() -> None:
            async with store.lock("c"):
                got.append("holder")
                await gate.wait()
            waiters["cancelled"].cancel()  # right after the lock was handed to it, before it could run

        holder = asyncio.create_task(hold_then_cancel())
        await until(lambda: store.conversations_in_use == 1)
        waiters["cancelled"] = asyncio.create_task(take("cancelled"))
        await until(lambda: store.waiting("c") == 1)
        waiters["next"] = asyncio.create_task(take("next"))
        await until(lambda: store.waiting("c") == 2)
        gate.set()
        await asyncio.gather(holder, *waiters.values(), return_exceptions=True)
        return got, waiters["cancelled"].cancelled(), store.conversations_in_use

    assert asyncio.run(scenario()) == (["holder", "next"], True, 0)


# Loading from endpoints.yml, as Rasa does


def _endpoints(tmp_path: Path, lock_store: dict[str, Any]) -> AvailableEndpoints:
    path = tmp_path / "endpoints.yml"
    path.write_text(yaml.safe_dump({"lock_store": lock_store}), encoding="utf-8")
    return AvailableEndpoints.read_endpoints(str(path))


def test_rasa_loads_the_in_memory_store_from_endpoints_yml(tmp_path: Path) -> None:
    endpoints = _endpoints(tmp_path, {"type": "bot.storage.lock_store.WakingInMemoryLockStore"})
    assert isinstance(LockStore.create(endpoints.lock_store), WakingInMemoryLockStore)


def test_rasa_loads_the_redis_store_with_its_settings(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens: the store still loads, and says Redis is unreachable
    endpoints = _endpoints(
        tmp_path,
        {
            "type": "bot.storage.lock_store.AtomicRedisLockStore",
            "url": f"redis://:secret@127.0.0.1:{port}/3",
            "key_prefix": "shop1:lock:",
            "lock_lifetime": 20,
            "socket_timeout": 1,
        },
    )
    with caplog.at_level(logging.ERROR):
        store = LockStore.create(endpoints.lock_store)
    assert isinstance(store, AtomicRedisLockStore)
    assert (store.config.url, store.config.key_prefix, store.config.lock_lifetime) == (
        f"redis://:secret@127.0.0.1:{port}/3",
        "shop1:lock:",
        20,
    )
    assert "unreachable" in caplog.text and "secret" not in caplog.text


def test_rasa_style_host_in_url_and_a_misspelt_setting(tmp_path: Path) -> None:
    config = RedisLockConfig.from_endpoint(
        _endpoints(tmp_path, {"type": "x", "url": "redis.internal", "port": 6380}).lock_store
    )
    assert (config.url, config.host, config.port) == (None, "redis.internal", 6380)
    with pytest.raises(ValueError, match="lock_lifetme"):
        RedisLockConfig.from_endpoint(_endpoints(tmp_path, {"type": "x", "lock_lifetme": 5}).lock_store)


# The Redis store, against a private redis-server


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server)")
    server = start_redis(tmp_path_factory.mktemp("redis"), free_port())
    yield server
    server.stop()


@pytest.fixture
def prefix() -> str:
    """Each test its own keys, so tests share one server without seeing each other."""
    return f"t{uuid.uuid4().hex[:8]}:"


def redis_store(server: RedisServer, prefix: str, **settings: Any) -> AtomicRedisLockStore:
    return AtomicRedisLockStore(config=RedisLockConfig(url=server.url, key_prefix=prefix, **settings))


def leftover_keys(server: RedisServer, prefix: str) -> list[str]:
    with server.client() as client:
        return sorted(client.scan_iter(f"{prefix}*"))


async def close_all(*stores: AtomicRedisLockStore) -> None:
    for store in stores:
        await store.close()


@needs_redis
def test_redis_replicas_in_two_processes_never_hold_a_conversation_at_once(
    redis_server: RedisServer, prefix: str
) -> None:
    workers = [worker(redis_server, "hammer", prefix, "c", "--rounds", "150") for _ in range(2)]
    results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    with redis_server.client() as client:
        counter = int(client.get("test:c:counter"))
        client.delete("test:c:counter", "test:c:inside", "test:c:ready")
    assert [r["overlaps"] for r in results] == [0, 0]
    assert counter == 300
    assert leftover_keys(redis_server, prefix) == []


@needs_redis
def test_redis_two_processes_without_the_lock_do_collide(redis_server: RedisServer, prefix: str) -> None:
    """The control for the test above: its harness does see two holders and lost increments."""
    workers = [worker(redis_server, "hammer", prefix, "c", "--rounds", "150", "--no-lock") for _ in range(2)]
    results = [json.loads(w.communicate(timeout=120)[0]) for w in workers]
    with redis_server.client() as client:
        counter = int(client.get("test:c:counter"))
        client.delete("test:c:counter", "test:c:inside", "test:c:ready")
    assert sum(r["overlaps"] for r in results) > 0
    assert counter < 300


@needs_redis
def test_redis_excludes_under_many_tasks_on_two_stores(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> tuple[int, int]:
        stores = [redis_store(redis_server, prefix), redis_store(redis_server, prefix)]
        turn = iter(range(10_000))

        def either(conversation_id: str) -> AbstractAsyncContextManager[Any]:
            return stores[next(turn) % 2].lock(conversation_id)

        result = await increments(either, tasks=120)
        await close_all(*stores)
        return result

    assert asyncio.run(scenario()) == (0, 0)
    assert leftover_keys(redis_server, prefix) == []


@needs_redis
def test_redis_serves_waiters_from_both_replicas_in_arrival_order(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> list[int]:
        a, b = redis_store(redis_server, prefix), redis_store(redis_server, prefix)
        raw, keys = redis.asyncio.Redis.from_url(redis_server.url), LockKeys.of(prefix, "c")

        async def queued(index: int) -> bool:
            if index < 0:
                return bool(await raw.exists(keys.lock))
            return await raw.zcard(keys.queue) == index + 1

        order = await arrival_order(a.lock, [a.lock, b.lock] * 5, queued)
        await raw.close()
        await close_all(a, b)
        return order

    assert asyncio.run(scenario()) == list(range(10))
    assert leftover_keys(redis_server, prefix) == []


@needs_redis
def test_redis_wakes_a_waiter_on_another_replica_at_release(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> list[float]:
        # Polling once a second: only the release notification can explain a fast wake-up.
        a = redis_store(redis_server, prefix, poll_interval=1.0)
        b = redis_store(redis_server, prefix, poll_interval=1.0)
        await a.listening()
        await b.listening()
        raw, keys = redis.asyncio.Redis.from_url(redis_server.url), LockKeys.of(prefix, "c")

        async def queued() -> bool:
            return await raw.zcard(keys.queue) == 1

        delays = [await wake_delay(a.lock, b.lock, queued) for _ in range(5)]
        await raw.close()
        await close_all(a, b)
        return delays

    delays = asyncio.run(scenario())
    assert statistics.median(delays) < WAKE_WITHIN, delays
    assert max(delays) < 0.5, delays  # even the slowest was woken, not polled
    assert leftover_keys(redis_server, prefix) == []


@needs_redis
def test_redis_an_expired_owner_cannot_release_the_next_owners_lock(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> tuple[str | None, str | None, str | None]:
        a, b, c = (redis_store(redis_server, prefix) for _ in range(3))
        raw, keys = redis.asyncio.Redis.from_url(redis_server.url, decode_responses=True), LockKeys.of(prefix, "c")
        first = a.lock("c")
        await first.__aenter__()
        await raw.pexpire(keys.lock, 1)  # as if A had stalled past its lifetime without renewing
        await until(lambda: _gone(raw, keys.lock))
        second = b.lock("c")
        await second.__aenter__()
        b_token = await raw.get(keys.lock)
        await first.__aexit__(None, None, None)  # A's late release
        after_late_release = await raw.get(keys.lock)
        with pytest.raises(LockError):
            async with c.lock("c", lock_lifetime=0.3):
                pass
        await second.__aexit__(None, None, None)
        after_release = await raw.get(keys.lock)
        await raw.close()
        await close_all(a, b, c)
        return b_token, after_late_release, after_release

    b_token, after_late_release, after_release = asyncio.run(scenario())
    assert b_token is not None and after_late_release == b_token
    assert after_release is None
    assert leftover_keys(redis_server, prefix) == []


async def _gone(raw: redis.asyncio.Redis, key: str) -> bool:
    return not await raw.exists(key)


async def long_holder_and_waiter(a: AtomicRedisLockStore, b: AtomicRedisLockStore, work: float) -> tuple[float, float]:
    """A holds for `work` seconds (a slow action call) while B waits: (A's release, B's acquisition)."""
    a_started = asyncio.Event()

    async def hold() -> float:
        async with a.lock("c"):
            a_started.set()
            await asyncio.sleep(work)  # the slow action call itself, not synchronisation
            return time.perf_counter()

    async def wait() -> float:
        await a_started.wait()
        async with b.lock("c"):
            return time.perf_counter()

    released, acquired = await asyncio.gather(hold(), wait())
    return released, acquired


@needs_redis
def test_redis_holder_past_the_lifetime_keeps_the_lock_while_working(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> tuple[float, float]:
        a = redis_store(redis_server, prefix, lock_lifetime=0.3, poll_interval=0.05, waiter_ttl=1.0)
        b = redis_store(redis_server, prefix, lock_lifetime=0.3, poll_interval=0.05, waiter_ttl=1.0)
        result = await long_holder_and_waiter(a, b, work=1.5)  # five lifetimes
        await close_all(a, b)
        return result

    released, acquired = asyncio.run(scenario())
    assert acquired >= released
    assert leftover_keys(redis_server, prefix) == []


class NeverRenewing(AtomicRedisLockStore):
    async def _keep(self, conversation_id: str, token: str) -> None:
        return None


@needs_redis
def test_redis_without_renewal_the_lock_would_expire_under_a_long_call(redis_server: RedisServer, prefix: str) -> None:
    """The control for the test above: it does catch a lock lost under a long action call."""

    async def scenario() -> tuple[float, float]:
        config = RedisLockConfig(url=redis_server.url, key_prefix=prefix, lock_lifetime=0.3, poll_interval=0.05)
        a, b = NeverRenewing(config=config), redis_store(redis_server, prefix, lock_lifetime=0.3, poll_interval=0.05)
        result = await long_holder_and_waiter(a, b, work=1.5)
        await close_all(a, b)
        return result

    released, acquired = asyncio.run(scenario())
    assert acquired < released


def _read_line(process: Any, expected: str) -> None:
    line = process.stdout.readline().strip()
    assert line == expected, f"worker said {line!r}"


@needs_redis
def test_redis_a_crashed_holder_frees_the_conversation_after_the_lifetime(
    redis_server: RedisServer, prefix: str
) -> None:
    crashing = worker(redis_server, "hold", prefix, "c", "--lock-lifetime", "0.5")
    _read_line(crashing, "holding")
    os.kill(crashing.pid, signal.SIGKILL)
    crashing.wait()
    killed_at = time.perf_counter()

    async def scenario() -> float:
        store = redis_store(redis_server, prefix)
        async with store.lock("c"):
            acquired = time.perf_counter()
        await store.close()
        return acquired - killed_at

    waited = asyncio.run(scenario())
    assert waited < 0.5 + 1.0  # the lifetime, plus the fallback poll and some noise
    assert leftover_keys(redis_server, prefix) == []


@needs_redis
def test_redis_a_crashed_waiter_loses_its_place(redis_server: RedisServer, prefix: str) -> None:
    async def scenario() -> float:
        store, keys = redis_store(redis_server, prefix, waiter_ttl=0.5), LockKeys.of(prefix, "c")
        raw = redis.asyncio.Redis.from_url(redis_server.url)
        holding = store.lock("c")
        await holding.__aenter__()
        ghost = worker(redis_server, "wait", prefix, "c", "--waiter-ttl", "0.5")
        await until(lambda: _queue_is(raw, keys, 1), timeout=30)
        ghost.kill()  # a replica that dies while its message waits
        ghost.wait()
        waiting = asyncio.create_task(_acquire_time(store))
        await until(lambda: _queue_is(raw, keys, 2))
        await holding.__aexit__(None, None, None)
        released = time.perf_counter()
        acquired = await waiting
        await raw.close()
        await store.close()
        return acquired - released

    assert asyncio.run(scenario()) < 0.5 + 1.0  # the dead waiter's ttl, plus a poll and noise
    assert leftover_keys(redis_server, prefix) == []


async def _queue_is(raw: redis.asyncio.Redis, keys: LockKeys, size: int) -> bool:
    return await raw.zcard(keys.queue) == size


async def _acquire_time(store: AtomicRedisLockStore) -> float:
    async with store.lock("c"):
        return time.perf_counter()


@needs_redis
def test_redis_down_degrades_to_a_lock_per_process_and_recovers(
    tmp_path: Path, prefix: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis gone: messages are still handled, one at a time per conversation within the process,
    the log and `degraded` say so; Redis back: its locks are used again."""
    monkeypatch.setattr(lock_store_module, "REDIS_RETRY_AFTER", 0.2)
    port = free_port()
    server = start_redis(tmp_path, port)

    async def holds_in_redis(store: AtomicRedisLockStore, client: redis.Redis) -> bool:
        async with store.lock("c"):
            return bool(client.exists(LockKeys.of(prefix, "c").lock))

    async def scenario() -> None:
        nonlocal server
        store = redis_store(server, prefix, socket_timeout=1.0)
        assert await holds_in_redis(store, server.client()) and not store.degraded
        server.stop()
        async with store.lock("c"):  # handled, not refused
            assert store.degraded
        assert await increments(store.lock) == (0, 0)  # no overlap, nothing lost: still exclusive in the process
        server = start_redis(tmp_path, port)
        await asyncio.sleep(0.3)  # past REDIS_RETRY_AFTER
        assert await holds_in_redis(store, server.client()) and not store.degraded
        await store.close()

    try:
        with caplog.at_level(logging.WARNING, logger="bot.storage.lock_store"):
            asyncio.run(scenario())
    finally:
        server.stop()
    assert "is unreachable" in caplog.text
    assert "each server locks its own messages only" in caplog.text and "answers again" in caplog.text
    assert caplog.text.count("each server locks its own messages only") == 1  # once per outage, not per message


# Two Rasa servers sharing one Redis lock store and one tracker database

QUESTIONS = [
    "forgot my password",
    "how do I change my email address?",
    "can I get an invoice?",
    "how do i update my card details",
    "what is your return policy",
    "return policy for electronics",
    "is there a time limit for returns",
    "how long do I have to return something?",
]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, redis_server: RedisServer) -> Iterator[list[RunningBot]]:
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    folder = tmp_path_factory.mktemp("replicas")
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["lock_store"] = {
        "type": "bot.storage.lock_store.AtomicRedisLockStore",
        "url": redis_server.url,
        "key_prefix": "replicas:",
    }
    (folder / "endpoints.yml").write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    (folder / "shared").mkdir()
    shared = {
        "SUPPORTBOT_ENDPOINTS": str(folder / "endpoints.yml"),
        "SUPPORTBOT_TRACKER_DB": str(folder / "shared" / "tracker.db"),
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{folder / 'shared' / 'supportbot.db'}",
    }
    artifacts = ROOT / "tests" / "artifacts" / "lock-store"
    running: list[RunningBot] = []
    try:
        for name in ("a", "b"):  # one after the other: the first migrates the shared database
            running.append(start_bot(folder / name, artifacts / name, extra_env=shared))
        yield running
    finally:
        for bot in running:
            bot.stop()


def turns(events: list[dict[str, Any]]) -> list[tuple[str, list[str], str | None]]:
    """Per user message: (its text, the bot texts after it, the last action before the next message)."""
    result: list[tuple[str, list[str], str | None]] = []
    for event in events:
        if event["event"] == "user":
            result.append((event["text"], [], None))
        elif result and event["event"] == "bot":
            result[-1][1].append(event.get("text"))
        elif result and event["event"] == "action":
            result[-1] = (result[-1][0], result[-1][1], event["name"])
    return result


@needs_redis
def test_two_rasa_servers_handle_one_conversation_one_message_at_a_time(replicas: list[RunningBot]) -> None:
    sender = f"locks-{uuid.uuid4().hex[:8]}"
    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        futures = {text: pool.submit(replicas[i % 2].say, text, sender) for i, text in enumerate(QUESTIONS)}
        replies = {text: [m.get("text") for m in future.result()] for text, future in futures.items()}
    for bot in replicas:
        events = bot.tracker(sender)["events"]
        # Both replicas starting the conversation at once would each have started a session.
        assert [e["event"] for e in events].count("session_started") == 1
        # Stored in the order they happened: overlapping handling would store one message's events
        # after events of another that happened later.
        stamps = [e["timestamp"] for e in events]
        assert stamps == sorted(stamps), "events of two messages' handling interleaved"
        handled = turns(events)
        assert sorted(text for text, _, _ in handled) == sorted(QUESTIONS)  # each exactly once
        for text, bot_texts, last_action in handled:
            assert bot_texts, f"no answer right after {text!r}: two messages interleaved"
            assert last_action == "action_listen", f"{text!r} handled while another message was"
            # Its own answer, in its turn (the REST reply may shorten a long answer and add buttons).
            assert bot_texts[0] and replies[text][0] and bot_texts[0].startswith(replies[text][0])
