"""What a simulated customer says, and how it reads the bot's replies (`benchmarks.loadtest`).

Three kinds of conversation, built from the project's own data so they follow the real flows:
- `faq`: one to three questions from the held-out phrasings (tests/data/heldout_*.yml, five
  languages), answering "was this helpful?" or clicking a "did you mean" button as customers do;
- `ticket`: "open a ticket" (data/nlu phrasings) and the form, answered field by field as the bot
  asks (name, e-mail, category button, order number, description, "Send it");
- `handoff`: sometimes a question first, then "talk to a person" (data/nlu phrasings); with no
  agent online or outside support hours this ends in a ticket offer, which the customer declines
  or takes (then the ticket form).

The customer reacts to what the bot asked, recognised by the response texts of domain.yml (every
language variant), never by position: the form skips what the conversation already knows.
"""

from __future__ import annotations

import random
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Protocol

import yaml

from tests.servers import DOMAIN, ROOT

LANGUAGES = ("en", "ms", "id", "tl", "vi")
# English is most of the traffic of a Malaysian shop; the other four share the rest.
LANGUAGE_WEIGHTS = (4, 1.5, 1.5, 1.5, 1.5)
KINDS = ("faq", "ticket", "handoff")
TICKET_ID = re.compile(r"TCK-[2-9A-HJ-NP-TW-Z]{6}")
MAX_FORM_TURNS = 12  # a ticket form takes 6-8 turns; more means the customer is stuck
HELPFUL_YES = 0.8  # of the answers a customer rates, this share is "yes"
TAKE_TICKET_OFFER = 0.3  # after a handoff ends in a ticket offer, this share opens the ticket

NAMES = {
    "en": ["Maria Santos", "Tan Wei Ming", "Priya Nair"],
    "ms": ["Siti Aminah", "Ahmad Faizal", "Nurul Huda"],
    "id": ["Budi Santoso", "Dewi Lestari", "Rina Wati"],
    "tl": ["Juan Dela Cruz", "Maricel Reyes", "Jose Bautista"],
    "vi": ["Nguyen Van An", "Tran Thi Lan", "Le Minh"],
}
DESCRIPTIONS = {
    "en": "the blender jar arrived cracked and it leaks when I fill it",
    "ms": "blender yg sy terima jag dia retak dan bocor bila isi air",
    "id": "paket sampai tapi isinya rusak dan tidak bisa dipakai sama sekali",
    "tl": "dumating yung order ko pero sira yung item at hindi gumagana",
    "vi": "mình nhận hàng nhưng sản phẩm bị vỡ và không dùng được",
}


@dataclass
class Message:
    """One bot message, from either transport."""

    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (title, payload)

    @classmethod
    def from_rest(cls, raw: dict[str, Any]) -> Message:
        buttons = raw.get("buttons") or []
        return cls(raw.get("text") or "", [(b.get("title", ""), b.get("payload", "")) for b in buttons])

    @classmethod
    def from_socket(cls, raw: dict[str, Any]) -> Message:
        replies = raw.get("quick_replies") or []
        return cls(raw.get("text") or "", [(b.get("title", ""), b.get("payload", "")) for b in replies])


class Channel(Protocol):
    """A customer's connection: sends one message, returns the bot's replies (raises CustomerError)."""

    async def say(self, text: str, kind: str, display: str | None = None) -> list[Message]: ...


class Catalogue:
    """Recognises domain.yml responses in any language: `{placeholders}` match any text."""

    def __init__(self, responses: dict[str, list[dict[str, Any]]]) -> None:
        self.patterns: list[tuple[str, re.Pattern[str]]] = []
        for name, variants in responses.items():
            for variant in variants:
                text = variant.get("text")
                if text:
                    parts = re.split(r"\{[a-z_]+\}", text.strip())
                    self.patterns.append((name, re.compile(".*?".join(map(re.escape, parts)), re.DOTALL)))

    def names(self, messages: Iterable[Message]) -> list[str]:
        """The response name of each message that is one of domain.yml's (FAQ answers are not)."""
        found = []
        for message in messages:
            text = message.text.strip()
            found += [name for name, pattern in self.patterns if pattern.fullmatch(text)][:1]
        return found


@dataclass(frozen=True)
class Phrasings:
    """What customers say, per language."""

    questions: dict[str, list[str]]  # held-out FAQ phrasings (not in faq/)
    handoff: dict[str, list[str]]  # "talk to a person" (data/nlu, intent human_handoff)
    open_ticket: dict[str, list[str]]  # "open a ticket" (data/nlu, intent open_ticket)


@cache
def phrasings() -> Phrasings:
    questions = {}
    for language in LANGUAGES:
        cases = yaml.safe_load((ROOT / "tests" / "data" / f"heldout_{language}.yml").read_text(encoding="utf-8"))
        questions[language] = [case["text"] for case in cases["cases"] if case.get("expect")]
    nlu_files = {"en": ROOT / "data" / "nlu" / "requests.yml"}
    nlu_files |= {language: ROOT / "data" / "nlu" / language / "intents.yml" for language in LANGUAGES[1:]}
    handoff, open_ticket = {}, {}
    for language, path in nlu_files.items():
        examples = _examples(path)
        handoff[language] = examples["human_handoff"]
        open_ticket[language] = examples["open_ticket"]
    return Phrasings(questions, handoff, open_ticket)


