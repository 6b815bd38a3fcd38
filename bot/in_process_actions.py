"""Custom actions run inside the Rasa process instead of over HTTP, for the FAQ path.

The actions answering an FAQ question or saying "did you mean" read only the knowledge base and
the message: calling the action server for them cost ~6 ms of an ~10 ms answer (an 18–68 KB JSON
body both ways, a new connection, schema validation), and made every answer depend on the action
server being up. The same `actions/` code runs here through rasa-sdk's own `ActionExecutor`, with
the same request and response as over HTTP, so an action behaves the same wherever it runs.

Which actions: endpoints.yml `action_endpoint: {in_process_actions: [...]}`. "Was this helpful?"
runs here too: it is one INSERT into the product database (in a thread), answered in ~6 ms
instead of ~11 ms over HTTP; offering a person is one reply. Tickets and handoffs stay on the
action server, where the outbox worker lives.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import rasa
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection as SdkActionExecutionRejection

from bot.rasa_speedups import recent_for_action

CONFIG_KEY = "in_process_actions"  # under action_endpoint in endpoints.yml
ACTIONS_PACKAGE = "actions"


class InProcessActions:
    """The named actions of an actions package, run with rasa-sdk's executor in this process."""

    def __init__(self, names: Iterable[str], package: str = ACTIONS_PACKAGE) -> None:
        self._executor = ActionExecutor()
        self._executor.register_package(package)
        self.names = frozenset(names)
        unknown = sorted(self.names - set(self._executor.actions))
        if unknown:
            raise ValueError(f"{CONFIG_KEY} names actions that {package!r} does not have: {', '.join(unknown)}")
        self._domain: Domain | None = None
        self._domain_dict: dict[str, Any] = {}

    def runs(self, name: str) -> bool:
        return name in self.names

    async def run(
        self, action: RemoteAction, output_channel: Any, nlg: Any, tracker: DialogueStateTracker, domain: Domain
    ) -> list[Event]:
        """What `RemoteAction.run` returns for the same action over HTTP."""
        call = {
            "next_action": action.name(),
            "sender_id": tracker.sender_id,
            "tracker": recent_for_action(tracker, action.name()).current_state(EventVerbosity.ALL),
            "domain": self._as_dict(domain),
            "version": rasa.__version__,
        }
        try:
            result = await self._executor.run(call) or {}
        except SdkActionExecutionRejection as rejection:  # a form's "not an answer": Rasa's own flow
            raise ActionExecutionRejection(rejection.action_name, rejection.message) from None
        bot_messages = await action._utter_responses(result.get("responses", []), output_channel, nlg, tracker)
        return [*bot_messages, *deserialise_events(result.get("events", []))]

    def _as_dict(self, domain: Domain) -> dict[str, Any]:
        """The domain as the action server receives it, built once per loaded model (it is ~70 KB)."""
        if domain is not self._domain:
            self._domain, self._domain_dict = domain, domain.as_dict()
        return self._domain_dict


def from_endpoint(endpoint: EndpointConfig | None) -> InProcessActions | None:
    """The in-process actions endpoints.yml names, or None when it names none."""
    names = (endpoint.kwargs.get(CONFIG_KEY) if endpoint else None) or []
    if not names:
        return None
    return InProcessActions(names)
