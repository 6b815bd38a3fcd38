"""Start the real product (action server + Rasa server) on free loopback ports for tests."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
import socketio
import yaml

from bot.knowledge.response_translations import variant_for

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "supportbot.tar.gz"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def support_open_around_the_clock(folder: Path) -> Path:
    """support.yml with support hours all day, every day, and no holidays, written into `folder`: so that
    a handoff is queued for an agent whenever the tests run."""
    support = yaml.safe_load((ROOT / "support.yml").read_text(encoding="utf-8"))
    days = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    support["sla"].update(hours={day: ["00:00", "23:59"] for day in days}, holidays=[])
    path = folder / "support.yml"
    path.write_text(yaml.safe_dump(support), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningBot:
    url: str
    token: str
    workdir: Path  # holds this bot's own copy of faq/ and data/, and var/
    processes: list[subprocess.Popen]
    action_url: str = ""  # the action server's /webhook

    @property
    def faq(self) -> Path:
        return self.workdir / "faq"

    def say(self, text: str, sender: str) -> list[dict]:
        response = requests.post(
            f"{self.url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def parse(self, text: str) -> dict:
        response = requests.post(
            f"{self.url}/model/parse", params={"token": self.token}, json={"text": text}, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def tracker(self, sender: str) -> dict:
        response = requests.get(f"{self.url}/conversations/{sender}/tracker", params={"token": self.token}, timeout=30)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until_up(url: str, processes: list[subprocess.Popen], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode} during start-up")
        try:
            if requests.get(url, timeout=2).ok:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} not up after {timeout:.0f} s")


def start_bot(
    workdir: Path, log_dir: Path, extra_env: dict[str, str] | None = None, credentials: Path | None = None
) -> RunningBot:
    """Copy the knowledge base and data into `workdir` and run the product from there."""
    for folder in ("faq", "data"):
        shutil.copytree(ROOT / folder, workdir / folder)
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SUPPORTBOT_API_TOKEN": token,
        "SUPPORTBOT_ACTION_TOKEN": secrets.token_urlsafe(24),
        "SUPPORTBOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "SUPPORTBOT_TRACKER_DB": str(workdir / "var" / "tracker.db"),
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'supportbot.db'}",
        "SUPPORTBOT_FAQ_PATH": str(workdir / "faq"),
        "SUPPORTBOT_SUPPORT_CONFIG": str(ROOT / "support.yml"),
        "SUPPORTBOT_ENDPOINTS": str(ROOT / "endpoints.yml"),
        "SANIC_HOST": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    (workdir / "var").mkdir()
    log_dir.mkdir(parents=True, exist_ok=True)
    actions = subprocess.Popen(
        [sys.executable, "-m", "bot.action_server", "--port", str(action_port)],
        cwd=ROOT,
        env=env,
        stdout=open(log_dir / "actions.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    rasa = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.server",
            "--model",
            str(MODEL),
            "--port",
            str(rasa_port),
            "--credentials",
            str(credentials or ROOT / "credentials.yml"),
        ],
        cwd=workdir,
        env=env,
        stdout=open(log_dir / "rasa.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    bot = RunningBot(f"http://127.0.0.1:{rasa_port}", token, workdir, [actions, rasa], env["SUPPORTBOT_ACTION_URL"])
    try:
        wait_until_up(f"http://127.0.0.1:{action_port}/health", [actions])
        wait_until_up(f"{bot.url}/status?token={token}", [rasa])
    except Exception:
        bot.stop()
        raise
    return bot


def bot_says(name: str, language: str = "en", **values: str) -> str:
    """A response's text in `language` as domain.yml writes it, placeholders filled; KeyError if not translated."""
    variant = variant_for(DOMAIN["responses"][name], language)
    if variant is None:
        raise KeyError((name, language))
    return variant["text"].format(**values) if values else variant["text"]


def bot_buttons(name: str, language: str = "en") -> list[str]:
    """The button titles of a response's variant for `language`."""
    return [b["title"] for b in variant_for(DOMAIN["responses"][name], language)["buttons"]]


class Browser:
    """A socket.io client (websocket, as browsers use) that behaves like the widget."""

    def __init__(self, bot: RunningBot, origin: str | None = None, reconnection: bool = True) -> None:
        self.bot = bot
        # The page's origin, as a browser sends it (websocket-client would send its own otherwise).
        self.client = socketio.SimpleClient(
            reconnection=reconnection, websocket_extra_options={"origin": origin or bot.url}
        )
        self.token: str | None = None
        self.history: list[dict[str, Any]] = []

    def open(self, token: str | None = None) -> Browser:
        self.client.connect(self.bot.url, transports=["websocket"])
        self.client.emit("session_request", {"session_id": token})
        self.token = self.expect("session_confirm")
        self.history = self.expect("history")["messages"]
        return self

    def say(self, text: str, **fields: Any) -> dict[str, Any]:
        """Send a message and return the server's acknowledgement (sent once it is handled)."""
        data = {"message": text, "message_id": uuid.uuid4().hex, **fields}
        return self.client.call("user_uttered", data, timeout=60)

    def expect(self, event: str, timeout: float = 30) -> Any:
        while True:
            received = self.client.receive(timeout=timeout)
            if received[0] == event:
                return received[1] if len(received) > 1 else None

    def bot_messages(self) -> list[dict[str, Any]]:
        """The bot messages already received (they all arrive before the acknowledgement)."""
        messages = []
        while True:
            try:
                event, *data = self.client.receive(timeout=0.5)
            except socketio.exceptions.TimeoutError:
                return messages
            if event == "bot_uttered":
                messages.append(data[0])

    def close(self) -> None:
        self.client.disconnect()

    @property
    def conversation_id(self) -> str:
        return self.token.split(".")[0]
