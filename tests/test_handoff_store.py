"""The handoff queue: positions, one claim per handoff, endings, time-outs, CSAT ratings (real SQLite file)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from bot.handoff.store import (
    ACTIVE,
    ENDED,
    TIMED_OUT,
    WAITING,
    HandoffConflict,
    claim,
    create_handoff,
    end,
    get_handoff,
    new_handoff_id,
    open_handoff_for,
    open_queue,
    queue_position,
    ratings_for,
    record_csat,
    time_out,
    waiting_since_before,
)
from bot.storage.database import create_engine, transaction

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def engine(tmp_path):
    return create_engine(f"sqlite:///{tmp_path / 'product.db'}")


def queue(engine, conversation_id: str, minutes_ago: int, reason: str = "asked") -> str:
    handoff_id = new_handoff_id()
    with transaction(engine) as connection:
        create_handoff(
            connection,
            handoff_id=handoff_id,
            conversation_id=conversation_id,
            reason=reason,
            language="ms",
            customer_name="Aisyah",
            packet={"handoff_id": handoff_id, "transcript": [{"sender": "customer", "text": "<b>hi</b>"}]},
            now=NOW - timedelta(minutes=minutes_ago),
        )
    return handoff_id


def test_the_queue_is_oldest_first_with_positions(engine):
    newer, older = queue(engine, "c-new", 1), queue(engine, "c-old", 5)
    assert [h.id for h in open_queue(engine)] == [older, newer]
    assert queue_position(engine, get_handoff(engine, older)) == 1
    assert queue_position(engine, get_handoff(engine, newer)) == 2
    handoff = open_handoff_for(engine, "c-new")
    assert handoff.id == newer and handoff.status == WAITING and handoff.language == "ms"
    assert handoff.packet["transcript"][0]["text"] == "<b>hi</b>"  # stored as given; escaped where shown
    assert handoff.summary()["created_at"].endswith("Z")
    assert newer.startswith("HND-") and len(newer) == 10


def test_only_one_agent_can_claim_a_handoff(engine):
    handoff_id = queue(engine, "c1", 1)
    results: list[str] = []

    def try_claim(agent: str) -> None:
        try:
            claim(engine, handoff_id, agent, NOW)
            results.append(agent)
        except HandoffConflict:
            pass

    threads = [threading.Thread(target=try_claim, args=(name,)) for name in ("siti", "amir", "budi", "ana")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 1
    claimed = get_handoff(engine, handoff_id)
    assert claimed.status == ACTIVE and claimed.claimed_by == results[0]
    with pytest.raises(HandoffConflict, match=f"already active by {results[0]}"):
        claim(engine, handoff_id, "someone", NOW)


def test_ending_and_timing_out(engine):
    ended_id, waiting_id = queue(engine, "c1", 10), queue(engine, "c2", 10)
    claim(engine, ended_id, "siti", NOW)
    assert end(engine, ended_id, NOW, ticket_id="TCK-ABCDEF").status == ENDED
    assert get_handoff(engine, ended_id).ticket_id == "TCK-ABCDEF"
    with pytest.raises(HandoffConflict):
        end(engine, ended_id, NOW)
    assert [h.id for h in waiting_since_before(engine, NOW - timedelta(minutes=5))] == [waiting_id]
    assert time_out(engine, waiting_id, NOW).status == TIMED_OUT
    with pytest.raises(HandoffConflict):  # an agent cannot take a chat that was already given back
        claim(engine, waiting_id, "siti", NOW)
    assert open_queue(engine) == [] and open_handoff_for(engine, "c2") is None
    with pytest.raises(LookupError):
        claim(engine, "HND-NOPE00", "siti", NOW)


def test_csat_ratings_are_stored_with_the_agent_and_language(engine):
    handoff_id = queue(engine, "c1", 1)
    record_csat(engine, conversation_id="c1", rating=5, language="ms", now=NOW, handoff_id=handoff_id, agent="siti")
    [rating] = ratings_for(engine, "c1")
    stored = (rating["rating"], rating["agent"], rating["language"], rating["handoff_id"])
    assert stored == (5, "siti", "ms", handoff_id)
    with pytest.raises(ValueError):
        record_csat(engine, conversation_id="c1", rating=6, language="ms", now=NOW)
    with pytest.raises(ValueError):
        queue(engine, "c3", 1, reason="bored")
