"""Turn a customer's message into comparable word forms, per language.

Steps, in order: markup tags dropped, Unicode NFKC, spaCy's blank tokenizer for the language,
a few answering emoji read as words ("👍" -> "ok"), lower case, diacritics folded
("đổi mật khẩu" -> "doi mat khau", the way many customers type Vietnamese anyway), punctuation
dropped, letters repeated three times or more squeezed ("pleeease" -> "please"), chat
abbreviations expanded ("pls" -> "please", "gak" -> "tidak") and lookup lemmas where spaCy has a
table ("returning" -> "return").
Stop words are kept but flagged, so the matcher can weigh them down.

This module knows nothing of the knowledge base: repairing typos against the
knowledge base's own vocabulary is the matcher's job.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import spacy
from spacy.language import Language
from spacy.lookups import load_lookups
from spacy.util import get_lang_class

from bot.matching.abbreviations import ABBREVIATIONS, EMOJI_WORDS

LANGUAGES: tuple[str, ...] = ("en", "ms", "id", "tl", "vi")

# Letters repeated three times or more are squeezed to two ("sooorry" -> "soorry");
# typo repair against the vocabulary finishes the job.
_REPEATS = re.compile(r"(\w)\1{2,}")
_PUNCTUATION_ONLY = re.compile(r"^[\W_]+$")
# Skin tones and the emoji presentation selector: "👍🏽" is "👍".
_EMOJI_MODIFIERS = re.compile("[\U0001F3FB-\U0001F3FF\uFE0F]")
# Markup pasted or typed into the chat ("<img src=x onerror=...>") is not what the customer asks:
# its attribute words must not match FAQ phrasings ("alert" -> notifications).
_MARKUP_TAG = re.compile(r"</?[A-Za-z][^<>]{0,500}>")
# ...nor is a script's or a style's code ("<script>alert(1)</script> open a ticket" was the
# notifications FAQ). The code may not contain "<", so each try stops at the next one: linear time.
_CODE_ELEMENT = re.compile(r"<(?:script|style)\b[^<>]{0,500}>[^<]*</(?:script|style)\s*>", re.IGNORECASE)


def _blank(match: re.Match[str]) -> str:
    return " " * len(match.group())


@dataclass(frozen=True)
class NormalToken:
    """One word of a message: where it stands in the text and its comparable form."""

    text: str  # the word as typed
    start: int  # character offset in the original text
    end: int
    norm: str  # lower-cased, squeezed, abbreviation-expanded, lemmatised (may be several words)
    written: str  # the same before lemmas ("addresses" where norm is "address")
    is_stop: bool  # a stop word of the language, weighed down by the matcher


# Negations are not filler: "I can't pay by card" is not "can I pay by card?". spaCy lists them as stop
# words, which the matcher weighs down.
NEGATIONS = {
    "en": frozenset({"not", "no", "never", "cannot", "nothing"}),
    "ms": frozenset({"tak", "bukan", "belum"}),
    "id": frozenset({"tidak", "tak", "belum", "bukan"}),
    # Tagalog states most problems with "hindi" ("hindi ko natanggap ang refund ko"), and "hindi" alone is
    # "no": weighed up, it pulled those problems to the "no" intent. It stays a stop word.
    "tl": frozenset(),
    "vi": frozenset({"khong", "chua"}),
}
# A yes/no question can end in a negation: Vietnamese "thanh toán bằng thẻ được không?" (can I pay by card?),
# "giao chưa?" (delivered yet?), Malay "boleh batal tak?", Indonesian "bisa dibatalkan gak?", "udah sampai
# belum?", also before a final particle ("... không ạ", "... tak ye"). Anywhere else they negate ("không
# thanh toán được", "tak boleh bayar": cannot pay). Such a question tag is no negation: it is dropped.
QUESTION_TAGS = {
    "ms": frozenset({"tak", "belum"}),
    "id": frozenset({"tidak", "tak", "belum"}),
    "vi": frozenset({"khong", "chua"}),
}
# ...and right after a modal: Malay "boleh tak saya bayar guna FPX?", "ada tak COD?", Indonesian "bisa gak
# bayar pakai kartu?" ask; "tak boleh bayar" (cannot pay) has the negation first.
MODALS_BEFORE_TAG = {
    "ms": frozenset({"boleh", "ada", "nak", "mahu", "perlu"}),
    "id": frozenset({"bisa", "boleh", "ada", "mau", "perlu"}),
    "vi": frozenset(),
}
FINAL_PARTICLES = {
    "ms": frozenset({"ye", "ya", "eh", "ek", "ke", "kan"}),
    "id": frozenset({"ya", "sih", "kah", "dong", "kak", "min", "admin"}),
    "vi": frozenset({"a", "ak", "admin", "vay", "nhi", "nhe", "nha", "ha", "shop", "ban"}),
}


_CLAUSE_END = re.compile(r"[?.!,;\n]")


def _without_question_tags(text: str, tokens: list[NormalToken], language: str) -> list[NormalToken]:
    """`tokens` without the question tag that ends a clause ("... được không ạ? mình mua ...")."""
    kept: list[NormalToken] = []
    clause: list[NormalToken] = []
    for token in tokens:
        if clause and _CLAUSE_END.search(text, clause[-1].start, token.start):  # "ạ?" may be one token
            kept += _without_final_tag(clause, language)
            clause = []
        clause.append(token)
    return kept + _without_final_tag(clause, language)


def _without_final_tag(clause: list[NormalToken], language: str) -> list[NormalToken]:
    tags, modals = QUESTION_TAGS[language], MODALS_BEFORE_TAG[language]
    clause = [t for i, t in enumerate(clause) if not (i > 0 and t.norm in tags and clause[i - 1].norm in modals)]
    end = len(clause)
    while end > 0 and clause[end - 1].norm in FINAL_PARTICLES[language]:
        end -= 1
    if end > 1 and clause[end - 1].norm in tags:
        return [*clause[: end - 1], *clause[end:]]
    return clause


class Normaliser:
    """One language's normaliser; build once (spaCy start-up costs seconds), call often."""

    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"unknown language {language!r}; expected one of {LANGUAGES}")
        self.language = language
        self._nlp: Language = _blank_pipeline(language)
        # Folded like the words they are compared with; Vietnamese compounds ("ai_đó") never match a token.
        self._stop_words: frozenset[str] = frozenset(
            fold_diacritics(w) for w in self._nlp.Defaults.stop_words
        ) - NEGATIONS.get(language, frozenset())
        self._abbreviations = ABBREVIATIONS.get(language, {})
        self._lemmas = _lemma_table(language)
        # Base forms of the lemma table: a dictionary of real words, which typo repair must leave alone.
        self._known_words = frozenset(self._lemmas.values())
        # The word cache is per instance so that a language's forms never mix.
        self._forms = lru_cache(maxsize=65536)(self._word_forms)

    def tokens(self, text: str) -> list[NormalToken]:
        """Words of `text` with their offsets and comparable forms; punctuation dropped."""
        result: list[NormalToken] = []
        # Tags become spaces of the same length, so offsets still point into the original text.
        text = _MARKUP_TAG.sub(_blank, _CODE_ELEMENT.sub(_blank, text))
        for token in self._nlp.tokenizer(text):
            word = meant = token.text
            if _PUNCTUATION_ONLY.match(word):  # emoji are not word characters either
                meant = _emoji_words(word)
                if meant is None:
                    continue
            written, norm = self._forms(meant)
            if not norm:
                continue
            result.append(
                NormalToken(
                    text=word,
                    start=token.idx,
                    end=token.idx + len(word),
                    norm=norm,
                    written=written,
                    is_stop=all(part in self._stop_words for part in norm.split()),
                )
            )
        return _without_question_tags(text, result, self.language) if self.language in QUESTION_TAGS else result

    def norms(self, text: str) -> list[str]:
        """Just the comparable word forms of `text`, in order, split into single words."""
        return [part for token in self.tokens(text) for part in token.norm.split()]

    def is_stop(self, word: str) -> bool:
        return word in self._stop_words

    def is_known_word(self, word: str) -> bool:
        """A real word of the language ("bread"), as opposed to a typo ("retrun"); False where unknown."""
        return word in self._known_words or word in self._lemmas or word in self._stop_words

    def normalise_word(self, word: str) -> str:
        """`word`'s comparable form: lower-cased, squeezed, abbreviation-expanded, lemmatised."""
        return self._forms(word)[1]

    def _word_forms(self, word: str) -> tuple[str, str]:
        """(`word` as written, before lemmas; its comparable form)."""
        parts, whole = self._parts(word)
        written = " ".join(parts)
        return written, written if whole else " ".join(self._lemmas.get(part, part) for part in parts)

    def _parts(self, word: str) -> tuple[list[str], bool]:
        """`word`'s comparable parts before lemmas, and whether the whole word was an abbreviation."""
        word = fold_diacritics(unicodedata.normalize("NFKC", word).lower())
        if word in self._abbreviations:
            return [self._abbreviations[word]], True
        # Keep characters that belong to words; "#12345" -> "12345", "e-mail" -> "e mail".
        word = re.sub(r"[^\w@.']+", " ", word).strip(" .'")
        if not word:
            return [], False
        word = _REPEATS.sub(r"\1\1", word)
        return [self._abbreviations.get(part, part) for part in word.split()], False


