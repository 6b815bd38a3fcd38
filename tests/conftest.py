"""Shared fixtures: the real knowledge base, the real config, real servers (see servers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.knowledge.intents import load_intent_examples
from bot.knowledge.loader import load_knowledge_base
from bot.knowledge.schema import KnowledgeBase
from bot.matching.matcher import Matcher
from bot.pipeline_config import PipelineConfig, read_pipeline_config

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
