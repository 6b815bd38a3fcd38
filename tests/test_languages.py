"""Five languages: detection, stickiness, switching, matching across languages, answers in the customer's language."""

from __future__ import annotations

import pytest
import yaml

from bot.evaluation import load_cases
from bot.knowledge.intents import load_intent_examples
from bot.language.detection import LANGUAGES, LanguageDetector
from bot.matching.normalise import normaliser_for
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def detector(knowledge, pipeline_config) -> LanguageDetector:
    return LanguageDetector.for_knowledge(
        knowledge, load_intent_examples(ROOT / "data" / "nlu"), pipeline_config.detector
    )


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("boleh cancel order tak?", "ms"),
        ("sy nak tukar alamat penghantaran, camne?", "ms"),
        ("gimana cara refund, udah gak bisa login", "id"),
        ("kak paket sy blm nyampe nih", "id"),
        ("pano mag-return ng item", "tl"),
        ("pwede po ba i-cancel yung order ko?", "tl"),
        ("lam sao doi mat khau", "vi"),
        ("làm sao đổi mật khẩu", "vi"),
        ("dh cua mk giao chua ad", "vi"),
        ("where is my parcel", "en"),
        ("u guys ship to singapore?", "en"),
    ],
)
def test_detects_mixed_and_abbreviated_messages(detector, text, language):
    assert detector.detect(text).language == language


@pytest.mark.parametrize("text", ["ok", "KL-20481234", "siti@gmail.com", "order 12345", "👍", "yes"])
def test_a_message_without_language_of_its_own_keeps_the_conversations(detector, text):
    for language in ("ms", "id", "tl", "vi"):
        detection = detector.detect(text, previous=language)
        assert detection.language == language and detection.kept


def test_a_confident_change_switches(detector):
    assert detector.detect("how do I return the shoes I bought?", previous="ms").language == "en"
    assert detector.detect("paano ko ma-track yung order ko", previous="en").language == "tl"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("can we speak English?", "en"),
        ("bahasa melayu boleh?", "ms"),
        ("pwede po tagalog?", "tl"),
        ("noi tieng viet dc ko", "vi"),
        ("bisa pakai bahasa indonesia?", "id"),
    ],
)
def test_asking_for_a_language_switches_to_it(detector, text, language):
    detection = detector.detect(text, previous="en" if language != "en" else "ms")
    assert detection.language == language and detection.requested


def test_a_country_is_not_a_language_request(detector):
    assert not detector.detect("do you ship to indonesia?").requested


def test_vietnamese_with_and_without_diacritics_normalise_alike():
    vi = normaliser_for("vi")
    assert vi.norms("Làm sao đổi mật khẩu đc ko?") == vi.norms("lam sao doi mat khau dc ko")


def test_chat_abbreviations_are_expanded_per_language():
    assert normaliser_for("id").norms("gmn klo gak bisa") == ["bagaimana", "klo", "tidak", "bisa"]
    assert normaliser_for("ms").norms("sy x dpt") == ["saya", "tak", "dpt"]
    assert normaliser_for("tl").norms("pano po") == ["paano", "po"]


@pytest.mark.parametrize(
    ("text", "language", "entry"),
    [
        ("boleh cancel order tak?", "ms", "orders.cancel"),
        ("ongkir ke jakarta brp?", "id", "shipping.cost"),
        ("pano mag-return ng item", "tl", "returns.how_to"),
        ("lam sao doi mat khau", "vi", "account.reset_password"),
    ],
)
def test_matches_in_the_detected_language(matcher, detector, text, language, entry):
    detected = detector.detect(text).language
    assert detected == language
    result = matcher.match(text, detected)
    assert result.best.label == entry and result.best.phrasing_language == language


def test_other_languages_are_the_fallback(matcher):
    # An English question in a Malay conversation still finds the entry, through the English phrasings.
    result = matcher.match("how do i reset my password", "ms")
    assert result.best.label == "account.reset_password"
    assert result.best.phrasing_language == "en"


def test_every_entry_is_answered_in_every_language(knowledge):
    for entry_id in knowledge.entries:
        english = knowledge.answer(entry_id, "en")
        for language in ("ms", "id", "tl", "vi"):
            answer = knowledge.answer(entry_id, language)
            assert answer and answer != english and "{" not in answer, (entry_id, language)


@pytest.mark.parametrize("language", ["ms", "id", "tl", "vi"])
def test_held_out_conversations_are_followed_message_by_message(detector, language):
    """Conversations written blind to faq/: short replies, e-mails, order numbers, a switch of language."""
    document = yaml.safe_load((ROOT / "tests" / "data" / f"conversations_{language}.yml").read_text())
    wrong = []
    for conversation in document["conversations"]:
        previous = None
        for message in conversation["messages"]:
            previous = detector.detect(message["text"], previous).language
            if previous != message["lang"]:
                wrong.append((message["text"], message["lang"], previous))
    messages = sum(len(c["messages"]) for c in document["conversations"])
    assert len(wrong) <= 0.05 * messages, wrong


def test_skipping_lingua_never_changes_the_language(detector, monkeypatch):
    """Lingua is skipped when the lexicon's lead is beyond what its confidence could overturn; asking it
    every time must give the same language for every held-out message, after every previous language."""
    held_out = [load_cases(ROOT / "tests" / "data" / f"heldout_{language}.yml") for language in LANGUAGES]
    texts = [case.text for cases in held_out for case in cases]
    with_shortcut = [detector.detect(text, previous).language for text in texts for previous in LANGUAGES]
    decided = [0]
    original = LanguageDetector._decided_without_lingua

    def counting(self, scores):
        decided[0] += original(self, scores)
        return False

    monkeypatch.setattr(LanguageDetector, "_decided_without_lingua", counting)
    always_lingua = [detector.detect(text, previous).language for text in texts for previous in LANGUAGES]
    assert with_shortcut == always_lingua
    assert decided[0] > len(texts)  # the shortcut is taken: most messages have a clear lead
