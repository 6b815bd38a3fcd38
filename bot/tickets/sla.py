"""The reply-time promise: a ticket is answered within N business hours of the support calendar."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

WEEKDAYS: tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

OpeningHours = tuple[time, time]  # (opens, closes), local wall-clock time; opens < closes

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class SupportCalendar:
    timezone: ZoneInfo  # where the support team works; opening hours and promises are in this zone
    hours: Mapping[int, OpeningHours]  # weekday (0 = Monday, as date.weekday()) -> hours; a missing day is closed
    holidays: frozenset[date]  # closed all day, whatever the weekday
    reply_within_business_hours: float  # the promise: answered within this much open time


# --- reading support.yml ---------------------------------------------------------------------------------------------


def load_calendar(path: str | Path) -> SupportCalendar:
    """The `sla:` section of support.yml; ValueError naming the key when something is malformed."""
    path = Path(path)
    name = path.name
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValueError(f"{name}: not valid YAML: {error}") from None
    if not isinstance(document, dict) or not isinstance(document.get("sla"), dict):
        raise ValueError(f"{name}: needs an `sla:` section (timezone, reply_within_business_hours, hours, holidays)")
    sla = document["sla"]
    return SupportCalendar(
        timezone=_parse_timezone(name, sla.get("timezone")),
        hours=_parse_hours(name, sla.get("hours")),
        holidays=_parse_holidays(name, sla.get("holidays")),
        reply_within_business_hours=_parse_reply_hours(name, sla.get("reply_within_business_hours")),
    )


def _parse_timezone(name: str, value: Any) -> ZoneInfo:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name}: sla.timezone must be an IANA zone name such as Asia/Kuala_Lumpur")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name}: sla.timezone {value!r} is not a known IANA zone name") from None


def _parse_reply_hours(name: str, value: Any) -> float:
    # bool is an int in Python; `true` is a typo here, not 1 hour.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{name}: sla.reply_within_business_hours must be a positive number of hours")
    return float(value)


def _parse_hours(name: str, value: Any) -> dict[int, OpeningHours]:
    if not isinstance(value, dict):
        raise ValueError(f'{name}: sla.hours must map weekdays to ["HH:MM", "HH:MM"]')
    hours: dict[int, OpeningHours] = {}
    for day, span in value.items():
        if day not in WEEKDAYS:
            raise ValueError(f"{name}: sla.hours.{day} is not a weekday (expected one of {', '.join(WEEKDAYS)})")
        if span is None or span == []:
            continue  # written out as closed
        hours[WEEKDAYS.index(day)] = _parse_span(name, f"sla.hours.{day}", span)
    if not hours:
        raise ValueError(f"{name}: sla.hours must give opening hours for at least one weekday")
    return hours


def _parse_span(name: str, key: str, span: Any) -> OpeningHours:
    shape = f'{name}: {key} must be ["HH:MM", "HH:MM"]'
    # Unquoted 09:00 is read by YAML 1.1 as the number 540, so only strings are accepted.
    if not isinstance(span, list) or len(span) != 2 or not all(isinstance(s, str) and _CLOCK.match(s) for s in span):
        raise ValueError(shape)
    opens, closes = (time.fromisoformat(s) for s in span)
    if opens >= closes:
        raise ValueError(f"{shape}, opening before closing (got {span[0]} to {span[1]})")
    return opens, closes


def _parse_holidays(name: str, value: Any) -> frozenset[date]:
    if value is None:
        return frozenset()
    if not isinstance(value, list):
        raise ValueError(f"{name}: sla.holidays must be a list of dates YYYY-MM-DD")
    return frozenset(_parse_date(name, f"sla.holidays[{i}]", item) for i, item in enumerate(value))


def _parse_date(name: str, key: str, value: Any) -> date:
    # YAML already turns an unquoted 2026-12-25 into a date; a quoted one arrives as a string.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ValueError(f"{name}: {key} must be a date YYYY-MM-DD (got {value!r})")


# --- the promise ------------------------------------------------------------------------------------------------------


def reply_by(calendar: SupportCalendar, created_at: datetime) -> datetime:
    """When a ticket created at `created_at` must be answered: the business hours added over open time only."""
    if created_at.tzinfo is None or created_at.utcoffset() is None:
        raise ValueError(f"created_at must be timezone-aware, got naive {created_at.isoformat()}")
    if not calendar.hours:
        raise ValueError("the support calendar has no opening hours, so no reply time can be promised")
    remaining = timedelta(hours=calendar.reply_within_business_hours)
    # Arithmetic in UTC: subtracting two datetimes that share a tzinfo ignores DST changes between them.
    cursor = created_at.astimezone(timezone.utc)
    day = created_at.astimezone(calendar.timezone).date()
    # Terminates: holidays are finite and at least one weekday opens.
    while True:
        window = _open_window(calendar, day)
        if window is not None:
            start, closes = max(cursor, window[0]), window[1]  # closed when created: count from the opening
            if start < closes:
                if remaining <= closes - start:
                    return (start + remaining).astimezone(calendar.timezone)
                remaining -= closes - start
        day += timedelta(days=1)


def is_open(calendar: SupportCalendar, moment: datetime) -> bool:
    """Whether the support team works at `moment` (an aware time): agents can take chats."""
    window = _open_window(calendar, moment.astimezone(calendar.timezone).date())
    return window is not None and window[0] <= moment < window[1]


def _open_window(calendar: SupportCalendar, day: date) -> tuple[datetime, datetime] | None:
    """The day's open time as UTC instants, or None when the day is closed."""
    hours = calendar.hours.get(day.weekday())
    if hours is None or day in calendar.holidays:
        return None
    opens, closes = (datetime.combine(day, t, tzinfo=calendar.timezone).astimezone(timezone.utc) for t in hours)
    return opens, closes


