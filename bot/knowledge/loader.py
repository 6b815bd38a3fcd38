"""Read and validate the `faq/` folder into a `KnowledgeBase`.

One implementation for the bot's start, its hot reload, `supportbot faq lint`
and the benchmarks: a file that fails here fails everywhere, with the file,
the line and the reason.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rapidfuzz import process
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.knowledge.schema import (
    DEFAULT_LANGUAGE,
    FACT_REFERENCE,
    LANGUAGES,
    SCHEMA_VERSION,
    FactValue,
    FaqEntry,
    KnowledgeBase,
    Location,
)

ENTRY_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
ENTRY_KEYS = ("id", "title", "questions", "answer", "tags", "handoff", "updated")
REQUIRED_ENTRY_KEYS = ("id", "title", "questions", "answer")
MIN_QUESTIONS = 8  # fewer phrasings than this and customers' wordings are missed
MAX_ANSWER_CHARS = 1000  # longer than this and customers stop reading
# What `supportbot faq new` writes where the editor still has to: an error, so no customer ever reads it.
TODO_MARKER = "TODO"
_TODO = re.compile(rf"\b{TODO_MARKER}\b")


@dataclass(frozen=True)
class Problem:
    """Something wrong in the knowledge base, where it is and how bad."""

    location: Location
    message: str
    severity: str = "error"  # "error" stops the load; "warning" is reported only
    # Which check found it, for machines and for editors who want to know the rule (faq/README.md):
    # yaml, schema, duplicate-id, duplicate-question, dead-fact, synonyms, todo, few-questions,
    # missing-translation, long-answer; `faq lint` adds confusable-questions and response-translation.
    rule: str = "schema"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.message} [{self.rule}]"


class KnowledgeBaseError(Exception):
    """The knowledge base cannot be loaded; `problems` says every reason found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("; ".join(str(p) for p in errors[:5]) + (" …" if len(errors) > 5 else ""))


@dataclass(frozen=True)
class LoadResult:
    knowledge: KnowledgeBase
    warnings: list[Problem]


@dataclass(frozen=True)
class Validation:
    """Every problem found, and the entries that could be read despite them.

    The bot only ever uses `knowledge` when there are no errors (`load_knowledge_base`);
    the editors' tools also read it to name existing ids or show an entry while others are broken.
    """

    knowledge: KnowledgeBase
    problems: list[Problem]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]


def faq_files(folder: Path) -> list[Path]:
    """The YAML files that make up the knowledge base, in a stable order."""
    return sorted(p for p in folder.glob("*.yml") if not p.name.startswith("."))


def load_knowledge_base(folder: str | Path) -> LoadResult:
    """Load and validate every file; raise `KnowledgeBaseError` if any has an error."""
    validation = validate_knowledge_base(folder)
    if validation.errors:
        raise KnowledgeBaseError(validation.problems)
    return LoadResult(validation.knowledge, validation.warnings)


def validate_knowledge_base(folder: str | Path) -> Validation:
    """Read and check every file, never raising: the one validation behind the bot's load and `faq lint`."""
    folder = Path(folder)
    files = faq_files(folder)
    problems: list[Problem] = []
    if not files:
        problems.append(Problem(Location(str(folder), 0), "no .yml files in the FAQ folder"))
    digest = hashlib.sha256()
    entries: dict[str, FaqEntry] = {}
    facts: dict[str, tuple[FactValue, Location]] = {}
    synonyms: dict[str, dict[str, tuple[str, ...]]] = {}
    for path in files:
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        parsed, document = _parse_yaml(path, raw, problems)
        if not parsed:
            continue
        for entry in _read_file(path, document, facts, synonyms, problems):
            if entry.id in entries:
                problems.append(
                    Problem(
                        entry.location,
                        f"duplicate id {entry.id!r}, first defined at {entries[entry.id].location}",
                        rule="duplicate-id",
                    )
                )
            else:
                entries[entry.id] = entry
    problems += _check_references(entries.values(), {name: loc for name, (_, loc) in facts.items()})
    problems += _check_duplicate_questions(entries.values())
    if not entries and not any(p.severity == "error" for p in problems):
        problems.append(Problem(Location(str(folder), 0), "the knowledge base has no entries"))
    knowledge = KnowledgeBase(
        entries=entries,
        facts={name: value for name, (value, _) in facts.items()},
        fingerprint=digest.hexdigest()[:16],
        synonyms=synonyms,
    )
    return Validation(knowledge, problems)


def _parse_yaml(path: Path, raw: bytes, problems: list[Problem]) -> tuple[bool, Any]:
    """(parsed?, document); a problem is recorded when the file is not YAML."""
    parsed, document, problem = _parse_yaml_cached(str(path), raw)
    if problem:
        problems.append(problem)
    return parsed, document


