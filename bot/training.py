"""`supportbot-train`: Rasa's `rasa train`, with each YAML text parsed and schema-checked once.

Rasa 3.6 reads the domain four times while training (the validator, the importer, the
fingerprint, the graph) and checks it against its schema with pykwalify each time: with the
responses in five languages that was most of a training run's time after the imports. The same
text always parses to the same data and passes or fails the same check, so both are remembered
by the text's content: a change to any file is read afresh. Everything else is Rasa's own CLI.
"""

from __future__ import annotations

import copy
import gc
import hashlib
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

import rasa.shared.utils.io
import rasa.shared.utils.validation


def _content_key(text: str, *rest: Any) -> tuple:
    return (hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest(), *map(str, rest))


def _remember_validation(validate: Callable[..., None]) -> Callable[..., None]:
    """A text that passed a schema once passes it again; a failure is raised every time (not remembered)."""
    passed: set[tuple] = set()

    @wraps(validate)
    def validate_once(yaml_file_content: str, schema_path: str, *args: Any, **kwargs: Any) -> None:
        key = _content_key(yaml_file_content, schema_path, args, sorted(kwargs.items()))
        if key in passed:
            return
        validate(yaml_file_content, schema_path, *args, **kwargs)
        passed.add(key)

    return validate_once


def _remember_parsing(read_yaml: Callable[..., Any]) -> Callable[..., Any]:
    """Each text parsed once per reader type; callers get their own copy, since Rasa changes what it reads."""
    parsed: dict[tuple, Any] = {}

    @wraps(read_yaml)
    def read_once(content: str, reader_type: str | list[str] = "safe") -> Any:
        key = _content_key(content, reader_type)
        if key not in parsed:
            parsed[key] = read_yaml(content, reader_type)
        return copy.deepcopy(parsed[key])

    return read_once


def remember_yaml_work() -> None:
    """Patch Rasa's YAML parsing and schema check in this process (training only: a server reads once)."""
    rasa.shared.utils.validation.validate_yaml_schema = _remember_validation(
        rasa.shared.utils.validation.validate_yaml_schema
    )
    rasa.shared.utils.io.read_yaml = _remember_parsing(rasa.shared.utils.io.read_yaml)


def main(argv: Sequence[str] | None = None) -> None:
    """`rasa train` with the arguments given: `supportbot-train --fixed-model-name supportbot --out models`."""
    # Python's cycle collector walks every live object again and again while TensorFlow and Rasa
    # load (2.3 s of a 16 s run, measured); a training run is short, and what it leaves is freed at exit.
    gc.disable()
    from rasa.__main__ import main as rasa_main

    remember_yaml_work()
    sys.argv = ["rasa", "train", *(sys.argv[1:] if argv is None else argv)]
    rasa_main()


if __name__ == "__main__":
    main()
