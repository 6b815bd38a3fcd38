"""A history of conversations with figures known in advance, written as the product writes it.

Conversations go through Rasa's own SQL tracker store (real `DialogueStateTracker`s built from
Rasa events with chosen timestamps); handoffs, first replies, CSAT, "was this helpful?" and
tickets go through the product's store functions into a product database of their own.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    ConversationResumed,
    Event,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.handoff.store import claim, create_handoff, end, new_handoff_id, record_csat, record_first_reply, time_out
from bot.storage.database import create_engine, transaction
from bot.storage.feedback import Feedback, record_feedback
from bot.tickets.store import NewTicket, create_ticket

ROOT = Path(__file__).resolve().parent.parent
ZONE = ZoneInfo("Asia/Kuala_Lumpur")  # support.yml's: the report's days are Kuala Lumpur's (UTC+8)
DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def local(day: str, clock: str) -> datetime:
    """A moment in Kuala Lumpur, as an aware UTC datetime: local("2026-11-16", "23:50") is 15:50 UTC."""
    return datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZONE).astimezone(timezone.utc)


class History:
    """The tracker store and the product database of one test, and the conversations written to them."""

    def __init__(self, folder: Path) -> None:
        self.tracker_path = folder / "tracker.db"
        self.tracker_url = f"sqlite:///{self.tracker_path}"
        self.product_url = f"sqlite:///{folder / 'supportbot.db'}"
        self.product = create_engine(self.product_url)
        self.events: dict[str, list[Event]] = {}

    def chat(self, sender: str, language: str, start: datetime, page_language: str | None = None) -> Chat:
        """A customer opening the widget at `start`; the widget greets in the page's language (hidden)."""
        chat = Chat(self, sender, language, start)
        # Each chat is a session: a sender's later chat starts a new one, as when Rasa's session expires.
        chat.add(ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"))
        greeting = page_language or language
        chat.user(f'/greet{{"language": "{greeting}"}}', "greet", metadata={"hidden": True}, language=greeting)
        chat.bot_action("utter_greet", "Hi! How can I help?")
        return chat

    def save(self) -> None:
        store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(self.tracker_path))

        async def save_all() -> None:
            for sender, events in self.events.items():
                await store.save(DialogueStateTracker.from_events(sender, events, slots=DOMAIN.slots))

        # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, save_all()).result()
        store.engine.dispose()


