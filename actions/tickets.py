"""The ticket form (validation, the category and confirmation questions), submitting, cancelling, status."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import services
from actions.faq import chosen_faq_id, facts_for, language_of, response_text
from bot.handoff.packet import MAX_MESSAGES
from bot.handoff.store import ratings_for
from bot.names import ACTION_SUBMIT_TICKET, INTENT_FAQ, SLOT_CSAT_FOR
from bot.storage.database import StorageError
from bot.tickets.fields import (
    Checked,
    check_category,
    check_description,
    check_email,
    check_name,
    check_order_number,
    looks_like_what_happened,
)
from bot.tickets.sla import format_promise, reply_by
from bot.tickets.store import ConfirmationEmail, NewTicket, create_ticket, find_for_customer, normalise_ticket_id

logger = logging.getLogger(__name__)

FAILURES_BEFORE_A_PERSON = 2  # the same field refused this many times: stop asking, offer a person
LOOKUPS_BEFORE_LOCK = 3  # refused status lookups per conversation before we stop answering them
FORM_SLOTS = ("ticket_name", "email", "ticket_category", "order_number", "ticket_description", "ticket_confirmed")
# What the "Change …" buttons of the summary can reset, and their titles.
CHANGEABLE = {
    "ticket_name": "utter_ticket_button_change_name",
    "email": "utter_ticket_button_change_email",
    "order_number": "utter_ticket_button_change_order",
    "ticket_description": "utter_ticket_button_change_description",
}


def _refuse(
    slot: str, checked: Checked, dispatcher: CollectingDispatcher, tracker: Tracker, extra: dict | None = None
) -> dict[str, Any]:
    """Explain why a value was refused and count it; the second refusal of a field gives up the form."""
    dispatcher.utter_message(response=checked.problem, suggestion=checked.suggestion or "")
    failures = dict(tracker.get_slot("ticket_failures") or {})
    failures[slot] = failures.get(slot, 0) + 1
    result = {slot: None, "ticket_failures": failures, **(extra or {})}
    if failures[slot] >= FAILURES_BEFORE_A_PERSON:
        result["ticket_gave_up"] = True
    return result


def _answered_instead(dispatcher: CollectingDispatcher, tracker: Tracker) -> bool:
    """A clear FAQ question typed where the form asked for an e-mail, order number or topic: answered (the
    customer may have found what they needed), not refused or counted; the form then asks again."""
    if (tracker.latest_message.get("intent") or {}).get("name") != INTENT_FAQ:
        return False
    knowledge, entry_id = services.knowledge(), chosen_faq_id(tracker)
    if entry_id not in knowledge.entries:
        return False
    dispatcher.utter_message(text=knowledge.answer(entry_id, language_of(tracker)))
    dispatcher.utter_message(response="utter_back_to_ticket")
    return True


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    async def required_slots(
        self, domain_slots: list[str], dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[str]:
        if tracker.get_slot("ticket_gave_up"):
            return []  # the form ends; action_submit_ticket offers a person instead
        category = services.ticket_rules().categories.get(tracker.get_slot("ticket_category") or "")
        if category is not None and not category.needs_order:
            return [s for s in domain_slots if s != "order_number"]
        return domain_slots

    async def extract_ticket_category(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Inferred from the FAQ entry the conversation was about, so the customer is not asked."""
        if tracker.get_slot("ticket_category") or tracker.get_slot("requested_slot") == "ticket_category":
            return {}
        entry = services.knowledge().entries.get(tracker.get_slot("last_topic") or "")
        if entry and entry.tags and entry.tags[0] in services.ticket_rules().categories:
            return {"ticket_category": entry.tags[0]}
        return {}

    def validate_ticket_category(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        checked = check_category(str(value), services.ticket_rules(), language_of(tracker))
        if checked.value:
            return {"ticket_category": checked.value}
        if _answered_instead(dispatcher, tracker):
            return {"ticket_category": None}
        return _refuse("ticket_category", checked, dispatcher, tracker)

    def validate_ticket_name(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if _told_what_happened(str(value), tracker):
            # Kept as the description when it is one, so it is not asked again; not counted as a failure.
            described = check_description(str(value), services.ticket_rules())
            dispatcher.utter_message(response="utter_description_noted" if described.value else "utter_name_first")
            return {"ticket_name": None, **({"ticket_description": described.value} if described.value else {})}
        checked = check_name(str(value))
        return {"ticket_name": checked.value} if checked.value else _refuse("ticket_name", checked, dispatcher, tracker)

    def validate_email(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        checked = check_email(str(value), confirmed_hint=tracker.get_slot("email_hinted"))
        if checked.value:
            return {"email": checked.value}
        if _answered_instead(dispatcher, tracker):
            return {"email": None}
        if checked.problem == "utter_email_typo":  # not a failure: the customer may confirm it by typing it again
            dispatcher.utter_message(response=checked.problem, suggestion=checked.suggestion)
            return {"email": None, "email_hinted": str(value).strip()}
        return _refuse("email", checked, dispatcher, tracker)

    def validate_order_number(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        checked = check_order_number(str(value), services.ticket_rules())
        if checked.value:
            return {"order_number": checked.value}
        if _answered_instead(dispatcher, tracker):
            return {"order_number": None}
        return _refuse("order_number", checked, dispatcher, tracker)

    def validate_ticket_description(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        # Asked for more once already: a short answer is what the customer can tell (the ticket keeps the
        # transcript too). Giving up the form here would lose their name and e-mail over a short sentence.
        asked_for_more = bool((tracker.get_slot("ticket_failures") or {}).get("ticket_description"))
        checked = check_description(str(value), services.ticket_rules(), asked_for_more)
        if checked.value:
            return {"ticket_description": checked.value}
        return _refuse("ticket_description", checked, dispatcher, tracker)

    def validate_ticket_confirmed(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        if value == "yes":
            return {"ticket_confirmed": "yes"}
        if value == "change":
            field = next(tracker.get_latest_entity_values("ticket_field"), None)
            if field in CHANGEABLE:
                return {"ticket_confirmed": None, field: None}
        dispatcher.utter_message(response="utter_ticket_what_to_change")
        return {"ticket_confirmed": None}


def _told_what_happened(text: str, tracker: Tracker) -> bool:
    """The customer answered "what's your name?" with their problem (`looks_like_what_happened`), and
    has not told it yet. The same text typed again right away is their name after all."""
    if tracker.get_slot("ticket_description"):
        return False
    said = [e.get("text") or "" for e in tracker.events if e.get("event") == "user"]
    if len(said) >= 2 and said[-2].strip().casefold() == text.strip().casefold():
        return False
    recognised = (tracker.latest_message.get("intent") or {}).get("name") == INTENT_FAQ
    return looks_like_what_happened(text, recognised)


class AskTicketCategory(Action):
    """ "What is it about?" with one button per category, in the customer's language."""

    def name(self) -> str:
        return "action_ask_ticket_category"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        buttons = [
            {"title": category.label(language), "payload": f'/inform{{"ticket_category": "{key}"}}'}
            for key, category in services.ticket_rules().categories.items()
        ]
        dispatcher.utter_message(response="utter_ask_ticket_category", buttons=buttons)
        return []


class AskTicketConfirmed(Action):
    """The summary of the ticket, with "send", "change …" and "cancel" buttons."""

    def name(self) -> str:
        return "action_ask_ticket_confirmed"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        category = services.ticket_rules().categories.get(tracker.get_slot("ticket_category") or "")
        buttons = [
            {"title": response_text(domain, "utter_ticket_button_send", language, "Send it"), "payload": "/affirm"}
        ]
        for slot, title in CHANGEABLE.items():
            if slot == "order_number" and not tracker.get_slot("order_number"):
                continue
            buttons.append(
                {
                    "title": response_text(domain, title, language, slot),
                    "payload": f'/change_ticket{{"ticket_field": "{slot}"}}',
                }
            )
        buttons.append(
            {"title": response_text(domain, "utter_ticket_button_cancel", language, "Cancel"), "payload": "/stop_form"}
        )
        dispatcher.utter_message(
            response="utter_ticket_summary",
            buttons=buttons,
            ticket_name=tracker.get_slot("ticket_name"),
            email=tracker.get_slot("email"),
            order_number=tracker.get_slot("order_number")
            or response_text(domain, "utter_no_order_number", language, "-"),
            ticket_category=category.label(language) if category else "",
            ticket_description=tracker.get_slot("ticket_description"),
        )
        return []


def _reset_form_state() -> list[EventType]:
    """The form's bookkeeping (refusals, the question it asked), not the fields."""
    return [
        SlotSet("ticket_failures", None),
        SlotSet("ticket_gave_up", False),
        SlotSet("email_hinted", None),
        SlotSet("requested_slot", None),
    ]


def _clear_form() -> list[EventType]:
    return [SlotSet(slot, None) for slot in FORM_SLOTS if slot != "email"] + _reset_form_state()


def transcript_of(tracker: Tracker) -> list[dict]:
    """The conversation's last MAX_MESSAGES messages as the agent will read them: who said what, when
    (as the handoff packet keeps; the Rasa server sends a long conversation's earlier events no further)."""
    lines = []
    for event in tracker.events:
        if event.get("event") in ("user", "bot") and event.get("text"):
            at = datetime.fromtimestamp(event.get("timestamp") or 0, timezone.utc).isoformat()
            lines.append({"who": "customer" if event["event"] == "user" else "bot", "text": event["text"], "at": at})
    return lines[-MAX_MESSAGES:]


class SubmitTicket(Action):
    """Store the ticket (and its confirmation e-mail) and give the id and the promised reply time.

    Nothing is confirmed before it is committed; if the database fails, the slots stay filled
    and the customer can say "yes" to try again.
    """

    def name(self) -> str:
        return ACTION_SUBMIT_TICKET

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        knowledge = services.knowledge()
        if tracker.get_slot("ticket_gave_up"):
            dispatcher.utter_message(response="utter_ticket_offer_person", **facts_for(knowledge, language))
            # What was accepted stays: a person taking the chat sees it, and a new ticket does not ask it again.
            return _reset_form_state()
        now = datetime.now(timezone.utc)
        promised = reply_by(services.support_calendar(), now)
        promise_text = format_promise(promised, language)
        category = tracker.get_slot("ticket_category") or "support"
        fields = {
            "ticket_name": tracker.get_slot("ticket_name"),
            "email": tracker.get_slot("email"),
            "ticket_description": tracker.get_slot("ticket_description"),
            "reply_by": promise_text,
        }
        ticket = NewTicket(
            name=fields["ticket_name"],
            email=fields["email"],
            category=category,
            description=fields["ticket_description"],
            language=language,
            conversation_id=tracker.sender_id,
            transcript=transcript_of(tracker),
            reply_by=promised,
            order_number=tracker.get_slot("order_number"),
            phone=tracker.get_slot("phone"),
        )
        template = {**fields, "ticket_id": "{id}"}
        email = ConfirmationEmail(
            subject=response_text(domain, "utter_ticket_email_subject", language, "Your ticket {ticket_id}").format_map(
                template
            ),
            body=response_text(domain, "utter_ticket_email_body", language, "{ticket_id}").format_map(template),
        )
        try:
            stored = create_ticket(services.engine(), ticket, email, now)
        except StorageError:
            logger.exception("ticket for conversation %s not stored", tracker.sender_id)
            dispatcher.utter_message(response="utter_ticket_not_saved")
            return [SlotSet("ticket_pending", True)]
        fields["reply_by"] = format_promise(stored.reply_by, language)  # a resent ticket's first promise
        dispatcher.utter_message(response="utter_ticket_created", ticket_id=stored.id, **fields)
        return [*_clear_form(), SlotSet("ticket_pending", False), SlotSet("ticket_id", stored.id)]


class CancelTicket(Action):
    def name(self) -> str:
        return "action_cancel_ticket"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_ticket_cancelled")
        return [ActiveLoop(None), *_clear_form(), SlotSet("ticket_pending", False)]


class ValidateTicketStatusForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_status_form"

    def validate_ticket_id(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        ticket_id = normalise_ticket_id(str(value))
        if len(ticket_id) != len("TCK-") + 6:
            dispatcher.utter_message(response="utter_invalid_ticket_id")
            return {"ticket_id": None}
        return {"ticket_id": ticket_id}

    def validate_email(self, value: Any, dispatcher, tracker, domain) -> dict[str, Any]:
        checked = check_email(str(value), confirmed_hint=str(value))  # a lookup needs the address as given
        if checked.value:
            return {"email": checked.value}
        dispatcher.utter_message(response=checked.problem, suggestion=checked.suggestion or "")
        return {"email": None}


FINISHED_STATUSES = ("resolved", "closed")


class TicketStatus(Action):
    """The status of a ticket, only when the e-mail on it matches; the same refusal for a wrong id or e-mail."""

    def name(self) -> str:
        return "action_ticket_status"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        language = language_of(tracker)
        refused = int(tracker.get_slot("ticket_lookups_refused") or 0)
        if refused >= LOOKUPS_BEFORE_LOCK:
            dispatcher.utter_message(response="utter_ticket_lookup_locked", **facts_for(services.knowledge(), language))
            return [SlotSet("ticket_id", None)]
        try:
            ticket = find_for_customer(
                services.engine(), tracker.get_slot("ticket_id") or "", tracker.get_slot("email") or ""
            )
        except StorageError:
            logger.exception("ticket status lookup failed")
            dispatcher.utter_message(response="utter_ticket_not_saved")
            return [SlotSet("ticket_id", None)]
        if ticket is None:
            dispatcher.utter_message(response="utter_ticket_not_found")
            return [
                SlotSet("ticket_id", None),
                SlotSet("email", None),
                SlotSet("ticket_lookups_refused", float(refused + 1)),
            ]
        dispatcher.utter_message(
            response=f"utter_ticket_status_{ticket.status}",
            ticket_id=ticket.id,
            reply_by=format_promise(ticket.reply_by, language),
        )
        notes = [entry["note"] for entry in ticket.history if entry.get("note")]
        if notes:  # what the team wrote for the customer in the agent console
            dispatcher.utter_message(response="utter_ticket_note", note=notes[-1])
        if ticket.status in FINISHED_STATUSES and not _rated(tracker.sender_id, ticket.id):
            dispatcher.utter_message(response="utter_ask_csat")  # the ticket is done: how was the help?
            return [SlotSet("ticket_id", None), SlotSet(SLOT_CSAT_FOR, ticket.id)]
        return [SlotSet("ticket_id", None)]


def _rated(conversation_id: str, ticket_id: str) -> bool:
    try:
        return any(r["ticket_id"] == ticket_id for r in ratings_for(services.engine(), conversation_id))
    except StorageError:
        return True  # unsure: better not to ask twice
