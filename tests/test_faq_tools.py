"""The content editors' tools (`supportbot faq lint|suggest|new|show`) on real files, a real matcher and a real bot.

Each file in tests/data/lint/ breaks one lint rule; the line the problem must be reported at ends
with "# lint: <rule>".
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.editor.suggest import HANDED_OFF, NOT_HELPFUL, UNANSWERED, CustomerMessage, cluster, inbox_messages, suggest
from bot.editor.tracker_events import TrackedEvent
from bot.knowledge.loader import load_knowledge_base
from bot.knowledge.schema import LANGUAGES
from bot.names import ACTION_ANSWER_FAQ, ACTION_FAQ_FALLBACK, ACTION_OFFER_HUMAN, ACTION_START_HANDOFF
from bot.security.redaction import Redactor
from tests.conftest import ROOT
from tests.servers import MODEL, Browser, RunningBot, start_bot

FIXTURES = ROOT / "tests" / "data" / "lint"
ERRORS = ("yaml", "schema", "duplicate-id", "duplicate-question", "dead-fact", "todo", "synonyms")
WARNINGS = ("few-questions", "missing-translation", "long-answer", "confusable-questions")


def lint(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    domain = str(folder / "no-domain.yml")  # the fixtures are about faq/, not the domain's responses
    code = main(
        ["faq", "lint", "--faq", str(folder), "--json", "--config", str(ROOT / "config.yml"), "--domain", domain]
    )
    return code, json.loads(capsys.readouterr().out)


def marked_lines(path: Path, rule: str) -> list[int]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [number for number, text in enumerate(lines, 1) if text.rstrip().endswith(f"# lint: {rule}")]


@pytest.mark.parametrize("rule", ERRORS + WARNINGS)
def test_lint_reports_each_rule_at_its_file_and_line(rule, tmp_path, capsys):
    shutil.copy(FIXTURES / "facts.yml", tmp_path)
    broken = Path(shutil.copy(FIXTURES / f"{rule}.yml", tmp_path))
    code, report = lint(tmp_path, capsys)
    found = [p for p in report["problems"] if p["rule"] == rule]
    assert [(p["file"], p["line"]) for p in found] == [(str(broken), line) for line in marked_lines(broken, rule)]
    assert {p["severity"] for p in found} == {"error" if rule in ERRORS else "warning"}
    assert code == (1 if rule in ERRORS else 0)
    assert report["ok"] is (rule in WARNINGS)


def test_lint_json_lists_every_problem_with_file_line_severity_rule_and_message(tmp_path, capsys):
    shutil.copy(FIXTURES / "facts.yml", tmp_path)
    shutil.copy(FIXTURES / "dead-fact.yml", tmp_path)
    code, report = lint(tmp_path, capsys)
    assert code == 1
    assert report["ok"] is False and report["entries"] is None
    assert report["errors"] == 1 and report["warnings"] == len(report["problems"]) - 1
    first = report["problems"][0]  # errors come first
    assert first == {
        "file": str(tmp_path / "dead-fact.yml"),
        "line": 9,
        "severity": "error",
        "rule": "dead-fact",
        "message": "returns.policy: the en answer refers to {return_window}, which is not a fact in facts.yml "
        "(did you mean {return_window_days}?)",
    }


def test_lint_text_output_names_file_line_and_rule_and_the_repository_has_no_errors(capsys):
    assert main(["faq", "lint", "--faq", str(ROOT / "faq"), "--config", str(ROOT / "config.yml")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"{ROOT / 'faq'}: 26 entries OK, ")
    confusable = [line for line in out if line.endswith("[confusable-questions]")]
    # The repository's near-misses are warnings with both phrasings, their similarity and where the other one is.
    pattern = (
        r".*/faq/payments\.yml:\d+: warning: payments\.methods: the id question 'bisa bayar pake GrabPay' is "
        r"0\.\d\d similar to 'bayar pake grabpay error' of payments\.failed \(.*/faq/payments\.yml:\d+\)"
    )
    assert any(re.match(pattern, line) for line in confusable), confusable
    # A question and its negation are no near-miss: the matcher weighs the negation ("not", "tak").
    assert not any("can I pay with a debit card" in line for line in confusable), confusable
    assert not any("'boleh bayar guna kad kredit?'" in line for line in confusable), confusable


def test_the_readme_pre_commit_hook_refuses_a_broken_faq_and_lets_a_good_one_through(tmp_path):
    supportbot = ROOT / ".venv" / "bin" / "supportbot"
    if not supportbot.exists():
        pytest.skip("no .venv/bin/supportbot: run `make install`")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    [hook] = re.findall(r"^\s*(printf '#!/bin/sh.*pre-commit)$", readme, re.MULTILINE)
    repo = tmp_path / "shop"
    (repo / "faq").mkdir(parents=True)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    shutil.copy(FIXTURES / "facts.yml", repo / "faq")
    shutil.copy(FIXTURES / "missing-translation.yml", repo / "faq" / "returns.yml")
    git = ["git", "-c", "user.name=Editor", "-c", "user.email=editor@example.com", "-c", "commit.gpgsign=false"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}

    def run(*command: str) -> subprocess.CompletedProcess:
        return subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=120)

    assert run("git", "init", "-q").returncode == 0
    assert run("sh", "-c", hook).returncode == 0
    run("git", "add", "faq")
    committed = run(*git, "commit", "-qm", "a good entry (warnings only)")
    assert committed.returncode == 0, committed.stdout + committed.stderr

    shutil.copy(FIXTURES / "dead-fact.yml", repo / "faq" / "returns.yml")
    run("git", "add", "faq")
    refused = run(*git, "commit", "-qm", "a broken entry")
    assert refused.returncode != 0
    assert "faq/returns.yml:9: error:" in refused.stdout + refused.stderr
    assert "[dead-fact]" in refused.stdout + refused.stderr


# --- faq new / faq show --------------------------------------------------------------------------


@pytest.fixture
def faq_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    return folder


def test_new_appends_an_entry_in_every_language_that_lint_refuses_until_the_todos_are_written(faq_copy, capsys):
    before = (faq_copy / "payments.yml").read_text(encoding="utf-8")
    assert main(["faq", "new", "payments.bitcoin", "--faq", str(faq_copy)]) == 0
    added_at = int(re.search(r"payments\.yml:(\d+): payments\.bitcoin added", capsys.readouterr().out).group(1))
    after = (faq_copy / "payments.yml").read_text(encoding="utf-8")
    assert after.startswith(before)  # the file's own text, comments and layout untouched
    assert after.splitlines()[added_at - 1] == "  - id: payments.bitcoin"

    code, report = lint(faq_copy, capsys)
    assert code == 1
    todos = [p for p in report["problems"] if p["rule"] == "todo"]
    assert len(todos) == 3 * len(LANGUAGES)  # title, question and answer per language
    assert all(p["rule"] == "todo" for p in report["problems"] if p["severity"] == "error")
    lines = after.splitlines()
    # At the TODO itself, or at the `en: |` right above an answer's.
    assert all("TODO" in lines[p["line"] - 1] or "TODO" in lines[p["line"]] for p in todos)

    written = re.sub(r'"TODO: title in (\w+)"', r"Bitcoin (\1)", after)
    written = re.sub(r'"TODO: a question in (\w+)"', r"can I pay with bitcoin in \1", written)
    written = re.sub(r"TODO: the answer in (\w+)", r"We do not accept bitcoin ({support_phone}).", written)
    (faq_copy / "payments.yml").write_text(written, encoding="utf-8")
    code, report = lint(faq_copy, capsys)
    assert code == 0, [p for p in report["problems"] if p["severity"] == "error"]
    assert report["entries"] == 27
    knowledge = load_knowledge_base(faq_copy).knowledge
    assert set(knowledge.entries["payments.bitcoin"].answer) == set(LANGUAGES)
    assert knowledge.entries["payments.bitcoin"].tags == ("payments",)


def test_new_refuses_an_existing_or_malformed_id_and_creates_a_new_topic_file(faq_copy, capsys):
    untouched = {p.name: p.read_bytes() for p in faq_copy.iterdir()}
    assert main(["faq", "new", "returns.policy", "--faq", str(faq_copy)]) == 1
    assert "returns.policy already exists at" in capsys.readouterr().err
    assert main(["faq", "new", "Bitcoin", "--faq", str(faq_copy)]) == 1
    assert "'Bitcoin' is not a valid id: use topic.name" in capsys.readouterr().err
    assert main(["faq", "new", "gifts.cards", "--faq", str(faq_copy), "--file", str(faq_copy / "facts.yml")]) == 1
    assert "has no 'entries:' list" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in faq_copy.iterdir()} == untouched

    assert main(["faq", "new", "gifts.cards", "--faq", str(faq_copy)]) == 0
    assert (
        (faq_copy / "gifts.yml").read_text(encoding="utf-8").startswith("version: 1\nentries:\n  - id: gifts.cards\n")
    )
    capsys.readouterr()
    code, report = lint(faq_copy, capsys)
    assert code == 1 and {p["file"] for p in report["problems"] if p["rule"] == "todo"} == {str(faq_copy / "gifts.yml")}


def test_show_prints_an_entry_as_the_bot_answers_it(capsys):
    knowledge = load_knowledge_base(ROOT / "faq").knowledge
    assert main(["faq", "show", "returns.policy", "--faq", str(ROOT / "faq")]) == 0
    out = capsys.readouterr().out
    entry = knowledge.entries["returns.policy"]
    assert out.startswith(f"returns.policy  ({entry.location})\n")
    assert "title:     Return policy\n" in out
    assert f"tags:      {', '.join(entry.tags)}\n" in out
    assert 'handoff:   no: "was this helpful?" follows\n' in out
    counts = ", ".join(f"{lang} {len(entry.questions[lang])}" for lang in LANGUAGES)
    assert f"questions: {counts}\n" in out
    assert "{return_window_days}" in entry.answer["en"]
    assert "{" not in out.split("answer (en):\n", 1)[1]  # shop facts filled in, as customers read it
    assert knowledge.answer("returns.policy", "en").splitlines()[0] in out

    handoff = next(e for e in knowledge.entries.values() if e.handoff)
    assert main(["faq", "show", handoff.id, "--lang", "vi", "--faq", str(ROOT / "faq")]) == 0
    out = capsys.readouterr().out
    assert "handoff:   yes: a person is offered with the answer\n" in out
    assert f"title:     {handoff.title['vi']}\n" in out and "answer (vi):\n" in out


def test_show_an_unknown_entry_suggests_the_closest_id(capsys):
    assert main(["faq", "show", "returns.polcy", "--faq", str(ROOT / "faq")]) == 1
    assert (
        capsys.readouterr().err.strip() == "supportbot: no FAQ entry 'returns.polcy' (did you mean 'returns.policy'?)"
    )


# --- faq suggest: the conversations' logic on events, then a real bot -----------------------------


class Conversation:
    """Builds a conversation's events as Rasa's SQL tracker store keeps them."""

    def __init__(self, sender: str = "c1") -> None:
        self.sender, self.events = sender, []

    def _add(self, type_name: str, **fields: object) -> Conversation:
        self.events.append(
            TrackedEvent(len(self.events) + 1, self.sender, type_name, 1000.0 + len(self.events), **fields)
        )
        return self

    def user(self, text: str, intent: str, language: str = "en", **metadata: object) -> Conversation:
        data = {"text": text, "parse_data": {"language": language}, "metadata": metadata}
        return self._add("user", intent_name=intent, data=data)

    def action(self, name: str) -> Conversation:
        return self._add("action", action_name=name)._add("action", action_name="action_listen")

    def pause(self) -> Conversation:
        return self._add("pause")

    def resume(self) -> Conversation:
        return self._add("resume")


def reasons(conversation: Conversation) -> dict[str, set[str]]:
    return {m.text: m.reasons for m in inbox_messages([conversation.events])}


def test_unanswered_and_none_of_these_are_collected_but_not_button_payloads_hidden_or_external_messages():
    c = Conversation()
    c.user("/greet", "greet", hidden=True).action("utter_greet")
    c.user("hello there", "greet", hidden=True).action("utter_greet")
    c.user("EXTERNAL: handoff_timeout", "handoff_timeout", is_external=True).action("action_handoff_timed_out")
    c.user("do you sell sofas", "out_of_scope").action(ACTION_FAQ_FALLBACK)
    c.user("kedai fizikal penang", "nlu_fallback", "ms").action(ACTION_FAQ_FALLBACK)
    c.user("refund for voucher", "faq").action(ACTION_FAQ_FALLBACK)  # "did you mean" buttons...
    c.user("/none_of_these", "none_of_these")  # ...and none of them fitted
    c.user("how do i return this", "faq").action(ACTION_ANSWER_FAQ)
    messages = {m.text: m for m in inbox_messages([c.events])}
    assert {text: m.reasons for text, m in messages.items()} == {
        "do you sell sofas": {UNANSWERED},
        "kedai fizikal penang": {UNANSWERED},
        "refund for voucher": {UNANSWERED},
    }
    assert messages["kedai fizikal penang"].language == "ms"


def test_not_helpful_is_a_deny_right_after_an_answer_not_a_declined_offer_of_a_person():
    c = Conversation()
    c.user("how do i track my order", "faq").action(ACTION_ANSWER_FAQ)
    c.user("no", "deny").action("action_record_feedback")
    c.user("my parcel is damaged", "faq").action(ACTION_ANSWER_FAQ).action(ACTION_OFFER_HUMAN)  # handoff: true
    c.user("no", "deny").action("utter_handoff_declined")
    c.user("what's your return policy", "faq").action(ACTION_ANSWER_FAQ)
    c.user("yes", "affirm").action("action_record_feedback")
    assert reasons(c) == {"how do i track my order": {NOT_HELPFUL}}


def test_a_handoff_counts_the_last_few_questions_not_helpful_ones_or_what_was_said_to_the_agent():
    c = Conversation()
    c.user("what's your return policy", "faq").action(ACTION_ANSWER_FAQ)
    c.user("yes", "affirm").action("action_record_feedback")  # helpful: not why they wanted a person
    for n in range(4):
        c.user(f"question {n}", "nlu_fallback").action(ACTION_FAQ_FALLBACK)
    c.user("talk to a person", "human_handoff").action(ACTION_START_HANDOFF).pause()
    c.user("my order is KL-20481234", "nlu_fallback")  # to the agent, while the bot is paused
    c.resume().user("thanks", "thanks").action("utter_you_are_welcome")
    assert reasons(c) == {
        "question 0": {UNANSWERED},
        "question 1": {UNANSWERED, HANDED_OFF},
        "question 2": {UNANSWERED, HANDED_OFF},
        "question 3": {UNANSWERED, HANDED_OFF},
    }


def test_similar_messages_cluster_across_wordings_not_across_topics():
    texts = [
        ("en", "do you accept bitcoin"),
        ("en", "can I pay with bitcoin?"),
        ("en", "bitcoin payment possible"),
        ("en", "do you sell gift cards"),
        ("en", "can i buy a gift card"),
        ("en", "track order"),
        ("en", "cancel my order"),
        ("en", "order"),
        ("en", "where is my order [order]"),  # as redacted: "order order", one word twice
    ]
    messages = [
        CustomerMessage("c", i, text, lang, float(i), None, {UNANSWERED}) for i, (lang, text) in enumerate(texts)
    ]
    groups = [sorted(m.text for m in group) for group in cluster(messages)]
    assert groups[0] == sorted(["do you accept bitcoin", "can I pay with bitcoin?", "bitcoin payment possible"])
    assert groups[1] == sorted(["do you sell gift cards", "can i buy a gift card"])
    assert sorted(groups[2:]) == [["cancel my order"], ["order"], ["track order"], ["where is my order [order]"]]


def test_questions_that_share_only_a_word_every_entry_uses_are_not_one_question(matcher):
    texts = [
        "do you accept bitcoin",
        "can I pay with bitcoin?",
        "bitcoin payment possible",
        "which payment options do you have",
        "payment options please",
        "my payment failed",
        "payment failed again",
        "payment didnt go through",  # "payment" and "not": shares only "payment" with the options
    ]
    messages = [CustomerMessage("c", i, text, "en", float(i), None, {UNANSWERED}) for i, text in enumerate(texts)]
    groups = sorted(sorted(m.text for m in group) for group in cluster(messages, word_weight=matcher.index.word_weight))
    assert groups == sorted(
        [
            sorted(texts[:3]),  # "bitcoin", a word no entry uses, is most of what they say
            sorted(texts[3:5]),
            sorted(texts[5:7]),
            [texts[7]],
        ]
    )


@pytest.fixture(scope="module")
def inbox_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """A real bot, its own tracker store, and conversations that leave questions for the inbox."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    running = start_bot(tmp_path_factory.mktemp("inbox"), ROOT / "tests" / "artifacts" / "faq-tools")
    try:
        for n, text in enumerate(
            ["is there a physical store in penang", "is there a physical shop in penang?", "physical store in penang?"]
        ):
            running.say(text, f"penang-en-{n}")
        for n, text in enumerate(
            ["ada kedai fizikal di penang tak", "kedai fizikal penang kat mana", "ada kedai fizikal kat penang?"]
        ):
            running.say(text, f"penang-ms-{n}")
        for n in range(2):
            running.say("how do i track my order", f"not-helpful-{n}")
            running.say("no", f"not-helpful-{n}")
        running.say("how long do i have to return something", "helpful")
        running.say("yes", "helpful")
        running.say("talk to a person", "penang-en-0")
        widget = Browser(running).open()  # the widget's hidden greeting must not count
        widget.say("/greet", metadata={"hidden": True})
        widget.close()
        yield running
    finally:
        running.stop()


