"""Match a customer's message against the FAQ entries and the conversational intents.

`Matcher.match` returns every decision with its evidence: the normalised
words, the typos it repaired, the words the knowledge base never uses (they
lower every score), and for each label the calibrated score, the raw
similarity and the nearest phrasing. The Rasa component, the CLI and the
benchmarks all call this, so they all see the same scores.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache

from bot.knowledge.schema import DEFAULT_LANGUAGE, KnowledgeBase
from bot.matching.index import Hit, IndexSettings, Phrasing, PhrasingIndex
from bot.matching.normalise import NEGATIONS, NormalToken, normaliser_for
from bot.matching.synonyms import SynonymMap
from bot.names import ENTITY_TICKET_ID, INTENT_INFORM

FAQ_INTENT = "faq"  # the intent every FAQ match is classified as; the entry id says which


@dataclass(frozen=True)
class MatcherSettings:
    """The matcher's knobs; the bot reads them from the classifier's entry in `config.yml`."""

    index: IndexSettings = field(default_factory=IndexSettings)
    # A label's score is its share of a softmax over the closest labels and a "none of them"
    # option: exp(s/T) / (exp(none/T) + sum of exp(s_j/T)), fitted on held-out phrasings
    # (`supportbot faq calibrate`). So a score is the chance that this label is the right one:
    # low when nothing is close, and low when two labels are equally close.
    calibration_temperature: float = 0.05  # T: smaller trusts small differences in similarity more
    calibration_none_similarity: float = 0.2  # the similarity of "none of them"
    suggest_threshold: float = 0.1  # FAQ entries scoring at least this are "did you mean" candidates
    max_candidates: int = 3  # at most this many candidates are offered
    search_limit: int = 8  # labels scored per message
    # Intents that carry only courtesy: "hi, can I cancel my order?" is a question about
    # cancelling, so these never rank above an FAQ entry that is close enough to suggest.
    courtesy_intents: tuple[str, ...] = ("greet", "thanks", "goodbye")
    # ...and when one of them comes out on top, the message without its courtesy words is matched
    # again: an FAQ entry scoring at least this there is what the message asks.
    courtesy_question_min_score: float = 0.5
    # A message of at most this many informative words ("payment", "my account") that occur in
    # several labels' phrasings says little about which one it means: those labels share its
    # score in proportion to how many of their phrasings use all of those words.
    vague_max_words: int = 1
    # ...unless the message says more than those words and that makes one label's phrasing clearly
    # the closest (its similarity this far ahead): "where is my order" is about tracking, not any order.
    vague_margin: float = 0.2
    # A phrasing in another language than the message's counts this much of its similarity:
    # the message's own language is searched first, the others are the fallback (Malay and
    # Indonesian share words; code-switched messages contain English).
    other_language_weight: float = 0.9
    # While a form is running, these intents win a near tie (within this margin of similarity) with
    # the label ahead of them: "cancel" in the middle of the ticket form means "stop the form", not
    # an FAQ. Only when the message is close to one of their phrasings (at least this similar): a
    # description that mentions "stop" among other words is a description.
    form_intents: tuple[str, ...] = ("stop_form",)
    form_intent_margin: float = 0.1
    form_intent_min_similarity: float = 0.5
    # Short answers are told by a whole phrasing: a message whose nearest phrasing of one of these is
    # less similar than this is not that answer. "Ứng dụng không mở được, cứ hiện màn hình trắng" (the app
    # does not open, a white screen) has "không" (no) in it and says something else.
    short_answer_intents: tuple[str, ...] = ()
    short_answer_min_similarity: float = 0.5


@dataclass(frozen=True)
class Candidate:
    """One label's result for a message, with why."""

    label: str  # FAQ id or intent name
    is_faq: bool
    score: float  # calibrated, 0–1: how likely this label is right
    similarity: float  # raw similarity, 0–1, after the other-language weight
    phrasing: str  # the nearest phrasing: what the message looked most like
    phrasing_language: str = "en"  # the language of the phrasings that matched
    # The label model's probability, half of `similarity` with config.yml's model_weight: how strongly the
    # message's words point at this label rather than the others (0 without a model).
    model: float = 0.0

    @property
    def intent(self) -> str:
        return FAQ_INTENT if self.is_faq else self.label


