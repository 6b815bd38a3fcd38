"""Names shared by the NLU components, the actions and the domain, in one place.

`tests/test_names.py` checks that `domain.yml` declares every one of them.
"""

# Keys the NLU components add to a parsed message.
LANGUAGE_KEY = "language"  # detected language of the message
FAQ_KEY = "faq"  # the FAQ match object of `/model/parse`
MATCH_KEY = "match"  # the matcher's evidence: words, repairs, nearest phrasings

# Intents
INTENT_FAQ = "faq"
INTENT_NLU_FALLBACK = "nlu_fallback"
INTENT_OUT_OF_SCOPE = "out_of_scope"
INTENT_NONE_OF_THESE = "none_of_these"
INTENT_AFFIRM = "affirm"
INTENT_DENY = "deny"
INTENT_INFORM = "inform"  # the customer gave data (an e-mail, a phone or order number), asked nothing
INTENT_TICKET_STATUS = "ticket_status"

# Entities
ENTITY_FAQ_ID = "faq_id"  # set by a "did you mean" button's payload
ENTITY_LANGUAGE = "language"  # set by the language detector on every message; fills the language slot
ENTITY_TICKET_ID = "ticket_id"
# The customer's own data, found by Rasa's RegexEntityExtractor: the matcher compares the words around
# them, never the values ("where is my order KL30001234" is "where is my order").
DATA_ENTITIES = frozenset({"email", "phone", "order_number", ENTITY_TICKET_ID})

# Slots
SLOT_LANGUAGE = "language"
SLOT_LAST_FAQ = "last_faq"  # the entry answered last, for "was this helpful?"
SLOT_LAST_TOPIC = "last_topic"  # the entry answered last, kept: a ticket's category is inferred from it
SLOT_MISSES = "misses_in_a_row"  # messages in a row the bot could not answer

# Actions
ACTION_ANSWER_FAQ = "action_answer_faq"
ACTION_FAQ_FALLBACK = "action_faq_fallback"
ACTION_SMALL_TALK = "action_small_talk"  # greetings, thanks, yes/no out of context: a short reply
ACTION_RECORD_FEEDBACK = "action_record_feedback"
ACTION_OFFER_HUMAN = "action_offer_human"
ACTION_START_HANDOFF = "action_start_handoff"
ACTION_SUBMIT_TICKET = "action_submit_ticket"
ACTION_HANDOFF_TIMED_OUT = "action_handoff_timed_out"
ACTION_RECORD_CSAT = "action_record_csat"

# Forms
FORM_TICKET = "ticket_form"

# Handoff: intents the Rasa server triggers when an agent ends a chat or none takes it in time
INTENT_HANDOFF_ENDED = "handoff_ended"
INTENT_HANDOFF_TIMEOUT = "handoff_timeout"
INTENT_RATE = "rate"
ENTITY_RATING = "rating"  # 1-5, from the CSAT buttons' payloads
SLOT_HANDOFF_REASON = "handoff_reason"  # why the bot offers a person; a key of bot.handoff.packet.REASONS
SLOT_NOT_HELPFUL = "not_helpful_in_a_row"  # answers in a row the customer marked "not helpful"
SLOT_UPSET_OFFERED = "upset_offered"  # a person was offered because the customer was upset: once is enough
SLOT_CSAT_FOR = "csat_for"  # the handoff or ticket id a rating will be about
