"""Answer an FAQ match, ask "did you mean", admit not knowing, record "was this helpful?"."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy.exc import SQLAlchemyError

from actions import services
from bot.handoff.upset import detect_upset
from bot.knowledge.response_translations import response_text as text_in_language
from bot.knowledge.schema import DEFAULT_LANGUAGE, KnowledgeBase
from bot.language.script import in_other_script
from bot.names import (
    ACTION_ANSWER_FAQ,
    ACTION_FAQ_FALLBACK,
    ACTION_OFFER_HUMAN,
    ACTION_RECORD_FEEDBACK,
    ACTION_SMALL_TALK,
    ENTITY_FAQ_ID,
    FAQ_KEY,
    INTENT_AFFIRM,
    INTENT_FAQ,
    INTENT_NLU_FALLBACK,
    INTENT_NONE_OF_THESE,
    INTENT_OUT_OF_SCOPE,
    SLOT_HANDOFF_REASON,
    SLOT_LANGUAGE,
    SLOT_LAST_FAQ,
    SLOT_LAST_TOPIC,
    SLOT_MISSES,
    SLOT_NOT_HELPFUL,
    SLOT_UPSET_OFFERED,
)
from bot.storage.database import StorageError
from bot.storage.feedback import Feedback, record_feedback

logger = logging.getLogger(__name__)


def language_of(tracker: Tracker) -> str:
    """The conversation's language: the slot the language detector fills on every message."""
    return tracker.get_slot(SLOT_LANGUAGE) or DEFAULT_LANGUAGE


def response_text(domain: dict[str, Any], name: str, language: str, default: str) -> str:
    """A response's text in `language` from the domain the action server was sent."""
    return text_in_language(domain.get("responses") or {}, name, language, default)


def facts_for(knowledge: KnowledgeBase, language: str) -> dict[str, str]:
    """Shop facts as response variables, so `{support_phone}` in domain.yml is filled in."""
    return {name: knowledge.fact(name, language) for name in knowledge.facts}


def chosen_faq_id(tracker: Tracker) -> str | None:
    """The entry a button click chose, else the one the matcher found."""
    clicked = next(tracker.get_latest_entity_values(ENTITY_FAQ_ID), None)
    if clicked:
        return str(clicked)
    faq = tracker.latest_message.get(FAQ_KEY) or {}
    return faq.get("id")


def suggestion_payload(entry_id: str) -> str:
    return f"/{INTENT_FAQ}" + json.dumps({ENTITY_FAQ_ID: entry_id})


def offer_person(reason: str) -> list[EventType]:
    """Events that make `action_offer_human` offer a person next, for `reason` (see bot.handoff.packet.REASONS)."""
    events: list[EventType] = [SlotSet(SLOT_HANDOFF_REASON, reason), FollowupAction(ACTION_OFFER_HUMAN)]
    if reason == "upset":
        events.append(SlotSet(SLOT_UPSET_OFFERED, True))
    return events


def is_upset(tracker: Tracker, language: str) -> bool:
    """The customer's last message reads as upset, and no person was offered for that yet (once is enough)."""
    if not services.handoff_thresholds().offer_when_upset or tracker.get_slot(SLOT_UPSET_OFFERED):
        return False
    upset = detect_upset(tracker.latest_message.get("text") or "", language)
    if upset is not None:
        logger.info("conversation %s: customer upset (%s: %s)", tracker.sender_id, upset.reason, upset.evidence)
    return upset is not None


class ActionAnswerFaq(Action):
    def name(self) -> str:
        return ACTION_ANSWER_FAQ

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        knowledge = services.knowledge()
        language = language_of(tracker)
        entry_id = chosen_faq_id(tracker)
        if entry_id not in knowledge.entries:
            logger.warning("no FAQ entry %r to answer with", entry_id)
            dispatcher.utter_message(response="utter_answer_unavailable")
            return []
        dispatcher.utter_message(text=knowledge.answer(entry_id, language))
        answered: list[EventType] = [SlotSet(SLOT_LAST_TOPIC, entry_id), SlotSet(SLOT_MISSES, 0.0)]
        # An upset customer, or a topic the shop wants a person for, is offered one instead of "was this helpful?".
        if is_upset(tracker, language):
            return [*answered, SlotSet(SLOT_LAST_FAQ, None), *offer_person("upset")]
        if knowledge.entries[entry_id].handoff:
            return [*answered, SlotSet(SLOT_LAST_FAQ, None), *offer_person("needs_person")]
        dispatcher.utter_message(response="utter_ask_helpful")
        return [*answered, SlotSet(SLOT_LAST_FAQ, entry_id)]