@dataclass(frozen=True)
class MatchResult:
    """Everything the matcher decided about one message."""

    language: str
    words: tuple[str, ...]  # normalised, typo-repaired words that were matched
    repairs: Mapping[str, str]  # typed word -> vocabulary word it was read as
    ranking: tuple[Candidate, ...]  # best first, FAQ entries and intents together
    suggest_threshold: float
    max_candidates: int
    # Words no phrasing uses ("sofas" in "do you sell sofas"): they lower every label's similarity.
    unseen: tuple[str, ...] = ()

    @property
    def best(self) -> Candidate | None:
        return self.ranking[0] if self.ranking else None

    @property
    def faq_candidates(self) -> list[Candidate]:
        """FAQ entries close enough to offer, best first."""
        return [c for c in self.ranking if c.is_faq and c.score >= self.suggest_threshold][: self.max_candidates]

    def faq_object(self) -> dict:
        """The `faq` key of `/model/parse`, as DESIGN.md fixes it."""
        faq = [c for c in self.ranking if c.is_faq]
        candidates = self.faq_candidates
        return {
            "id": candidates[0].label if candidates else None,
            "score": round(faq[0].score, 4) if faq else 0.0,
            "language": self.language,
            "candidates": [{"id": c.label, "score": round(c.score, 4)} for c in candidates],
        }

    def evidence(self) -> dict:
        """Why: the words matched, the typos repaired, the unseen words and each label's nearest phrasing."""
        return {
            "words": list(self.words),
            "repairs": dict(self.repairs),
            "unseen": list(self.unseen),
            "ranking": [
                {
                    "label": c.label,
                    "score": round(c.score, 4),
                    "similarity": round(c.similarity, 4),
                    "model": round(c.model, 4),
                    "phrasing": c.phrasing,
                    "phrasing_language": c.phrasing_language,
                }
                for c in self.ranking
            ],
        }


# language -> intent -> example texts, as `bot.knowledge.intents` reads them
IntentExamples = Mapping[str, Mapping[str, Sequence[str]]]


