from bot.knowledge.schema import FaqEntry, KnowledgeBase
from bot.matching.matcher import Matcher
from bot.matching.synonyms import SynonymMap


def test_phrases_are_replaced_longest_first():
    synonyms = SynonymMap({"refund": ["money back", "reimbursement"], "order": ["parcel"]}, "en")
    assert synonyms.apply(["where", "my", "money", "back", "for", "parcel"]) == (
        "where",
        "my",
        "refund",
        "for",
        "order",
    )


def test_a_phrasal_verb_is_found_with_its_object_in_between():
    synonyms = SynonymMap({"return": ["send back"], "parcel": ["package"], "ship": ["send"]}, "en")
    assert synonyms.apply("how do i send the package back".split()) == ("how", "do", "i", "return", "the", "parcel")
    assert synonyms.apply("send it back".split()) == ("return", "it")
    # Too far apart, or no particle: the verb is just a verb.
    assert synonyms.apply("send a b c d back".split()) == ("ship", "a", "b", "c", "d", "back")
    assert synonyms.apply("send the package".split()) == ("ship", "the", "parcel")


def test_variants_are_normalised_like_messages():
    synonyms = SynonymMap({"damage": ["cracked", "Broken"]}, "en")
    assert synonyms.apply(["crack", "break"]) == ("damage", "damage")  # "cracked", "Broken" as the normaliser has them


def test_a_synonym_lets_a_message_match_a_phrasing_with_other_words():
    entry = FaqEntry(
        id="returns.damaged_item",
        title={"en": "Damaged item"},
        answer={"en": "Sorry!"},
        questions={"en": ("my item arrived damaged", "the item is damaged")},
    )
    other = FaqEntry(
        id="orders.track",
        title={"en": "Track"},
        answer={"en": "Track it."},
        questions={"en": ("where is my order", "track my order")},
    )
    plain = KnowledgeBase({e.id: e for e in (entry, other)}, {}, "x")
    with_synonyms = KnowledgeBase(plain.entries, {}, "y", synonyms={"en": {"damaged": ("cracked", "dented")}})
    message = "my kettle came dented"
    assert Matcher(with_synonyms, {}).match(message).best.label == "returns.damaged_item"
    assert Matcher(with_synonyms, {}).match(message).best.similarity > Matcher(plain, {}).match(message).best.similarity


def test_typos_of_a_variant_are_repaired_to_it():
    entry = FaqEntry(id="a.b", title={"en": "t"}, answer={"en": "a"}, questions={"en": ("item damaged",)})
    kb = KnowledgeBase({"a.b": entry}, {}, "x", synonyms={"en": {"damaged": ("smash",)}})
    result = Matcher(kb, {}).match("item smassh")
    assert result.repairs == {"smassh": "smash"} and "damage" in result.words
