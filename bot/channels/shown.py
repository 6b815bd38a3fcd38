"""What a customer saw of their own message: one rule for the widget's history, the agent console and the
handoff packet (plain Python: the action server uses it too, on events as dicts).

Not shown: the widget's opening `/greet` (metadata `hidden`) and intents the server triggers on the
customer's behalf (Rasa's `is_external`: a handoff ending or timing out). A button click shows
its title (metadata `display`), not its payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

HIDDEN, DISPLAY = "hidden", "display"
IS_EXTERNAL = "is_external"  # rasa.shared.core.constants.IS_EXTERNAL, set by UserUttered.create_external


def shown_user_text(text: str | None, metadata: Mapping[str, Any] | None) -> str | None:
    """The text the customer saw for their message, or None when they never saw one."""
    metadata = metadata or {}
    if metadata.get(HIDDEN) or metadata.get(IS_EXTERNAL):
        return None
    shown = str(metadata.get(DISPLAY) or text or "")
    return shown if shown.strip() else None
