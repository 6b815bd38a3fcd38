"""`supportbot faq new`: append a new entry, in every language, for the editor to fill in.

The entry's texts say TODO, which the loader refuses (rule `todo`): an unfinished entry can be
committed to a branch, but never reaches customers. The topic's file keeps its text as it was;
the entry is appended, and the result is checked to parse before anything is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from bot.knowledge.loader import ENTRY_ID, TODO_MARKER, validate_knowledge_base
from bot.knowledge.schema import LANGUAGES, SCHEMA_VERSION

LANGUAGE_NAMES = {"en": "English", "ms": "Malay", "id": "Indonesian", "tl": "Tagalog", "vi": "Vietnamese"}
_FIRST_ENTRY = re.compile(r"^( *)- id:", re.MULTILINE)  # its indentation is the one to append with


class ScaffoldError(Exception):
    """The entry cannot be added; the message says why and what to do instead."""


@dataclass(frozen=True)
class Scaffolded:
    file: Path
    line: int  # 1-based line of the new entry's `- id:`
    created_file: bool


def entry_template(entry_id: str, today: date, indent: int = 2) -> str:
    """The new entry as YAML, a list item at `indent` spaces; every text the editor must write says TODO."""
    topic = entry_id.split(".")[0]
    lines = [f"- id: {entry_id}", '  title:  # short; shown on the "did you mean" buttons']
    lines += [f'    {lang}: "{TODO_MARKER}: title in {LANGUAGE_NAMES[lang]}"' for lang in LANGUAGES]
    lines.append("  questions:  # how customers ask, in their own words, typos and all: 8 or more per language")
    for lang in LANGUAGES:
        lines += [f"    {lang}:", f'      - "{TODO_MARKER}: a question in {LANGUAGE_NAMES[lang]}"']
    lines.append('  answer:  # **bold**, "- " lists, https links, {fact} names from facts.yml')
    for lang in LANGUAGES:
        lines += [f"    {lang}: |", f"      {TODO_MARKER}: the answer in {LANGUAGE_NAMES[lang]}"]
    lines += [f"  tags: [{topic}]  # the first is the category", f"  updated: {today.isoformat()}"]
    return "".join(" " * indent + line + "\n" for line in lines)


def add_entry(
    folder: str | Path, entry_id: str, file: str | Path | None = None, today: date | None = None
) -> Scaffolded:
    """Append a TODO entry `entry_id` to `file` (default: the topic's file, `<folder>/<topic>.yml`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ScaffoldError(f"no FAQ folder {folder} (run from the project folder or pass --faq)")
    if not ENTRY_ID.match(entry_id):
        raise ScaffoldError(
            f"{entry_id!r} is not a valid id: use topic.name, lower case letters, digits and _ (e.g. payments.bitcoin)"
        )
    target = Path(file) if file else folder / f"{entry_id.split('.')[0]}.yml"
    if target.suffix != ".yml" or target.resolve().parent != folder.resolve():
        raise ScaffoldError(f"{target} is not a .yml file directly in {folder}: the bot reads only {folder}/*.yml")
    existing = validate_knowledge_base(folder).knowledge.entries.get(entry_id)
    if existing is not None:
        raise ScaffoldError(f"{entry_id} already exists at {existing.location} (supportbot faq show {entry_id})")
    today = today or date.today()
    if not target.exists():
        text = f"version: {SCHEMA_VERSION}\nentries:\n" + entry_template(entry_id, today)
        _write(target, text)
        return Scaffolded(target, 3, created_file=True)
    before = target.read_text(encoding="utf-8")
    first_entry = _FIRST_ENTRY.search(before)
    separator = "" if before.endswith("\n") or not before else "\n"
    after = before + separator + entry_template(entry_id, today, len(first_entry.group(1)) if first_entry else 2)
    _check_appended(target, before, after, entry_id)
    _write(target, after)
    return Scaffolded(target, before.count("\n") + len(separator) + 1, created_file=False)


def _check_appended(target: Path, before: str, after: str, entry_id: str) -> None:
    """The file with the entry appended still parses, and holds exactly the old document plus the new entry."""
    old = _parse(target, before)
    if not isinstance(old, dict) or not isinstance(old.get("entries"), list):
        raise ScaffoldError(f"{target} has no 'entries:' list to add to; add the entry by hand")
    new = _parse(target, after, appended=True)
    rest = {key: value for key, value in old.items() if key != "entries"}
    intact = (
        isinstance(new, dict)
        and isinstance(new.get("entries"), list)
        and new["entries"][:-1] == old["entries"]
        and isinstance(new["entries"][-1], dict)
        and new["entries"][-1].get("id") == entry_id
        and {key: value for key, value in new.items() if key != "entries"} == rest
    )
    if not intact:
        raise ScaffoldError(
            f"{target}: 'entries:' is not the file's last block, so appending would change other keys; "
            "add the entry by hand"
        )


def _parse(target: Path, text: str, appended: bool = False) -> Any:
    try:
        return YAML(typ="safe", pure=True).load(text)
    except YAMLError:
        if appended:
            raise ScaffoldError(f"{target}: appending would break the file's YAML; add the entry by hand") from None
        raise ScaffoldError(f"{target} is not valid YAML; fix it first (supportbot faq lint)") from None


def _write(target: Path, text: str) -> None:
    """Replace the file in one step: the running bot reloads it and must never read half of it."""
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        # mkstemp's file is private (0600); keep the file's own mode, or the usual 0644 for a new one.
        os.chmod(temporary, target.stat().st_mode & 0o777 if target.exists() else 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
