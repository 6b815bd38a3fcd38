from pathlib import Path

import pytest

from bot.knowledge.loader import KnowledgeBaseError, load_knowledge_base
from tests.conftest import ROOT

FACTS = "version: 1\nfacts:\n  return_window_days: 30\n  support_hours:\n    en: 9 to 6\n"
ENTRY = """\
version: 1
entries:
  - id: returns.policy
    title: {en: Return policy}
    questions:
      en: [a, b, c, d, e, f, g, h]
    answer:
      en: Return within {return_window_days} days.
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def problems(folder: Path) -> list[str]:
    with pytest.raises(KnowledgeBaseError) as caught:
        load_knowledge_base(folder)
    return [str(p) for p in caught.value.problems if p.severity == "error"]


def test_the_repository_knowledge_base_loads_with_all_26_topics(knowledge):
    assert len(knowledge.entries) == 26
    assert "returns.policy" in knowledge.entries


def test_answers_have_facts_filled_in(tmp_path):
    kb = load_knowledge_base(write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY})).knowledge
    assert kb.answer("returns.policy", "en") == "Return within 30 days."
    assert kb.answer("returns.policy", "ms") == "Return within 30 days."  # English until translated


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY.replace("title: {en: Return policy}", "title: [oops")})
    (message,) = problems(tmp_path)
    assert "returns.yml:" in message and "not valid YAML" in message


def test_misspelt_key_is_reported_with_a_suggestion(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY.replace("questions:", "questons:")})
    found = problems(tmp_path)
    assert any("returns.yml:5" in p and "unknown key 'questons' (did you mean 'questions'?)" in p for p in found)


def test_duplicate_ids_across_files(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "a.yml": ENTRY, "b.yml": ENTRY.replace("[a, b", "[x, y")})
    assert any("duplicate id 'returns.policy', first defined at" in p and "a.yml:3" in p for p in problems(tmp_path))


def test_dead_fact_reference(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY.replace("{return_window_days}", "{return_window}")})
    (message,) = problems(tmp_path)
    assert "{return_window}" in message and "did you mean {return_window_days}?" in message


def test_same_question_in_two_entries(tmp_path):
    other = ENTRY.replace("returns.policy", "returns.how_to").replace("[a, b", "[a, z")
    write(tmp_path, {"facts.yml": FACTS, "a.yml": ENTRY, "b.yml": other})
    assert any("'a' is also a question of returns.policy" in p for p in problems(tmp_path))


def test_few_phrasings_is_a_warning_not_an_error(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY.replace("[a, b, c, d, e, f, g, h]", "[a, b]")})
    result = load_knowledge_base(tmp_path)
    assert all(w.severity == "warning" for w in result.warnings)
    assert any("only 2 en questions" in str(w) for w in result.warnings)


def test_a_missing_translation_is_a_warning_and_falls_back_to_english(tmp_path):
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY})
    result = load_knowledge_base(tmp_path)
    missing = sorted(str(w) for w in result.warnings if "translation" in str(w))
    assert len(missing) == 2
    assert "facts.yml:4" in missing[0] and "'support_hours': no complete ms, id, tl, vi translation" in missing[0]
    assert "returns.policy: no complete ms, id, tl, vi translation" in missing[1]
    entry_id = next(iter(result.knowledge.entries))
    assert result.knowledge.answer(entry_id, "vi") == result.knowledge.answer(entry_id, "en")


def test_the_repository_knowledge_base_is_translated_into_every_language():
    assert load_knowledge_base(ROOT / "faq").warnings == []


def test_not_utf8_and_empty_files(tmp_path):
    (tmp_path / "bad.yml").write_bytes(b"\xff\xfe\x00bad")
    (tmp_path / "empty.yml").write_text("")
    found = problems(tmp_path)
    assert any("bad.yml" in p and "not UTF-8" in p for p in found)
    assert any("empty.yml" in p and "empty" in p for p in found)


def test_missing_english_answer(tmp_path):
    write(
        tmp_path,
        {"facts.yml": FACTS, "returns.yml": ENTRY.replace("      en: Return within", "      ms: Pulangkan dalam")},
    )
    assert any("'answer' needs an 'en' text" in p for p in problems(tmp_path))


SYNONYMS = "version: 1\nsynonyms:\n  en:\n    order: [parcel, package]\n    refund: [money back]\n"


def test_synonyms_are_loaded_per_language(tmp_path):
    kb = load_knowledge_base(
        write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY, "synonyms.yml": SYNONYMS})
    ).knowledge
    assert kb.synonyms["en"]["order"] == ("parcel", "package")


def test_a_word_in_two_synonym_groups_is_an_error(tmp_path):
    clash = SYNONYMS + "    delivery: [parcel]\n"
    write(tmp_path, {"facts.yml": FACTS, "returns.yml": ENTRY, "synonyms.yml": clash})
    assert any("'parcel' is in the en synonyms of both 'order' and 'delivery'" in p for p in problems(tmp_path))
