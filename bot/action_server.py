"""Run the rasa-sdk action server with the product's guard (`python -m bot.action_server`).

What `python -m rasa_sdk` does, plus: it listens on 127.0.0.1 unless told otherwise, allows no
cross-origin browser calls, and answers `POST /webhook` only when the request carries the shared
secret SUPPORTBOT_ACTION_TOKEN in `X-Supportbot-Action-Token`, which the Rasa server sends
(endpoints.yml). Anyone else who reaches the port cannot run actions (tickets, handoffs, data).
Actions written as plain functions run in worker threads, off the event loop (`run_actions_in_threads`).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hmac
import inspect
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from rasa_sdk import utils
from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import services
from bot import observability

TOKEN_HEADER = "X-Supportbot-Action-Token"
MIN_TOKEN_CHARS = 16
# The Rasa server keeps its connections here open (bot.rasa_speedups); Sanic's default, 5 s, would
# close them between two quiet messages.
KEEP_ALIVE_SECONDS = 60


def guard(app: Sanic, token: str) -> None:
    """Refuse action calls without the shared secret (the health check stays open)."""

    async def check(request: Request) -> HTTPResponse | None:
        if request.path.rstrip("/") == "/health" or request.path in observability.OWN_AUTH_PATHS:
            return None
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            return response.json({"error": f"the action server needs {TOKEN_HEADER}"}, status=401)
        return None

    app.register_middleware(check, "request")


def run_actions_in_threads() -> None:
    """Actions registered from now on whose `run` is a plain function run in a worker thread.

    rasa-sdk calls a plain `run` on the event loop, and the actions that store tickets, handoffs and
    feedback wait there for the database (up to 10 s while it is away, bot.storage.database): every
    other customer's action call, and the health checks, waited behind them, adding up towards the
    Rasa server's action timeout. In a thread each call waits only for its own work.
    """
    register = ActionExecutor.register_function

    def register_function(self: ActionExecutor, name: str, function: Callable) -> None:
        register(self, name, function if inspect.iscoroutinefunction(function) else _in_a_thread(function))

    ActionExecutor.register_function = register_function  # type: ignore[method-assign]


def _in_a_thread(function: Callable) -> Callable:
    @functools.wraps(function)  # rasa-sdk reads the signature
    async def threaded(*args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    return threaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the support bot's action server.")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"), help="interface to listen on")
    parser.add_argument("--actions", default="actions", help="the actions package")
    args = parser.parse_args(argv)
    token = os.environ.get("SUPPORTBOT_ACTION_TOKEN", "")
    if len(token) < MIN_TOKEN_CHARS:
        print(f"SUPPORTBOT_ACTION_TOKEN is missing or shorter than {MIN_TOKEN_CHARS} characters.", file=sys.stderr)
        return 2
    utils.configure_colored_logging(os.environ.get("SUPPORTBOT_LOG_LEVEL", "INFO").upper())
    utils.update_sanic_log_level()
    run_actions_in_threads()
    app = create_app(args.actions, cors_origins=None)  # only the Rasa server calls it, never a browser
    guard(app, token)
    observability.install_action_server(app, services.engine)  # /health/live, /health/ready, /metrics
    app.config.KEEP_ALIVE_TIMEOUT = KEEP_ALIVE_SECONDS
    logging.getLogger(__name__).info("Action server on http://%s:%s", args.host, args.port)
    app.run(args.host, args.port, workers=1, access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
