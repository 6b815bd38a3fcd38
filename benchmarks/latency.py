"""HTTP load generator (asyncio + aiohttp): `/model/parse` one at a time, REST conversations at a concurrency.

Every loop is bounded twice: by a number of requests and by a deadline, whichever comes first.
Latency is measured at the client, from sending the request to reading the whole response.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import aiohttp
import numpy as np

REQUEST_TIMEOUT = 30.0  # seconds for one request; slower counts as an error
MESSAGES_PER_CUSTOMER = 5  # a simulated customer asks this many questions, then a new customer takes over


@dataclass
class Run:
    """Latencies (ms) of the successful requests of one run, its errors and its wall time."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    responses: list[dict] = field(default_factory=list)  # parse results, kept for accuracy checks

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.errors

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    @property
    def throughput(self) -> float | None:
        """Successful messages per second."""
        return len(self.latencies_ms) / self.seconds if self.seconds > 0 else None

    def summary(self) -> dict:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "p50_ms": self.percentile(50),
            "p99_ms": self.percentile(99),
            "throughput_per_s": self.throughput,
        }


def parse_latency(url: str, token: str, texts: Sequence[str], count: int, warmup: int, max_seconds: float) -> Run:
    """`count` sequential `POST /model/parse` cycling through `texts`, after `warmup` unmeasured ones."""
    return asyncio.run(_parse_latency(url, token, texts, count, warmup, max_seconds))


async def _parse_latency(
    url: str, token: str, texts: Sequence[str], count: int, warmup: int, max_seconds: float
) -> Run:
    run = Run()
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        endpoint = f"{url}/model/parse"
        for i in range(warmup):
            await _post(session, endpoint, {"text": texts[i % len(texts)]}, {"token": token})
        started = time.perf_counter()
        deadline = started + max_seconds
        for i in range(count):
            if time.perf_counter() > deadline:
                break
            before = time.perf_counter()
            ok, body = await _post(session, endpoint, {"text": texts[i % len(texts)]}, {"token": token})
            if ok:
                run.latencies_ms.append((time.perf_counter() - before) * 1000)
                run.responses.append(body)
            else:
                run.errors += 1
                run.responses.append({})
        run.seconds = time.perf_counter() - started
    return run


def rest_load(url: str, questions: Sequence[str], concurrency: int, max_messages: int, max_seconds: float) -> Run:
    """`concurrency` simulated customers, each with its own sender id, sending `questions` over the REST channel."""
    return asyncio.run(_rest_load(url, questions, concurrency, max_messages, max_seconds))


async def _rest_load(
    url: str, questions: Sequence[str], concurrency: int, max_messages: int, max_seconds: float
) -> Run:
    run = Run()
    endpoint = f"{url}/webhooks/rest/webhook"
    prefix = uuid.uuid4().hex[:8]
    claimed = 0
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def customer(worker: int, session: aiohttp.ClientSession, deadline: float) -> None:
        nonlocal claimed
        sent = 0
        while claimed < max_messages and time.perf_counter() < deadline:
            index = claimed
            claimed += 1
            sender = f"bench-{prefix}-{worker}-{sent // MESSAGES_PER_CUSTOMER}"
            text = questions[index % len(questions)]
            before = time.perf_counter()
            ok, _ = await _post(session, endpoint, {"sender": sender, "message": text})
            if ok:
                run.latencies_ms.append((time.perf_counter() - before) * 1000)
            else:
                run.errors += 1
            sent += 1

    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        started = time.perf_counter()
        deadline = started + max_seconds
        await asyncio.gather(*(customer(w, session, deadline) for w in range(concurrency)))
        run.seconds = time.perf_counter() - started
    return run


async def _post(session: aiohttp.ClientSession, url: str, body: dict, params: dict | None = None) -> tuple[bool, dict]:
    try:
        async with session.post(url, json=body, params=params) as response:
            payload = await response.json(content_type=None)
            return response.status == 200, payload if isinstance(payload, dict) else {"messages": payload}
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        return False, {}
