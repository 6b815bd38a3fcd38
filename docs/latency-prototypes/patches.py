"""Measurement instrumentation and candidate optimisations, applied by name (PERF_PATCHES=a,b,c).

Only for the performance study in /work/perf; nothing here is product code.

Patches:
  timing        per-message component timings -> $PERF_TIMING_FILE (JSON lines)
  cprofile      cProfile the Rasa process; dump to $PERF_CPROFILE_FILE after $PERF_CPROFILE_N messages
  nodeepcopy    skip Rasa's `copy.deepcopy(...)` arguments of structlog debug calls (no-ops at INFO)
  keepalive     one shared aiohttp session (keep-alive) for the action endpoint instead of one per call
  inprocess     run rasa_sdk actions in the Rasa process (same code, same JSON contract), no HTTP
  fastsql       SQLite tracker store: WAL + synchronous=NORMAL
"""

from __future__ import annotations

import contextvars
import functools
import json
import os
import time
from typing import Any

_rec: contextvars.ContextVar[dict | None] = contextvars.ContextVar("perf_rec", default=None)
_timing_file = None


def _add(key: str, dt: float) -> None:
    rec = _rec.get()
    if rec is not None:
        rec[key] = rec.get(key, 0.0) + dt * 1000
        rec["n_" + key] = rec.get("n_" + key, 0) + 1


def _wrap_async(owner: Any, name: str, key: str) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await original(*args, **kwargs)
        finally:
            _add(key, time.perf_counter() - t0)

    setattr(owner, name, wrapper)


def _wrap_sync(owner: Any, name: str, key: str, static: bool = False) -> None:
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            _add(key, time.perf_counter() - t0)

    setattr(owner, name, staticmethod(wrapper) if static else wrapper)


def _timing() -> None:
    global _timing_file
    from rasa.core import lock_store, processor, run
    from rasa.core.actions import action as action_mod
    from rasa.core.agent import Agent
    from rasa.utils.endpoints import EndpointConfig

    _timing_file = open(os.environ["PERF_TIMING_FILE"], "a", buffering=1)
    P = processor.MessageProcessor
    _wrap_async(lock_store.LockStore, "_acquire_lock", "lock_acquire")
    _wrap_sync(lock_store.LockStore, "cleanup", "lock_cleanup")
    _wrap_async(P, "handle_message", "processor")
    _wrap_async(P, "get_tracker", "tracker_retrieve")
    _wrap_async(P, "_update_tracker_session", "session_check")
    _wrap_async(P, "parse_message", "parse")
    _wrap_sync(P, "_parse_message_with_graph", "parse_graph")
    _wrap_async(P, "_handle_message_with_tracker", "parse_and_log_user")
    _wrap_async(P, "run_action_extract_slots", "extract_slots")
    _wrap_sync(P, "predict_next_with_tracker_if_should", "predict_total")
    _wrap_sync(P, "_predict_next_with_tracker", "predict_graph")
    _wrap_sync(P, "is_action_limit_reached", "predict_limit_check")
    _wrap_async(P, "_run_action", "run_action")
    _wrap_sync(P, "_log_action_on_tracker", "log_action_on_tracker")
    _wrap_async(P, "execute_side_effects", "side_effects")
    _wrap_async(P, "run_anonymization_pipeline", "anonymization")
    _wrap_async(P, "save_tracker", "tracker_save")
    _wrap_async(action_mod.RemoteAction, "run", "remote_action")
    _wrap_sync(action_mod.RemoteAction, "_action_call_format", "remote_payload")
    _wrap_async(EndpointConfig, "request", "remote_http")
    _wrap_sync(action_mod.RemoteAction, "_validate_action_result", "remote_validate")
    _wrap_async(action_mod.ActionBotResponse, "run", "utter_action")

    original_handle = Agent.handle_message

    async def handle_message(self: Any, message: Any) -> Any:
        rec: dict = {}
        token = _rec.set(rec)
        t0 = time.perf_counter()
        try:
            return await original_handle(self, message)
        finally:
            rec["agent"] = (time.perf_counter() - t0) * 1000
            rec["text"] = message.text
            rec["sender"] = message.sender_id
            _rec.reset(token)
            _timing_file.write(json.dumps(rec) + "\n")

    Agent.handle_message = handle_message

    original_configure = run.configure_app

    def configure_app(*args: Any, **kwargs: Any) -> Any:
        app = original_configure(*args, **kwargs)

        @app.middleware("request")
        async def start_timer(request: Any) -> None:
            request.ctx.perf_t0 = time.perf_counter()

        @app.middleware("response")
        async def stop_timer(request: Any, response: Any) -> None:
            t0 = getattr(request.ctx, "perf_t0", None)
            if t0 is not None and request.path.startswith("/webhooks/rest"):
                _timing_file.write(json.dumps({"server": (time.perf_counter() - t0) * 1000}) + "\n")

        return app

    run.configure_app = configure_app