def test_suggest_groups_what_a_real_bot_could_not_answer_with_the_nearest_entry(inbox_bot, capsys):
    tracker = f"sqlite:///{inbox_bot.workdir / 'var' / 'tracker.db'}"
    faq = str(inbox_bot.faq)
    config = str(ROOT / "config.yml")
    assert main(["faq", "suggest", "--tracker-db", tracker, "--json", "--faq", faq, "--config", config]) == 0
    report = json.loads(capsys.readouterr().out)
    clusters = report["clusters"]
    assert report["messages"] == 8 and len(clusters) == 3, clusters

    english, malay = sorted(clusters[:2], key=lambda c: list(c["languages"]))  # biggest first
    tracking = clusters[2]
    assert english["count"] == 3 and english["languages"] == {"en": 3}
    assert english["why"] == {"unanswered": 3, "not_helpful": 0, "handed_off": 1}
    assert "is there a physical store in penang" in english["examples"]
    assert malay["count"] == 3 and malay["languages"] == {"ms": 3}
    assert malay["why"] == {"unanswered": 3, "not_helpful": 0, "handed_off": 0}
    for unanswered in (english, malay):
        assert unanswered["nearest"]["id"] in load_knowledge_base(inbox_bot.faq).knowledge.entries
        assert unanswered["nearest"]["score"] < 0.5  # nothing answers it: a new entry, not a phrasing, is missing

    assert tracking["count"] == 2 and tracking["conversations"] == 2 and tracking["languages"] == {"en": 2}
    assert tracking["why"] == {"unanswered": 0, "not_helpful": 2, "handed_off": 0}
    assert tracking["examples"] == ["how do i track my order"]
    assert tracking["nearest"]["id"] == "orders.track" and tracking["nearest"]["score"] > 0.9

    assert main(["faq", "suggest", "--tracker-db", tracker, "--faq", faq, "--config", config, "--limit", "2"]) == 0
    table = capsys.readouterr().out
    assert "- is there a physical store in penang" in table and "unanswered 3, handed off 1" in table
    assert "... and 1 smaller cluster(s)" in table

    assert main(["faq", "suggest", "--tracker-db", tracker, "--since", "2999-01-01", "--json", "--config", config]) == 0
    assert json.loads(capsys.readouterr().out)["clusters"] == []


