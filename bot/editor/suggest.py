"""The unanswered inbox (`supportbot faq suggest`): what customers asked that the knowledge base did not answer.

From the tracker store's conversations it collects the customers' messages that
- the bot could not answer (`nlu_fallback`, `out_of_scope`, or "none of these" on the "did you mean" buttons),
- got an answer the customer marked "not helpful" (`deny` right after `action_answer_faq`),
- or led to a handoff to a person (their last few questions before `action_start_handoff`),
groups similar ones (rapidfuzz on the normalised words, the words they share weighed by the index's IDF;
no model) and names, for each group, the entry the real matcher finds closest: where a new phrasing
probably belongs, or that an entry is missing.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone

from rapidfuzz import fuzz, process

from bot.channels.shown import shown_user_text
from bot.editor.tracker_events import TrackedEvent
from bot.knowledge.schema import DEFAULT_LANGUAGE, LANGUAGES
from bot.matching.matcher import Matcher
from bot.matching.normalise import normaliser_for
from bot.names import (
    ACTION_ANSWER_FAQ,
    ACTION_FAQ_FALLBACK,
    ACTION_START_HANDOFF,
    ENTITY_LANGUAGE,
    INTENT_AFFIRM,
    INTENT_DENY,
    INTENT_FAQ,
    INTENT_NLU_FALLBACK,
    INTENT_NONE_OF_THESE,
    INTENT_OUT_OF_SCOPE,
    LANGUAGE_KEY,
    SLOT_LANGUAGE,
)

UNANSWERED, NOT_HELPFUL, HANDED_OFF = "unanswered", "not_helpful", "handed_off"
REASONS = (UNANSWERED, NOT_HELPFUL, HANDED_OFF)
# Intents that mean the customer asked something of the knowledge base (not "yes", "thanks" or "a person please").
QUESTION_INTENTS = frozenset({INTENT_FAQ, INTENT_NLU_FALLBACK, INTENT_OUT_OF_SCOPE})
# Questions before a handoff that count as what led to it: the customer's last few, not the whole chat.
QUESTIONS_BEFORE_HANDOFF = 3
# rapidfuzz token_set_ratio (0-100) of two messages' informative words from which they are one question:
# "can I pay with bitcoin?" and "bitcoin payment possible" (78) are, "track order" and "cancel order" (70) are not.
SIMILAR_MESSAGES = 75.0
# ...and the words they share must carry at least this share of the shorter one's weight (the knowledge base's
# IDF): "payment failed" and "payment options" share only "payment", a word every payment entry uses, while
# "do you accept bitcoin" and "bitcoin payment possible" share "bitcoin", which no entry uses.
SHARED_WEIGHT = 0.5
EXAMPLES = 3  # example messages shown per cluster


@dataclass
class CustomerMessage:
    """A customer's message that the inbox is about, with every reason it is there."""

    conversation_id: str
    event_id: int
    text: str
    language: str
    timestamp: float
    intent: str | None
    reasons: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class NearestEntry:
    """The FAQ entry the matcher finds closest to a cluster's most common message."""

    id: str
    title: str
    score: float  # calibrated 0-1, as in /model/parse
    similarity: float  # raw 0-1 similarity of its nearest phrasing mix
    phrasing: str  # the entry's phrasing the message looked most like


@dataclass(frozen=True)
class Cluster:
    """Similar customer messages: one question the knowledge base does not answer well."""

    messages: tuple[CustomerMessage, ...]  # most common text first
    nearest: NearestEntry | None

    @property
    def count(self) -> int:
        return len(self.messages)

    @property
    def languages(self) -> dict[str, int]:
        return dict(Counter(m.language for m in self.messages).most_common())

    @property
    def why(self) -> dict[str, int]:
        return {reason: sum(reason in m.reasons for m in self.messages) for reason in REASONS}

    @property
    def examples(self) -> list[str]:
        return [text for text, _ in Counter(m.text for m in self.messages).most_common(EXAMPLES)]

    def as_dict(self) -> dict:
        return {
            "count": self.count,
            "conversations": len({m.conversation_id for m in self.messages}),
            "languages": self.languages,
            "why": self.why,
            "examples": self.examples,
            "nearest": vars(self.nearest) if self.nearest else None,
            "first_seen": _iso(min(m.timestamp for m in self.messages)),
            "last_seen": _iso(max(m.timestamp for m in self.messages)),
        }


