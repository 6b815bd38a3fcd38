"""The `supportbot` CLI as an editor uses it: real files, real exit codes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from bot.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent


def subcommands(parser):
    for action in parser._actions:
        if hasattr(action, "choices") and isinstance(action.choices, dict):
            for name, sub in action.choices.items():
                yield name, sub
                yield from ((f"{name} {n}", s) for n, s in subcommands(sub))


def test_every_command_has_help():
    for name, parser in subcommands(build_parser()):
        assert parser.description, f"'supportbot {name}' has no description"
        assert parser.format_help().strip()


def test_lint_passes_on_the_repository(capsys):
    assert main(["faq", "lint", "--faq", str(ROOT / "faq")]) == 0
    assert "26 entries OK" in capsys.readouterr().out


def test_lint_reports_a_broken_file_with_line_and_exit_1(tmp_path, capsys):
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    text = (folder / "orders.yml").read_text().replace("    answer:", "    answr:", 1)
    (folder / "orders.yml").write_text(text)
    assert main(["faq", "lint", "--faq", str(folder), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert not report["ok"]
    messages = [p["message"] for p in report["problems"]]
    assert any("unknown key 'answr' (did you mean 'answer'?)" in m for m in messages)
    assert all(p["line"] > 0 for p in report["problems"])


def test_eval_json_reports_accuracy_per_language(tmp_path):
    cases = tmp_path / "cases.yml"
    cases.write_text(
        "cases:\n"
        "  - {text: how long do i have to retrun somethng, lang: en, expect: returns.policy}\n"
        "  - {text: what's the weather like on mars, lang: en, expect: out_of_scope}\n"
    )
    run = subprocess.run(
        [sys.executable, "-m", "bot.cli", "faq", "eval", str(cases), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(run.stdout)
    assert report["by_language"]["en"]["cases"] == 2
    assert report["by_language"]["en"]["accuracy"] == 1.0, report["failures"]


def test_eval_on_a_missing_file_is_one_clear_line(capsys):
    assert main(["faq", "eval", "no-such-file.yml", "--config", str(ROOT / "config.yml")]) == 1
    assert capsys.readouterr().err.strip() == "supportbot: no-such-file.yml: no such file"


def test_lint_reports_a_response_without_a_translation(tmp_path, capsys):
    domain = (ROOT / "domain.yml").read_text()
    start = domain.index("  utter_goodbye:")
    end = domain.index("  utter_you_are_welcome:")
    english_only = domain[:start] + '  utter_goodbye:\n    - text: "Goodbye!"\n' + domain[end:]
    (tmp_path / "domain.yml").write_text(english_only)
    assert main(["faq", "lint", "--faq", str(ROOT / "faq"), "--domain", str(tmp_path / "domain.yml")]) == 0
    out = capsys.readouterr().out
    assert "response 'utter_goodbye' has no ms, id, tl, vi variant" in out
    assert len([line for line in out.splitlines() if line.endswith("[response-translation]")]) == 1


def test_eval_fails_below_the_minimum_accuracy(tmp_path):
    cases = tmp_path / "cases.yml"
    cases.write_text(
        "cases:\n"
        '  - {text: "how do i return an item", lang: en, expect: returns.how_to}\n'
        '  - {text: "how do i return an item", lang: en, expect: orders.cancel}\n'
    )
    assert main(["faq", "eval", str(cases), "--config", str(ROOT / "config.yml"), "--min-accuracy", "0.5"]) == 0
    assert main(["faq", "eval", str(cases), "--config", str(ROOT / "config.yml"), "--min-accuracy", "0.6"]) == 1