def test_suggest_without_a_tracker_store_says_so_in_one_line(tmp_path, capsys):
    assert main(["faq", "suggest", "--tracker-db", str(tmp_path / "nothing.db")]) == 1
    expected = f"supportbot: no tracker store at {tmp_path / 'nothing.db'} (set SUPPORTBOT_TRACKER_DB)"
    assert capsys.readouterr().err.strip() == expected
    assert not (tmp_path / "nothing.db").exists()
    sqlite3.connect(tmp_path / "other.db").execute("create table tickets (id integer)").connection.commit()
    assert main(["faq", "suggest", "--tracker-db", f"sqlite:///{tmp_path / 'other.db'}"]) == 1
    assert capsys.readouterr().err.strip().endswith("other.db has no 'events' table")


def test_the_inbox_shows_no_personal_data(matcher):
    c = Conversation()
    c.user("change the email on order KL-20481234 to siti@gmail.com", "nlu_fallback").action(ACTION_FAQ_FALLBACK)
    c.user("change the email on order KL-20489999 to budi@yahoo.co.id", "nlu_fallback").action(ACTION_FAQ_FALLBACK)
    [found] = suggest([c.events], matcher, redact=Redactor(r"^KL-?\d{8}$"))
    assert found.count == 2  # one question once the personal parts are gone
    assert {m.text for m in found.messages} == {"change the email on order [order] to [email]"}


def test_the_suggest_table_keeps_its_columns_apart_when_a_cluster_has_five_languages():
    from bot.editor.suggest import Cluster, CustomerMessage, render_table

    messages = tuple(
        CustomerMessage("c", n, "where is my order", language, 0.0, None, {"unanswered"})
        for n, language in enumerate(["en"] * 41 + ["id"] * 14 + ["ms"] * 13 + ["vi"] * 12 + ["tl"] * 12)
    )
    header, row, _example = render_table([Cluster(messages, None)]).splitlines()
    assert "en 41, id 14, ms 13, vi 12, tl 12  unanswered 92" in row
    assert header.index("why") == row.index("unanswered")
