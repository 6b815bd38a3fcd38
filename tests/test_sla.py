"""The reply-time promise: business hours counted over open time only, and said in the customer's language."""

from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.tickets.sla import SupportCalendar, format_promise, load_calendar, reply_by

ROOT = Path(__file__).resolve().parent.parent
KL = ZoneInfo("Asia/Kuala_Lumpur")
NINE_TO_SIX = (time(9), time(18))

# The shop's calendar as support.yml describes it: weekdays 9-18, Saturday 9-13, Sunday closed, Christmas off.
CALENDAR = SupportCalendar(
    timezone=KL,
    hours={0: NINE_TO_SIX, 1: NINE_TO_SIX, 2: NINE_TO_SIX, 3: NINE_TO_SIX, 4: NINE_TO_SIX, 5: (time(9), time(13))},
    holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
    reply_within_business_hours=8,
)


def kl(*args: int) -> datetime:
    return datetime(*args, tzinfo=KL)


@pytest.mark.parametrize(
    ("created_at", "expected"),
    [
        # Tuesday 10:00: the 8 hours fit exactly into Tuesday 10-18.
        (kl(2026, 12, 1, 10, 0), kl(2026, 12, 1, 18, 0)),
        # Tuesday 11:30: 6.5 h on Tuesday, the last 1.5 h on Wednesday morning.
        (kl(2026, 12, 1, 11, 30), kl(2026, 12, 2, 10, 30)),
        # Before opening: counted from 09:00.
        (kl(2026, 12, 1, 7, 15), kl(2026, 12, 1, 17, 0)),
        # Exactly at closing time: nothing left today, counted from Wednesday 09:00.
        (kl(2026, 12, 1, 18, 0), kl(2026, 12, 2, 17, 0)),
        # Friday evening 19:30: Saturday 9-13 gives 4 h, Sunday is closed, the other 4 h are Monday 9-13.
        (kl(2026, 12, 4, 19, 30), kl(2026, 12, 7, 13, 0)),
        # Sunday afternoon: counted from Monday 09:00.
        (kl(2026, 12, 6, 14, 0), kl(2026, 12, 7, 17, 0)),
        # Thursday 24 Dec 16:00: 2 h, Christmas closed, Saturday 4 h, Sunday closed, Monday 28 Dec 9-11.
        (kl(2026, 12, 24, 16, 0), kl(2026, 12, 28, 11, 0)),
        # New Year's Eve, Thursday 17:00: 1 h, 1 Jan (Friday) is a holiday, Saturday 4 h, Monday 09:00-12:00.
        (kl(2026, 12, 31, 17, 0), kl(2027, 1, 4, 12, 0)),
    ],
)
def test_reply_by_counts_only_open_time(created_at: datetime, expected: datetime) -> None:
    result = reply_by(CALENDAR, created_at)
    assert result == expected
    assert result.tzinfo == KL


def test_reply_by_takes_any_timezone_and_answers_in_the_calendars() -> None:
    # 02:00 UTC on Tuesday 1 Dec is 10:00 in Kuala Lumpur.
    result = reply_by(CALENDAR, datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc))
    assert (result.tzinfo, result.replace(tzinfo=None)) == (KL, datetime(2026, 12, 1, 18, 0))


def test_reply_by_counts_fractions_of_an_hour() -> None:
    calendar = SupportCalendar(KL, CALENDAR.hours, CALENDAR.holidays, reply_within_business_hours=1.25)
    assert reply_by(calendar, kl(2026, 12, 1, 17, 30)) == kl(2026, 12, 2, 9, 45)


def test_reply_by_rejects_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        reply_by(CALENDAR, datetime(2026, 12, 1, 10, 0))


def test_the_repositorys_support_yml_loads() -> None:
    calendar = load_calendar(ROOT / "support.yml")
    assert calendar.timezone == KL
    assert calendar.reply_within_business_hours == 8
    assert calendar.hours == CALENDAR.hours
    assert date(2026, 12, 25) in calendar.holidays
    assert reply_by(calendar, kl(2026, 12, 24, 16, 0)) == kl(2026, 12, 28, 11, 0)