# --- saying it to the customer ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Words:
    weekdays: tuple[str, ...]  # Monday first
    months: tuple[str, ...]  # January first
    time_separator: str  # Indonesian writes 10.00
    dated: str  # the promise with its date: {weekday} {day} {month} {time}


_ENGLISH = _Words(
    weekdays=("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    months=tuple("January February March April May June July August September October November December".split()),
    time_separator=":",
    dated="{weekday} {day} {month}, {time}",
)

_WORDS: dict[str, _Words] = {
    "en": _ENGLISH,
    "ms": _Words(
        weekdays=("Isnin", "Selasa", "Rabu", "Khamis", "Jumaat", "Sabtu", "Ahad"),
        months=tuple("Januari Februari Mac April Mei Jun Julai Ogos September Oktober November Disember".split()),
        time_separator=":",
        dated="{weekday} {day} {month}, {time}",
    ),
    "id": _Words(
        weekdays=("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
        months=tuple("Januari Februari Maret April Mei Juni Juli Agustus September Oktober November Desember".split()),
        time_separator=".",
        dated="{weekday} {day} {month}, {time}",
    ),
    "tl": _Words(
        weekdays=("Lunes", "Martes", "Miyerkules", "Huwebes", "Biyernes", "Sabado", "Linggo"),
        months=tuple("Enero Pebrero Marso Abril Mayo Hunyo Hulyo Agosto Setyembre Oktubre Nobyembre Disyembre".split()),
        time_separator=":",
        dated="{weekday}, {month} {day}, {time}",  # Filipino puts the month first: "Martes, Enero 5"
    ),
    "vi": _Words(
        weekdays=("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ Nhật"),
        months=tuple(f"tháng {n}" for n in range(1, 13)),  # Vietnamese months are numbered
        time_separator=":",
        dated="{weekday}, ngày {day} {month}, {time}",
    ),
}

# Within this many days the weekday alone is unambiguous; further away the customer needs the date.
_WEEKDAY_ONLY_DAYS = 6


def format_promise(moment: datetime, language: str, *, now: datetime | None = None) -> str:
    """`moment` as the customer reads it, e.g. "Tuesday 10:00"; with the date when more than 6 days after `now`."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"moment must be timezone-aware, got naive {moment.isoformat()}")
    words = _WORDS.get(language, _ENGLISH)
    weekday = words.weekdays[moment.weekday()]
    clock = f"{moment.hour:02d}{words.time_separator}{moment.minute:02d}"
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"now must be timezone-aware, got naive {now.isoformat()}")
    # Days are counted on the promise's own calendar, so "today" is the support team's today.
    today = now.astimezone(moment.tzinfo).date()
    if (moment.date() - today).days <= _WEEKDAY_ONLY_DAYS:
        return f"{weekday} {clock}"
    return words.dated.format(weekday=weekday, day=moment.day, month=words.months[moment.month - 1], time=clock)
