"""An agent turns a handed-off chat into a ticket, from what the customer gave in the conversation."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from sqlalchemy.engine import Engine

from bot.handoff.conversation import HandedOffConversations
from bot.handoff.store import Handoff
from bot.tickets.sla import SupportCalendar, format_promise, reply_by
from bot.tickets.store import ConfirmationEmail, NewTicket, Ticket, create_ticket, get_ticket

MAX_DESCRIPTION_CHARS = 4000


async def ticket_from_handoff(
    engine: Engine, calendar: SupportCalendar, conversations: HandedOffConversations, handoff: Handoff, agent_name: str
) -> Ticket | str:
    """The ticket made from the chat (its confirmation e-mail queued), or what is missing to make one."""
    tracker = await conversations.agent.processor.get_tracker(handoff.conversation_id)
    email = tracker.get_slot("email")
    if not email:
        return "the customer has not given an e-mail address in this chat; ask for it first"
    now = datetime.now(timezone.utc)
    promised = reply_by(calendar, now)
    lines = await conversations.transcript(handoff.conversation_id)
    said = [line["text"] for line in lines if line["sender"] == "customer"]
    description = f"From a chat with {agent_name} ({handoff.id}). The customer wrote:\n" + "\n".join(said)
    name = tracker.get_slot("ticket_name") or handoff.customer_name or email.split("@")[0]
    values = {
        "ticket_id": "{id}",
        "ticket_name": name,
        "email": email,
        "ticket_description": description[:MAX_DESCRIPTION_CHARS],
        "reply_by": format_promise(promised, handoff.language, now=now),
    }
    nlg = conversations.agent.nlg
    subject = await nlg.generate("utter_ticket_email_subject", tracker, "console", **values)
    body = await nlg.generate("utter_ticket_email_body", tracker, "console", **values)
    ticket = NewTicket(
        name=name,
        email=email,
        category=tracker.get_slot("ticket_category") or "support",
        description=description[:MAX_DESCRIPTION_CHARS],
        language=handoff.language,
        conversation_id=handoff.conversation_id,
        transcript=[{"who": line["sender"], "text": line["text"], "at": line["at"]} for line in lines],
        reply_by=promised,
        order_number=tracker.get_slot("order_number"),
        phone=tracker.get_slot("phone"),
    )
    confirmation = ConfirmationEmail(subject=(subject or {}).get("text", ""), body=(body or {}).get("text", ""))
    stored = await asyncio.to_thread(create_ticket, engine, ticket, confirmation, now)
    made = await asyncio.to_thread(get_ticket, engine, stored.id)
    assert made is not None  # just committed
    return made