def inbox_messages(conversations: Iterable[list[TrackedEvent]], since: float | None = None) -> list[CustomerMessage]:
    """Every customer message the bot did not answer well, from the conversations' events."""
    found: list[CustomerMessage] = []
    for events in conversations:
        found += [m for m in _conversation_messages(events) if m.reasons and (since is None or m.timestamp >= since)]
    return found


def _conversation_messages(events: list[TrackedEvent]) -> list[CustomerMessage]:
    messages: list[CustomerMessage] = []
    paused = False  # an agent is in the chat: what the customer says is for them, not the bot
    language = DEFAULT_LANGUAGE
    last_message: CustomerMessage | None = None  # the customer's last visible message to the bot
    answered: CustomerMessage | None = None  # the question of the last FAQ answer
    offered: CustomerMessage | None = None  # the question of the last "did you mean" / "I don't know"
    previous_action: str | None = None  # the bot's last action since the customer's last message
    recent: deque[CustomerMessage] = deque(maxlen=QUESTIONS_BEFORE_HANDOFF)  # questions since the last handoff
    for event in events:
        if event.type_name == "pause":
            paused = True
        elif event.type_name == "resume":
            paused = False
        elif event.type_name == "session_started":
            recent.clear()
            previous_action = None
        elif event.type_name == "slot" and event.action_name == SLOT_LANGUAGE:
            language = _language(event.data.get("value")) or language
        elif event.type_name == "action" and event.action_name not in (None, "action_listen", "action_session_start"):
            previous_action = event.action_name
            if event.action_name == ACTION_ANSWER_FAQ:
                answered = last_message
            elif event.action_name == ACTION_FAQ_FALLBACK:
                offered = last_message
            elif event.action_name == ACTION_START_HANDOFF:
                for message in recent:
                    message.reasons.add(HANDED_OFF)
                recent.clear()
        elif event.type_name == "user":
            intent = event.intent_name
            # Button clicks are hidden payloads, yet they are the customer's verdict on what came before.
            if intent == INTENT_NONE_OF_THESE and previous_action == ACTION_FAQ_FALLBACK and offered:
                offered.reasons.add(UNANSWERED)
            elif intent == INTENT_DENY and previous_action == ACTION_ANSWER_FAQ and answered:
                answered.reasons.add(NOT_HELPFUL)
            elif intent == INTENT_AFFIRM and previous_action == ACTION_ANSWER_FAQ and answered in recent:
                recent.remove(answered)  # helpful: not what a later handoff was about
            previous_action = None
            if paused or not _visible(event):
                continue
            parse = event.data.get("parse_data") or {}
            language = _language(parse.get(LANGUAGE_KEY)) or _language_entity(parse) or language
            last_message = CustomerMessage(
                event.sender_id, event.id, str(event.data["text"]).strip(), language, event.timestamp, intent
            )
            messages.append(last_message)
            if intent in (INTENT_NLU_FALLBACK, INTENT_OUT_OF_SCOPE):
                last_message.reasons.add(UNANSWERED)
            if intent in QUESTION_INTENTS:
                recent.append(last_message)
    return messages


def _visible(event: TrackedEvent) -> bool:
    """Typed by the customer: not a button payload ("/affirm"), a hidden greeting or an EXTERNAL trigger."""
    text, metadata = event.data.get("text"), event.data.get("metadata")
    if not isinstance(text, str) or text.startswith("/") or not isinstance(metadata or {}, Mapping):
        return False
    return shown_user_text(text, metadata) is not None


def _language(value: object) -> str | None:
    return value if isinstance(value, str) and value in LANGUAGES else None


def _language_entity(parse: Mapping) -> str | None:
    for entity in parse.get("entities") or []:
        if isinstance(entity, Mapping) and entity.get("entity") == ENTITY_LANGUAGE:
            return _language(entity.get("value"))
    return None


def comparable(message: CustomerMessage) -> str:
    """The message's informative words, normalised as the matcher reads them (all words if all are stop words)."""
    tokens = normaliser_for(message.language).tokens(message.text)
    informative = [t.norm for t in tokens if not t.is_stop]
    return " ".join(informative or [t.norm for t in tokens])


