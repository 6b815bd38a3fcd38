"""Hot reload: a good edit goes live, a broken one is reported and changes nothing."""

import logging
import shutil
import time
from pathlib import Path

from bot.knowledge.loader import faq_files, load_knowledge_base
from bot.knowledge.reload import LiveValue

ROOT = Path(__file__).resolve().parent.parent


def live_copy(tmp_path: Path) -> tuple[Path, LiveValue]:
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    live = LiveValue(lambda: load_knowledge_base(folder).knowledge, lambda: faq_files(folder), interval=0.05)
    return folder, live


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_good_edit_goes_live(tmp_path):
    folder, live = live_copy(tmp_path)
    edit(folder / "returns.yml", "Return policy", "Our return policy")
    assert live.check()
    assert live.current().entries["returns.policy"].title["en"] == "Our return policy"


def test_a_broken_edit_keeps_the_last_good_version_and_is_logged(tmp_path, caplog):
    folder, live = live_copy(tmp_path)
    before = live.current()
    edit(folder / "returns.yml", "  - id: returns.policy", "  - id: returns.policy\n    bogus: [")
    with caplog.at_level(logging.ERROR):
        assert not live.check()
    assert live.current() is before
    assert live.last_error is not None
    assert any("returns.yml:" in r.getMessage() and "not valid YAML" in r.getMessage() for r in caplog.records)
    # Logged once, not at every poll.
    caplog.clear()
    assert not live.check()
    assert not caplog.records


def test_the_watcher_thread_picks_up_edits(tmp_path):
    folder, live = live_copy(tmp_path)
    live.start()
    try:
        edit(folder / "returns.yml", "Return policy", "Returns, explained")
        deadline = time.monotonic() + 2.0
        while (
            time.monotonic() < deadline and live.current().entries["returns.policy"].title["en"] != "Returns, explained"
        ):
            time.sleep(0.02)
        assert live.current().entries["returns.policy"].title["en"] == "Returns, explained"
    finally:
        live.stop()


def test_a_quick_version_goes_live_first_then_its_refined_one(tmp_path, caplog):
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    title = lambda: load_knowledge_base(folder).knowledge.entries["returns.policy"].title["en"]  # noqa: E731
    failing = {"refine": False}

    def refine(value: tuple[str, str]) -> tuple[str, str]:
        if failing["refine"]:
            raise RuntimeError("no memory left")
        return ("refined", value[1])

    live = LiveValue(lambda: ("quick", title()), lambda: faq_files(folder), interval=0.05, refine=refine)
    assert not live.refine()  # the version built at start is whole
    edit(folder / "returns.yml", "Return policy", "Our return policy")
    assert live.check() and live.current() == ("quick", "Our return policy")
    assert live.refine() and live.current() == ("refined", "Our return policy")
    assert not live.refine()  # once
    failing["refine"] = True
    edit(folder / "returns.yml", "Our return policy", "Returns")
    assert live.check()
    with caplog.at_level(logging.ERROR):
        assert not live.refine()
    assert live.current() == ("quick", "Returns")  # the quick version stays live
    assert any("refining it failed" in r.getMessage() for r in caplog.records)


def test_the_watcher_refines_what_it_reloaded(tmp_path):
    folder = tmp_path / "faq"
    shutil.copytree(ROOT / "faq", folder)
    title = lambda: load_knowledge_base(folder).knowledge.entries["returns.policy"].title["en"]  # noqa: E731
    live = LiveValue(
        lambda: ("quick", title()), lambda: faq_files(folder), interval=0.05, refine=lambda v: ("refined", v[1])
    )
    live.start()
    try:
        edit(folder / "returns.yml", "Return policy", "Returns, explained")
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and live.current() != ("refined", "Returns, explained"):
            time.sleep(0.02)
        assert live.current() == ("refined", "Returns, explained")
    finally:
        live.stop()
