"""Changes to how Rasa 3.6 runs a message that make it faster and change nothing it decides.

Each one removes a cost measured in the profile of one REST message (docs/latency-profile.md);
the behaviour tests run with them on. Applied once by `bot.server`, never during training.
"""

from __future__ import annotations

import copy
import logging
import types
from typing import Any

import aiohttp
from rasa.core import processor
from rasa.core.channels import rest
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import Event
from rasa.shared.core.slots import Slot
from rasa.utils.endpoints import EndpointConfig

# Kept shorter than the action server's keep-alive (bot.action_server.KEEP_ALIVE_SECONDS), so the
# client never reuses a connection the server has just closed.
CLIENT_KEEP_ALIVE_SECONDS = 20.0


def resolve_event_types_once() -> None:
    """`Event.resolve_by_type` walks every Event subclass, recursively, for each event it reads;
    the answer for a type name never changes while the process runs."""
    original = Event.resolve_by_type
    known: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        found = known.get(type_name)
        if found is None:
            found = original(type_name, None)
            if found is None:
                return original(type_name, default)  # unknown: Rasa's own warning or error
            known[type_name] = found
        return found

    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]


def copy_slots_directly() -> None:
    """Every tracker Rasa builds (several per prediction) copies each slot with `copy.copy`, whose
    generic path (`__reduce_ex__`) is slow; a slot's shallow copy is its attributes, copied."""

    def shallow_copy(slot: Slot) -> Slot:
        duplicate = slot.__class__.__new__(slot.__class__)
        duplicate.__dict__.update(slot.__dict__)
        return duplicate

    Slot.__copy__ = shallow_copy  # type: ignore[attr-defined]


def run_graphs_without_dask() -> None:
    """Run the prediction graph's nodes in a cached order with plain calls.

    Rasa builds a dask graph and its minimal schema again for every parse and prediction (about
    1 ms each, 3 per message); the nodes and their order are the same every time.
    """
    plans: dict[tuple[int, tuple[str, ...]], list[tuple[str, list[str]]]] = {}

    def plan(runner: DaskGraphRunner, targets: tuple[str, ...]) -> list[tuple[str, list[str]]]:
        key = (id(runner), targets)
        if key not in plans:
            schema = runner._graph_schema.minimal_graph_schema(list(targets))
            order: list[tuple[str, list[str]]] = []
            seen: set[str] = set()

            def visit(name: str) -> None:
                if name in seen or name not in schema.nodes:
                    return
                seen.add(name)
                needs = list(schema.nodes[name].needs.values())
                for need in needs:
                    visit(need)
                order.append((name, needs))

            for target in targets:
                visit(target)
            plans[key] = order
        return plans[key]

    def run(self: DaskGraphRunner, inputs: dict[str, Any] | None = None, targets: list[str] | None = None) -> dict:
        run_targets = tuple(targets or self._graph_schema.target_names)
        # As in dask: a node's result is (its name, its output); an input is (its name, its value).
        values: dict[str, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
        nodes = self._instantiated_nodes
        try:
            for name, needs in plan(self, run_targets):
                values[name] = nodes[name](*[values.get(need, need) for need in needs])
        except RuntimeError as error:
            raise GraphRunError("Error running runner.") from error
        return dict(values[target] for target in run_targets)

    DaskGraphRunner.run = run  # type: ignore[method-assign]


def skip_copies_for_silent_debug_logs() -> None:
    """Rasa deep-copies events and parse data as arguments of `structlogger.debug(...)`, which are
    built even when debug logging is off. Above DEBUG those copies are never read."""
    if logging.getLogger("rasa").getEffectiveLevel() <= logging.DEBUG:
        return
    no_copies = types.SimpleNamespace(deepcopy=lambda value, memo=None: value, copy=copy.copy)
    processor.copy = no_copies  # type: ignore[attr-defined]
    rest.copy = no_copies  # type: ignore[attr-defined]


class _SharedSession:
    """`async with endpoint.session()` handing out one kept-open session instead of a new one."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self._session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self._session

    async def __aexit__(self, *exc: object) -> None:
        return None


_sessions: dict[int, aiohttp.ClientSession] = {}


def keep_action_server_connections() -> None:
    """One aiohttp session, with kept-alive connections, per endpoint: Rasa opens a new session and
    TCP connection for every custom action call. Created inside the running loop on first use."""

    def session(self: EndpointConfig) -> Any:
        shared = _sessions.get(id(self))
        if shared is None or shared.closed:
            # As EndpointConfig.session builds it, plus a keep-alive shorter than the server's.
            auth = (
                aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
            )
            shared = aiohttp.ClientSession(
                headers=self.headers,
                auth=auth,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=CLIENT_KEEP_ALIVE_SECONDS),
            )
            _sessions[id(self)] = shared
        return _SharedSession(shared)

    EndpointConfig.session = session  # type: ignore[method-assign]


async def close_kept_sessions(*_: object) -> None:
    """Sanic `after_server_stop` listener: close the kept sessions."""
    for shared in list(_sessions.values()):
        await shared.close()
    _sessions.clear()


def apply() -> None:
    resolve_event_types_once()
    copy_slots_directly()
    run_graphs_without_dask()
    skip_copies_for_silent_debug_logs()
    keep_action_server_connections()
