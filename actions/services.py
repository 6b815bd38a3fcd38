"""The actions' clients, on the action server and for the actions run in the Rasa process: the live
knowledge base and the database.

Built on first use (never at import), once per process, from `bot.settings`.
"""

from __future__ import annotations

import threading
from functools import lru_cache

from sqlalchemy.engine import Engine

from bot.handoff.thresholds import HandoffThresholds, load_thresholds
from bot.handoff.webhook import HandoffSettings, load_handoff_settings
from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue
from bot.knowledge.schema import KnowledgeBase
from bot.mail import OutboxWorker, start_mail_worker
from bot.settings import load_settings
from bot.storage.database import create_engine
from bot.tickets.fields import TicketRules, load_rules
from bot.tickets.sla import SupportCalendar, load_calendar

_lock = threading.Lock()
_knowledge: LiveValue[KnowledgeBase] | None = None
_engine: Engine | None = None
_mail_worker: OutboxWorker | None = None
_outbox_started = False


def knowledge() -> KnowledgeBase:
    """The current knowledge base, reloaded when `faq/` changes."""
    global _knowledge
    with _lock:
        if _knowledge is None:
            settings = load_settings()
            path = settings.faq_path
            _knowledge = LiveValue(
                build=lambda: load_knowledge_base(path).knowledge,
                watched_files=lambda: faq_files(path),
                interval=settings.reload_interval,
                name=f"knowledge base {path}",
            ).start()
    return _knowledge.current()


def database() -> Engine:
    """The product database, migrated, and nothing else: the Rasa process stores feedback with it (its
    actions never write to the outbox, so it delivers none)."""
    global _engine
    with _lock:
        if _engine is None:
            settings = load_settings()
            _engine = create_engine(settings.database_url, timeout=settings.database_timeout)
    return _engine


def engine() -> Engine:
    """The product database; the first use also starts delivering the outbox (e-mail, webhooks) when configured."""
    global _mail_worker, _outbox_started
    product = database()
    with _lock:
        if not _outbox_started:
            _mail_worker = start_mail_worker(product)  # a bad mail or webhook setting fails every use
            _outbox_started = True
    return product


@lru_cache(maxsize=1)
def ticket_rules() -> TicketRules:
    return load_rules(load_settings().support_config)


@lru_cache(maxsize=1)
def support_calendar() -> SupportCalendar:
    return load_calendar(load_settings().support_config)


@lru_cache(maxsize=1)
def handoff_thresholds() -> HandoffThresholds:
    return load_thresholds(load_settings().endpoints_path)


@lru_cache(maxsize=1)
def handoff_deliveries() -> HandoffSettings:
    """Where handoff packets are copied (webhook, e-mail), from the environment."""
    return load_handoff_settings()