# ruamel's line-tracking parser takes about a second for the whole knowledge base; a reload
# re-parses only the files whose bytes changed. Documents are only read, never changed.
@lru_cache(maxsize=256)
def _parse_yaml_cached(path: str, raw: bytes) -> tuple[bool, Any, Problem | None]:
    try:
        return True, YAML(typ="rt").load(raw.decode("utf-8")), None
    except UnicodeDecodeError as error:
        return False, None, Problem(Location(path, 0), f"not UTF-8 text ({error.reason})", rule="yaml")
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        return False, None, Problem(Location(path, line), f"not valid YAML: {reason}", rule="yaml")


def _line(node: Any, key: Any = None) -> int:
    """1-based line of a mapping key or of a node, as ruamel recorded it."""
    try:
        if key is not None:
            return node.lc.key(key)[0] + 1
        return node.lc.line + 1
    except (AttributeError, KeyError, TypeError):
        return 0


def _read_file(
    path: Path,
    document: Any,
    facts: dict[str, tuple[FactValue, Location]],
    synonyms: dict[str, dict[str, tuple[str, ...]]],
    problems: list[Problem],
) -> Iterable[FaqEntry]:
    here = Location(str(path), 1)
    if document is None:
        problems.append(Problem(here, "the file is empty"))
        return []
    if not isinstance(document, Mapping):
        problems.append(Problem(here, "expected a mapping with 'version' and 'entries', 'facts' or 'synonyms'"))
        return []
    if document.get("version") != SCHEMA_VERSION:
        problems.append(
            Problem(Location(str(path), _line(document, "version") or 1), f"'version: {SCHEMA_VERSION}' is required")
        )
    unknown = set(document) - {"version", "entries", "facts", "synonyms"}
    for key in sorted(map(str, unknown)):
        problems.append(
            Problem(Location(str(path), _line(document, key)), _unknown_key(key, ("entries", "facts", "synonyms")))
        )
    if "facts" in document:
        _read_facts(path, document["facts"], facts, problems)
    if "synonyms" in document:
        _read_synonyms(path, document["synonyms"], synonyms, problems)
    raw_entries = document.get("entries", [])
    if raw_entries is None or not isinstance(raw_entries, list):
        problems.append(Problem(Location(str(path), _line(document, "entries")), "'entries' must be a list"))
        return []
    return [e for e in (_read_entry(path, raw, problems) for raw in raw_entries) if e is not None]


def _read_facts(path: Path, raw: Any, facts: dict[str, tuple[FactValue, Location]], problems: list[Problem]) -> None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(Location(str(path), 1), "'facts' must be a mapping of name to value"))
        return
    for name, value in raw.items():
        where = Location(str(path), _line(raw, name))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
            problems.append(Problem(where, f"fact name {name!r} must be snake_case"))
            continue
        if name in facts:
            problems.append(Problem(where, f"fact {name!r} defined twice, first at {facts[name][1]}"))
            continue
        if isinstance(value, Mapping):
            bad = [k for k in value if k not in LANGUAGES]
            if bad or DEFAULT_LANGUAGE not in value:
                problems.append(
                    Problem(
                        where,
                        f"fact {name!r}: per-language values need '{DEFAULT_LANGUAGE}' and "
                        f"only codes from {', '.join(LANGUAGES)}",
                    )
                )
                continue
            facts[name] = ({str(k): str(v) for k, v in value.items()}, where)
            problems += _missing_translations(where, f"fact {name!r}", value)
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            facts[name] = (str(value), where)
        else:
            problems.append(Problem(where, f"fact {name!r} must be text, a number or a mapping per language"))


def _read_synonyms(
    path: Path, raw: Any, synonyms: dict[str, dict[str, tuple[str, ...]]], problems: list[Problem]
) -> None:
    """`synonyms: {language: {canonical: [variant, …]}}`; a word may belong to one group only."""
    if not isinstance(raw, Mapping):
        problems.append(Problem(Location(str(path), 1), "'synonyms' must be a mapping of language to groups"))
        return
    for language, groups in raw.items():
        where = Location(str(path), _line(raw, language))
        if language not in LANGUAGES:
            problems.append(Problem(where, f"unknown language {language!r} in 'synonyms'"))
            continue
        if not isinstance(groups, Mapping):
            problems.append(Problem(where, f"synonyms of {language!r} must map a word to a list of variants"))
            continue
        owner: dict[str, str] = {
            w.lower(): canonical for canonical, variants in synonyms.get(language, {}).items() for w in variants
        }
        for canonical, variants in groups.items():
            here = Location(str(path), _line(groups, canonical))
            if not isinstance(variants, list) or not all(isinstance(v, str) and v.strip() for v in variants):
                problems.append(Problem(here, f"synonyms of {canonical!r} must be a list of words"))
                continue
            for word in [str(canonical), *variants]:
                first = owner.setdefault(word.lower(), str(canonical))
                if first != canonical:
                    problems.append(
                        Problem(
                            here,
                            f"{word!r} is in the {language} synonyms of both {first!r} and "
                            f"{canonical!r}; a word can mean one thing only",
                            rule="synonyms",
                        )
                    )
            synonyms.setdefault(str(language), {})[str(canonical)] = tuple(v.strip() for v in variants)


