"""Widget session ids that only this server can issue.

The browser keeps a session token `<conversation id>.<signature>`: the conversation id is
128 random bits and the signature an HMAC of it, so a client can neither pick its own id nor
join someone else's conversation by knowing (or guessing) its id. Being stateless, the check
works on every replica that shares the secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SIGNATURE_CHARS = 32  # of base64url: 192 bits of the HMAC


class SessionIds:
    def __init__(self, secret: str) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 characters")
        # A key of its own, so a signature never doubles as anything else made from the secret.
        self._key = hmac.new(secret.encode(), b"supportbot widget session id", hashlib.sha256).digest()

    def issue(self) -> tuple[str, str]:
        """A new (conversation id, session token)."""
        conversation_id = secrets.token_urlsafe(16)
        return conversation_id, f"{conversation_id}.{self._sign(conversation_id)}"

    def conversation_of(self, token: object) -> str | None:
        """The conversation id of a token this server issued, else None."""
        if not isinstance(token, str) or token.count(".") != 1 or len(token) > 100:
            return None
        conversation_id, signature = token.split(".")
        if not conversation_id or not hmac.compare_digest(signature, self._sign(conversation_id)):
            return None
        return conversation_id

    def _sign(self, conversation_id: str) -> str:
        digest = hmac.new(self._key, conversation_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode()[:_SIGNATURE_CHARS]