def _examples(path: Any) -> dict[str, list[str]]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        item["intent"]: [line[2:].strip() for line in item["examples"].splitlines() if line.startswith("- ")]
        for item in document.get("nlu", [])
        if "intent" in item
    }


@cache
def catalogue() -> Catalogue:
    return Catalogue(DOMAIN["responses"])


class Conversation:
    """One scripted conversation; `outcomes` records what it reached ("faq_answer", "ticket_created", …)."""

    def __init__(self, channel: Channel, rng: random.Random, record: Callable[[str], None]) -> None:
        self.channel = channel
        self.rng = rng
        self.record = record
        self.language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        self.catalogue = catalogue()
        self.phrasings = phrasings()

    async def run(self, kind: str) -> None:
        scripts: dict[str, Callable[[], Awaitable[None]]] = {
            "faq": self.faq, "ticket": self.ticket, "handoff": self.handoff
        }
        await scripts[kind]()

    async def faq(self, questions: int | None = None) -> None:
        for _ in range(questions or self.rng.randint(1, 3)):
            await self.ask_question()

    async def ask_question(self) -> None:
        reply = await self.channel.say(self.rng.choice(self.phrasings.questions[self.language]), "faq")
        names = self.catalogue.names(reply)
        if "utter_did_you_mean" in names:
            self.record("did_you_mean")
            title, payload = reply[-1].buttons[0]  # the best candidate
            reply = await self.channel.say(payload, "suggestion", display=title)
            names = self.catalogue.names(reply)
        if "utter_ask_helpful" in names:
            self.record("faq_answer")
            if self.rng.random() < 0.5:  # half the customers rate the answer
                answer = "/affirm" if self.rng.random() < HELPFUL_YES else "/deny"
                await self.channel.say(answer, "feedback", display=_title(reply[-1], answer))
        else:
            self.record(f"faq_other_reply:{','.join(names) or 'unrecognised reply'}")

    async def ticket(self, reply: list[Message] | None = None) -> None:
        if reply is None:
            reply = await self.channel.say(self.rng.choice(self.phrasings.open_ticket[self.language]), "ticket")
        name = self.rng.choice(NAMES[self.language])
        answers = {
            "utter_ask_ticket_name": name,
            "utter_ask_email": f"{name.split()[0].lower()}.{self.rng.randint(10, 9999)}@example.com",
            "utter_ask_order_number": f"KL-{self.rng.randint(10_000_000, 99_999_999)}",
            "utter_ask_ticket_description": DESCRIPTIONS[self.language],
        }
        for _ in range(MAX_FORM_TURNS):
            text = "\n".join(m.text for m in reply)
            if TICKET_ID.search(text):
                self.record("ticket_created")
                return
            last = reply[-1] if reply else Message("")
            asked = self.catalogue.names([last])
            categories = [b for b in last.buttons if b[1].startswith('/inform{"ticket_category"')]
            if categories:
                title, payload = self.rng.choice(categories)
                reply = await self.channel.say(payload, "ticket", display=title)
            elif "utter_ticket_summary" in asked or any(p == "/affirm" for _, p in last.buttons):
                reply = await self.channel.say("/affirm", "ticket", display=_title(last, "/affirm"))
            elif asked and asked[0] in answers:
                reply = await self.channel.say(answers[asked[0]], "ticket")
            else:
                self.record(f"ticket_stuck:{','.join(self.catalogue.names(reply)) or 'unrecognised reply'}")
                return
        self.record("ticket_stuck:too_many_turns")

    async def handoff(self) -> None:
        if self.rng.random() < 0.5:
            await self.ask_question()  # asked something first, then wants a person
        reply = await self.channel.say(self.rng.choice(self.phrasings.handoff[self.language]), "handoff")
        names = self.catalogue.names(reply)
        if "utter_handoff_queued" in names:
            self.record("handoff_queued")  # an agent is online: the customer waits for them (not simulated)
        elif {"utter_handoff_outside_hours", "utter_handoff_no_agent"} & set(names):
            self.record("handoff_ticket_offer")
            if self.rng.random() < TAKE_TICKET_OFFER:
                reply = await self.channel.say("/open_ticket", "ticket", display=_title(reply[-1], "/open_ticket"))
                await self.ticket(reply)
            else:
                await self.channel.say("/deny", "handoff", display=_title(reply[-1], "/deny"))
        else:
            self.record(f"handoff_unexpected:{','.join(names) or 'unrecognised reply'}")


def _title(message: Message, payload: str) -> str | None:
    """The title of the button with this payload, which the widget shows instead of the payload."""
    return next((title for title, p in message.buttons if p == payload), None)


def kind_schedule(mix: dict[str, int]) -> list[str]:
    """The mix as a round-robin list, e.g. {"faq": 3, "ticket": 1} -> faq, ticket, faq, faq."""
    schedule: list[str] = []
    remaining = dict(mix)
    while any(remaining.values()):
        for kind in KINDS:
            if remaining.get(kind, 0) > 0:
                schedule.append(kind)
                remaining[kind] -= 1
    return schedule
