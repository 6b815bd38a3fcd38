"""Fixes to Rasa 3.6 internals that the product needs, each small and explained.

Applied once by `bot.server` before the server starts (`bot.rasa_speedups` holds the speed-ups;
`bot.training` patches YAML reading in the training process only).
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache
from typing import Any

import rasa.shared.utils.io
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction, create_bot_utterance
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.graph_components.providers.domain_provider import DomainProvider
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActiveLoop, BotUttered, UserUttered
from rasa.utils.endpoints import EndpointConfig

from bot.in_process_actions import InProcessActions

logger = logging.getLogger(__name__)

# Said when the action server cannot be reached or fails; a response in domain.yml, in every language.
TECHNICAL_PROBLEM_RESPONSE = "utter_technical_problem"
_run_remote_action = RemoteAction.run

# How long a message waits for the action server: endpoints.yml `action_endpoint: {timeout: S}`. Rasa's
# own wait is five minutes, with the customer's chat (and every later message of it) stuck behind a hung
# server. Longer than the action server's own worst case, so an action that is going to succeed (or to
# say it could not store the ticket) is not given up on: a database away is waited for 10 s
# (bot.storage.database), plus one attempt's wait for a locked SQLite file (SUPPORTBOT_DATABASE_TIMEOUT, 15 s).
TIMEOUT_KEY = "timeout"
DEFAULT_ACTION_TIMEOUT = 30.0
_action_timeout = DEFAULT_ACTION_TIMEOUT


def action_timeout(endpoint: EndpointConfig | None) -> float:
    """The seconds endpoints.yml gives the action server to answer; ValueError when it is not a positive number."""
    given = endpoint.kwargs.get(TIMEOUT_KEY) if endpoint else None
    if given is None:
        return DEFAULT_ACTION_TIMEOUT
    try:
        seconds = float(given)
    except (TypeError, ValueError):
        seconds = 0.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"action_endpoint {TIMEOUT_KEY} must be a positive number of seconds, not {given!r}")
    return seconds


@lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    spec = RemoteAction.action_response_format_spec()
    return validator_for(spec)(spec)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """Rasa's own check of an action server's response, with the schema compiled once.

    `jsonschema.validate` re-checks the schema and builds a validator on every call: about
    40 ms per custom action here, most of an FAQ answer's time in the server.
    """
    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as error:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise


_in_process: InProcessActions | None = None


async def _run_or_apologise(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> list:
    """A custom action (in this process when endpoints.yml says so), or an apology when it fails.

    Rasa logs the error and answers nothing: the customer is left waiting. Their message is
    already in the tracker, so nothing is lost; they are told to try again, once per message.
    A form whose validation fails stops there (what it collected stays in its slots, so asking
    again later picks up where it was): otherwise it would go on asking without checking answers.
    """
    try:
        if _in_process is not None and _in_process.runs(self.name()):
            return await _in_process.run(self, output_channel, nlg, tracker, domain)
        return await asyncio.wait_for(_run_remote_action(self, output_channel, nlg, tracker, domain), _action_timeout)
    except ActionExecutionRejection:
        raise  # a form's "that is not an answer to my question": Rasa's normal flow
    except asyncio.TimeoutError:  # the action server hung: whatever it still does, this message goes on
        logger.error(
            "custom action %s: no answer from the action server within %g s; the customer is told to try again",
            self.name(),
            _action_timeout,
        )
        return await _apology(self, output_channel, nlg, tracker)
    except Exception:  # the action server down or failing, or a bug in an in-process action
        logger.exception("custom action %s failed; the customer is told to try again", self.name())
        return await _apology(self, output_channel, nlg, tracker)


async def _apology(action: RemoteAction, output_channel: Any, nlg: Any, tracker: Any) -> list:
    """The technical-problem message, once per customer message, and a form's end when its check failed."""
    events: list = []
    if not _apologised_since_the_last_message(tracker):
        facts = _shop_facts(tracker)
        message = await nlg.generate(TECHNICAL_PROBLEM_RESPONSE, tracker, output_channel.name(), **facts)
        if message:
            events.append(create_bot_utterance({**message, "utter_action": TECHNICAL_PROBLEM_RESPONSE}))
    if action.name().startswith("validate_"):  # a form's check: Rasa ends the form on ActiveLoop(None)
        events.append(ActiveLoop(None))
    return events


def _apologised_since_the_last_message(tracker: Any) -> bool:
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            return False
        if isinstance(event, BotUttered) and event.metadata.get("utter_action") == TECHNICAL_PROBLEM_RESPONSE:
            return True
    return False


def _shop_facts(tracker: Any) -> dict[str, str]:
    """The shop's facts (`{support_email}` ...) in the customer's language, for the apology's alternatives."""
    try:
        from actions import services  # the knowledge base the in-process FAQ actions loaded already
        from actions.faq import facts_for

        return facts_for(services.knowledge(), tracker.get_slot("language") or "en")
    except Exception:  # the apology must not fail too; Rasa then shows the placeholder
        logger.exception("no shop facts for the technical-problem message")
        return {}


def _load_trained_domain(
    cls: type[DomainProvider], config: dict, model_storage: ModelStorage, resource: Resource, *args: Any, **kwargs: Any
) -> DomainProvider:
    """The model's domain, parsed once and without a second schema check.

    Rasa's `Domain.from_path` parses the file four times and checks it against the domain schema
    with pykwalify's round-trip parser: about 2 s of every start with five languages of responses.
    The file is the one `Domain.persist` wrote at training, from a domain that passed that check.
    """
    with model_storage.read_from(resource) as directory:
        content = rasa.shared.utils.io.read_file(directory / "domain.yml")
    return cls(model_storage, resource, Domain.from_dict(rasa.shared.utils.io.read_yaml(content)))


def apply(in_process: InProcessActions | None = None, timeout: float = DEFAULT_ACTION_TIMEOUT) -> None:
    """Install the fixes; `in_process`: the custom actions to run in this process (bot.in_process_actions);
    `timeout`: seconds the action server has to answer (`action_timeout`)."""
    global _in_process, _action_timeout
    _in_process, _action_timeout = in_process, timeout
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    RemoteAction.run = _run_or_apologise  # type: ignore[method-assign]
    DomainProvider.load = classmethod(_load_trained_domain)  # type: ignore[method-assign, assignment]