def _cprofile() -> None:
    import cProfile

    from rasa.core.agent import Agent

    profile = cProfile.Profile()
    limit = int(os.environ.get("PERF_CPROFILE_N", "200"))
    path = os.environ["PERF_CPROFILE_FILE"]
    state = {"n": 0, "on": False, "skip": int(os.environ.get("PERF_CPROFILE_SKIP", "30"))}
    original_handle = Agent.handle_message

    async def handle_message(self: Any, message: Any) -> Any:
        state["n"] += 1
        if state["n"] == state["skip"] + 1:
            profile.enable()
            state["on"] = True
        try:
            return await original_handle(self, message)
        finally:
            if state["on"] and state["n"] >= state["skip"] + limit:
                profile.disable()
                state["on"] = False
                profile.dump_stats(path)

    Agent.handle_message = handle_message


def _nodeepcopy() -> None:
    """Rasa evaluates `copy.deepcopy(events)` as arguments of `structlogger.debug`, even at INFO."""
    import copy as _copy
    import logging
    import types

    from rasa.core import processor
    from rasa.core.channels import rest

    if logging.getLogger("rasa").getEffectiveLevel() <= logging.DEBUG:
        return
    shim = types.SimpleNamespace(deepcopy=lambda value, memo=None: value, copy=_copy.copy)
    processor.copy = shim
    rest.copy = shim


