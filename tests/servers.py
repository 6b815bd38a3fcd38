"""Start the real product (action server + Rasa server) on free loopback ports for tests."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import yaml

from bot.knowledge.response_translations import variant_for

ROOT = Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "supportbot.tar.gz"
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


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


def start_bot(workdir: Path, log_dir: Path, extra_env: dict[str, str] | None = None) -> RunningBot:
    """Copy the knowledge base and data into `workdir` and run the product from there."""
    for folder in ("faq", "data"):
        shutil.copytree(ROOT / folder, workdir / folder)
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "SUPPORTBOT_API_TOKEN": token,
        "SUPPORTBOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "SUPPORTBOT_TRACKER_DB": str(workdir / "var" / "tracker.db"),
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'supportbot.db'}",
        "SUPPORTBOT_FAQ_PATH": str(workdir / "faq"),
        "SANIC_HOST": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
        **(extra_env or {}),
    }
    (workdir / "var").mkdir()
    log_dir.mkdir(parents=True, exist_ok=True)
    actions = subprocess.Popen(
        [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(action_port)],
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
            "--endpoints",
            str(ROOT / "endpoints.yml"),
            "--credentials",
            str(ROOT / "credentials.yml"),
        ],
        cwd=workdir,
        env=env,
        stdout=open(log_dir / "rasa.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    bot = RunningBot(f"http://127.0.0.1:{rasa_port}", token, workdir, [actions, rasa])
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
