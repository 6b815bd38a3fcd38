"""Checking what customers type into the ticket form, and the ticket store, on a real SQLite file."""

from datetime import datetime, timedelta, timezone

import pytest

from bot.storage.database import StorageError, create_engine
from bot.tickets.fields import (
    check_category,
    check_description,
    check_email,
    check_name,
    check_order_number,
    load_rules,
    looks_like_what_happened,
)
from bot.tickets.store import (
    ID_ALPHABET,
    ConfirmationEmail,
    NewTicket,
    create_ticket,
    find_for_customer,
    get_ticket,
    normalise_ticket_id,
    set_status,
)
from tests.conftest import ROOT

RULES = load_rules(ROOT / "support.yml")
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("typed", "value", "problem", "suggestion"),
    [
        ("siti@example.com", "siti@example.com", None, None),
        (" <Siti@Example.COM> ", "Siti@example.com", None, None),
        ("siti@gmial.com", None, "utter_email_typo", "siti@gmail.com"),
        ("siti@hotmial.com", None, "utter_email_typo", "siti@hotmail.com"),
        ("siti.gmail.com", None, "utter_invalid_email", None),
        ("siti@", None, "utter_invalid_email", None),
        ("a" * 300 + "@example.com", None, "utter_invalid_email", None),
    ],
)
def test_email(typed, value, problem, suggestion):
    checked = check_email(typed)
    assert (checked.value, checked.problem, checked.suggestion) == (value, problem, suggestion)


def test_an_email_typed_again_after_a_suggestion_is_accepted():
    assert check_email("siti@gmial.com", confirmed_hint="siti@gmial.com").value == "siti@gmial.com"


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("KL-20481234", "KL-20481234"),
        ("kl20481234", "KL20481234"),
        ("it's KL-20481234.", "KL-20481234"),
        ("12345", None),
    ],
)
def test_order_number_follows_the_configured_pattern(typed, value):
    assert check_order_number(typed, RULES).value == value


def test_description_name_and_category():
    assert check_description("broken", RULES).problem == "utter_description_too_short"
    assert check_description("parcel never arrived", RULES, asked_for_more=True).value == "parcel never arrived"
    assert check_description("  ", RULES, asked_for_more=True).problem == "utter_description_too_short"
    assert check_description("the screen arrived cracked in two places", RULES).value
    assert check_description("x " * 5000, RULES).value.count("x") <= 1000  # a 1 MB paste is cut, not refused
    assert check_name("12345").problem == "utter_invalid_name"
    assert check_name("  Siti   Aminah ").value == "Siti Aminah"
    assert check_category("returns", RULES, "en").value == "returns"
    assert check_category("Pulangan dan bayaran balik", RULES, "ms").value == "returns"
    assert check_category("Tài khoản", RULES, "vi").value == "account"
    assert check_category("weather", RULES, "en").problem == "utter_invalid_category"


def new_ticket(**overrides) -> NewTicket:
    values = dict(
        name="Siti",
        email="Siti@Example.com",
        category="returns",
        description="the blender jug is cracked and leaks",
        language="ms",
        conversation_id="c1",
        transcript=[{"who": "customer", "text": "hai", "at": NOW.isoformat()}],
        reply_by=NOW + timedelta(hours=8),
    )
    return NewTicket(**{**values, **overrides})


