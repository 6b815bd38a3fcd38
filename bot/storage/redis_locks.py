"""The Redis side of `AtomicRedisLockStore`: its settings, its key names and its Lua scripts.

Every change to a conversation's lock is one Lua script, so Redis applies it atomically: two
replicas can never both see the lock free and both take it (the flaw of Rasa's RedisLockStore,
rasa #9213, which reads the lock, changes it in Python and writes it back).

Per conversation, all keys share one hash tag (`{conversation id}`), so they live in one slot:
    <prefix>{id}:lock     the holder's owner token; expires unless the holder renews it
    <prefix>{id}:queue    waiters' tokens, scored by ticket number (arrival order)
    <prefix>{id}:alive    waiters' tokens, scored by the time (ms) they are presumed dead
    <prefix>{id}:tickets  the last ticket number handed out
and one channel per store, `<prefix>released`, carries the id of each conversation whose lock
was released while someone waited.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rasa.utils.endpoints import EndpointConfig

URL_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class RedisLockConfig:
    """The `lock_store:` section of endpoints.yml for `AtomicRedisLockStore`."""

    # `redis://[user:password@]host:port/db` (or rediss://, unix://); a bare name is a host, as in Rasa.
    url: str | None = None
    host: str = "localhost"
    port: int = 6379
    # Rasa's RedisLockStore uses db 1 too; a db number in `url` wins over this.
    db: int = 1
    username: str | None = None
    password: str | None = None  # use ${REDIS_PASSWORD} in endpoints.yml; never logged
    use_ssl: bool = False
    # Every key and the wake-up channel start with this, so several bots can share one Redis.
    key_prefix: str = "supportbot:lock:"
    # Seconds a holder's lock outlives its last renewal: how long a crashed replica can block a
    # conversation. The holder renews it every third of this while the message is handled.
    lock_lifetime: float = 10.0
    # Seconds between a waiter's checks when no release notification comes (a lost one, an expiry).
    poll_interval: float = 0.1
    # Seconds after a waiter's last check that it is presumed dead and loses its place in the queue.
    waiter_ttl: float = 5.0
    # Seconds a Redis command (or connecting) may take before the lock store reports Redis down.
    socket_timeout: float = 5.0

    def __post_init__(self) -> None:
        for name in ("lock_lifetime", "poll_interval", "waiter_ttl", "socket_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"lock_store: '{name}' must be a positive number of seconds")
        if self.poll_interval >= self.waiter_ttl:
            raise ValueError("lock_store: 'poll_interval' must be shorter than 'waiter_ttl'")

    @classmethod
    def from_endpoint(cls, endpoint: EndpointConfig | None) -> RedisLockConfig:
        """Read the settings once; a misspelt or unknown key fails the start with its name."""
        if endpoint is None:
            return cls()
        settings: dict[str, Any] = dict(endpoint.kwargs)
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(settings) - known)
        if unknown:
            raise ValueError(f"lock_store: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        url = endpoint.url
        if url and not url.startswith(URL_SCHEMES):
            settings.setdefault("host", url)  # Rasa's `type: redis` reads `url` as the host name
            url = None
        return cls(url=url, **settings)

    def where(self) -> str:
        """The server, for log messages (without the password)."""
        if self.url:
            return self.url.split("@")[-1] if "@" in self.url else self.url
        return f"{self.host}:{self.port}/{self.db}"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for `redis.Redis` / `redis.asyncio.Redis` (and their `from_url`)."""
        options: dict[str, Any] = {
            "db": int(self.db),
            "username": self.username,
            "password": self.password,
            "socket_timeout": self.socket_timeout,
            "socket_connect_timeout": self.socket_timeout,
            "decode_responses": True,
        }
        if not self.url:
            options.update(host=self.host, port=int(self.port), ssl=self.use_ssl)
        return options


@dataclass(frozen=True)
class LockKeys:
    """One conversation's keys, in the order the scripts take them."""

    lock: str
    queue: str
    alive: str
    tickets: str

    @classmethod
    def of(cls, prefix: str, conversation_id: str) -> LockKeys:
        tag = f"{prefix}{{{conversation_id}}}"
        return cls(f"{tag}:lock", f"{tag}:queue", f"{tag}:alive", f"{tag}:tickets")

    def all(self) -> list[str]:
        return [self.lock, self.queue, self.alive, self.tickets]


def release_channel(prefix: str) -> str:
    return f"{prefix}released"


# KEYS: lock, queue, alive, tickets. ARGV: token, lock lifetime (ms), waiter ttl (ms).
# Returns 1 when the caller now holds the lock, 0 when it waits (its place in the queue kept).
TRY_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
-- waiters that stopped checking (their replica died) lose their place
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now_ms)) do
  redis.call('ZREM', KEYS[2], dead)
  redis.call('ZREM', KEYS[3], dead)
end
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[1])
end
local head = redis.call('ZRANGE', KEYS[2], 0, 0)[1]
if head == ARGV[1] and redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  if redis.call('ZCARD', KEYS[2]) == 0 then
    redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
  end
  return 1
end
redis.call('ZADD', KEYS[3], now_ms + tonumber(ARGV[3]), ARGV[1])
-- the queue's keys vanish by themselves once every waiter has died
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], 2 * tonumber(ARGV[3])) end
return 0
"""

# KEYS: lock, queue. ARGV: token, channel, conversation id.
# Deletes the lock only if the caller still owns it (an expired owner must not free another's
# lock); tells waiters on every replica when someone waits. Returns 1 if it was released.
RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('PUBLISH', ARGV[2], ARGV[3])
end
return 1
"""

# KEYS: lock. ARGV: token, lock lifetime (ms). Returns 1 if the caller still owned the lock.
RENEW = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""

# KEYS: queue, alive, tickets. ARGV: token. A waiter that gives up leaves the queue.
LEAVE_QUEUE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
end
return 1
"""

# By the name the lock store calls them.
SCRIPTS = {"acquire": TRY_ACQUIRE, "release": RELEASE, "renew": RENEW, "leave": LEAVE_QUEUE}
