"""The two ways a simulated customer reaches the bot, and what they record (`benchmarks.loadtest`).

- REST: `POST /webhooks/rest/webhook`; the reply is the response body.
- socket.io (websocket transport, as the widget): `session_request` → `session_confirm`, then
  `user_uttered` with a message id; the bot's `bot_uttered` events arrive before the server's
  acknowledgement, so the latency is measured to the acknowledgement.

Latency is measured at the client, from sending to having the whole reply. An error (non-200, a
refusal in the acknowledgement, a timeout, a dropped connection, an empty reply) is recorded by
kind and ends that customer's conversation.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio

from benchmarks.loadtest_conversations import Message

if not hasattr(aiohttp, "ClientWSTimeout"):
    # python-engineio 4.15's asyncio client builds aiohttp.ClientWSTimeout(ws_close=…), which the
    # aiohttp Rasa pins (3.9) does not have; its ws_connect takes the same close timeout as a float.
    aiohttp.ClientWSTimeout = lambda ws_close=None, **_: ws_close  # type: ignore[attr-defined]


class CustomerError(Exception):
    """A failed exchange; `kind` is the error's name in the report ("timeout", "http_500", …)."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


@dataclass
class Recorder:
    """Everything one phase measured at the client."""

    latencies: dict[tuple[str, str], list[float]] = field(default_factory=lambda: defaultdict(list))  # ms
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: dict[str, list[str]] = field(default_factory=dict)  # kind -> up to 3 distinct details
    timeline: dict[int, list[float]] = field(default_factory=lambda: defaultdict(list))  # second -> latencies
    error_timeline: Counter[int] = field(default_factory=Counter)  # second -> errors
    started: float = field(default_factory=time.perf_counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    conversations: Counter[str] = field(default_factory=Counter)  # kind -> started
    connected: int = 0  # socket.io connections open right now
    peak_connected: int = 0
    first_send: float | None = None
    last_reply: float | None = None

    def reply(self, transport: str, kind: str, started: float) -> None:
        now = time.perf_counter()
        self.latencies[(transport, kind)].append((now - started) * 1000)
        self.timeline[int(now - self.started)].append((now - started) * 1000)
        self.first_send = started if self.first_send is None else min(self.first_send, started)
        self.last_reply = now if self.last_reply is None else max(self.last_reply, now)

    def error(self, transport: str, kind: str, detail: str = "") -> CustomerError:
        key = f"{transport}:{kind}"
        self.errors[key] += 1
        self.error_timeline[int(time.perf_counter() - self.started)] += 1
        examples = self.error_examples.setdefault(key, [])
        if detail and detail not in examples and len(examples) < 3:
            examples.append(detail[:200])
        return CustomerError(kind)

    def connection_opened(self) -> None:
        self.connected += 1
        self.peak_connected = max(self.peak_connected, self.connected)

    @property
    def replies(self) -> int:
        return sum(len(values) for values in self.latencies.values())


class RestChannel:
    """One REST customer: a sender id of its own, a shared aiohttp session."""

    transport = "rest"

    def __init__(self, session: aiohttp.ClientSession, url: str, recorder: Recorder, timeout: float) -> None:
        self.session = session
        self.endpoint = f"{url}/webhooks/rest/webhook"
        self.recorder = recorder
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.sender = f"load-{uuid.uuid4().hex}"

    async def say(self, text: str, kind: str, display: str | None = None) -> list[Message]:
        started = time.perf_counter()
        try:
            async with self.session.post(
                self.endpoint, json={"sender": self.sender, "message": text}, timeout=self.timeout
            ) as response:
                if response.status != 200:
                    raise self.recorder.error(self.transport, f"http_{response.status}")
                body = await response.json(content_type=None)
        except asyncio.TimeoutError:
            raise self.recorder.error(self.transport, "timeout") from None
        except (aiohttp.ClientError, ValueError) as error:
            raise self.recorder.error(self.transport, f"connection:{type(error).__name__}", str(error)) from None
        if not isinstance(body, list) or not body:
            raise self.recorder.error(self.transport, "no_reply")
        self.recorder.reply(self.transport, kind, started)
        return [Message.from_rest(m) for m in body if isinstance(m, dict)]

    async def close(self) -> None:
        pass


class SocketChannel:
    """One widget: its own websocket and server-issued session, no reconnection (a drop is an error)."""

    transport = "socketio"

    def __init__(self, url: str, recorder: Recorder, timeout: float) -> None:
        self.url = url
        self.recorder = recorder
        self.timeout = timeout
        self.client = socketio.AsyncClient(reconnection=False, request_timeout=timeout)
        self.received: list[dict[str, Any]] = []
        self.dropped = asyncio.Event()
        self.closing = False
        self.open = False
        self.client.on("bot_uttered", self.received.append)
        self.client.on("disconnect", self._disconnected)

    def _disconnected(self, *_: Any) -> None:
        if self.open:
            self.open = False
            self.recorder.connected -= 1
        if not self.closing:
            self.dropped.set()

    async def connect(self) -> None:
        """Connect and get a session, as the widget does on page load; the time counts as kind `connect`."""
        started = time.perf_counter()
        confirmed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.client.on("session_confirm", lambda token: confirmed.done() or confirmed.set_result(token))
        try:
            # The page's own origin, as a browser on the bot's demo page sends it. The namespace may take
            # as long as a reply (python-socketio gives up after 1 s by default, socket.io-client after 20 s).
            connecting = self.client.connect(
                self.url, transports=["websocket"], headers={"Origin": self.url}, wait_timeout=self.timeout
            )
            await asyncio.wait_for(connecting, self.timeout)
            self.open = True
            self.recorder.connection_opened()
            await self.client.emit("session_request", {"session_id": None})
            await self._first(confirmed, "session_timeout")
        except CustomerError:
            raise
        except (asyncio.TimeoutError, socketio.exceptions.ConnectionError, aiohttp.ClientError, OSError) as error:
            kind = "connect_timeout" if isinstance(error, asyncio.TimeoutError) else "connect_failed"
            raise self.recorder.error(self.transport, kind, f"{type(error).__name__}: {error}") from None
        self.recorder.reply(self.transport, "connect", started)

    async def say(self, text: str, kind: str, display: str | None = None) -> list[Message]:
        self.received.clear()
        data: dict[str, Any] = {"message": text, "message_id": uuid.uuid4().hex}
        if display:
            data["metadata"] = {"display": display}  # a button's title, as the widget sends a click
        started = time.perf_counter()
        try:
            ack = await self._first(asyncio.ensure_future(self.client.call("user_uttered", data)), "timeout")
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            raise self.recorder.error(self.transport, "disconnect" if self.dropped.is_set() else "timeout") from None
        if not isinstance(ack, dict) or not ack.get("ok"):
            raise self.recorder.error(self.transport, f"refused:{(ack or {}).get('error', 'no ack')}")
        if not self.received:
            raise self.recorder.error(self.transport, "no_reply")
        self.recorder.reply(self.transport, kind, started)
        return [Message.from_socket(m) for m in self.received]

    async def _first(self, waiting: asyncio.Future[Any], timeout_kind: str) -> Any:
        """`waiting`'s result, unless the connection drops or `timeout` passes first."""
        dropped = asyncio.ensure_future(self.dropped.wait())
        done, _ = await asyncio.wait({waiting, dropped}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
        dropped.cancel()
        if waiting in done:
            return waiting.result()
        waiting.cancel()
        raise self.recorder.error(self.transport, "disconnect" if dropped in done else timeout_kind)

    def check_alive(self) -> None:
        """Raise if the server dropped this connection while the customer was idle."""
        if self.dropped.is_set():
            raise self.recorder.error(self.transport, "disconnect")

    async def close(self) -> None:
        self.closing = True
        try:
            await asyncio.wait_for(self.client.disconnect(), self.timeout)
        except (asyncio.TimeoutError, OSError, aiohttp.ClientError):
            pass
        if self.open:
            self.open = False
            self.recorder.connected -= 1
