"""Fixes to Rasa 3.6 internals that the product needs, each small and explained.

Applied once by `bot.server` before the server starts; nothing else patches Rasa.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def apply() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