SLA_OK = """
sla:
  timezone: Asia/Kuala_Lumpur
  reply_within_business_hours: 8
  hours:
    monday: ["09:00", "18:00"]
{friday}
  holidays: [2026-12-25, "2027-01-01"]
"""


def write_sla(tmp_path: Path, friday: str) -> Path:
    path = tmp_path / "support.yml"
    path.write_text(SLA_OK.format(friday=friday), encoding="utf-8")
    return path


def test_a_written_out_file_loads_with_quoted_and_unquoted_dates(tmp_path: Path) -> None:
    calendar = load_calendar(write_sla(tmp_path, '    friday: ["10:00", "16:30"]\n    sunday: []'))
    assert calendar.hours == {0: NINE_TO_SIX, 4: (time(10), time(16, 30))}
    assert calendar.holidays == {date(2026, 12, 25), date(2027, 1, 1)}


@pytest.mark.parametrize(
    ("friday", "message"),
    [
        ('    friday: ["09:00"]', 'support.yml: sla.hours.friday must be ["HH:MM", "HH:MM"]'),
        ("    friday: [09:00, 18:00]", 'support.yml: sla.hours.friday must be ["HH:MM", "HH:MM"]'),
        ('    friday: ["9am", "6pm"]', 'support.yml: sla.hours.friday must be ["HH:MM", "HH:MM"]'),
        ('    friday: ["18:00", "09:00"]', "opening before closing"),
        ('    fryday: ["09:00", "18:00"]', "support.yml: sla.hours.fryday is not a weekday"),
    ],
)
def test_a_malformed_file_names_the_key(tmp_path: Path, friday: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        load_calendar(write_sla(tmp_path, friday))
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("Asia/Kuala_Lumpur", "Asia/Kuala_Lumpor", "support.yml: sla.timezone 'Asia/Kuala_Lumpor' is not a known"),
        ("reply_within_business_hours: 8", "reply_within_business_hours: soon", "sla.reply_within_business_hours"),
        ('"2027-01-01"', '"2027-13-01"', "support.yml: sla.holidays[1] must be a date YYYY-MM-DD"),
        ("sla:", "slaa:", "support.yml: needs an `sla:` section"),
    ],
)
def test_other_malformed_keys_are_named(tmp_path: Path, old: str, new: str, message: str) -> None:
    path = write_sla(tmp_path, "")
    path.write_text(path.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    with pytest.raises(ValueError) as raised:
        load_calendar(path)
    assert message in str(raised.value)


# Saturday 2 January 2027: the promise for Tuesday 5 January is 3 days away, for Tuesday 12 January 10 days.
NOW = kl(2027, 1, 2, 11, 0)


@pytest.mark.parametrize(
    ("language", "near", "far"),
    [
        ("en", "Tuesday 10:00", "Tuesday 12 January, 10:00"),
        ("ms", "Selasa 10:00", "Selasa 12 Januari, 10:00"),
        ("id", "Selasa 10.00", "Selasa 12 Januari, 10.00"),
        ("tl", "Martes 10:00", "Martes, Enero 12, 10:00"),
        ("vi", "Thứ Ba 10:00", "Thứ Ba, ngày 12 tháng 1, 10:00"),
        ("xx", "Tuesday 10:00", "Tuesday 12 January, 10:00"),  # unknown language: English
    ],
)
def test_format_promise_in_the_customers_language(language: str, near: str, far: str) -> None:
    assert format_promise(kl(2027, 1, 5, 10, 0), language, now=NOW) == near
    assert format_promise(kl(2027, 1, 12, 10, 0), language, now=NOW) == far


def test_format_promise_adds_the_date_from_the_seventh_day() -> None:
    assert format_promise(kl(2027, 1, 8, 17, 5), "en", now=NOW) == "Friday 17:05"  # 6 days: the weekday is enough
    assert format_promise(kl(2027, 1, 9, 9, 0), "en", now=NOW) == "Saturday 9 January, 09:00"  # 7 days


def test_format_promise_uses_the_moments_own_clock() -> None:
    # 00:00 UTC is 08:00 in Kuala Lumpur, so 09:00-17:00 there: the customer reads the support team's time.
    moment = reply_by(CALENDAR, datetime(2027, 1, 5, 0, 0, tzinfo=timezone.utc))
    assert format_promise(moment, "en", now=NOW) == "Tuesday 17:00"
