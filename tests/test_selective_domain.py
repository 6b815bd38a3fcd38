"""The action server is sent the domain (~70 KB of JSON) only for the actions that read it.

endpoints.yml enables Rasa's selective domain and domain.yml marks those actions `send_domain: true`.
An action that reads `domain` without the mark would get an empty one and fall back to English
button titles, so the marks are checked against the actions' code.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path

import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.forms import FormValidationAction

ROOT = Path(__file__).resolve().parent.parent
# `domain` used anywhere but a def line: read, or handed to a helper that reads it
READS_DOMAIN = re.compile(r"^(?!\s*(async\s+)?def\s).*\bdomain\b", re.MULTILINE)


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def actions() -> dict[str, object]:
    """Every action of the `actions` package, by name, as rasa-sdk registers them."""
    executor = ActionExecutor()
    executor.register_package("actions")
    return {name: run.__self__ for name, run in executor.actions.items() if hasattr(run, "__self__")}


def reads_domain(action: object) -> bool:
    if isinstance(action, FormValidationAction):
        return True  # rasa-sdk reads the form's required slots from the domain
    return bool(READS_DOMAIN.search(inspect.getsource(type(action))))


def test_every_action_that_reads_the_domain_is_marked_and_no_other(domain, actions):
    custom = {name for name in domain.user_actions if not name.startswith("utter_")}
    assert set(actions) == custom, "domain.yml lists exactly the package's actions"
    needs = {name for name, action in actions.items() if reads_domain(action)}
    marked = {name for name in actions if domain.does_custom_action_explicitly_need_domain(name)}
    assert needs == marked
    # the check sees what it should: these read response texts from the domain
    assert {"action_ask_ticket_confirmed", "action_submit_ticket", "validate_ticket_form"} <= needs
    assert "action_record_feedback" not in needs


def test_the_call_carries_the_domain_only_when_marked(domain, monkeypatch):
    monkeypatch.setenv("SUPPORTBOT_ACTION_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("SUPPORTBOT_ACTION_TOKEN", "token")
    monkeypatch.setenv("SUPPORTBOT_TRACKER_DB", "unused.db")
    endpoint = read_endpoint_config(str(ROOT / "endpoints.yml"), "action_endpoint")
    tracker = DialogueStateTracker.from_events(
        "c1", [ActionExecuted("action_listen"), UserUttered("yes", {"name": "affirm", "confidence": 1.0})]
    )
    feedback = RemoteAction("action_record_feedback", endpoint)._action_call_format(tracker, domain)
    summary = RemoteAction("action_ask_ticket_confirmed", endpoint)._action_call_format(tracker, domain)
    assert "domain" not in feedback and len(json.dumps(feedback)) < 5_000
    assert summary["domain"]["responses"]["utter_ticket_button_send"]
