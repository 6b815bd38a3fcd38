"""Offering a person, queueing the chat for an agent, the ticket offer when none can come, CSAT."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import services
from actions.faq import facts_for, language_of
from bot.handoff.flow import Closed, NoAgent, request_handoff
from bot.handoff.packet import REASONS
from bot.handoff.store import get_handoff, record_csat
from bot.names import (
    ACTION_HANDOFF_TIMED_OUT,
    ACTION_OFFER_HUMAN,
    ACTION_RECORD_CSAT,
    ACTION_START_HANDOFF,
    ENTITY_RATING,
    FORM_TICKET,
    SLOT_CSAT_FOR,
    SLOT_HANDOFF_REASON,
)
from bot.storage.database import StorageError
from bot.tickets.sla import format_promise, reply_by

logger = logging.getLogger(__name__)

# The offer's wording for each reason; the others use the plain offer.
OFFER_RESPONSES = {"upset": "utter_offer_human_upset", "not_understood": "utter_offer_human_not_understood"}


def handoff_reason(tracker: Tracker) -> str:
    """Why the customer is handed over: the reason of the offer they accepted, else they asked."""
    reason = tracker.get_slot(SLOT_HANDOFF_REASON)
    return reason if reason in REASONS else "asked"


class ActionOfferHuman(Action):
    """Offers a person, in the words that fit `handoff_reason` (set by the action that decided to offer)."""

    def name(self) -> str:
        return ACTION_OFFER_HUMAN

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        response = OFFER_RESPONSES.get(tracker.get_slot(SLOT_HANDOFF_REASON) or "", "utter_offer_human")
        dispatcher.utter_message(response=response)
        return []


class ActionStartHandoff(Action):
    """Queues the chat for an agent and pauses the bot; outside hours or with no agent online, offers a ticket."""

    def name(self) -> str:
        return ACTION_START_HANDOFF

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        language = language_of(tracker)
        now = datetime.now(timezone.utc)
        try:
            outcome = request_handoff(
                services.engine(),
                services.support_calendar(),
                services.handoff_deliveries(),
                conversation_id=tracker.sender_id,
                reason=handoff_reason(tracker),
                language=language,
                events=tracker.events,
                slots=tracker.current_slot_values(),
                now=now,
            )
        except StorageError:
            logger.exception("handoff for conversation %s not stored", tracker.sender_id)
            dispatcher.utter_message(response="utter_contact_a_person", **facts_for(services.knowledge(), language))
            return [SlotSet(SLOT_HANDOFF_REASON, None)]
        if isinstance(outcome, (Closed, NoAgent)):
            response = "utter_handoff_outside_hours" if isinstance(outcome, Closed) else "utter_handoff_no_agent"
            if tracker.active_loop_name == FORM_TICKET:  # not "I can open a ticket": one is open
                response = "utter_handoff_no_agent_in_ticket"
            dispatcher.utter_message(
                response=response,
                reply_by=format_promise(outcome.reply_by, language, now=now),
                **facts_for(services.knowledge(), language),
            )
            return [SlotSet(SLOT_HANDOFF_REASON, None)]
        dispatcher.utter_message(response="utter_handoff_queued", position=str(outcome.position))
        # The bot stays quiet until the agent ends the chat (the Rasa server then resumes it).
        return [SlotSet(SLOT_HANDOFF_REASON, None), SlotSet(SLOT_CSAT_FOR, outcome.handoff.id), ConversationPaused()]


class ActionHandoffTimedOut(Action):
    """No agent took the queued chat in time (the Rasa server resumed it): the ticket offer and its promise."""

    def name(self) -> str:
        return ACTION_HANDOFF_TIMED_OUT

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        language = language_of(tracker)
        now = datetime.now(timezone.utc)
        promised = reply_by(services.support_calendar(), now)
        dispatcher.utter_message(
            response="utter_handoff_no_agent", reply_by=format_promise(promised, language, now=now)
        )
        return [SlotSet(SLOT_CSAT_FOR, None)]


class ActionRecordCsat(Action):
    """Stores a 1-5 rating of the help, with the handoff (and its agent) it is about."""

    def name(self) -> str:
        return ACTION_RECORD_CSAT

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        try:
            rating = int(float(next(tracker.get_latest_entity_values(ENTITY_RATING), "")))
        except ValueError:
            rating = 0
        if not 1 <= rating <= 5:
            dispatcher.utter_message(response="utter_ask_csat")
            return []
        about = tracker.get_slot(SLOT_CSAT_FOR) or ""
        engine = services.engine()
        try:
            handoff = get_handoff(engine, about) if about.startswith("HND-") else None
            record_csat(
                engine,
                conversation_id=tracker.sender_id,
                rating=rating,
                language=language_of(tracker),
                now=datetime.now(timezone.utc),
                handoff_id=handoff.id if handoff else None,
                ticket_id=(handoff.ticket_id if handoff else about) or None,
                agent=handoff.claimed_by if handoff else None,
            )
        except StorageError:
            # The rating is still in the tracker's events; the customer gets thanked either way.
            logger.exception("CSAT rating for conversation %s not stored", tracker.sender_id)
        dispatcher.utter_message(response="utter_csat_thanks")
        return [SlotSet(SLOT_CSAT_FOR, None)]
