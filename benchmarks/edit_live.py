"""How long an editor's change to `faq/` takes to reach customers of a running server (issue 3: ≤ 2 s).

Two edits, each made `rounds` times in the server's own copy of `faq/` and undone after:
- an answer: a sentence added to support.hours' English answer, live when the REST webhook's
  reply to a support-hours question carries it;
- a new way to ask: "can i talk to <a new word> please" added to support.hours, live when
  `/model/parse` answers it with support.hours. Its words are those of asking for a person, so the
  label model has to be refitted before it wins (bot/matching/label_model.py): the slow case.
The clock starts when the file is written and stops at the first reply that shows the edit.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import requests

ENTRY_FILE = "support.yml"  # holds support.hours, the first entry
QUESTION = "what time does customer service open"
GIVE_UP_SECONDS = 10.0
ROUNDS = 5


def measure(url: str, token: str, faq_dir: Path, rounds: int = ROUNDS) -> dict:
    path = faq_dir / ENTRY_FILE
    original = path.read_text(encoding="utf-8")
    answer_s, question_s = [], []
    try:
        for n in range(rounds):
            marker = f"We also answer on WhatsApp, line {n}."
            edited = original.replace("      en: |\n", f"      en: |\n        {marker}\n", 1)
            answer_s.append(_until(path, edited, lambda marker=marker: marker in _reply_text(url, QUESTION)))
            _restore(path, original)
            phrasing = f"can i talk to zorbix{chr(97 + n)} please"
            first = "    questions:\n      en:\n"  # support.hours' English questions
            edited = original.replace(first, f"{first}        - {phrasing}\n", 1)
            answered = lambda asked=phrasing: _answers(url, token, asked) == "support.hours"  # noqa: E731
            question_s.append(_until(path, edited, answered))
            _restore(path, original)
    finally:
        path.write_text(original, encoding="utf-8")
    return {"answer": _summary(answer_s), "question": _summary(question_s)}


def _until(path: Path, text: str, live: Callable[[], bool]) -> float | None:
    """Seconds from writing `text` to `path` until `live()`; None when it never was within GIVE_UP_SECONDS."""
    path.write_text(text, encoding="utf-8")
    started = time.monotonic()
    while time.monotonic() - started < GIVE_UP_SECONDS:
        if live():
            return time.monotonic() - started
        time.sleep(0.02)
    return None


def _restore(path: Path, original: str) -> None:
    path.write_text(original, encoding="utf-8")
    time.sleep(3.0)  # the restored version is indexed and its model fitted before the next edit


def _reply_text(url: str, text: str) -> str:
    """The bot's reply to `text` as a new customer's first message."""
    sender = f"edit-live-{time.monotonic_ns()}"
    replies = requests.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=10)
    return " ".join(r.get("text") or "" for r in replies.json())


def _answers(url: str, token: str, text: str) -> str | None:
    """The FAQ entry `/model/parse` answers `text` with, None when it would not answer."""
    parsed = requests.post(f"{url}/model/parse", params={"token": token}, json={"text": text}, timeout=10).json()
    if (parsed.get("intent") or {}).get("name") == "nlu_fallback":
        return None
    return (parsed.get("faq") or {}).get("id")


def _summary(seconds: list[float | None]) -> dict:
    live = [s for s in seconds if s is not None]
    return {
        "rounds": len(seconds),
        "never_live": len(seconds) - len(live),
        "median_s": statistics.median(live) if live else None,
        "max_s": max(live) if live else None,
        "all_s": [None if s is None else round(s, 2) for s in seconds],
    }