def _read_entry(path: Path, raw: Any, problems: list[Problem]) -> FaqEntry | None:
    where = Location(str(path), _line(raw))
    if not isinstance(raw, Mapping):
        problems.append(Problem(where, "each entry must be a mapping with id, title, questions and answer"))
        return None
    before = len(problems)
    for key in map(str, raw):
        if key not in ENTRY_KEYS:
            problems.append(Problem(Location(str(path), _line(raw, key)), _unknown_key(key, ENTRY_KEYS)))
    for key in REQUIRED_ENTRY_KEYS:
        if key not in raw:
            problems.append(Problem(where, f"entry {raw.get('id', '?')!r} has no '{key}'"))
    if len(problems) > before:
        return None
    entry_id = str(raw["id"])
    if not ENTRY_ID.match(entry_id):
        problems.append(Problem(where, f"id {entry_id!r} must look like 'topic.name' (lower case, dots)"))
    title = _per_language_text(path, raw, "title", entry_id, problems)
    answer = _per_language_text(path, raw, "answer", entry_id, problems)
    questions = _per_language_questions(path, raw, entry_id, problems)
    tags = raw.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        problems.append(Problem(Location(str(path), _line(raw, "tags")), f"{entry_id}: 'tags' must be a list of words"))
        tags = []
    handoff = raw.get("handoff", False)
    if not isinstance(handoff, bool):
        problems.append(
            Problem(Location(str(path), _line(raw, "handoff")), f"{entry_id}: 'handoff' must be true or false")
        )
    updated = raw.get("updated")
    if updated is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(updated)):
        problems.append(
            Problem(Location(str(path), _line(raw, "updated")), f"{entry_id}: 'updated' must be a date YYYY-MM-DD")
        )
    if len(problems) > before:
        return None
    answer_lines = {language: _line(raw["answer"], language) or _line(raw, "answer") for language in answer}
    question_lines = {
        language: tuple(_item_line(raw["questions"][language], i) or _line(raw, "questions") for i in range(len(texts)))
        for language, texts in questions.items()
    }
    for language, text in answer.items():
        if len(text) > MAX_ANSWER_CHARS:
            problems.append(
                Problem(
                    Location(str(path), answer_lines[language]),
                    f"{entry_id}: the {language} answer has {len(text)} characters; "
                    f"customers stop reading after about {MAX_ANSWER_CHARS}",
                    "warning",
                    rule="long-answer",
                )
            )
    problems += _todo_markers(path, raw, entry_id, title, answer, answer_lines, questions, question_lines)
    problems += _missing_translations(Location(str(path), _line(raw, "id")), entry_id, title, questions, answer)
    for language, phrasings in questions.items():
        if len(phrasings) < MIN_QUESTIONS:
            problems.append(
                Problem(
                    Location(str(path), _line(raw["questions"], language) or _line(raw, "questions")),
                    f"{entry_id}: only {len(phrasings)} {language} questions; "
                    f"at least {MIN_QUESTIONS} catch customers' own wordings",
                    "warning",
                    rule="few-questions",
                )
            )
    return FaqEntry(
        id=entry_id,
        title=title,
        questions=questions,
        answer=answer,
        tags=tuple(tags),
        handoff=bool(handoff),
        updated=str(updated) if updated is not None else None,
        location=where,
        answer_lines=answer_lines,
        question_lines=question_lines,
    )


def _item_line(sequence: Any, index: int) -> int:
    """1-based line of a list item, as ruamel recorded it."""
    try:
        return sequence.lc.item(index)[0] + 1
    except (AttributeError, KeyError, IndexError, TypeError):
        return 0


def _todo_markers(
    path: Path,
    raw: Any,
    entry_id: str,
    title: Mapping[str, str],
    answer: Mapping[str, str],
    answer_lines: Mapping[str, int],
    questions: Mapping[str, tuple[str, ...]],
    question_lines: Mapping[str, tuple[int, ...]],
) -> list[Problem]:
    """Texts `supportbot faq new` left to write: customers must never read or match a TODO."""
    found = [(f"{language} title", _line(raw["title"], language)) for language, t in title.items() if _TODO.search(t)]
    found += [(f"{language} answer", answer_lines[language]) for language, t in answer.items() if _TODO.search(t)]
    found += [
        (f"{language} question", question_lines[language][i])
        for language, texts in questions.items()
        for i, text in enumerate(texts)
        if _TODO.search(text)
    ]
    return [
        Problem(
            Location(str(path), line or _line(raw, "id")),
            f"{entry_id}: the {what} still says {TODO_MARKER}; write it, or delete the line "
            "(a language without its own text is answered in English)",
            rule="todo",
        )
        for what, line in found
    ]


