"""Properties that must hold for any input, checked with hypothesis: the normaliser, the matcher and the
redaction never crash on what customers can type, and keep their promises."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.knowledge.schema import LANGUAGES
from bot.matching.normalise import fold_diacritics, normaliser_for
from bot.security.redaction import Redactor, luhn_valid

REDACT = Redactor(r"^KL-?\d{8}$")
# Any text a browser can send: every Unicode category (control characters, emoji, RTL marks, surrogates out).
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=300)
LANGUAGE = st.sampled_from(LANGUAGES)
QUICK = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@QUICK
@given(TEXT, LANGUAGE)
def test_the_normaliser_takes_any_text(text, language):
    norms = normaliser_for(language).norms(text)
    assert all(isinstance(n, str) and n and n == n.lower() for n in norms)
    assert normaliser_for(language).norms(text) == norms  # the same every time


@QUICK
@given(TEXT)
def test_folding_diacritics_is_idempotent(text):
    assert fold_diacritics(fold_diacritics(text)) == fold_diacritics(text)


@QUICK
@given(text=TEXT, language=LANGUAGE)
def test_the_matcher_gives_probabilities_best_first_for_any_text(matcher, text, language):
    result = matcher.match(text, language)
    scores = [c.score for c in result.ranking]
    assert all(0.0 <= s <= 1.0 for s in scores) and sum(scores) <= 1.0 + 1e-9
    assert scores == sorted(scores, reverse=True)


@QUICK
@given(TEXT)
def test_redaction_is_idempotent_and_never_grows_digits(text):
    once = REDACT(text)
    assert REDACT(once) == once
    assert len(re.sub(r"\D", "", once)) <= len(re.sub(r"\D", "", text))


@QUICK
@given(st.lists(st.integers(0, 9), min_size=15, max_size=15), TEXT, TEXT)
def test_a_card_number_anywhere_is_redacted(digits, before, after):
    number = "".join(map(str, digits))
    check = next(d for d in "0123456789" if luhn_valid(number + d))
    card = number + check
    grouped = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    for written in (card, grouped):
        redacted = REDACT(f"{before} {written} {after}")
        assert written not in redacted


@QUICK
@given(st.from_regex(r"[a-z][a-z0-9._]{0,15}@[a-z]{2,10}\.(com|my|co\.id|ph|vn)", fullmatch=True), TEXT)
def test_an_email_address_anywhere_is_redacted(address, around):
    assert address not in REDACT(f"{around} {address} {around}")
