"""Lock stores that hand a conversation's lock to the next message the moment it is free.

Rasa holds a conversation's lock around each message it handles (`Agent.handle_message`,
reminders, the HTTP API's tracker edits, our handoff console) through one call:
`async with lock_store.lock(conversation_id): ...`. Its own stores make a waiting message poll
every second, so a customer's quick second message waits a second or more, and its
RedisLockStore is not atomic across servers (rasa #9213). These two replace them, loaded from
endpoints.yml (`lock_store: type: bot.storage.lock_store.<Class>`), which Rasa instantiates as
`Class(endpoint_config=<EndpointConfig>)`:

- `WakingInMemoryLockStore`: one process. Waiters queue in arrival order and the releasing
  message hands the lock straight to the first of them (an asyncio future, no polling).
- `AtomicRedisLockStore`: replicas. Each change is one Lua script (see `redis_locks`); the holder
  renews its lock while it works; waiters are woken through pub/sub, polling only as a fallback.
  While Redis cannot be reached it degrades to a lock per process (a `WakingInMemoryLockStore`),
  says so in the log and in /health/ready, and goes back to Redis when it answers again.

Rasa's `lock_lifetime` argument keeps its meaning for waiters: one that has waited that long
gives up with `LockError`. A holder keeps the lock as long as it works. `wait_time_in_seconds`
is accepted and ignored: nobody polls on a timer here.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import redis
import redis.asyncio
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from redis.exceptions import RedisError

from bot.storage.redis_locks import SCRIPTS, LockKeys, RedisLockConfig, release_channel

logger = logging.getLogger(__name__)

# What a dead or unreachable Redis raises through redis-py (socket errors surface as OSError).
REDIS_DOWN = (RedisError, OSError)
# After Redis failed, messages use the per-process lock without trying Redis for this long: a
# Redis that times out instead of refusing must not cost every message its socket timeout.
REDIS_RETRY_AFTER = 2.0  # seconds


class LockStoreUnavailable(LockError):
    """The lock store's Redis cannot be reached (AtomicRedisLockStore then uses a per-process lock)."""


def _waited_too_long(conversation_id: str, patience: float) -> LockError:
    return LockError(f"Could not acquire lock for conversation_id '{conversation_id}' within {patience:g} s.")


@dataclass
class _Line:
    """One conversation's lock in memory: whether it is held, and who waits, first come first."""

    held: bool = False
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)


class WakingInMemoryLockStore(LockStore):
    """One process's locks: FIFO per conversation, the next waiter woken at release, no polling.

    A conversation has an entry only while a message holds or waits for its lock.
    """

    def __init__(self, endpoint_config: EndpointConfig | None = None) -> None:
        if endpoint_config is not None and endpoint_config.kwargs:
            raise ValueError(
                f"lock_store: WakingInMemoryLockStore takes no settings, got {sorted(endpoint_config.kwargs)}"
            )
        self._lines: dict[str, _Line] = {}
        super().__init__()

    @property
    def conversations_in_use(self) -> int:
        """Conversations whose lock is held or waited for (the store's whole size)."""
        return len(self._lines)

    def waiting(self, conversation_id: str) -> int:
        line = self._lines.get(conversation_id)
        return len(line.waiting) if line else 0

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return self.waiting(conversation_id) > 0

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncIterator[TicketLock]:
        await self._acquire(conversation_id, patience=lock_lifetime)
        try:
            yield TicketLock(conversation_id)
        finally:
            self._release(conversation_id)

    async def _acquire(self, conversation_id: str, patience: float) -> None:
        line = self._lines.setdefault(conversation_id, _Line())
        if not line.held:  # nobody waits either: waiters exist only behind a holder
            line.held = True
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.waiting.append(turn)
        try:
            done, _ = await asyncio.wait({turn}, timeout=patience)
        except BaseException:  # cancelled (the client went away): leave the line, pass on a handed lock
            self._leave(conversation_id, line, turn)
            raise
        if not done:
            self._leave(conversation_id, line, turn)
            raise _waited_too_long(conversation_id, patience)

    def _leave(self, conversation_id: str, line: _Line, turn: asyncio.Future[None]) -> None:
        if turn.done():
            self._release(conversation_id)  # the lock was handed over just as we gave up
        else:
            line.waiting.remove(turn)

    def _release(self, conversation_id: str) -> None:
        line = self._lines[conversation_id]
        if line.waiting:
            # Hand over directly (`held` stays true), so a newcomer cannot slip in between.
            line.waiting.popleft().set_result(None)
            return
        del self._lines[conversation_id]


