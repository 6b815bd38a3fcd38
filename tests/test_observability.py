"""Health, readiness and Prometheus metrics (bot/observability): units, then the real servers over HTTP."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection

from bot.names import ACTION_ANSWER_FAQ, ACTION_FAQ_FALLBACK
from bot.observability.actions import instrument_executor
from bot.observability.database import ProductDatabaseCollector
from bot.observability.messages import RESPONSE_DID_YOU_MEAN, faq_result
from bot.observability.metrics import (
    DID_YOU_MEAN,
    HIT,
    MISS,
    ActionMetrics,
    MessageMetrics,
    new_registry,
)
from bot.observability.routes import metrics_token
from bot.storage.database import create_engine, transaction
from bot.storage.outbox import enqueue_email, mark_sent
from tests.servers import MODEL, RunningBot, start_bot

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse_samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, by name and labels, as Prometheus itself would read it."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; KeyError when the series is not exposed (a missing series must not read as 0)."""
    return samples[(name, frozenset(labels.items()))]


# --- units ---------------------------------------------------------------------------------------


def test_message_metrics_round_trip_through_the_prometheus_text_format() -> None:
    registry = new_registry()
    metrics = MessageMetrics.register(registry, ["rest", "socketio"])
    metrics.messages.labels("rest", "ok").inc(2)
    metrics.latency.labels("rest").observe(0.004)
    metrics.latency.labels("rest").observe(0.3)
    metrics.faq.labels("ms", HIT).inc()

    samples = parse_samples(generate_latest(registry).decode())

    assert value(samples, "supportbot_messages_total", channel="rest", outcome="ok") == 2
    assert value(samples, "supportbot_messages_total", channel="socketio", outcome="ok") == 0  # exists before use
    assert value(samples, "supportbot_message_duration_seconds_count", channel="rest") == 2
    assert value(samples, "supportbot_message_duration_seconds_sum", channel="rest") == pytest.approx(0.304)
    assert value(samples, "supportbot_message_duration_seconds_bucket", channel="rest", le="0.001") == 0
    assert value(samples, "supportbot_message_duration_seconds_bucket", channel="rest", le="0.005") == 1
    assert value(samples, "supportbot_message_duration_seconds_bucket", channel="rest", le="5.0") == 2
    assert value(samples, "supportbot_faq_lookups_total", language="ms", result="hit") == 1
    assert value(samples, "supportbot_faq_lookups_total", language="vi", result="miss") == 0
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)  # the process's own metrics too


def turn(*events: Any) -> list[Any]:
    """An earlier answered turn, then the customer's new message and what the bot did after it."""
    earlier = [UserUttered("how do i return it"), ActionExecuted(ACTION_ANSWER_FAQ), ActionExecuted("action_listen")]
    return [*earlier, UserUttered("..."), *events]


def test_what_the_knowledge_base_gave_is_read_from_the_latest_turn_only() -> None:
    did_you_mean = BotUttered("Did you mean", metadata={"utter_action": RESPONSE_DID_YOU_MEAN})
    dont_know = BotUttered("Sorry", metadata={"utter_action": "utter_dont_know"})

    assert faq_result(turn(ActionExecuted(ACTION_ANSWER_FAQ))) == HIT
    assert faq_result(turn(ActionExecuted(ACTION_FAQ_FALLBACK), did_you_mean)) == DID_YOU_MEAN
    assert faq_result(turn(ActionExecuted(ACTION_FAQ_FALLBACK), dont_know)) == MISS
    # The earlier turn's answer is not counted again.
    assert faq_result(turn(ActionExecuted("utter_greet"), BotUttered("Hi!"))) is None
    assert faq_result(turn()) is None


