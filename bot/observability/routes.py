"""The routes both servers get: `/health/live`, `/health/ready` and `/metrics` (docs/operations.md).

The health routes are open and say nothing sensitive, so a load balancer can probe them. The
metrics reveal business volumes, so `/metrics` wants SUPPORTBOT_METRICS_TOKEN (or, when that is
unset, the API token SUPPORTBOT_API_TOKEN) as `Authorization: Bearer …` or `?token=…`.
"""

from __future__ import annotations

import asyncio
import hmac
import os
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from sqlalchemy.engine import Engine

from bot.observability.actions import instrument_executor
from bot.observability.database import ProductDatabaseCollector
from bot.observability.health import OK, Probe, database_answers, model_loaded, run_checks, tracker_store_answers
from bot.observability.metrics import ActionMetrics, MessageMetrics, new_registry

# Routes that check their own access: the action server's shared-secret guard lets them through.
OWN_AUTH_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})
MIN_TOKEN_CHARS = 16
NO_STORE = {"Cache-Control": "no-store"}


def metrics_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The token `/metrics` wants; None when neither variable is set (then /metrics answers no one)."""
    env = os.environ if environ is None else environ
    token = env.get("SUPPORTBOT_METRICS_TOKEN")
    if token is not None and len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"SUPPORTBOT_METRICS_TOKEN must be at least {MIN_TOKEN_CHARS} characters")
    return token or env.get("SUPPORTBOT_API_TOKEN") or None


def install(app: Sanic, engine: Engine, environ: Mapping[str, str] | None = None) -> None:
    """The Rasa server's health routes and metrics: its messages, and the product database's counts."""
    registry = new_registry()
    channels = [channel.name() for channel in getattr(app.ctx, "input_channels", None) or []]
    messages = MessageMetrics.register(registry, channels)
    registry.register(ProductDatabaseCollector(engine))

    def agent() -> Any:
        return getattr(app.ctx, "agent", None)

    async def count_messages(app: Sanic, _: Any) -> None:
        # After every before_server_start listener, Rasa's load_agent_on_start (which sets app.ctx.agent) included.
        if agent() is not None:
            # Imported here: it needs Rasa (and so TensorFlow), which the action server must not load.
            from bot.observability.messages import instrument

            instrument(agent(), messages, channels)

    app.register_listener(count_messages, "after_server_start")
    probes: dict[str, Probe] = {
        "model": lambda: model_loaded(agent()),
        "database": partial(database_answers, engine),
        "tracker_store": lambda: tracker_store_answers(agent()),
    }

    def lock_store_degraded() -> str | None:
        # Still ready: every server keeps answering, only ordering across replicas is weaker.
        if getattr(getattr(agent(), "lock_store", None), "degraded", False):
            return "Redis unreachable: each server locks only its own messages until it is back"
        return None

    degradations = {"lock_store": lock_store_degraded}
    app.blueprint(_routes("supportbot_observability", registry, probes, metrics_token(environ), degradations))


def install_action_server(app: Sanic, engine: Callable[[], Engine], environ: Mapping[str, str] | None = None) -> None:
    """The action server's health routes and metrics: its action runs. `engine` is the actions' own database."""
    registry = new_registry()
    instrument_executor(ActionMetrics.register(registry))
    probes: dict[str, Probe] = {"database": lambda: database_answers(engine())}
    app.blueprint(_routes("supportbot_action_observability", registry, probes, metrics_token(environ)))


def _routes(
    name: str,
    registry: CollectorRegistry,
    probes: Mapping[str, Probe],
    token: str | None,
    degradations: Mapping[str, Callable[[], str | None]] | None = None,
) -> Blueprint:
    """`degradations`: what works in a lesser way without making the process unready (None: nothing)."""
    routes = Blueprint(name)

    @routes.get("/health/live")
    async def live(_: Request) -> HTTPResponse:
        return response.json({"status": "live"}, headers=NO_STORE)

    @routes.get("/health/ready")
    async def ready(_: Request) -> HTTPResponse:
        checks = await run_checks(probes)
        is_ready = all(result == OK for result in checks.values())
        body: dict[str, Any] = {"status": "ready" if is_ready else "not_ready", "checks": checks}
        degraded = {name: note for name, check in (degradations or {}).items() if (note := check()) is not None}
        if degraded:
            body["degraded"] = degraded
        return response.json(body, status=200 if is_ready else 503, headers=NO_STORE)

    @routes.get("/metrics")
    async def metrics(request: Request) -> HTTPResponse:
        refusal = _refusal(request, token)
        if refusal is not None:
            return refusal
        encode, content_type = choose_encoder(request.headers.get("Accept", ""))
        # Collecting queries the database: in a thread, so the server keeps answering customers meanwhile.
        body = await asyncio.get_running_loop().run_in_executor(None, encode, registry)
        return response.raw(body, content_type=content_type, headers=NO_STORE)

    return routes


def _refusal(request: Request, token: str | None) -> HTTPResponse | None:
    if token is None:
        return response.json({"error": "metrics are off: set SUPPORTBOT_METRICS_TOKEN"}, status=503)
    header = request.headers.get("Authorization", "")
    given = header[len("Bearer ") :] if header.startswith("Bearer ") else request.args.get("token", "")
    if hmac.compare_digest(given.encode(), token.encode()):
        return None
    return response.json(
        {"error": "/metrics needs the metrics token (Authorization: Bearer …)"},
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )
