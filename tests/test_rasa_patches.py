"""The compiled validator accepts and rejects exactly what Rasa's own check does."""

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from bot import rasa_patches

VALID = {
    "events": [{"event": "slot", "timestamp": None, "name": "last_faq", "value": "x"}],
    "responses": [{"text": "hi"}],
}
INVALID = {"events": [{"timestamp": None, "name": "last_faq"}], "responses": [{"text": "hi"}]}


def test_valid_response_passes_both():
    validate(VALID, RemoteAction.action_response_format_spec())
    assert rasa_patches._validate_action_result(None, VALID)


def test_invalid_response_fails_both_with_rasas_message():
    with pytest.raises(ValidationError):
        validate(INVALID, RemoteAction.action_response_format_spec())
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        rasa_patches._validate_action_result(None, INVALID)