def test_database_counts_are_read_at_scrape_time_and_a_dead_database_says_so(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    now = datetime(2025, 1, 6, 9, 0, tzinfo=timezone.utc)
    with transaction(engine) as connection:
        first = enqueue_email(connection, "a@example.com", "one", "body", now - timedelta(minutes=5))
        enqueue_email(connection, "b@example.com", "two", "body", now - timedelta(minutes=2))
    mark_sent(engine, first, now)
    registry = new_registry()
    registry.register(ProductDatabaseCollector(engine, clock=lambda: now))

    samples = parse_samples(generate_latest(registry).decode())

    assert value(samples, "supportbot_database_up") == 1
    assert value(samples, "supportbot_outbox_pending", kind="email") == 1  # the sent one is not pending
    assert value(samples, "supportbot_outbox_pending", kind="webhook") == 0
    assert value(samples, "supportbot_outbox_oldest_pending_age_seconds") == 120
    assert value(samples, "supportbot_handoffs_started_total", reason="asked") == 0
    assert value(samples, "supportbot_tickets_created_total") == 0

    dead = new_registry()
    dead.register(ProductDatabaseCollector(sa.create_engine(f"sqlite:///{tmp_path / 'gone' / 'product.db'}")))
    samples = parse_samples(generate_latest(dead).decode())
    assert value(samples, "supportbot_database_up") == 0
    assert not any(name.startswith("supportbot_outbox") for name, _ in samples)  # no made-up zeros


def test_the_metrics_token_falls_back_to_the_api_token_and_must_be_long() -> None:
    api = "a" * 24
    assert metrics_token({"SUPPORTBOT_API_TOKEN": api}) == api
    assert metrics_token({"SUPPORTBOT_API_TOKEN": api, "SUPPORTBOT_METRICS_TOKEN": "m" * 16}) == "m" * 16
    assert metrics_token({}) is None
    with pytest.raises(ValueError, match="SUPPORTBOT_METRICS_TOKEN"):
        metrics_token({"SUPPORTBOT_API_TOKEN": api, "SUPPORTBOT_METRICS_TOKEN": "short"})


def test_action_runs_are_counted_by_name_and_outcome() -> None:
    class Echo(Action):
        def name(self) -> str:
            return "action_echo"

        def run(self, dispatcher: Any, tracker: Any, domain: dict[str, Any]) -> list[dict[str, Any]]:
            if tracker.latest_message.get("text") == "refuse":
                raise ActionExecutionRejection("action_echo")
            return []

    class Executor(ActionExecutor):  # a subclass: rasa-sdk's own class stays unwrapped in the test process
        pass

    registry = new_registry()
    instrument_executor(ActionMetrics.register(registry), Executor)
    instrument_executor(ActionMetrics.register(new_registry()), Executor)  # a second call changes nothing
    executor = Executor()
    executor.register_action(Echo())

    def call(action: str, text: str) -> dict[str, Any]:
        tracker = {"sender_id": "s", "slots": {}, "latest_message": {"text": text}, "events": [], "paused": False}
        return {"next_action": action, "tracker": tracker, "domain": {}}

    asyncio.run(executor.run(call("action_echo", "hi")))
    with pytest.raises(ActionExecutionRejection):
        asyncio.run(executor.run(call("action_echo", "refuse")))
    with pytest.raises(Exception, match="action_no_such"):
        asyncio.run(executor.run(call("action_no_such", "hi")))

    samples = parse_samples(generate_latest(registry).decode())
    assert value(samples, "supportbot_action_runs_total", action="action_echo", outcome="ok") == 1
    assert value(samples, "supportbot_action_runs_total", action="action_echo", outcome="rejected") == 1
    assert value(samples, "supportbot_action_runs_total", action="unknown", outcome="error") == 1
    assert value(samples, "supportbot_action_duration_seconds_count", action="action_echo") == 2


# --- the real servers ----------------------------------------------------------------------------

METRICS_TOKEN = secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningBot]:
    """The product with its own metrics token and the product database in a folder of its own (to take away)."""
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train` (make test does)")
    workdir = tmp_path_factory.mktemp("observability")
    database = workdir / "product" / "supportbot.db"
    running = start_bot(
        workdir / "bot",
        ARTIFACTS / "observability",
        {"SUPPORTBOT_METRICS_TOKEN": METRICS_TOKEN, "SUPPORTBOT_DATABASE_URL": f"sqlite:///{database}"},
    )
    yield running
    running.stop()


def product_database(bot: RunningBot) -> Path:
    return bot.workdir.parent / "product"


def action_server(bot: RunningBot) -> str:
    return bot.action_url.removesuffix("/webhook")


def scrape(url: str) -> Samples:
    answer = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain")
    return parse_samples(answer.text)


@pytest.mark.parametrize("server", ["rasa", "actions"])
def test_both_servers_are_live_and_ready_without_credentials(bot: RunningBot, server: str) -> None:
    url = bot.url if server == "rasa" else action_server(bot)
    live = requests.get(f"{url}/health/live", timeout=10)
    ready = requests.get(f"{url}/health/ready", timeout=10)

    assert (live.status_code, live.json()) == (200, {"status": "live"})
    assert ready.status_code == 200, ready.text
    expected = {"model", "database", "tracker_store"} if server == "rasa" else {"database"}
    assert ready.json() == {"status": "ready", "checks": dict.fromkeys(expected, "ok")}


@pytest.mark.parametrize("server", ["rasa", "actions"])
def test_metrics_want_the_metrics_token(bot: RunningBot, server: str) -> None:
    url = f"{bot.url if server == 'rasa' else action_server(bot)}/metrics"
    refused = [
        requests.get(url, timeout=10),
        requests.get(url, headers={"Authorization": "Bearer wrong-token-wrong-token"}, timeout=10),
        requests.get(url, headers={"Authorization": f"Basic {METRICS_TOKEN}"}, timeout=10),
        # The API token is the fallback only when SUPPORTBOT_METRICS_TOKEN is unset.
        requests.get(url, headers={"Authorization": f"Bearer {bot.token}"}, timeout=10),
    ]
    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    assert all("supportbot_" not in r.text for r in refused)
    assert requests.get(url, params={"token": METRICS_TOKEN}, timeout=10).status_code == 200  # as Rasa's API takes it
    assert "process_cpu_seconds_total" in requests.get(url, params={"token": METRICS_TOKEN}, timeout=10).text


def test_messages_and_what_the_knowledge_base_gave_are_counted(bot: RunningBot) -> None:
    before = scrape(bot.url)
    actions_before = scrape(action_server(bot))

    faq_sender = uuid.uuid4().hex
    assert "30 days" in bot.say("how long do i have to return something", faq_sender)[0]["text"]
    assert bot.say("qwzx blorp fnord", uuid.uuid4().hex)[0]["text"].startswith("Sorry")
    bot.say("hello", uuid.uuid4().hex)
    bot.say("yes", faq_sender)  # "was this helpful?"
    assert "buttons" in bot.say("return", uuid.uuid4().hex)[0]  # one vague word: "did you mean"
    bot.say("i want to talk to a person", uuid.uuid4().hex)  # the handoff runs on the action server

    after = scrape(bot.url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("supportbot_messages_total", channel="rest", outcome="ok") == 6
    assert delta("supportbot_message_duration_seconds_count", channel="rest") == 6
    assert delta("supportbot_message_duration_seconds_sum", channel="rest") > 0
    assert delta("supportbot_faq_lookups_total", language="en", result="hit") == 1
    assert delta("supportbot_faq_lookups_total", language="en", result="miss") == 1
    assert delta("supportbot_faq_lookups_total", language="en", result="did_you_mean") == 1
    assert value(after, "supportbot_database_up") == 1

    actions_after = scrape(action_server(bot))
    handoff = {"action": "action_start_handoff", "outcome": "ok"}
    was = actions_before.get(("supportbot_action_runs_total", frozenset(handoff.items())), 0.0)
    assert value(actions_after, "supportbot_action_runs_total", **handoff) == was + 1
    assert value(actions_after, "supportbot_action_duration_seconds_count", action="action_start_handoff") >= 1


def test_the_outbox_backlog_gauge_shows_a_pending_delivery(bot: RunningBot) -> None:
    before = value(scrape(bot.url), "supportbot_outbox_pending", kind="email")
    engine = sa.create_engine(f"sqlite:///{product_database(bot) / 'supportbot.db'}", future=True)
    with transaction(engine) as connection:
        enqueue_email(connection, "customer@example.com", "Your ticket", "body", datetime.now(timezone.utc))

    after = scrape(bot.url)

    # Mail is off in the tests (no SMTP host): nothing delivers it, so it stays pending.
    assert value(after, "supportbot_outbox_pending", kind="email") == before + 1
    assert value(after, "supportbot_outbox_oldest_pending_age_seconds") >= 0


def test_ready_is_503_while_the_product_database_is_unreachable(bot: RunningBot) -> None:
    # The action server opens its database on first use: make sure it has, so it is probed, not created afresh.
    assert requests.get(f"{action_server(bot)}/health/ready", timeout=10).status_code == 200
    folder = product_database(bot)
    hidden = folder.with_name("product-away")
    folder.rename(hidden)  # the database file is gone from where both servers look for it
    try:
        rasa = requests.get(f"{bot.url}/health/ready", timeout=10)
        actions = requests.get(f"{action_server(bot)}/health/ready", timeout=10)
        live = requests.get(f"{bot.url}/health/live", timeout=10)
        samples = scrape(bot.url)
    finally:
        hidden.rename(folder)

    assert rasa.status_code == 503
    checks = rasa.json()["checks"]
    assert rasa.json()["status"] == "not_ready"
    assert checks["database"] == "failed: OperationalError"  # the class only: no path or host name leaks
    assert (checks["model"], checks["tracker_store"]) == ("ok", "ok")
    assert (actions.status_code, actions.json()["checks"]) == (503, {"database": "failed: OperationalError"})
    assert live.status_code == 200  # the process is up: no restart for a database outage
    assert value(samples, "supportbot_database_up") == 0
    assert requests.get(f"{bot.url}/health/ready", timeout=10).status_code == 200  # back when the database is


def test_the_action_server_does_not_load_rasa() -> None:
    """Rasa imports TensorFlow: half a gigabyte and seconds of start-up the action server has no use for."""
    import subprocess
    import sys

    check = "import sys, bot.action_server; print(sorted(m for m in ('rasa', 'tensorflow') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == "[]"