def cluster(
    messages: Iterable[CustomerMessage],
    similar: float = SIMILAR_MESSAGES,
    word_weight: Callable[[str], float] = lambda word: 1.0,
) -> list[list[CustomerMessage]]:
    """Group similar messages; biggest group first.

    The wordings, most frequent first, each join the group of the most similar wording seen so far
    (at least `similar`, sharing words of `SHARED_WEIGHT` by `word_weight`), or start a new one.
    rapidfuzz compares one wording with all the others in one call, so months of conversations take seconds.
    """
    by_wording: dict[str, list[CustomerMessage]] = {}
    for message in messages:
        by_wording.setdefault(comparable(message), []).append(message)
    seen: list[str] = []
    group_of: list[int] = []  # seen wording -> its group
    groups: list[list[CustomerMessage]] = []
    for wording, members in sorted(by_wording.items(), key=lambda item: (-len(item[1]), item[1][0].timestamp)):
        close = process.extract(wording, seen, scorer=fuzz.token_set_ratio, score_cutoff=similar, limit=10)
        group = next(
            (group_of[index] for other, _, index in close if _same_question(wording, other, similar, word_weight)),
            None,
        )
        if group is None:
            group = len(groups)
            groups.append([])
        groups[group].extend(members)
        seen.append(wording)
        group_of.append(group)
    return sorted(groups, key=lambda g: (-len(g), -len({m.conversation_id for m in g}), -max(m.timestamp for m in g)))


def _same_question(wording: str, other: str, similar: float, word_weight: Callable[[str], float]) -> bool:
    """token_set_ratio calls "order" and "track order" equal (one is part of the other): a single word must
    be alike as a whole. Counted as distinct words: "where is my order [order]" reads "order order", and
    would otherwise join every question that mentions an order, and them to each other. Several words:
    the shared ones must tell enough of the shorter wording (`SHARED_WEIGHT`)."""
    words, other_words = set(wording.split()), set(other.split())
    if len(words) == 1 or len(other_words) == 1:
        return fuzz.ratio(wording, other) >= similar
    shared = sum(word_weight(w) for w in words & other_words)
    return shared >= SHARED_WEIGHT * min(sum(map(word_weight, words)), sum(map(word_weight, other_words)))


def nearest_entry(matcher: Matcher, message: CustomerMessage) -> NearestEntry | None:
    """The FAQ entry the matcher ranks highest for the message, whatever its score."""
    result = matcher.match(message.text, message.language)
    best = next((c for c in result.ranking if c.is_faq), None)
    if best is None:
        return None
    title = matcher.knowledge.entries[best.label].title_in(message.language)
    return NearestEntry(best.label, title, round(best.score, 4), round(best.similarity, 4), best.phrasing)


def suggest(
    conversations: Iterable[list[TrackedEvent]],
    matcher: Matcher,
    since: float | None = None,
    redact: Callable[[str], str] = lambda text: text,
) -> list[Cluster]:
    """The inbox: clusters of messages the bot did not answer well, biggest first, each with its nearest entry.

    `redact` is applied to every message first: editors see "[email]", not the customer's address,
    and two questions that differ only in an order number fall into one cluster.
    """
    clusters = []
    messages = [replace(m, text=redact(m.text)) for m in inbox_messages(conversations, since)]
    for group in cluster(messages, word_weight=matcher.index.word_weight):
        counts = Counter(m.text for m in group)
        ordered = tuple(sorted(group, key=lambda m: (-counts[m.text], m.timestamp)))
        clusters.append(Cluster(ordered, nearest_entry(matcher, ordered[0])))
    return clusters


def render_table(clusters: list[Cluster]) -> str:
    """The inbox as text for a terminal: one block per cluster, examples indented below."""
    if not clusters:
        return "no unanswered questions"
    rows = []
    for item in clusters:
        languages = ", ".join(f"{lang} {n}" for lang, n in item.languages.items())
        why = ", ".join(f"{reason.replace('_', ' ')} {n}" for reason, n in item.why.items() if n)
        nearest = (
            f"{item.nearest.id} ({item.nearest.score:.2f}, {item.nearest.similarity:.2f})" if item.nearest else "-"
        )
        rows.append((languages, why, nearest))
    # As wide as their longest text: five languages ("en 41, id 14, ms 13, vi 12, tl 12") ran into "why".
    wide = max(len("languages"), *(len(r[0]) for r in rows))
    wide_why = max(len("why"), *(len(r[1]) for r in rows))
    lines = [f"{'#':>3}  {'count':>5}  {'languages':<{wide}}  {'why':<{wide_why}}  nearest entry (score, similarity)"]
    for number, (item, (languages, why, nearest)) in enumerate(zip(clusters, rows, strict=True), 1):
        lines.append(f"{number:>3}  {item.count:>5}  {languages:<{wide}}  {why:<{wide_why}}  {nearest}")
        lines += [f"{'':12}- {_printable(text)}" for text in item.examples]
    return "\n".join(lines)


def _printable(text: str) -> str:
    """Customer text for a terminal: control characters (escape sequences) shown, not obeyed."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="seconds")
