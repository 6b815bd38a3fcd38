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


def test_the_trained_domain_loads_as_rasa_loads_it(tmp_path):
    """The start-up shortcut (one parse, no second schema check) gives the domain Rasa's own load gives."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.graph_components.providers.domain_provider import DomainProvider

    from tests.servers import MODEL

    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    storage, metadata = LocalModelStorage.from_model_archive(tmp_path, MODEL)
    resource = next(
        Resource(node.resource.name) for node in metadata.predict_schema.nodes.values()
        if node.uses is DomainProvider and node.resource
    )
    assert DomainProvider.load.__func__ is not rasa_patches._load_trained_domain  # Rasa's own, unpatched here
    rasas = DomainProvider.load({}, storage, resource, None).provide_inference()
    ours = rasa_patches._load_trained_domain(DomainProvider, {}, storage, resource, None).provide_inference()
    assert ours.as_dict() == rasas.as_dict()
    assert ours.fingerprint() == rasas.fingerprint()
    assert len(ours.responses) > 50  # the real domain, not an empty one
