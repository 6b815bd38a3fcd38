"""Whether a message is written in a script none of the bot's languages use (Chinese, Thai, Tamil...).

All five languages are written in Latin letters (Vietnamese with its diacritics), so a message whose
letters are mostly of another script cannot be one of them, whatever the language detector guesses.
"""

from __future__ import annotations

import unicodedata

# From this share of its letters in other scripts, a message is in another language. Below, a Latin
# message that quotes a product name or a few characters ("lampu 台灯 ada stok?") is still read.
OTHER_SCRIPT_SHARE = 0.5


def in_other_script(text: str) -> bool:
    """True when most of `text`'s letters are not Latin; a message without letters (emoji, digits) is not."""
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return False
    other = sum(not unicodedata.name(ch, "").startswith("LATIN") for ch in letters)
    return other >= OTHER_SCRIPT_SHARE * len(letters)
