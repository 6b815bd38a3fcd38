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


def test_the_action_timeout_comes_from_endpoints_yml_and_must_be_a_positive_number():
    from rasa.utils.endpoints import EndpointConfig

    assert rasa_patches.action_timeout(None) == rasa_patches.DEFAULT_ACTION_TIMEOUT
    assert rasa_patches.action_timeout(EndpointConfig("http://x")) == rasa_patches.DEFAULT_ACTION_TIMEOUT
    assert rasa_patches.action_timeout(EndpointConfig("http://x", timeout="2.5")) == 2.5
    for bad in (0, -1, "soon", float("inf"), float("nan"), [5]):
        with pytest.raises(ValueError, match="action_endpoint timeout must be a positive number"):
            rasa_patches.action_timeout(EndpointConfig("http://x", timeout=bad))


def test_a_bad_action_timeout_stops_the_server_at_start_with_the_file_named(tmp_path, capsys, monkeypatch):
    from bot import server

    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("action_endpoint:\n  url: http://127.0.0.1:1/webhook\n  timeout: never\n")
    monkeypatch.setenv("SUPPORTBOT_API_TOKEN", "a-token-of-sixteen-or-more")
    assert server.main(["--endpoints", str(endpoints)]) == 2
    assert f"{endpoints}: action_endpoint timeout must be a positive number of seconds" in capsys.readouterr().err
