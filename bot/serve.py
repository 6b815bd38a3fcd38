"""Run the whole product on 127.0.0.1: action server and Rasa server (`make run`).

Both are child processes; when either stops, or on Ctrl-C, both are stopped.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

from bot.mail import MAIL_OFF_MESSAGE, load_mail_settings


def api_token(var: Path) -> str:
    """`SUPPORTBOT_API_TOKEN`, or one generated once into `var/api_token` (mode 600)."""
    token = os.environ.get("SUPPORTBOT_API_TOKEN")
    if token:
        return token
    path = var / "api_token"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def environment(rasa_port: int, action_port: int, var: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("SUPPORTBOT_ACTION_URL", f"http://127.0.0.1:{action_port}/webhook")
    env.setdefault("SUPPORTBOT_TRACKER_DB", str(var / "tracker.db"))
    env.setdefault("SUPPORTBOT_DATABASE_URL", f"sqlite:///{var / 'supportbot.db'}")
    env["SUPPORTBOT_API_TOKEN"] = api_token(var)
    env.setdefault("SUPPORTBOT_ACTION_TOKEN", secrets.token_urlsafe(32))  # shared by the two children, per run
    env["SANIC_HOST"] = "127.0.0.1"  # rasa-sdk listens on 0.0.0.0 unless told
    return env


def start(rasa_port: int, action_port: int, model: str, var: Path) -> list[subprocess.Popen]:
    env = environment(rasa_port, action_port, var)
    python = sys.executable
    actions = subprocess.Popen([python, "-m", "bot.action_server", "--port", str(action_port)], env=env)
    rasa = subprocess.Popen([python, "-m", "bot.server", "--model", model, "--port", str(rasa_port)], env=env)
    return [actions, rasa]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the support bot on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=5005, help="Rasa server port (chat, REST, HTTP API)")
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--model", default="models/supportbot.tar.gz")
    parser.add_argument("--var", type=Path, default=Path("var"), help="folder for the databases and the token")
    args = parser.parse_args(argv)
    processes = start(args.port, args.action_port, args.model, args.var)
    token_source = "SUPPORTBOT_API_TOKEN" if os.environ.get("SUPPORTBOT_API_TOKEN") else f"{args.var}/api_token"
    print(
        f"Support bot starting: the demo shop with the chat widget is http://127.0.0.1:{args.port}/, "
        f"the agent console http://127.0.0.1:{args.port}/console/ (add agents with .venv/bin/supportbot agents add) "
        f"(REST: /webhooks/rest/webhook; API token in {token_source}: {api_token(args.var)})",
        flush=True,
    )
    if load_mail_settings() is None:
        print(MAIL_OFF_MESSAGE + "; set SUPPORTBOT_SMTP_HOST (and _PORT, _USER, _PASSWORD) to send them", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
    return max((p.returncode or 0) for p in processes)


if __name__ == "__main__":
    sys.exit(main())
