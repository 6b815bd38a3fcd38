"""Custom NLG (endpoints.yml `nlg: type: perfwork.nlg.FaqAnswerNLG`): fills `utter_faq_answer` in process.

Rasa loads it with class_from_module_path and calls FaqAnswerNLG(endpoint_config=..., domain=...)
(rasa/core/nlg/generator.py). Every other response is Rasa's templated one.
"""

from __future__ import annotations

from typing import Any, Optional

from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

from actions import services
from bot.knowledge.schema import DEFAULT_LANGUAGE
from bot.names import ENTITY_FAQ_ID, FAQ_KEY, SLOT_LANGUAGE

FAQ_ANSWER = "utter_faq_answer"


class FaqAnswerNLG(TemplatedNaturalLanguageGenerator):
    def __init__(self, endpoint_config: Any = None, domain: Any = None) -> None:
        super().__init__(domain.responses if domain else {})
        services.knowledge()  # load (and start watching faq/) now, not on the first question

    async def generate(self, utter_action: str, tracker: Any, output_channel: str, **kwargs: Any) -> Optional[dict]:
        if utter_action != FAQ_ANSWER:
            return await super().generate(utter_action, tracker, output_channel, **kwargs)
        knowledge = services.knowledge()
        message = tracker.latest_message
        faq = (message.parse_data or {}).get(FAQ_KEY) or {} if message else {}
        language = faq.get("language") or tracker.get_slot(SLOT_LANGUAGE) or DEFAULT_LANGUAGE
        clicked = next(tracker.get_latest_entity_values(ENTITY_FAQ_ID), None)
        entry_id = str(clicked) if clicked else faq.get("id")
        if entry_id not in knowledge.entries:
            return await super().generate("utter_answer_unavailable", tracker, output_channel, **kwargs)
        text = knowledge.answer(entry_id, language)
        if knowledge.entries[entry_id].handoff:
            facts = {name: knowledge.fact(name, language) for name in knowledge.facts}
            contact = await super().generate("utter_contact_a_person", tracker, output_channel, **facts)
            if contact and contact.get("text"):
                text = f"{text}\n\n{contact['text']}"
        return {"text": text}
