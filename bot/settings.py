"""Process settings, read once from the environment, with defaults for `make run`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    faq_path: Path  # SUPPORTBOT_FAQ_PATH: the knowledge base folder
    database_url: str  # SUPPORTBOT_DATABASE_URL: SQLAlchemy URL of the product database
    reload_interval: float  # SUPPORTBOT_RELOAD_INTERVAL: seconds between checks of faq/ for edits


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    try:
        reload_interval = float(env.get("SUPPORTBOT_RELOAD_INTERVAL", "0.5"))
    except ValueError as error:
        raise ValueError(f"SUPPORTBOT_RELOAD_INTERVAL must be a number of seconds: {error}") from None
    return Settings(
        faq_path=Path(env.get("SUPPORTBOT_FAQ_PATH", "faq")),
        database_url=env.get("SUPPORTBOT_DATABASE_URL", "sqlite:///var/supportbot.db"),
        reload_interval=reload_interval,
    )
