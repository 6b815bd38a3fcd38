"""What a ticket must contain, and checking what the customer typed for each field.

The rules come from the `tickets:` section of `support.yml`. Each check returns
the cleaned value or the reason it was refused, and never raises on customer
input: the form explains the reason and asks again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml
from email_validator import EmailNotValidError, validate_email
from rapidfuzz import fuzz, process

from bot.knowledge.schema import DEFAULT_LANGUAGE

# Domains customers mistype most ("gmial.com"); a near miss gets a "did you mean".
COMMON_EMAIL_DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "yahoo.com.my",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "ymail.com",
    "yahoo.co.id",
    "proton.me",
)
MAX_FIELD_CHARS = 2000  # a description longer than this is cut, never refused


@dataclass(frozen=True)
class Category:
    key: str  # the FAQ tag, e.g. "returns"
    needs_order: bool  # the form asks for an order number
    labels: Mapping[str, str]  # language -> button title

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels[DEFAULT_LANGUAGE]


@dataclass(frozen=True)
class TicketRules:
    order_number: re.Pattern[str]
    phone: re.Pattern[str]
    description_min_words: int
    categories: Mapping[str, Category]


@dataclass(frozen=True)
class Checked:
    """A field's verdict: `value` when accepted, else `problem` (a response name) and maybe a `suggestion`."""

    value: str | None = None
    problem: str | None = None
    suggestion: str | None = None


def load_rules(path: str | Path) -> TicketRules:
    """The `tickets:` section of support.yml; ValueError naming the key when it is malformed."""
    path = Path(path)
    section = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("tickets")
    if not isinstance(section, Mapping):
        raise ValueError(f"{path}: no 'tickets' section")
    try:
        categories = {
            str(key): Category(
                key=str(key),
                needs_order=bool(value.get("order", False)),
                labels={k: str(v) for k, v in value.items() if k != "order"},
            )
            for key, value in section["categories"].items()
        }
        rules = TicketRules(
            order_number=re.compile(section["order_number_pattern"], re.IGNORECASE),
            phone=re.compile(section["phone_pattern"]),
            description_min_words=int(section["description_min_words"]),
            categories=categories,
        )
    except (KeyError, TypeError, AttributeError, re.error) as error:
        raise ValueError(f"{path}: tickets section is malformed ({error.__class__.__name__}: {error})") from None
    if not categories or any(DEFAULT_LANGUAGE not in c.labels for c in categories.values()):
        raise ValueError(f"{path}: every ticket category needs an English label")
    return rules


def check_email(text: str, confirmed_hint: str | None = None) -> Checked:
    """A syntactically valid address; a likely typo of a common domain gets a suggestion first.

    `confirmed_hint` is the address we suggested against last time: typing it again means the
    customer meant it, so it is accepted as typed.
    """
    candidate = text.strip().strip("<>").strip()
    try:
        address = validate_email(candidate, check_deliverability=False).normalized
    except EmailNotValidError:
        return Checked(problem="utter_invalid_email", suggestion=_domain_fix(candidate))
    suggestion = _domain_fix(address)
    if suggestion and address.lower() != (confirmed_hint or "").lower():
        return Checked(problem="utter_email_typo", suggestion=suggestion)
    return Checked(value=address)


def _domain_fix(address: str) -> str | None:
    local, _, domain = address.rpartition("@")
    if not local or not domain or domain.lower() in COMMON_EMAIL_DOMAINS:
        return None
    best = process.extractOne(domain.lower(), COMMON_EMAIL_DOMAINS, scorer=fuzz.ratio, score_cutoff=80)
    return f"{local}@{best[0]}" if best else None


def check_order_number(text: str, rules: TicketRules) -> Checked:
    """The message, or one word of it ("it's KL-20481234"), in the configured order-number format."""
    for candidate in [text.strip(), *text.replace(",", " ").split()]:
        candidate = candidate.strip(".!?#()")
        if rules.order_number.fullmatch(candidate):
            return Checked(value=candidate.upper())
    return Checked(problem="utter_invalid_order_number")


def check_phone(text: str, rules: TicketRules) -> Checked:
    candidate = text.strip()
    if not rules.phone.fullmatch(candidate):
        return Checked(problem="utter_invalid_phone")
    return Checked(value=candidate)


# Customers asked for their name often answer with their problem instead. A name is a few words: a
# message this long is a sentence...
SENTENCE_MIN_WORDS = 8
# ...and so is a shorter one the bot recognised as a question it answers ("my parcel came broken"),
# unless it is shorter than this ("Chase", "Nguyễn Văn An" can match an FAQ entry too).
QUESTION_MIN_WORDS = 4


def looks_like_what_happened(text: str, recognised_question: bool) -> bool:
    """Whether an answer to "what's your name?" tells the problem rather than a name;
    `recognised_question`: the NLU matched the message to an FAQ entry."""
    words = len(text.split())
    return words >= SENTENCE_MIN_WORDS or (recognised_question and words >= QUESTION_MIN_WORDS)


def check_name(text: str) -> Checked:
    name = " ".join(text.split())[:200]
    if not re.search(r"[^\W\d_]", name):
        return Checked(problem="utter_invalid_name")
    return Checked(value=name)


def check_description(text: str, rules: TicketRules, asked_for_more: bool = False) -> Checked:
    """At least `description_min_words` words; once the customer has been asked for more, any words at all."""
    description = text.strip()[:MAX_FIELD_CHARS]
    if len(description.split()) < (1 if asked_for_more else rules.description_min_words):
        return Checked(problem="utter_description_too_short")
    return Checked(value=description)


def check_category(text: str, rules: TicketRules, language: str) -> Checked:
    """A category key from a button, or the closest label typed in any language."""
    key = text.strip().lower()
    if key in rules.categories:
        return Checked(value=key)
    labels = {label.lower(): c.key for c in rules.categories.values() for label in c.labels.values()}
    best = process.extractOne(key, list(labels), scorer=fuzz.WRatio, score_cutoff=85)
    return Checked(value=labels[best[0]]) if best else Checked(problem="utter_invalid_category")
