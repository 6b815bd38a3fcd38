"""What the Rasa replicas share for handed-off chats, through Redis (`SUPPORTBOT_RELAY_REDIS_URL`).

An agent's console is connected to one replica; the customer's messages may be handled by
another. Two things must cross:

- **console frames**: a customer's message and an agent's reply go to every open console, not only
  those on the replica that handled them. `ConsoleBus` publishes each frame on one Redis channel;
  every replica (this one included) listens and sends it to its own consoles.
- **the REST mailbox**: what an agent says to a customer on REST waits until that customer's next
  message, which may land on another replica. `RedisMailbox` keeps it in a Redis list per
  conversation (bounded, expiring after a day).

Without the variable (one process), frames go straight to this process's consoles and the
mailbox is in memory. While Redis is unreachable both fall back to this process alone and log it
once: consoles on this replica still get everything it handles.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import redis.asyncio
from redis.exceptions import RedisError

from bot.channels.rest import MAILBOX_MESSAGES, Mailbox

logger = logging.getLogger(__name__)

REDIS_URL_VARIABLE = "SUPPORTBOT_RELAY_REDIS_URL"
CONSOLE_CHANNEL = "supportbot:console"
MAILBOX_PREFIX = "supportbot:mailbox:"
MAILBOX_TTL_SECONDS = 24 * 3600  # a REST customer who never writes again does not keep keys forever
LISTEN_RETRY_SECONDS = 1.0
REDIS_DOWN = (RedisError, OSError)


def relay_redis_url(environ: Mapping[str, str] | None = None) -> str | None:
    return (os.environ if environ is None else environ).get(REDIS_URL_VARIABLE) or None


class _SharedRedis:
    """One redis-py asyncio client, made in the serving event loop at first use; says once when Redis is gone."""

    def __init__(self, url: str, what: str, read_timeout: float | None = 5.0) -> None:
        self.url, self.what, self.read_timeout = url, what, read_timeout
        self._client: redis.asyncio.Redis | None = None
        self._down = False

    def client(self) -> redis.asyncio.Redis:
        if self._client is None:
            self._client = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.read_timeout, socket_connect_timeout=5, socket_keepalive=True
            )
        return self._client

    def failed(self, error: BaseException) -> None:
        if not self._down:
            logger.error("%s: Redis is unreachable (%s); this replica works alone until it is back", self.what, error)
        self._down = True

    def answered(self) -> None:
        if self._down:
            logger.warning("%s: Redis answers again; shared with the other replicas", self.what)
        self._down = False


class ConsoleBus:
    """Console frames published to every replica's consoles."""

    def __init__(self, url: str, channel: str = CONSOLE_CHANNEL) -> None:
        self.redis = _SharedRedis(url, "Console relay")
        # The subscription waits for frames as long as none come: no read timeout, or a quiet
        # minute would look like a dead Redis and frames published while it resubscribes be lost.
        self.listening = _SharedRedis(url, "Console relay", read_timeout=None)
        self.channel = channel

    async def publish(self, text: str) -> bool:
        """True when Redis took the frame (every replica's listener delivers it); False: deliver it here."""
        try:
            await self.redis.client().publish(self.channel, text)
        except REDIS_DOWN as error:
            self.redis.failed(error)
            return False
        self.redis.answered()
        return True

    async def listen(self, deliver: Callable[[str], Awaitable[None]], subscribed: asyncio.Event | None = None) -> None:
        """Hand every published frame to `deliver`, forever; reconnects after Redis comes back."""
        while True:
            pubsub = self.listening.client().pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self.listening.answered()
                if subscribed is not None:
                    subscribed.set()
                async for message in pubsub.listen():
                    data = message.get("data")
                    try:
                        await deliver(data.decode() if isinstance(data, bytes) else str(data))
                    except Exception:  # one bad frame must not end the relay
                        logger.exception("Console relay: a frame could not be delivered")
            except asyncio.CancelledError:
                raise
            except REDIS_DOWN as error:
                self.listening.failed(error)
            finally:
                await _quietly_close(pubsub)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)


class RedisMailbox:
    """`bot.channels.rest.Mailbox` in Redis, so that any replica hands a REST customer what was said."""

    def __init__(self, url: str, prefix: str = MAILBOX_PREFIX) -> None:
        self.redis = _SharedRedis(url, "REST mailbox")
        self.prefix = prefix
        self.local = Mailbox()  # while Redis is unreachable

    async def put(self, conversation_id: str, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        key = self.prefix + conversation_id
        try:
            async with self.redis.client().pipeline(transaction=True) as pipe:
                pipe.rpush(key, *(json.dumps(m, ensure_ascii=False) for m in messages))
                pipe.ltrim(key, -MAILBOX_MESSAGES, -1)
                pipe.expire(key, MAILBOX_TTL_SECONDS)
                await pipe.execute()
        except REDIS_DOWN as error:
            self.redis.failed(error)
            await self.local.put(conversation_id, messages)
            return
        self.redis.answered()

    async def take(self, conversation_id: str) -> list[dict[str, Any]]:
        key = self.prefix + conversation_id
        kept_here = await self.local.take(conversation_id)
        try:
            async with self.redis.client().pipeline(transaction=True) as pipe:  # read and delete at once
                pipe.lrange(key, 0, -1)
                pipe.delete(key)
                stored, _ = await pipe.execute()
        except REDIS_DOWN as error:
            self.redis.failed(error)
            return kept_here
        self.redis.answered()
        return kept_here + [json.loads(item) for item in stored]


async def _quietly_close(pubsub: Any) -> None:
    try:
        await pubsub.reset()  # unsubscribes and gives the connection back
    except Exception:  # closing a connection to a dead Redis may fail too; nothing to do about it
        pass