class AtomicRedisLockStore(LockStore):
    """Locks shared by replicas through Redis: atomic, owner-checked, renewed, FIFO, woken by pub/sub."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, *, config: RedisLockConfig | None = None) -> None:
        self.config = config or RedisLockConfig.from_endpoint(endpoint_config)
        self._client: redis.asyncio.Redis | None = None  # created in the serving event loop, at first use
        self._scripts: dict[str, Any] = {}  # name -> redis-py AsyncScript (EVALSHA, EVAL on a cache miss)
        self._wakers: dict[str, set[asyncio.Event]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()
        # While Redis is unreachable: one process's messages are still handled one at a time.
        self._process_locks = WakingInMemoryLockStore()
        self._redis_down_until: float | None = None  # event-loop time; None while Redis answers
        super().__init__()
        self._check_reachable()

    @property
    def degraded(self) -> bool:
        """True while Redis is unreachable and locks hold within this process only (/health/ready)."""
        return self._redis_down_until is not None

    def _check_reachable(self) -> None:
        """Say at start, not at the first message, when Redis cannot be reached (the server still starts)."""
        options = self.config.client_options()
        try:
            if self.config.url:
                client = redis.Redis.from_url(self.config.url, **options)
            else:
                client = redis.Redis(**options)
            with client:
                client.ping()
        except REDIS_DOWN as error:
            logger.error(
                "Lock store: Redis at %s is unreachable (%s); locks hold within each process until it is back",
                self.config.where(),
                error,
            )

    def _redis(self) -> redis.asyncio.Redis:
        if self._client is None:
            options = self.config.client_options()
            if self.config.url:
                self._client = redis.asyncio.Redis.from_url(self.config.url, **options)
            else:
                self._client = redis.asyncio.Redis(**options)
            for name, source in SCRIPTS.items():
                self._scripts[name] = self._client.register_script(source)
        return self._client

    def _script(self, name: str) -> Any:
        self._redis()
        return self._scripts[name]

    async def listening(self, timeout: float = 5.0) -> None:
        """Return once release notifications are subscribed to (tests measure wake-ups after this)."""
        self._start_listening()
        await asyncio.wait_for(self._subscribed.wait(), timeout)

    def _keys(self, conversation_id: str) -> LockKeys:
        return LockKeys.of(self.config.key_prefix, conversation_id)

    def _ms(self, seconds: float) -> int:
        return max(1, int(seconds * 1000))

    def is_someone_waiting(self, conversation_id: str) -> bool:
        return bool(self._wakers.get(conversation_id))  # waiters in this process only

    @asynccontextmanager
    async def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = 1
    ) -> AsyncIterator[TicketLock]:
        token = await self._acquire_or_degrade(conversation_id, lock_lifetime)
        if token is None:  # Redis unreachable: this process's own lock, so one message at a time here
            async with self._process_locks.lock(conversation_id, lock_lifetime) as ticket:
                yield ticket
            return
        renewal = asyncio.create_task(self._keep(conversation_id, token))
        try:
            yield TicketLock(conversation_id)
        finally:
            renewal.cancel()  # its script is owner-checked, so a late renewal after release is harmless
            await self._release(conversation_id, token)

    async def _acquire_or_degrade(self, conversation_id: str, patience: float) -> str | None:
        """Redis's lock, or None while Redis is unreachable (tried again every REDIS_RETRY_AFTER s)."""
        now = asyncio.get_running_loop().time()
        if self._redis_down_until is not None and now < self._redis_down_until:
            return None
        try:
            token = await self._acquire(conversation_id, patience=patience)
        except LockStoreUnavailable as error:
            if self._redis_down_until is None:
                logger.error(
                    "Lock store: %s (%s). Until it is back, each server locks its own messages only: a "
                    "conversation whose messages reach two replicas at once may be handled out of order",
                    error,
                    error.__cause__,
                )
            self._redis_down_until = asyncio.get_running_loop().time() + REDIS_RETRY_AFTER
            return None
        if self._redis_down_until is not None:
            logger.warning("Lock store: Redis at %s answers again; locks are shared again", self.config.where())
            self._redis_down_until = None
        return token

    async def close(self) -> None:
        """Stop listening and close the connections (tests; Rasa never closes a lock store)."""
        if self._listener is not None:
            self._listener.cancel()
            with suppress(asyncio.CancelledError):
                await self._listener
        if self._client is not None:
            await self._client.close(close_connection_pool=True)
            self._client = None

    # Acquiring

    async def _acquire(self, conversation_id: str, patience: float) -> str:
        self._start_listening()
        keys, token = self._keys(conversation_id), uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + patience
        wake = asyncio.Event()
        self._wakers.setdefault(conversation_id, set()).add(wake)
        try:
            while True:
                wake.clear()  # before trying: a release during the attempt still wakes the next wait
                if await self._try(keys, token):
                    return token
                if loop.time() >= deadline:
                    raise _waited_too_long(conversation_id, patience)
                with suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), self.config.poll_interval)
        except REDIS_DOWN as error:
            await self._abandon(conversation_id, keys, token)
            raise LockStoreUnavailable(f"Redis at {self.config.where()} is unreachable") from error
        except BaseException:  # gave up or cancelled: leave the queue, free a lock taken mid-attempt
            await self._abandon(conversation_id, keys, token)
            raise
        finally:
            self._stop_waking(conversation_id, wake)

    async def _try(self, keys: LockKeys, token: str) -> bool:
        args = [token, self._ms(self.config.lock_lifetime), self._ms(self.config.waiter_ttl)]
        return bool(await self._script("acquire")(keys=keys.all(), args=args))

    async def _abandon(self, conversation_id: str, keys: LockKeys, token: str) -> None:
        with suppress(*REDIS_DOWN):  # if Redis is gone, the waiter's place expires by itself
            await self._script("leave")(keys=[keys.queue, keys.alive, keys.tickets], args=[token])
            await self._release(conversation_id, token)

    def _stop_waking(self, conversation_id: str, wake: asyncio.Event) -> None:
        wakers = self._wakers.get(conversation_id)
        if wakers is not None:
            wakers.discard(wake)
            if not wakers:
                del self._wakers[conversation_id]

    # Holding and releasing

    async def _keep(self, conversation_id: str, token: str) -> None:
        """Extend the lock every third of its lifetime while the message is handled."""
        keys, lifetime = self._keys(conversation_id), self.config.lock_lifetime
        while True:
            await asyncio.sleep(lifetime / 3)
            try:
                owned = await self._script("renew")(keys=[keys.lock], args=[token, self._ms(lifetime)])
            except REDIS_DOWN as error:
                logger.error("Lock store: could not extend the lock of conversation %s (%s)", conversation_id, error)
                continue
            if not owned:
                logger.error(
                    "Lock store: the lock of conversation %s expired while its message was handled "
                    "(Redis unreachable for over %g s?); another message may be handled at the same time",
                    conversation_id,
                    lifetime,
                )
                return

    async def _release(self, conversation_id: str, token: str) -> None:
        keys = self._keys(conversation_id)
        channel = release_channel(self.config.key_prefix)
        try:
            released = await self._script("release")(
                keys=[keys.lock, keys.queue], args=[token, channel, conversation_id]
            )
        except REDIS_DOWN as error:
            # The message is handled; the next one waits for the lock to expire instead.
            logger.error(
                "Lock store: could not release the lock of conversation %s (%s); it expires in %g s",
                conversation_id,
                error,
                self.config.lock_lifetime,
            )
            return
        if not released:
            logger.debug("Lock store: the lock of conversation %s was no longer ours to release", conversation_id)

    # Release notifications

    def _start_listening(self) -> None:
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen())

    async def _listen(self) -> None:
        """Wake this process's waiters of a conversation when any replica releases its lock."""
        channel, failing = release_channel(self.config.key_prefix), False
        while True:
            pubsub = self._redis().pubsub()
            try:
                await pubsub.subscribe(channel)
                self._subscribed.set()
                if failing:
                    logger.info("Lock store: release notifications from %s are back", self.config.where())
                    failing = False
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._wake(message["data"])
            except REDIS_DOWN as error:
                self._subscribed.clear()
                if not failing:
                    logger.warning("Lock store: no release notifications (%s); waiters poll meanwhile", error)
                    failing = True
                await asyncio.sleep(1.0)
            finally:
                with suppress(*REDIS_DOWN):
                    await pubsub.reset()

    def _wake(self, conversation_id: str) -> None:
        for wake in self._wakers.get(conversation_id, ()):
            wake.set()
