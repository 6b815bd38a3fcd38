"""Training remembers YAML work by content: the same verdicts and data as Rasa's, done once."""

import pytest
import rasa.shared.utils.io
import rasa.shared.utils.validation
from rasa.shared.constants import DOMAIN_SCHEMA_FILE
from rasa.shared.exceptions import YamlException

from bot.training import _remember_parsing, _remember_validation

GOOD_DOMAIN = 'version: "3.1"\nintents:\n  - greet\nresponses:\n  utter_hi:\n    - text: hi\n'
BAD_DOMAIN = 'version: "3.1"\nintents: 5\n'


def counting(function):
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return function(*args, **kwargs)

    return counted, calls


def test_a_text_that_passed_is_not_checked_again_and_a_changed_text_is():
    validate, calls = counting(rasa.shared.utils.validation.validate_yaml_schema)
    remembered = _remember_validation(validate)
    remembered(GOOD_DOMAIN, DOMAIN_SCHEMA_FILE)
    remembered(GOOD_DOMAIN, DOMAIN_SCHEMA_FILE)
    assert len(calls) == 1
    remembered(GOOD_DOMAIN + "  utter_bye:\n    - text: bye\n", DOMAIN_SCHEMA_FILE)
    assert len(calls) == 2


def test_a_text_that_fails_fails_every_time_with_rasas_error():
    validate, calls = counting(rasa.shared.utils.validation.validate_yaml_schema)
    remembered = _remember_validation(validate)
    for _ in range(2):
        with pytest.raises(YamlException):
            remembered(BAD_DOMAIN, DOMAIN_SCHEMA_FILE)
    assert len(calls) == 2


def test_each_reader_gets_its_own_copy_of_what_was_parsed():
    read, calls = counting(rasa.shared.utils.io.read_yaml)
    remembered = _remember_parsing(read)
    first = remembered(GOOD_DOMAIN)
    first["responses"]["utter_hi"][0]["text"] = "changed by a caller"
    second = remembered(GOOD_DOMAIN)
    assert second == rasa.shared.utils.io.read_yaml(GOOD_DOMAIN)
    assert second["responses"]["utter_hi"][0]["text"] == "hi"
    assert len(calls) == 1
    remembered(GOOD_DOMAIN, ["safe", "rt"])  # another reader type is another parse
    assert len(calls) == 2
