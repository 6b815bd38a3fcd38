"""The action server's clients: the live knowledge base and the database.

Built on first use (never at import), once per process, from `bot.settings`.
"""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine

from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue
from bot.knowledge.schema import KnowledgeBase
from bot.settings import load_settings
from bot.storage.database import create_engine

_lock = threading.Lock()
_knowledge: LiveValue[KnowledgeBase] | None = None
_engine: Engine | None = None


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


def engine() -> Engine:
    global _engine
    with _lock:
        if _engine is None:
            _engine = create_engine(load_settings().database_url)
    return _engine