def _missing_translations(where: Location, entry_id: str, *texts_per_language: Mapping[str, Any]) -> list[Problem]:
    """A warning per language with no title, questions or answer: its customers get English."""
    missing = [lang for lang in LANGUAGES if not all(texts.get(lang) for texts in texts_per_language)]
    if not missing:
        return []
    return [
        Problem(
            where,
            f"{entry_id}: no complete {', '.join(missing)} translation (title, questions and answer); "
            "those customers get the English answer",
            "warning",
            rule="missing-translation",
        )
    ]


def _per_language_text(path: Path, raw: Any, key: str, entry_id: str, problems: list[Problem]) -> dict[str, str]:
    value = raw[key]
    where = Location(str(path), _line(raw, key))
    if not isinstance(value, Mapping):
        problems.append(Problem(where, f"{entry_id}: '{key}' must be a mapping of language to text"))
        return {}
    result: dict[str, str] = {}
    for language, text in value.items():
        if language not in LANGUAGES:
            problems.append(
                Problem(
                    where, f"{entry_id}: unknown language {language!r} in '{key}'; use one of {', '.join(LANGUAGES)}"
                )
            )
        elif not isinstance(text, str) or not text.strip():
            problems.append(Problem(where, f"{entry_id}: the {language} '{key}' must be non-empty text"))
        else:
            result[str(language)] = text.strip()
    if DEFAULT_LANGUAGE not in value:
        problems.append(
            Problem(where, f"{entry_id}: '{key}' needs an '{DEFAULT_LANGUAGE}' text, the fallback language")
        )
    return result


def _per_language_questions(path: Path, raw: Any, entry_id: str, problems: list[Problem]) -> dict[str, tuple[str, ...]]:
    value = raw["questions"]
    where = Location(str(path), _line(raw, "questions"))
    if not isinstance(value, Mapping):
        problems.append(Problem(where, f"{entry_id}: 'questions' must be a mapping of language to a list"))
        return {}
    result: dict[str, tuple[str, ...]] = {}
    for language, phrasings in value.items():
        if language not in LANGUAGES:
            problems.append(Problem(where, f"{entry_id}: unknown language {language!r} in 'questions'"))
        elif (
            not isinstance(phrasings, list)
            or not phrasings
            or not all(isinstance(q, str) and q.strip() for q in phrasings)
        ):
            problems.append(Problem(where, f"{entry_id}: the {language} questions must be a non-empty list of text"))
        else:
            result[str(language)] = tuple(q.strip() for q in phrasings)
    if DEFAULT_LANGUAGE not in value:
        problems.append(Problem(where, f"{entry_id}: 'questions' needs '{DEFAULT_LANGUAGE}' phrasings"))
    return result


def _check_references(entries: Iterable[FaqEntry], facts: Mapping[str, Location]) -> list[Problem]:
    problems = []
    for entry in entries:
        for language, text in entry.answer.items():
            for name in FACT_REFERENCE.findall(text):
                if name not in facts:
                    hint = process.extractOne(name, list(facts), score_cutoff=70)
                    suggestion = f" (did you mean {{{hint[0]}}}?)" if hint else ""
                    problems.append(
                        Problem(
                            Location(entry.location.file, entry.answer_lines.get(language) or entry.location.line),
                            f"{entry.id}: the {language} answer refers to "
                            f"{{{name}}}, which is not a fact in facts.yml{suggestion}",
                            rule="dead-fact",
                        )
                    )
    return problems


def question_key(question: str) -> str:
    """What makes two questions the same one: case and spacing do not count."""
    return " ".join(question.lower().split())


def _check_duplicate_questions(entries: Iterable[FaqEntry]) -> list[Problem]:
    """The same phrasing under two entries makes the bot guess between them."""
    seen: dict[tuple[str, str], str] = {}
    problems = []
    for entry in entries:
        for language, phrasings in entry.questions.items():
            for question, line in zip(phrasings, entry.lines_of(language), strict=True):
                key = (language, question_key(question))
                owner = seen.setdefault(key, entry.id)
                if owner != entry.id:
                    problems.append(
                        Problem(
                            Location(entry.location.file, line),
                            f"{entry.id}: the {language} question {question!r} is also a question of {owner}",
                            rule="duplicate-question",
                        )
                    )
    return problems


def _unknown_key(key: str, allowed: Iterable[str]) -> str:
    hint = process.extractOne(key, list(allowed), score_cutoff=60)
    return f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
