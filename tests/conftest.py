"""Shared fixtures: the real knowledge base, the real config, real servers (see servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from rasa.shared.core.domain import Domain

from bot.console.agents import add_agent
from bot.knowledge.loader import load_knowledge_base
from bot.knowledge.schema import KnowledgeBase
from bot.matching.live import matcher_with_intents
from bot.matching.matcher import Matcher
from bot.pipeline_config import PipelineConfig, read_pipeline_config
from tests.handoff_support import PASSWORD, WAIT_FOR_AGENT_SECONDS, WEBHOOK_SECRET, Receiver, database
from tests.servers import MODEL, RunningBot, start_bot, support_open_around_the_clock

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; Playwright cannot download its own browsers here
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def domain() -> Domain:
    """The product's domain.yml, as Rasa loads it."""
    return Domain.load(str(ROOT / "domain.yml"))


@pytest.fixture(scope="session")
def pipeline_config() -> PipelineConfig:
    return read_pipeline_config(ROOT / "config.yml")


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge_base(ROOT / "faq").knowledge


@pytest.fixture(scope="session")
def matcher(knowledge: KnowledgeBase, pipeline_config: PipelineConfig) -> Matcher:
    return matcher_with_intents(knowledge, ROOT / "data" / "nlu", pipeline_config.matcher)


@pytest.fixture(scope="session")
def widget_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """One running product shared by the widget's socket.io and browser tests."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    running = start_bot(tmp_path_factory.mktemp("widget"), ROOT / "tests" / "artifacts" / "widget")
    yield running
    running.stop()


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture(scope="session")
def handoff_bot(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[RunningBot]:
    """The product with support open around the clock, two agents (maya, sam), a short wait and a webhook."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    folder = tmp_path_factory.mktemp("handoff")
    support = support_open_around_the_clock(folder)
    endpoints = yaml.safe_load((ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["handoff"]["wait_for_agent_seconds"] = WAIT_FOR_AGENT_SECONDS
    (folder / "endpoints.yml").write_text(yaml.safe_dump(endpoints), encoding="utf-8")
    running = start_bot(
        folder / "bot",
        ROOT / "tests" / "artifacts" / "handoff",
        {
            "SUPPORTBOT_SUPPORT_CONFIG": str(support),
            "SUPPORTBOT_ENDPOINTS": str(folder / "endpoints.yml"),
            "SUPPORTBOT_HANDOFF_WEBHOOK_URL": receiver.url,
            "SUPPORTBOT_HANDOFF_WEBHOOK_SECRET": WEBHOOK_SECRET,
        },
    )
    now = datetime.now(timezone.utc)
    add_agent(database(running), "maya", "Maya Tan", PASSWORD, now)
    add_agent(database(running), "sam", "Sam Lee", PASSWORD, now)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Chromium driven by Playwright, one per test module (the sync API must not outlive the module's tests)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()
