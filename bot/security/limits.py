"""Per-conversation and per-address message rate limits (token buckets), checked before any NLU runs.

A flood from one browser or one address is refused in microseconds, so it does not slow down
the other customers. The table of buckets is bounded: the least recently used ones are dropped.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from bot.bounded import remember_latest

MAX_BUCKETS = 100_000  # keys remembered at most (about 10 MB); an evicted key starts with a full bucket


@dataclass(frozen=True)
class Rate:
    per_minute: float  # the sustained rate allowed
    burst: int  # messages allowed at once after a quiet spell


# A customer types a message every few seconds, or clicks through a form's buttons; an office or a
# mobile carrier's NAT puts many customers behind one address.
PER_CONVERSATION = Rate(per_minute=60, burst=20)
PER_ADDRESS = Rate(per_minute=600, burst=200)
# Loopback is this machine: the tests, the benchmarks, or a reverse proxy that must pass on the
# customer's address (X-Forwarded-For with Sanic's PROXIES_COUNT) for per-address limits to work.
UNLIMITED_ADDRESSES = ("127.0.0.1", "::1")


class RateLimiter:
    """Token buckets per key; `allow(key)` takes a token or says how long to wait for one."""

    def __init__(self, rate: Rate, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.max_buckets = max_buckets
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated)

    def allow(self, key: str, now: float | None = None) -> float:
        """0.0 when allowed (a token is taken), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, updated = self._buckets.pop(key, (float(self.rate.burst), now))
        tokens = min(float(self.rate.burst), tokens + (now - updated) * self.rate.per_minute / 60)
        wait = 0.0 if tokens >= 1 else (1 - tokens) * 60 / self.rate.per_minute
        remember_latest(self._buckets, key, (tokens - 1 if wait == 0.0 else tokens, now), self.max_buckets)
        return wait


class MessageLimits:
    """Both limits for one channel: a message passes when its conversation and its address may send."""

    def __init__(
        self,
        conversation: Rate = PER_CONVERSATION,
        address: Rate = PER_ADDRESS,
        unlimited: tuple[str, ...] = UNLIMITED_ADDRESSES,
    ) -> None:
        self.conversation = RateLimiter(conversation)
        self.address = RateLimiter(address)
        self.unlimited = frozenset(unlimited)

    def wait(self, conversation_id: str, address: str | None) -> float:
        """0.0 when the message may be handled, else the seconds to wait."""
        if address in self.unlimited:
            return 0.0
        waits = [self.conversation.allow(conversation_id)]
        if address:
            waits.append(self.address.allow(address))
        return max(waits)


def limits_from_credentials(credentials: dict[str, Any]) -> MessageLimits:
    """A channel's `rate_limits` in credentials.yml; ValueError names a bad value."""
    section = credentials.get("rate_limits") or {}
    if not isinstance(section, dict):
        raise ValueError("rate_limits must be a mapping")
    unlimited = section.get("unlimited_addresses", list(UNLIMITED_ADDRESSES))
    if not isinstance(unlimited, list) or not all(isinstance(a, str) for a in unlimited):
        raise ValueError("rate_limits.unlimited_addresses must be a list of addresses")
    return MessageLimits(
        _rate(section, "per_conversation", PER_CONVERSATION),
        _rate(section, "per_address", PER_ADDRESS),
        tuple(unlimited),
    )


def _rate(section: dict[str, Any], key: str, default: Rate) -> Rate:
    value = section.get(key)
    if value is None:
        return default
    try:
        rate = Rate(per_minute=float(value["per_minute"]), burst=int(value["burst"]))
    except (TypeError, KeyError, ValueError):
        raise ValueError(f"rate_limits.{key} needs per_minute and burst numbers, got {value!r}") from None
    if rate.per_minute <= 0 or rate.burst < 1:
        raise ValueError(f"rate_limits.{key}: per_minute must be positive and burst at least 1")
    return rate
