"""Helpers for the handoff tests: a webhook receiver, an agent's console client, the product database."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests
import sqlalchemy as sa
import websocket

from bot.storage.database import create_engine
from tests.servers import RunningBot

WAIT_FOR_AGENT_SECONDS = 6
WEBHOOK_SECRET = "webhook-secret-for-tests-0123456789"
PASSWORD = "correct horse battery"


class Receiver:
    """A webhook endpoint on loopback that records what it is sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/handoffs"

    def packets_for(self, handoff_id: str) -> list[tuple[dict[str, str], bytes]]:
        return [(h, b) for h, b in self.requests if json.loads(b).get("handoff_id") == handoff_id]


def database(bot: RunningBot) -> sa.engine.Engine:
    return create_engine(f"sqlite:///{bot.workdir / 'var' / 'supportbot.db'}")


class Console:
    """An agent's console: a logged-in HTTP session and the live WebSocket."""

    def __init__(self, bot: RunningBot, username: str = "maya") -> None:
        self.bot = bot
        self.http = requests.Session()
        answer = self.http.post(f"{bot.url}/console/api/login", json={"username": username, "password": PASSWORD})
        answer.raise_for_status()
        self.csrf = answer.json()["csrf_token"]
        cookie = "; ".join(f"{k}={v}" for k, v in self.http.cookies.items())
        self.ws = websocket.create_connection(
            bot.url.replace("http://", "ws://") + "/console/ws", cookie=cookie, origin=bot.url, timeout=10
        )
        self.frames: list[dict[str, Any]] = []

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.bot.url}/console/api{path}", timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return self.http.post(
            f"{self.bot.url}/console/api{path}", json=body or {}, headers={"X-CSRF-Token": self.csrf}, timeout=30
        )

    def frame(self, matches: Any, timeout: float = 10) -> dict[str, Any]:
        """The next WebSocket frame for which `matches(frame)` is true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(deadline - time.monotonic(), 0.05))
            try:
                frame = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException:
                break
            self.frames.append(frame)
            if matches(frame):
                return frame
        raise AssertionError(f"no matching frame within {timeout} s; got {self.frames[-5:]}")

    def queued(self, conversation_id: str, timeout: float = 10) -> dict[str, Any]:
        frame = self.frame(
            lambda f: f["type"] == "queue" and any(h["conversation_id"] == conversation_id for h in f["handoffs"]),
            timeout,
        )
        return next(h for h in frame["handoffs"] if h["conversation_id"] == conversation_id)

    def close(self) -> None:
        self.ws.close()
        self.post("/logout")


# The parts of the FAQ ids in a table (text between <wbr> break points) that run over two lines.
SPLIT_ID_PARTS = """table => [...table.querySelectorAll('.faq-id')].flatMap(cell =>
    [...cell.childNodes].filter(node => node.nodeType === Node.TEXT_NODE && node.textContent.trim()).filter(node => {
        const range = document.createRange();
        range.selectNodeContents(node);
        return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1;
    }).map(node => node.textContent))"""
