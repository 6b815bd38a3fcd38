"""Shared fixtures: the real knowledge base, the real config, real servers (see servers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import load_knowledge_base
from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import Matcher
from bot.pipeline_config import PipelineConfig, read_pipeline_config
from tests.servers import MODEL, RunningBot, start_bot

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pipeline_config() -> PipelineConfig:
    return read_pipeline_config(ROOT / "config.yml")


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    return load_knowledge_base(ROOT / "faq").knowledge


@pytest.fixture(scope="session")
def matcher(knowledge: KnowledgeBase, pipeline_config: PipelineConfig) -> Matcher:
    return Matcher(knowledge, load_intent_examples(ROOT / "data" / "nlu"), pipeline_config.matcher)


@pytest.fixture(scope="session")
def widget_bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """One running product shared by the widget's socket.io and browser tests."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    running = start_bot(tmp_path_factory.mktemp("widget"), ROOT / "tests" / "artifacts" / "widget")
    yield running
    running.stop()