def _emoji_words(token: str) -> str | None:
    """What a token of emoji from EMOJI_WORDS says ("👍🏽" -> "ok", "🙏🙏" -> "thank you thank you");
    None for any other token."""
    emoji = _EMOJI_MODIFIERS.sub("", token)
    if not emoji or any(c not in EMOJI_WORDS for c in emoji):
        return None
    return " ".join(EMOJI_WORDS[c] for c in emoji)


def fold_diacritics(text: str) -> str:
    """Letters without their accents and tone marks: "mật khẩu" -> "mat khau", "đơn" -> "don"."""
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def _lemma_table(language: str) -> Mapping[str, str]:
    """spaCy's lookup lemmas for the language, or an empty table where it has none."""
    try:
        return load_lookups(language, ["lemma_lookup"]).get_table("lemma_lookup")
    except ValueError:  # spacy-lookups-data has no table for this language
        return {}


_normalisers: dict[str, Normaliser] = {}
_normalisers_lock = threading.Lock()


def normaliser_for(language: str) -> Normaliser:
    """The process-wide normaliser of a language, built on first use."""
    with _normalisers_lock:
        if language not in _normalisers:
            _normalisers[language] = Normaliser(language)
        return _normalisers[language]


def _blank_pipeline(language: str) -> Language:
    """spaCy's blank pipeline for `language`, without its lists of hyphenated reduplications.

    Malay and Indonesian list ~7,000 and ~13,000 of them ("barang-barang", "bertubi-tubi") as
    tokenizer exceptions, which spaCy turns into special cases one by one: 2–4 s at every start of
    the bot and every `rasa train`. Without them a reduplication is split at the hyphen into its
    words, for the knowledge base's phrasings and the customer's message alike.
    """
    if language == "vi":
        return spacy.blank(language, config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    base = get_lang_class(language)
    exceptions = {
        text: tokens for text, tokens in base.Defaults.tokenizer_exceptions.items() if not _reduplication(text)
    }
    defaults = type(f"Lean{base.Defaults.__name__}", (base.Defaults,), {"tokenizer_exceptions": exceptions})
    lean = type(f"Lean{base.__name__}", (base,), {"Defaults": defaults})
    return lean.from_config({"nlp": {"lang": language}})


def _reduplication(text: str) -> bool:
    """Two halves around one hyphen that repeat each other: "kupu-kupu", "Beresah-resah", "sayur-mayur"."""
    halves = text.lower().split("-")
    if len(halves) != 2 or not all(halves):
        return False
    first, second = halves
    common = SequenceMatcher(None, first, second, autojunk=False).find_longest_match(0, len(first), 0, len(second))
    return common.size >= 3 or first == second