class Chat:
    """One customer's chat: events at increasing times (a second apart unless a step says otherwise)."""

    def __init__(self, history: History, sender: str, language: str, start: datetime) -> None:
        self.history, self.sender, self.language, self.clock = history, sender, language, start

    @property
    def now(self) -> datetime:
        return self.clock

    def at(self, moment: datetime) -> Chat:
        self.clock = moment
        return self

    def add(self, *events: Event) -> None:
        for event in events:
            event.timestamp = self.clock.timestamp()
            self.history.events.setdefault(self.sender, []).append(event)
            self.clock += timedelta(seconds=1)

    def user(self, text: str, intent: str, metadata: dict[str, Any] | None = None, language: str | None = None) -> None:
        parse = {"intent": {"name": intent, "confidence": 1.0}, "entities": [], "text": text}
        self.add(UserUttered(text, parse["intent"], [], parse, metadata=metadata))
        if intent not in ("handoff_ended", "handoff_timeout"):  # the server's triggers carry no language entity
            self.add(SlotSet("language", language or self.language))

    def bot_action(self, action: str, text: str | None = None, *slots: SlotSet) -> None:
        self.add(ActionExecuted(action))
        if text:
            self.add(BotUttered(text, metadata={"utter_action": action}))
        self.add(*slots, ActionExecuted("action_listen"))

    def ask(self, faq_id: str, helpful: bool | None = None, handoff_entry: bool = False) -> None:
        """A question the bot answers with `faq_id` (events as actions/faq.py returns them), then maybe feedback."""
        self.user(f"question about {faq_id}", "faq")
        self.add(ActionExecuted("action_answer_faq"), BotUttered(f"The answer of {faq_id}."))
        if handoff_entry:  # an entry marked `handoff: true`: a person is offered instead of "was this helpful?"
            self.add(SlotSet("last_topic", faq_id), SlotSet("misses_in_a_row", 0.0), SlotSet("last_faq", None))
            self.add(SlotSet("handoff_reason", "needs_person"), ActionExecuted("action_offer_human"))
            self.add(BotUttered("Shall I get a person?"), ActionExecuted("action_listen"))
            return
        self.add(BotUttered("Was this helpful?"), SlotSet("last_topic", faq_id), SlotSet("misses_in_a_row", 0.0))
        self.add(SlotSet("last_faq", faq_id), ActionExecuted("action_listen"))
        if helpful is not None:
            self.user("yes" if helpful else "no", "affirm" if helpful else "deny")
            record_feedback(self.history.product, Feedback(self.sender, faq_id, helpful, self.language), now=self.clock)
            self.bot_action("action_record_feedback", "Thanks!", SlotSet("last_faq", None))

    def ask_unknown_entry(self) -> None:
        """`action_answer_faq` for an entry that is gone: no answer, no slots (must not count as a top question)."""
        self.user("question about a removed entry", "faq")
        self.bot_action("action_answer_faq", "Sorry, that answer is not available right now.")

    def open_ticket(self) -> str:
        """The ticket form, sent: a ticket in the product database and its id in the conversation."""
        self.user("I want to open a ticket", "open_ticket")
        ticket_id = self._ticket("from the ticket form")
        self.bot_action("ticket_form", f"Your ticket is {ticket_id}.", SlotSet("ticket_id", ticket_id))
        return ticket_id

    def hand_off(
        self,
        reason: str,
        *,
        agent: str | None = None,
        claim_after: float = 20,
        reply_after: float | None = None,
        rating: int | None = None,
        ticket: bool = False,
        timeout_after: float | None = None,
    ) -> str:
        """The customer queued for a person (`reason`); an agent claims, replies (twice), ends; maybe a rating."""
        engine = self.history.product
        self.user("I want to talk to a person", "human_handoff")
        created = self.clock
        handoff_id = new_handoff_id()
        with transaction(engine) as connection:
            create_handoff(
                connection,
                handoff_id=handoff_id,
                conversation_id=self.sender,
                reason=reason,
                language=self.language,
                customer_name=None,
                packet={"handoff_id": handoff_id},
                now=created,
            )
        self.add(ActionExecuted("action_start_handoff"), BotUttered("You are number 1 in the queue."))
        self.add(SlotSet("csat_for", handoff_id), ConversationPaused())
        if timeout_after is not None:
            self.at(created + timedelta(seconds=timeout_after))
            time_out(engine, handoff_id, self.clock)
            self.add(ConversationResumed(), ActionExecuted("action_listen"))
            self.user("EXTERNAL: handoff_timeout", "handoff_timeout")
            self.bot_action("action_handoff_timed_out", "Nobody is free; shall I open a ticket?")
            return handoff_id
        assert agent is not None
        claim(engine, handoff_id, agent, created + timedelta(seconds=claim_after))
        self.at(created + timedelta(seconds=claim_after)).add(BotUttered(f"{agent} joined the chat."))
        if reply_after is not None:
            for n, after in enumerate((reply_after, reply_after + 45)):  # the second reply keeps the first's time
                self.at(created + timedelta(seconds=after))
                metadata = {"agent": agent, "agent_name": agent.title(), "message_id": f"{handoff_id}-{n}"}
                self.add(BotUttered(f"Hello, this is {agent}.", metadata=metadata))
                assert record_first_reply(engine, handoff_id, created + timedelta(seconds=after)) is (n == 0)
            self.user("thank you", "thanks")
        ticket_id = self._ticket(f"from the chat with {agent}") if ticket else None
        end(engine, handoff_id, self.clock, ticket_id)
        self.add(ConversationResumed(), ActionExecuted("action_listen"))
        self.user("EXTERNAL: handoff_ended", "handoff_ended")
        self.bot_action("utter_handoff_ended", "The chat with our team has ended.")
        if rating is not None:
            self.user(f'/rate{{"rating": {rating}}}', "rate", metadata={"display": str(rating)})
            record_csat(
                engine,
                conversation_id=self.sender,
                rating=rating,
                language=self.language,
                now=self.clock,
                handoff_id=handoff_id,
                ticket_id=ticket_id,
                agent=agent,
            )
            self.bot_action("action_record_csat", "Thank you for the rating!", SlotSet("csat_for", None))
        return handoff_id

    def _ticket(self, description: str) -> str:
        ticket = NewTicket(
            name="Customer " + self.sender,
            email=f"{self.sender}@example.com",
            category="orders",
            description=description,
            language=self.language,
            conversation_id=self.sender,
            transcript=[],
            reply_by=self.clock + timedelta(days=1),
        )
        return create_ticket(self.history.product, ticket, None, self.clock).id


