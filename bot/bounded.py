"""Per-key memories of bounded size: the latest entries are kept, the oldest forgotten."""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


def remember_latest(entries: OrderedDict[K, V], key: K, value: V, size: int) -> V:
    """Store `value` under `key` as the most recent entry, forget the oldest beyond `size`; return `value`."""
    entries[key] = value
    entries.move_to_end(key)
    while len(entries) > size:
        entries.popitem(last=False)
    return value