class Matcher:
    """An index over one knowledge base and one set of intent examples; immutable."""

    def __init__(
        self,
        knowledge: KnowledgeBase,
        intent_examples: IntentExamples,
        settings: MatcherSettings = MatcherSettings(),
        data_patterns: Mapping[str, Sequence[re.Pattern[str]]] | None = None,
        previous: Matcher | None = None,
    ) -> None:
        """`previous`: the matcher this one replaces at a reload. Its label model is carried over until
        `with_fitted_model` fits this one's (bot/matching/label_model.py)."""
        self.knowledge = knowledge
        self.settings = settings
        # The customer's data (order numbers, e-mails, ticket ids) is left out of phrasings and messages:
        # "where is my order KL30001234" asks what "where is my order" asks (the classifier leaves out
        # what Rasa's RegexEntityExtractor found, `match` what these patterns find).
        self._data_patterns = dict(data_patterns or {})
        self._synonyms = {language: SynonymMap(groups, language) for language, groups in knowledge.synonyms.items()}
        # An entry's title is one more way to ask it ("Return policy"): the editor's own summary.
        sources = [
            (entry.id, text, language)
            for entry in knowledge.entries.values()
            for language, texts in entry.questions.items()
            for text in (*texts, *([entry.title[language]] if language in entry.title else []))
        ]
        sources += [
            (intent, text, language)
            for language, intents in intent_examples.items()
            for intent, texts in intents.items()
            for text in texts
        ]
        written: dict[str, str] = {}  # the phrasings' words as written -> their lemma, where the two differ
        phrasings = [self._phrasing(label, text, language, written) for label, text, language in sources]
        phrasings = [p for p in phrasings if p.words]  # "[KL55512345](order_number)" is no words at all
        self._faq_ids = frozenset(knowledge.entries)
        extra = frozenset(w for synonyms in self._synonyms.values() for w in synonyms.variant_words)
        self.index = PhrasingIndex(
            phrasings,
            settings.index,
            extra_vocabulary=extra,
            written_forms=written,
            negations=ALL_NEGATIONS,
            carry_over=previous.index.label_model if previous is not None else None,
        )
        # Words of greetings, thanks and goodbyes that no FAQ question uses ("hi", "thanks"): without
        # them, what is left of a message is its question.
        courtesy_words: set[str] = set()
        other_words: set[str] = set()
        for label, phrasing_words in self.index.label_phrasing_words.items():
            if label in settings.courtesy_intents:
                courtesy_words.update(*phrasing_words)
            elif label in self._faq_ids:
                other_words.update(*phrasing_words)
        self._courtesy_only_words = frozenset(courtesy_words - other_words)

    def with_fitted_model(self) -> Matcher:
        """This matcher with its own label model fitted, when it carried one over; else itself."""
        if not self.index.model_carried_over:
            return self
        fitted = copy.copy(self)
        fitted.index = self.index.with_fitted_model()
        return fitted

    def calibrate(self, similarities: Sequence[float]) -> list[float]:
        """Calibrated scores of the labels whose raw similarities are given (see MatcherSettings)."""
        return softmax_with_none(
            similarities, self.settings.calibration_temperature, self.settings.calibration_none_similarity
        )

    def match(self, text: str, language: str = DEFAULT_LANGUAGE) -> MatchResult:
        rest, data = self.without_data(text)
        return self.match_words(normaliser_for(language).norms(rest), language, data=data)

    def without_data(self, text: str) -> tuple[str, frozenset[str]]:
        """`text` without the customer's data, and the entities of the data it had."""
        found = set()
        for entity, patterns in self._data_patterns.items():
            for pattern in patterns:
                text, count = pattern.subn(" ", text)
                if count:
                    found.add(entity)
        return text, frozenset(found)

    def match_words(
        self,
        words: Sequence[str],
        language: str = DEFAULT_LANGUAGE,
        in_form: bool = False,
        data: frozenset[str] = frozenset(),
        yes_or_no_asked: bool = False,
    ) -> MatchResult:
        """Match already-normalised words (the tokenizer component's lemmas) of a message without its data.

        `in_form`: a form is running; `data`: the entities of the data the message had (`DATA_ENTITIES`);
        `yes_or_no_asked`: the bot's last message asked yes or no ("was this helpful?"), so a reply that
        only leans on a "no" word ("it still hasn't moved") is a no.
        "inform" is giving data: without an e-mail, phone or order number, "my email is" asks something."""
        exclude = frozenset() if data - {ENTITY_TICKET_ID} else frozenset({INTENT_INFORM})
        normaliser = normaliser_for(language)
        repaired, repairs = [], {}
        for word in words:
            # A real word the knowledge base does not use ("bread") is not a typo of one it does ("read").
            fixed = word if normaliser.is_known_word(word) else self.index.repair(word)[0]
            repaired.append(fixed)
            if fixed != word:
                repairs[word] = fixed
        if language in self._synonyms:
            repaired = list(self._synonyms[language].apply(repaired))
        ranking = self._ranking(repaired, language, exclude, yes_or_no_asked)
        if ranking and ranking[0].label in self.settings.courtesy_intents:
            ranking = self._question_after_courtesy(repaired, language, ranking[0].label, exclude) or ranking
            ranking = self._courtesy_together(ranking)
        return MatchResult(
            language=language,
            words=tuple(repaired),
            repairs=repairs,
            ranking=self._prefer_form_intents(ranking) if in_form else ranking,
            suggest_threshold=self.settings.suggest_threshold,
            max_candidates=self.settings.max_candidates,
            unseen=self.index.unseen(repaired),
        )

    def _ranking(
        self, words: Sequence[str], language: str, exclude: frozenset[str], yes_or_no_asked: bool = False
    ) -> tuple[Candidate, ...]:
        normaliser = normaliser_for(language)
        stop = [normaliser.is_stop(w) for w in words]
        found = self.index.search(words, 3 * self.settings.search_limit, stop)
        found = [h for h in found if h.label not in exclude and not self._short_answer_by_chance(h, yes_or_no_asked)]
        hits = self._verbatim_first(self._best_per_label(found, language))
        informative = self._informative(words, language)
        vague = informative if len(words) == len(informative) or not self._clearly_closest(hits) else frozenset()
        return self._rank(hits, vague)

    def _question_after_courtesy(
        self, words: Sequence[str], language: str, courtesy: str, exclude: frozenset[str]
    ) -> tuple[Candidate, ...] | None:
        """The ranking of the message without the greeting or thanks it opens or closes with, when that
        is a clear FAQ question.

        The greeting's word makes the question's phrasings less similar and is itself a whole courtesy
        phrasing: "hi can i pay cash on delivery?" was a greeting, "can i pay cash on delivery?" is
        about payment methods. None when the rest is no clear question ("good morning", "hi there").
        """
        # Courtesy opens or closes a message; inside it is part of the question ("how do you say thanks").
        start, end = 0, len(words)
        while start < end and words[start] in self._courtesy_only_words:
            start += 1
        while end > start and words[end - 1] in self._courtesy_only_words:
            end -= 1
        rest = words[start:end]
        if not rest or len(rest) == len(words):
            return None
        # Only filler left ("thanks so much" -> "so much"), or words the courtesy's own phrasings use
        # ("magandang umaga": "magandang" is the "good" of "good morning" and of "a good laptop"), is no
        # question, however those words score on their own.
        own_words = frozenset().union(*self.index.label_phrasing_words.get(courtesy, ()))
        if self._informative(rest, language) <= own_words:
            return None
        ranking = self._ranking(rest, language, exclude)
        best = ranking[0] if ranking else None
        # FAQ entries only: "hi how are you" without "hi" looks like "are you a bot?", and is a greeting.
        if best is None or not best.is_faq or best.score < self.settings.courtesy_question_min_score:
            return None
        return ranking

    def _best_per_label(self, hits: list[Hit], language: str) -> list[Hit]:
        """Each label once, at its best language, other languages' similarity weighed down."""
        weight = self.settings.other_language_weight
        weighted = [h if h.language == language else replace(h, similarity=h.similarity * weight) for h in hits]
        best: dict[str, Hit] = {}
        for hit in sorted(weighted, key=lambda h: h.similarity, reverse=True):
            best.setdefault(hit.label, hit)
        return list(best.values())[: self.settings.search_limit]

    def _courtesy_together(self, ranking: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """Courtesy intents close behind a courtesy intent on top add their score to it.

        "ok thanks, bye" is thanks and goodbye at once: either reply is right, so the two are no
        ambiguity to ask about (the FallbackClassifier's `ambiguity_threshold` would say "I don't know")."""
        courtesy = self.settings.courtesy_intents
        if not ranking or ranking[0].label not in courtesy:
            return ranking
        together = [c for c in ranking if c.label in courtesy]
        others = [c for c in ranking if c.label not in courtesy]
        top = replace(ranking[0], score=sum(c.score for c in together))
        return (top, *others, *(replace(c, score=0.0) for c in together[1:]))

    def _short_answer_by_chance(self, hit: Hit, yes_or_no_asked: bool) -> bool:
        """A form intent ("stop") or a short answer ("no") whose phrasings are all far from the message: a name
        or a description that happens to share a word with them ("Robert'); DROP TABLE ..." and "drop it",
        "apknya loading terus gak masuk2" and "gak") is not that intent, however sure the label model is that
        the word tells it. Unless the bot has just asked yes or no: then a "no" word is likely the answer."""
        settings = self.settings
        if hit.label in settings.form_intents:
            return hit.nearest < settings.form_intent_min_similarity
        if yes_or_no_asked or hit.label not in settings.short_answer_intents:
            return False
        return hit.nearest < settings.short_answer_min_similarity

    def _prefer_form_intents(self, ranking: tuple[Candidate, ...]) -> tuple[Candidate, ...]:
        """A form intent close behind the top label takes the top, with both labels' scores.

        Close in raw similarity: calibrated scores spread a small similarity gap into a large one."""
        if len(ranking) < 2 or ranking[0].label in self.settings.form_intents:
            return ranking
        first, second = ranking[0], ranking[1]
        close = first.similarity - second.similarity <= self.settings.form_intent_margin
        similar = second.similarity >= self.settings.form_intent_min_similarity
        if second.label not in self.settings.form_intents or not close or not similar:
            return ranking
        return (replace(second, score=first.score + second.score), replace(first, score=0.0), *ranking[2:])

    @staticmethod
    def _verbatim_first(hits: list[Hit]) -> list[Hit]:
        """A message that is word for word one label's phrasing, and no other label's, is that label: its
        similarity is the phrasing's (an editor who added "I can't pay with my card" to the failed
        payments expects it answered there, however close the payment methods' phrasings are together)."""
        verbatim = [h for h in hits if h.nearest >= VERBATIM]
        if len(verbatim) != 1 or verbatim[0].similarity >= verbatim[0].nearest:
            return hits
        return [replace(h, similarity=h.nearest) if h is verbatim[0] else h for h in hits]

    def _clearly_closest(self, hits: list[Hit]) -> bool:
        """The most similar label is ahead of the next by at least `vague_margin` of similarity, or the
        message is one of its phrasings word for word ("barang tak sampai lagi", whose "tak sampai lagi"
        are all stop words in Malay) and no other label's."""
        if len(hits) < 2:
            return True
        ranked = sorted(hits, key=lambda h: h.similarity, reverse=True)
        if ranked[0].similarity - ranked[1].similarity >= self.settings.vague_margin:
            return True
        verbatim = [h for h in hits if h.nearest >= VERBATIM]
        return len(verbatim) == 1 and verbatim[0] is ranked[0]

    def _informative(self, words: Sequence[str], language: str) -> frozenset[str]:
        normaliser = normaliser_for(language)
        return frozenset(w for w in words if not normaliser.is_stop(w) and w in self.index.vocabulary)

    def _share_when_vague(self, candidates: list[Candidate], informative: frozenset[str]) -> list[Candidate]:
        """Share a short message's score among the labels whose phrasings use all of its words."""
        if not informative or len(informative) > self.settings.vague_max_words:
            return candidates
        uses = {
            c.label: sum(informative <= words for words in self.index.label_phrasing_words[c.label])
            for c in candidates
            if c.score > 0
        }
        # Only FAQ entries share: "ok" is an answer (affirm), not a vague question.
        covering = [c for c in candidates if c.is_faq and uses.get(c.label)]
        if len(covering) < 2 or candidates[0] not in covering:
            return candidates
        # In proportion to the square root of the uses: an entry that uses the word more is likelier meant,
        # but 55 uses against 44 ("return" in how-to vs policy) is no reason to stop asking.
        weight = {c.label: math.sqrt(uses[c.label]) for c in covering}
        mass, total_weight = sum(c.score for c in covering), sum(weight.values())
        shared = {c.label: mass * weight[c.label] / total_weight for c in covering}
        return sorted(
            (replace(c, score=shared.get(c.label, c.score)) for c in candidates), key=lambda c: c.score, reverse=True
        )

    def _rank(self, hits: list[Hit], informative: frozenset[str] = frozenset()) -> tuple[Candidate, ...]:
        """Best score first; courtesy intents give way to any FAQ entry worth suggesting.

        When they give way they leave the softmax too (score 0, similarity kept as evidence):
        "hi, where is my parcel?" is as much about the parcel as "where is my parcel?".
        """
        candidates = [
            self._candidate(h, s) for h, s in zip(hits, self.calibrate([h.similarity for h in hits]), strict=True)
        ]
        courtesy = self.settings.courtesy_intents
        if not any(c.label in courtesy for c in candidates) or not any(
            c.is_faq and c.score >= self.settings.suggest_threshold for c in candidates
        ):
            return tuple(self._share_when_vague(candidates, informative))
        questions = [h for h in hits if h.label not in courtesy]
        scores = self.calibrate([h.similarity for h in questions])
        ranked = [self._candidate(h, s) for h, s in zip(questions, scores, strict=True)]
        return tuple(
            self._share_when_vague(ranked, informative) + [self._candidate(h, 0.0) for h in hits if h.label in courtesy]
        )

    def _phrasing(self, label: str, text: str, language: str, written: dict[str, str]) -> Phrasing:
        normaliser = normaliser_for(language)
        tokens = _phrasing_tokens(language, self.without_data(text)[0])
        words = tuple(part for token in tokens for part in token.norm.split())
        written.update(
            (token.written, token.norm)
            for token in tokens
            if token.written != token.norm and token.written.isalpha() and token.norm.isalpha()
        )
        if language in self._synonyms:
            words = self._synonyms[language].apply(words)
        return Phrasing(
            label=label, text=text, words=words, stop=tuple(normaliser.is_stop(w) for w in words), language=language
        )

    def _candidate(self, hit: Hit, score: float) -> Candidate:
        return Candidate(
            label=hit.label,
            is_faq=hit.label in self._faq_ids,
            score=score,
            similarity=hit.similarity,
            phrasing=hit.phrasing,
            phrasing_language=hit.language,
            model=hit.model,
        )


ALL_NEGATIONS = frozenset().union(*NEGATIONS.values())


@lru_cache(maxsize=32_768)
def _phrasing_tokens(language: str, text: str) -> tuple[NormalToken, ...]:
    """A phrasing's tokens: cached, because a reload reads thousands of phrasings again and an edit changes a few
    (two thirds of indexing the seeded knowledge base went to tokenising). Tokens are immutable."""
    return tuple(normaliser_for(language).tokens(text))


VERBATIM = 0.999  # a phrasing's similarity to itself, up to rounding


def softmax_with_none(similarities: Sequence[float], temperature: float, none_similarity: float) -> list[float]:
    """Each label's share of exp(similarity / T), with "none of them" competing at `none_similarity`."""
    top = max([*similarities, none_similarity])
    weights = [math.exp((s - top) / temperature) for s in similarities]
    total = math.exp((none_similarity - top) / temperature) + sum(weights)
    return [w / total for w in weights]