def _keepalive() -> None:
    import aiohttp
    from rasa.utils.endpoints import EndpointConfig

    sessions: dict[int, aiohttp.ClientSession] = {}
    original_session = EndpointConfig.session

    class _Borrowed:
        """`async with` that hands out the shared session and does not close it."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self._session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self._session

        async def __aexit__(self, *exc: Any) -> None:
            return None

    def session(self: EndpointConfig) -> Any:
        shared = sessions.get(id(self))
        if shared is None or shared.closed:
            shared = original_session(self)
            sessions[id(self)] = shared
        return _Borrowed(shared)

    EndpointConfig.session = session


def _inprocess() -> None:
    """RemoteAction.run -> rasa_sdk's ActionExecutor in this process, same JSON contract, no HTTP."""
    import rasa.shared.core.events as events_mod
    from rasa.core.actions import action as action_mod
    from rasa_sdk.executor import ActionExecutor

    executor = ActionExecutor()
    executor.register_package(os.environ.get("PERF_ACTIONS_PACKAGE", "actions"))
    original_run = action_mod.RemoteAction.run

    async def run(self: Any, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> Any:
        if self.name() not in executor.actions:
            return await original_run(self, output_channel, nlg, tracker, domain)
        json_body = self._action_call_format(tracker, domain)
        response = await executor.run(json_body)
        bot_messages = await self._utter_responses(response.get("responses", []), output_channel, nlg, tracker)
        return bot_messages + events_mod.deserialise_events(response.get("events", []))

    action_mod.RemoteAction.run = run


def _fastsql() -> None:
    """Stock SQLTrackerStore on one long-lived SQLite connection in WAL mode, synchronous=NORMAL."""
    from rasa.core.tracker_store import SQLTrackerStore

    from perfwork.stores import use_wal

    original_init = SQLTrackerStore.__init__

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        if self.engine.dialect.name == "sqlite" and type(self) is SQLTrackerStore:
            use_wal(self)

    SQLTrackerStore.__init__ = __init__


def _eventcache() -> None:
    """`Event.resolve_by_type` walks every Event subclass (recursively, with isabstract) for every event."""
    from rasa.shared.core.events import Event

    original = Event.resolve_by_type
    cache: dict = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = cache.get(type_name)
        if cls is None:
            cls = original(type_name, None) if type_name != "topic" else None
            if cls is None:
                return original(type_name, default)
            cache[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _fastgraph() -> None:
    """DaskGraphRunner.run without dask: cached minimal schema and topological order, plain calls."""
    from rasa.engine.runner.dask import DaskGraphRunner

    plans: dict = {}

    def plan_for(self: Any, targets: tuple) -> list:
        key = (id(self), targets)
        plan = plans.get(key)
        if plan is None:
            schema = self._graph_schema.minimal_graph_schema(list(targets))
            order: list = []
            seen: set = set()

            def visit(name: str) -> None:
                if name in seen or name not in schema.nodes:
                    return
                seen.add(name)
                for dependency in schema.nodes[name].needs.values():
                    visit(dependency)
                order.append((name, list(schema.nodes[name].needs.values())))

            for target in targets:
                visit(target)
            plans[key] = plan = order
        return plan

    def run(self: Any, inputs: Any = None, targets: Any = None) -> dict:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        values: dict = {name: (name, value) for name, value in (inputs or {}).items()}
        nodes = self._instantiated_nodes
        for name, needs in plan_for(self, run_targets):
            values[name] = nodes[name](*[values.get(n, n) for n in needs])
        return dict(values[t] for t in run_targets)

    DaskGraphRunner.run = run


def _novalidate() -> None:
    """Trust our own action server: skip the JSON-schema check of its responses (keep a cheap shape check)."""
    from rasa.core.actions.action import RemoteAction

    def _validate_action_result(self: Any, result: dict) -> bool:
        if not isinstance(result, dict) or not isinstance(result.get("events", []), list) or not isinstance(
            result.get("responses", []), list
        ):
            raise ValueError("Action server response is not {events: [...], responses: [...]}")
        return True

    RemoteAction._validate_action_result = _validate_action_result


def _admission() -> None:
    """At most $PERF_ADMISSION messages inside Rasa at once; the rest wait in FIFO order at the door.

    Under saturation every `await` on a message's path (HTTP to the action server, its connect,
    headers, body) puts that message at the back of an event-loop queue holding every other
    in-flight message's CPU work; a small admission limit keeps that queue short.
    """
    import asyncio

    from rasa.core.agent import Agent

    limit = int(os.environ.get("PERF_ADMISSION", "4"))
    original = Agent.handle_message
    state: dict = {}

    async def handle_message(self: Any, message: Any) -> Any:
        semaphore = state.get("semaphore")
        if semaphore is None:
            semaphore = state["semaphore"] = asyncio.Semaphore(limit)
        async with semaphore:
            return await original(self, message)

    Agent.handle_message = handle_message


def _window() -> None:
    """Policies see only the tail of the conversation (from an action_listen within the last
    $PERF_WINDOW events), so a prediction costs the same at the 100th message as at the 1st.

    Behaviour-preserving here because every slot has influence_conversation: false (slots are not
    featurized), there are no forms, and no rule or story looks back further than a few turns.
    """
    from rasa.core import processor
    from rasa.shared.core.constants import ACTION_LISTEN_NAME
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    window = int(os.environ.get("PERF_WINDOW", "40"))
    P = processor.MessageProcessor
    original = P._predict_next_with_tracker

    def _predict_next_with_tracker(self: Any, tracker: Any) -> Any:
        if tracker.followup_action or len(tracker.events) <= window:
            return original(self, tracker)
        tail = list(tracker.events)[-window:]
        for i, event in enumerate(tail):
            if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
                tail = tail[i:]
                break
        else:
            return original(self, tracker)
        short = DialogueStateTracker.from_events(tracker.sender_id, tail, self.domain.slots)
        return original(self, short)

    P._predict_next_with_tracker = _predict_next_with_tracker


PATCHES = {
    "timing": _timing,
    "cprofile": _cprofile,
    "nodeepcopy": _nodeepcopy,
    "keepalive": _keepalive,
    "inprocess": _inprocess,
    "fastsql": _fastsql,
    "eventcache": _eventcache,
    "fastgraph": _fastgraph,
    "novalidate": _novalidate,
    "admission": _admission,
    "window": _window,
}


def apply_from_env() -> list[str]:
    names = [n for n in os.environ.get("PERF_PATCHES", "").split(",") if n]
    for name in names:
        PATCHES[name]()
    return names
