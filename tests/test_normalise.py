from bot.matching.normalise import Normaliser, normaliser_for


def test_lower_cases_drops_punctuation_and_lemmatises():
    assert normaliser_for("en").norms("Returning ITEMS?!") == ["return", "item"]


def test_squeezes_letters_repeated_three_times_or_more():
    assert normaliser_for("en").norms("pleeeease helppppp") == ["pleease", "helpp"]


def test_expands_chat_abbreviations():
    assert normaliser_for("en").norms("pls help w my acc") == ["please", "help", "w", "my", "account"]


def test_unicode_is_nfkc_normalised():
    # Full-width letters and the "ﬁ" ligature are ordinary letters after NFKC.
    assert normaliser_for("en").norms("ＲＥＦＵＮＤ ﬁnd") == ["refund", "find"]


def test_tokens_keep_the_customers_text_and_offsets():
    text = "Where's my order #KL20481234?"
    tokens = normaliser_for("en").tokens(text)
    assert [text[t.start : t.end] for t in tokens] == [t.text for t in tokens]
    assert tokens[-1].norm == "kl20481234"


def test_stop_words_are_flagged():
    tokens = normaliser_for("en").tokens("what is the refund")
    assert [t.is_stop for t in tokens] == [True, True, True, False]


def test_every_language_has_a_normaliser():
    for language in ("en", "ms", "id", "tl", "vi"):
        assert Normaliser(language).norms("Hello") == ["hello"]
