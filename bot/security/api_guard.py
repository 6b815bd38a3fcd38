"""Rasa HTTP API routes the product never needs, refused before Rasa sees them, token or not.

They rewrite conversations (tracker event writes, `execute`, `trigger_intent`, `messages`),
replace or retrain the model, run evaluations that take minutes of CPU, or make the server call
a URL of the caller's choice (`callback_url`). The agent console and the channels reach what they
need inside the process. The nginx configuration (issue 9) refuses the same list.
"""

from __future__ import annotations

import re

from sanic import Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

BLOCKED_ROUTES: tuple[tuple[frozenset[str], re.Pattern[str]], ...] = (
    (frozenset({"POST", "PUT"}), re.compile(r"^/conversations/.+/tracker/events/?$")),
    (frozenset({"POST"}), re.compile(r"^/conversations/.+/(execute|trigger_intent|messages)/?$")),
    (frozenset({"POST"}), re.compile(r"^/model/(train|test/stories|test/intents|predict)/?$")),
    (frozenset({"PUT", "DELETE"}), re.compile(r"^/model/?$")),
)
# A chat message is at most 2,000 characters and a console request a few KB, but a pasted 1 MB
# message still gets a polite answer from the channel; bigger bodies are refused by Sanic (413)
# before they are read in full.
MAX_REQUEST_BYTES = 2 * 1024 * 1024


def is_blocked(method: str, path: str, query_keys: set[str]) -> bool:
    if "callback_url" in query_keys:
        return True
    return any(method in methods and pattern.match(path) for methods, pattern in BLOCKED_ROUTES)


def install(app: Sanic) -> None:
    app.config.REQUEST_MAX_SIZE = MAX_REQUEST_BYTES

    async def guard(request: Request) -> HTTPResponse | None:
        if is_blocked(request.method, request.path, set(request.args)):
            return response.json({"error": "this Rasa API route is disabled in this product (docs/security.md)"}, 403)
        return None

    app.register_middleware(guard, "request")