class ActionFaqFallback(Action):
    """Close but unclear: "did you mean" buttons. Nothing close: say so; too often in a row, or upset: a person."""

    def name(self) -> str:
        return ACTION_FAQ_FALLBACK

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        knowledge = services.knowledge()
        language = language_of(tracker)
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        candidates = [
            c for c in (tracker.latest_message.get(FAQ_KEY) or {}).get("candidates", []) if c["id"] in knowledge.entries
        ]
        events: list[EventType] = [SlotSet(SLOT_LAST_FAQ, None)]
        if is_upset(tracker, language):
            return [*events, SlotSet(SLOT_MISSES, 0.0), *offer_person("upset")]
        other_script = in_other_script(tracker.latest_message.get("text") or "")  # "你好，我的订单在哪里"
        if intent == INTENT_NLU_FALLBACK and candidates and not other_script:
            buttons = [
                {"title": knowledge.entries[c["id"]].title_in(language), "payload": suggestion_payload(c["id"])}
                for c in candidates
            ]
            none_title = response_text(domain, "utter_none_of_these_button", language, "None of these")
            buttons.append({"title": none_title, "payload": f"/{INTENT_NONE_OF_THESE}"})
            dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
            return events
        misses = int(tracker.get_slot(SLOT_MISSES) or 0) + 1
        if misses >= services.handoff_thresholds().misses_before_offer:
            return [*events, SlotSet(SLOT_MISSES, 0.0), *offer_person("not_understood")]
        if other_script:  # not "say it in other words": in which languages to say it
            dispatcher.utter_message(response="utter_other_script")
        elif intent == INTENT_OUT_OF_SCOPE:
            dispatcher.utter_message(response="utter_out_of_scope")
        else:
            dispatcher.utter_message(response="utter_dont_know")
        return [*events, SlotSet(SLOT_MISSES, float(misses))]


# The short reply to each small-talk intent (domain.yml); any other intent gets "OK".
SMALL_TALK_REPLIES = {
    "greet": "utter_greet",
    "goodbye": "utter_goodbye",
    "thanks": "utter_you_are_welcome",
    "bot_challenge": "utter_iamabot",
}


def small_talk_reply(intent: str | None) -> str:
    """The response `action_small_talk` gives `intent` when the customer is not upset."""
    return SMALL_TALK_REPLIES.get(intent or "", "utter_ok")


class ActionSmallTalk(Action):
    """Greetings, thanks, "are you a bot?", and a yes, a no or an e-mail out of context: the short reply,
    unless the message reads as upset ("this is the worst shop ever" is a "no", "thanks for nothing" a
    thanks): then a person is offered, as after a question. Runs in the Rasa process (endpoints.yml)."""

    def name(self) -> str:
        return ACTION_SMALL_TALK

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        if is_upset(tracker, language_of(tracker)):
            return offer_person("upset")
        dispatcher.utter_message(response=small_talk_reply((tracker.latest_message.get("intent") or {}).get("name")))
        return []


def store_feedback(feedback: Feedback) -> None:
    try:
        record_feedback(services.database(), feedback)
    except (StorageError, SQLAlchemyError):  # the latter: the database was down when first opened
        # The answer is still in the tracker's events; losing the tally is not worth an error message.
        logger.exception("feedback for %s not stored", feedback.faq_id)


class ActionRecordFeedback(Action):
    """Stores the answer to "was this helpful?" for the entry answered last.

    It runs in the Rasa process (endpoints.yml `in_process_actions`): one INSERT, no outbox. The
    write runs in a thread, so the event loop serves other customers while the database commits.
    """

    def name(self) -> str:
        return ACTION_RECORD_FEEDBACK

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[EventType]:
        helpful = (tracker.latest_message.get("intent") or {}).get("name") == INTENT_AFFIRM
        language = language_of(tracker)
        entry_id = tracker.get_slot(SLOT_LAST_FAQ)
        if entry_id:
            await asyncio.to_thread(store_feedback, Feedback(tracker.sender_id, entry_id, helpful, language))
        if helpful:
            dispatcher.utter_message(response="utter_feedback_thanks")
            return [SlotSet(SLOT_LAST_FAQ, None), SlotSet(SLOT_NOT_HELPFUL, 0.0)]
        not_helpful = int(tracker.get_slot(SLOT_NOT_HELPFUL) or 0) + 1
        if not_helpful >= services.handoff_thresholds().not_helpful_before_offer:
            return [SlotSet(SLOT_LAST_FAQ, None), SlotSet(SLOT_NOT_HELPFUL, 0.0), *offer_person("not_helpful")]
        dispatcher.utter_message(response="utter_feedback_sorry", **facts_for(services.knowledge(), language))
        return [SlotSet(SLOT_LAST_FAQ, None), SlotSet(SLOT_NOT_HELPFUL, float(not_helpful))]