def known_history(folder: Path) -> History:
    """Three days in Kuala Lumpur (16-18 Nov 2026) and one before; the figures are written out in test_report.py."""
    history = History(folder)
    # 15 Nov, before the period: only in reports that start on the 15th.
    zed = history.chat("zed", "en", local("2026-11-15", "12:00"))
    zed.ask("returns.policy", helpful=True)
    zed.hand_off("asked", agent="maya", claim_after=5, reply_after=10, rating=1)

    # 16 Nov
    alice = history.chat("alice", "en", local("2026-11-16", "09:00"))
    alice.ask("returns.policy", helpful=True)
    alice.ask("shipping.time")
    budi = history.chat("budi", "ms", local("2026-11-16", "10:00"))
    budi.ask("orders.track", helpful=False)
    budi.at(local("2026-11-16", "10:05")).hand_off("asked", agent="maya", claim_after=30, reply_after=90, rating=4)
    history.chat("citra", "id", local("2026-11-16", "11:00"))  # opened the widget, typed nothing
    dewi = history.chat("dewi", "id", local("2026-11-16", "12:00"))
    dewi.ask("orders.track")
    dewi.open_ticket()
    eve = history.chat("eve", "en", local("2026-11-16", "23:50"))
    eve.ask("returns.policy", helpful=True)

    # 17 Nov
    eve.at(local("2026-11-17", "00:10")).ask("shipping.time")  # the same chat, after midnight: a new day
    siti = history.chat("siti", "ms", local("2026-11-17", "00:30"), page_language="en")  # 16:30 UTC on the 16th
    siti.ask("shipping.time")
    alice = history.chat("alice", "en", local("2026-11-17", "08:00"))
    alice.ask("payments.methods")
    van = history.chat("van", "vi", local("2026-11-17", "09:00"))
    van.ask_unknown_entry()
    van.ask("returns.policy", helpful=True)
    tala = history.chat("tala", "tl", local("2026-11-17", "10:00"))
    tala.ask("payments.double_charge", handoff_entry=True)
    tala.at(local("2026-11-17", "10:01")).hand_off(
        "needs_person", agent="sam", claim_after=60, reply_after=240, rating=2, ticket=True
    )
    gan = history.chat("gan", "en", local("2026-11-17", "23:58"))
    gan.hand_off("asked", timeout_after=180)  # times out at 00:01 on the 18th: not a conversation of the 18th

    # 18 Nov
    budi = history.chat("budi", "ms", local("2026-11-18", "09:00"))
    budi.at(local("2026-11-18", "09:02")).hand_off("not_understood", agent="maya", reply_after=30, rating=5)
    hoa = history.chat("hoa", "vi", local("2026-11-18", "15:00"))
    hoa.ask("returns.policy", helpful=False)
    hoa.open_ticket()
    history.save()
    return history


def busy_history(folder: Path, first_day: date, days: int) -> History:
    """A fuller, regular history for the page's screenshot: every language every day, with every outcome."""
    history = History(folder)
    entries = ["returns.policy", "orders.track", "shipping.time", "payments.methods", "returns.refund_time"]
    reasons = ["asked", "not_understood", "not_helpful", "upset", "needs_person"]
    for offset in range(days):
        day = (first_day + timedelta(days=offset)).isoformat()
        for n, language in enumerate(("en", "ms", "id", "tl", "vi")):
            for k in range(1 + (offset * 7 + n * 3) % (6 - n)):
                chat = history.chat(f"{language}-{offset}-{k}", language, local(day, f"{9 + k:02d}:{10 * n:02d}"))
                chat.ask(entries[(offset + k + n) % len(entries)], helpful=(offset + k + n) % 4 != 0)
                if (offset + k + n) % 5 == 0:
                    chat.hand_off(
                        reasons[(offset + n) % len(reasons)],
                        agent=("maya", "sam")[k % 2],
                        claim_after=10,
                        reply_after=20 + 35 * ((offset + k) % 6),
                        rating=(5, 4, 5, 3, 4, 5, 2)[(offset + k) % 7],
                    )
                elif (offset + k) % 7 == 3:
                    chat.open_ticket()
    history.save()
    return history
