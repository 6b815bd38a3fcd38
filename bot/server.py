"""Start the Rasa server with the product's settings (`python -m bot.server`).

What `rasa run` does (rasa.core.run.serve_application), with the product's pages added to the
app and the API token read from `SUPPORTBOT_API_TOKEN`: Rasa's CLI takes it only as an
argument, visible to every local user in the process list.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from functools import partial

from rasa.core.run import close_resources, configure_app, create_http_input_channels, load_agent_on_start
from rasa.core.utils import AvailableEndpoints
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog

from bot import in_process_actions, observability, rasa_patches, rasa_speedups, web
from bot.console import setup as console_setup
from bot.security import api_guard, retention
from bot.security.redaction import product_redactor, redact_logs
from bot.settings import load_settings
from bot.storage.database import create_engine
from bot.storage.tracker_store import configured_tracker_url

# Connections the kernel queues until the busy event loop accepts them (Sanic's default is 100).
# Beyond it the kernel drops SYNs (netstat's "listen queue overflowed") and each client waits for
# TCP's retries, 1 s then 3 s...: a burst of widgets opening at once. Capped by net.core.somaxconn.
LISTEN_BACKLOG = 2048


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the support bot's Rasa server.")
    parser.add_argument("--model", default="models/supportbot.tar.gz", help="trained model to serve")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=5005)
    parser.add_argument("--endpoints", default=os.environ.get("SUPPORTBOT_ENDPOINTS", "endpoints.yml"))
    parser.add_argument("--credentials", default="credentials.yml")
    args = parser.parse_args(argv)
    token = os.environ.get("SUPPORTBOT_API_TOKEN", "")
    if len(token) < 16:
        print("SUPPORTBOT_API_TOKEN is missing or shorter than 16 characters; the HTTP API needs it.", file=sys.stderr)
        return 2
    try:
        days = retention.retention_days()
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    level = logging.getLevelName(os.environ.get("SUPPORTBOT_LOG_LEVEL", "INFO").upper())
    if not isinstance(level, int):
        print("SUPPORTBOT_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR.", file=sys.stderr)
        return 2
    endpoints = AvailableEndpoints.read_endpoints(args.endpoints)
    try:
        action_timeout = rasa_patches.action_timeout(endpoints.action)
        in_process = in_process_actions.from_endpoint(endpoints.action)
    except ValueError as error:
        print(f"{args.endpoints}: {error}", file=sys.stderr)
        return 2
    # What `rasa run` does with --debug/--verbose, here from the environment.
    configure_logging_and_warnings(level)
    configure_structlog(level)
    redact_logs(product_redactor())  # customers' e-mail, phone, card and order numbers never reach the log
    if in_process is not None:
        logging.getLogger(__name__).info("Running in the Rasa process: %s", ", ".join(sorted(in_process.names)))
    rasa_patches.apply(in_process, action_timeout)
    rasa_speedups.apply()
    app = configure_app(
        create_http_input_channels(None, args.credentials),
        auth_token=token,
        enable_api=True,
        port=args.port,
        endpoints=endpoints,
    )
    api_guard.install(app)
    web.install(app)
    app.register_listener(partial(load_agent_on_start, args.model, endpoints, None), "before_server_start")
    settings = load_settings()
    engine = create_engine(settings.database_url, timeout=settings.database_timeout)  # the product database
    console_setup.install(app, engine, args.endpoints)
    observability.install(app, engine)  # /health/live, /health/ready, /metrics
    retention.install(app, engine, configured_tracker_url(), days)
    app.register_listener(rasa_speedups.freeze_loaded_objects, "after_server_start")
    app.register_listener(close_resources, "after_server_stop")
    app.register_listener(rasa_speedups.close_kept_sessions, "after_server_stop")
    logging.getLogger(__name__).info("Starting the support bot on http://%s:%s", args.host, args.port)
    app.run(host=args.host, port=args.port, workers=1, access_log=False, backlog=LISTEN_BACKLOG)
    return 0


if __name__ == "__main__":
    sys.exit(main())
