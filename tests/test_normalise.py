import pytest

from bot.matching.normalise import Normaliser, _reduplication, normaliser_for


def test_lower_cases_drops_punctuation_and_lemmatises():
    assert normaliser_for("en").norms("Returning ITEMS?!") == ["return", "item"]


def test_squeezes_letters_repeated_three_times_or_more():
    assert normaliser_for("en").norms("pleeeease helppppp") == ["pleease", "helpp"]


def test_expands_chat_abbreviations():
    assert normaliser_for("en").norms("pls help w my acc") == ["please", "help", "w", "my", "account"]
    assert normaliser_for("en").norms("wer is my pkg") == ["where", "be", "my", "package"]  # "is": lemma "be"


def test_unicode_is_nfkc_normalised():
    # Full-width letters and the "ﬁ" ligature are ordinary letters after NFKC.
    assert normaliser_for("en").norms("ＲＥＦＵＮＤ ﬁnd") == ["refund", "find"]


def test_tokens_keep_the_customers_text_and_offsets():
    text = "Where's my order #KL20481234?"
    tokens = normaliser_for("en").tokens(text)
    assert [text[t.start : t.end] for t in tokens] == [t.text for t in tokens]
    assert tokens[-1].norm == "kl20481234"


def test_markup_tags_are_dropped_and_offsets_still_point_into_the_text():
    text = "<b>where</b> is 5<7 <img src=x onerror=alert(1)>"
    tokens = normaliser_for("en").tokens(text)
    assert [t.norm for t in tokens] == ["where", "be", "5 7"]  # "5<7" is not a tag
    assert [text[t.start : t.end] for t in tokens] == [t.text for t in tokens]


def test_script_and_style_code_is_dropped():
    text = "<SCRIPT type='x'>alert(1)</script > refund"
    tokens = normaliser_for("en").tokens(text)
    assert [t.norm for t in tokens] == ["refund"]
    assert [text[t.start : t.end] for t in tokens] == ["refund"]
    # Unclosed: only the tags go. Each try stops at the next "<" (a quadratic pattern would hang here).
    assert [t.text for t in normaliser_for("en").tokens("<script>" * 20_000 + "code")] == ["code"]


def test_stop_words_are_flagged():
    tokens = normaliser_for("en").tokens("what is the refund")
    assert [t.is_stop for t in tokens] == [True, True, True, False]


def test_every_language_has_a_normaliser():
    for language in ("en", "ms", "id", "tl", "vi"):
        assert Normaliser(language).norms("Hello") == ["hello"]


def test_a_reduplication_is_its_words_in_malay_and_indonesian():
    """Their tokenizer-exception lists of reduplications are left out (seconds at every start)."""
    for language in ("ms", "id"):
        words = [t.text for t in normaliser_for(language).tokens("barang-barang saya rusak")]
        assert words == ["barang", "barang", "saya", "rusak"], language
    assert _reduplication("kupu-kupu") and _reduplication("Beresah-resah") and _reduplication("sayur-mayur")
    assert not _reduplication("e-mail") and not _reduplication(":-)") and not _reduplication("x-ray")


def test_answering_emoji_are_read_as_words_in_every_language_and_others_are_dropped():
    for language in ("en", "ms", "id", "tl", "vi"):
        normaliser = normaliser_for(language)
        assert normaliser.norms("👍🏽") == normaliser.norms("ok")  # any skin tone
        assert normaliser.norms("🙏🙏") == normaliser.norms("thank you thank you")
        assert normaliser.norms("😀 👀") == []
    token = normaliser_for("en").tokens("great 👍")[1]
    assert (token.text, token.start, token.end) == ("👍", 6, 7)  # the customer's text, with its offsets


def test_negations_are_not_stop_words():
    assert not any(normaliser_for(lang).is_stop(w) for lang, w in [("en", "not"), ("ms", "tak"), ("vi", "khong")])
    assert normaliser_for("en").is_stop("with")


@pytest.mark.parametrize(
    "language, text, words",
    [
        ("vi", "thanh toán bằng thẻ được không ạ?", ["thanh", "toan", "bang", "the", "duoc", "a"]),  # can I pay?
        ("vi", "không thanh toán được", ["khong", "thanh", "toan", "duoc"]),  # cannot pay
        ("vi", "trả lại được ko ạ? mình mua hôm qua", ["tra", "lai", "duoc", "a", "minh", "mua", "hom", "qua"]),
        ("vi", "giao chưa, đợi lâu quá", ["giao", "doi", "lau", "qua"]),
        ("vi", "không", ["khong"]),  # a bare "no" stays
        ("ms", "boleh batal tak?", ["boleh", "batal"]),
        ("ms", "tak boleh batal", ["tak", "boleh", "batal"]),
        ("id", "udah sampai belum ya", ["sudah", "sampai", "ya"]),
        ("id", "bisa bayar pake kartu gak?", ["bisa", "bayar", "pake", "kartu"]),
        ("ms", "boleh tak sy bayar guna fpx", ["boleh", "saya", "bayar", "guna", "fpx"]),  # right after a modal
        ("id", "bisa gak bayar pake kartu", ["bisa", "bayar", "pake", "kartu"]),
        ("id", "gak bisa bayar", ["tidak", "bisa", "bayar"]),  # before it: cannot pay
    ],
)
def test_a_question_tag_at_the_end_of_a_clause_is_no_negation(language, text, words):
    assert normaliser_for(language).norms(text) == words
