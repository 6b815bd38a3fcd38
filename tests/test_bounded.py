"""bot.bounded: the latest entries are kept, the oldest forgotten."""

from collections import OrderedDict

from bot.bounded import remember_latest


def test_the_oldest_entry_is_forgotten_and_a_stored_again_one_becomes_the_latest() -> None:
    entries: OrderedDict[str, int] = OrderedDict()
    for key, value in (("a", 1), ("b", 2), ("a", 3), ("c", 4)):
        assert remember_latest(entries, key, value, size=2) == value
    assert list(entries.items()) == [("a", 3), ("c", 4)]
