"""A large generated knowledge base (default 10,000 entries x 10 phrasings), to measure parsing at scale.

Deterministic (seeded). Each entry is a task (a verb and a thing) plus three topic words of its
own, drawn from the CLINC150 training texts when available; its phrasings are customer-like
templates ("how do i {verb} my {noun} ...") filled with them. Queries are phrasings with a
word dropped or a typo, so the matcher has to do its real work (typo repair, partial overlap).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from spacy.lang.en.stop_words import STOP_WORDS

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: 100,000 phrasings dump in seconds
SEED = 20261125
ENTRIES_PER_FILE = 100
TOPIC_WORDS = 3  # words of an entry's own that its phrasings share, besides the verb and the thing

VERBS = (
    "cancel change update track return exchange refund reset renew activate deactivate delete download "
    "upload register verify replace repair install connect transfer redeem share book reschedule pay order "
    "ship report unlock link unlink restore upgrade downgrade pause resume check configure claim"
).split()
NOUNS = (
    "order parcel invoice receipt voucher coupon subscription membership account password profile address "
    "wallet card refund warranty locker laptop phone tablet charger headphones speaker camera watch keyboard "
    "mouse monitor printer router modem television fridge microwave oven kettle blender vacuum fan heater "
    "mattress pillow sofa chair desk lamp curtain towel shoes sneakers sandals shirt dress jacket jeans skirt "
    "backpack belt sunglasses necklace bracelet earrings perfume lipstick shampoo sunscreen toothbrush razor "
    "vitamins stroller toy puzzle notebook bicycle helmet tent cooler suitcase umbrella blanket cushion mirror "
    "plant vase candle cookware cutlery teapot mug bottle lunchbox"
).split()
TEMPLATES = (
    "how do i {verb} my {noun} {a}",
    "can i {verb} the {noun} {a} {tail}",
    "i want to {verb} my {a} {noun}",
    "{verb} {noun} {a} {b}",
    "is it possible to {verb} a {noun} with {a}",
    "where can i {verb} my {noun} {b}",
    "help me {verb} my {noun} for {a} {tail}",
    "what happens if i {verb} my {noun} {a} {b}",
    "need to {verb} {noun} {b} asap",
    "how long does it take to {verb} a {noun} {a}",
    "why cant i {verb} my {noun} {b} {tail}",
    "please {verb} my {b} {noun}",
    "is there a fee to {verb} the {noun} {a}",
    "{noun} {b} {verb} not working",
)
TAILS = ("please", "today", "online", "in the app", "from overseas", "after paying", "this week", "again")
FALLBACK_WORDS = (
    "blue red green weekend morning evening holiday birthday office school travel family friend gift "
    "business student premium express bundle warranty sample bulk second spare extra large small"
).split()


@dataclass(frozen=True)
class Phrasing:
    entry_id: str
    text: str


def topic_words(texts: Iterable[str], minimum_count: int = 2) -> list[str]:
    """Content words of real user requests: alphabetic, at least 4 letters, seen at least twice; sorted."""
    counts = Counter(w for t in texts for w in re.findall(r"[a-z]+", t.lower()) if len(w) >= 4)
    skip = set(VERBS) | set(NOUNS) | STOP_WORDS
    return sorted(w for w, n in counts.items() if n >= minimum_count and w not in skip)


def generate(folder: Path, entries: int, phrasings: int, words: Sequence[str] = ()) -> list[Phrasing]:
    """Write the knowledge base into `folder` (faq files and facts.yml); returns every phrasing."""
    rng = random.Random(SEED)
    words = list(words) or FALLBACK_WORDS
    pairs = [(v, n) for n in NOUNS for v in VERBS]
    rng.shuffle(pairs)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "facts.yml").write_text(yaml.safe_dump({"version": 1, "facts": {"support_email": "help@example.com"}}))
    seen: set[str] = set()
    all_phrasings: list[Phrasing] = []
    documents: list[dict] = []
    for number in range(entries):
        verb, noun = pairs[number % len(pairs)]
        entry_id = f"gen{number // ENTRIES_PER_FILE:03d}.entry_{number:05d}"
        texts = _phrasings(rng, verb, noun, rng.sample(words, TOPIC_WORDS), phrasings, seen)
        all_phrasings += [Phrasing(entry_id, t) for t in texts]
        if number % ENTRIES_PER_FILE == 0:
            documents.append({"version": 1, "entries": []})
        documents[-1]["entries"].append({
            "id": entry_id,
            "title": {"en": f"{verb.capitalize()} your {noun} ({number})"},
            "questions": {"en": texts},
            "answer": {"en": f"To {verb} your {noun}, open the app and follow the steps; "
                             "if it does not work, write to {support_email}."},
        })
    for index, document in enumerate(documents):
        text = yaml.dump(document, Dumper=_DUMPER, sort_keys=False, width=1000, allow_unicode=True)
        (folder / f"generated_{index:03d}.yml").write_text(text)
    return all_phrasings


def _phrasings(rng: random.Random, verb: str, noun: str, topic: Sequence[str], count: int, seen: set[str]) -> list[str]:
    """`count` distinct phrasings of one entry, none of them a phrasing of another entry."""
    texts: list[str] = []
    for _ in range(count * 50):  # bounded: collisions are rare, and a repeat only costs a retry
        if len(texts) == count:
            break
        a, b = rng.sample(topic, 2)
        template = rng.choice(TEMPLATES)
        text = " ".join(template.format(verb=verb, noun=noun, a=a, b=b, tail=rng.choice(TAILS)).split())
        if text not in seen:
            seen.add(text)
            texts.append(text)
    return texts


def noisy_queries(phrasings: Sequence[Phrasing], count: int, seed: int = SEED + 1) -> list[Phrasing]:
    """`count` phrasings, each with one word dropped or one typo (two letters swapped), alternately."""
    rng = random.Random(seed)
    queries = []
    for i in range(count):
        p = rng.choice(phrasings)
        words = p.text.split()
        if i % 2 == 0 and len(words) >= 4:
            del words[rng.randrange(1, len(words))]
        else:
            long_words = [j for j, w in enumerate(words) if len(w) >= 5]
            if long_words:
                j = rng.choice(long_words)
                w = words[j]
                k = rng.randrange(1, len(w) - 2)
                words[j] = w[:k] + w[k + 1] + w[k] + w[k + 2:]
        queries.append(Phrasing(p.entry_id, " ".join(words)))
    return queries