def test_tickets_are_stored_with_their_e_mail_and_found_only_with_the_right_address(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    ids = {
        create_ticket(
            engine, new_ticket(conversation_id=f"c{n}"), ConfirmationEmail("Ticket {id}", "Your ticket is {id}"), NOW
        ).id
        for n in range(20)
    }
    assert len(ids) == 20  # unique
    for ticket_id in ids:
        assert ticket_id.startswith("TCK-") and all(ch in ID_ALPHABET for ch in ticket_id[4:]) and len(ticket_id) == 10
    ticket_id = sorted(ids)[0]
    assert find_for_customer(engine, ticket_id.lower(), "siti@example.COM").id == ticket_id
    assert find_for_customer(engine, ticket_id, "someone@example.com") is None
    assert find_for_customer(engine, "TCK-ZZZZZZ", "siti@example.com") is None
    with engine.connect() as connection:
        bodies = [row[0] for row in connection.exec_driver_sql("select payload from outbox")]
    assert len(bodies) == 20 and any(ticket_id in body for body in bodies)  # the e-mail names the real id
    assert get_ticket(engine, ticket_id).reply_by == NOW + timedelta(hours=8)


def test_the_same_ticket_sent_again_is_that_ticket_with_one_e_mail(tmp_path):
    """A retry after "not saved", or after an action server that timed out but stored it in the end."""
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    email = ConfirmationEmail("Ticket {id}", "Your ticket is {id}")
    first = create_ticket(engine, new_ticket(), email, NOW)
    # Its id, and the reply time promised then (the new ticket would promise 5 minutes later).
    resent = new_ticket(reply_by=NOW + timedelta(hours=8, minutes=5))
    assert create_ticket(engine, resent, email, NOW + timedelta(minutes=5)) == first
    assert first.reply_by == NOW + timedelta(hours=8)
    different = [
        new_ticket(description="the kettle lid is broken too"),
        new_ticket(conversation_id="c2"),
        new_ticket(email="other@example.com"),
    ]
    others = {create_ticket(engine, ticket, email, NOW) for ticket in different}
    later = create_ticket(engine, new_ticket(), email, NOW + timedelta(hours=25))  # a day later: a new problem
    assert first not in others | {later} and len(others | {later}) == 4
    set_status(engine, later.id, "resolved", "amir", None, NOW + timedelta(hours=26))
    assert create_ticket(engine, new_ticket(), email, NOW + timedelta(hours=27)) not in {first, later, *others}
    with engine.connect() as connection:
        assert connection.exec_driver_sql("select count(*) from outbox").scalar() == 6


def test_status_changes_are_recorded_and_unknown_ones_refused(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    ticket_id = create_ticket(engine, new_ticket(), None, NOW).id
    assert set_status(engine, ticket_id, "in_progress", "amir", "checking with the courier", NOW)
    assert not set_status(engine, "TCK-ZZZZZZ", "closed", "amir", None, NOW)
    with pytest.raises(ValueError, match="unknown status"):
        set_status(engine, ticket_id, "lost", "amir", None, NOW)
    assert [(e["status"], e["actor"]) for e in get_ticket(engine, ticket_id).history] == [
        ("open", "customer"),
        ("in_progress", "amir"),
    ]


def test_a_database_that_cannot_be_written_raises_storage_error(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'product.db'}")
    with engine.connect() as connection:
        connection.exec_driver_sql("drop table ticket_events")
    with pytest.raises(StorageError):
        create_ticket(engine, new_ticket(), None, NOW)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("select count(*) from tickets").scalar() == 0  # nothing half-written


def test_ticket_ids_are_read_back_however_they_are_typed():
    assert normalise_ticket_id("tck 7q4m2x") == normalise_ticket_id("TCK-7Q4M2X") == normalise_ticket_id("7q4m2x")


@pytest.mark.parametrize(
    ("text", "recognised_question", "what_happened"),
    [
        ("Siti Aminah", False, False),
        ("Nur Aisyah binti Mohd Faizal", False, False),
        ("Chase", True, False),  # a name can match an FAQ entry: too short to be a problem
        ("Nguyễn Văn An", True, False),
        ("my blender arrived broken", True, True),
        ("my blender arrived broken", False, False),  # four words the bot did not recognise: maybe a name
        ("the courier left my parcel outside in the rain", False, True),  # a sentence either way
    ],
)
def test_a_problem_typed_instead_of_a_name_is_told_apart_from_names(text, recognised_question, what_happened):
    assert looks_like_what_happened(text, recognised_question) is what_happened
