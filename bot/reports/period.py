"""The days a report covers, in the support team's time zone, and the UTC instants that bound them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

DEFAULT_DAYS = 30  # without --since: the last 30 days, today included
MAX_DAYS = 366  # a page with a bar per day stays readable up to a year


@dataclass(frozen=True)
class Period:
    since: date  # first day, included
    until: date  # last day, included
    zone: str  # the time zone whose days these are, e.g. "Asia/Kuala_Lumpur"
    utc_offset: timedelta  # that zone's offset from UTC over the period

    @property
    def start(self) -> datetime:
        """The first day's midnight, in UTC."""
        return self._midnight(self.since)

    @property
    def end(self) -> datetime:
        """The midnight after the last day, in UTC (excluded)."""
        return self._midnight(self.until + timedelta(days=1))

    @property
    def offset_seconds(self) -> int:
        return int(self.utc_offset.total_seconds())

    def days(self) -> list[date]:
        return [self.since + timedelta(days=n) for n in range((self.until - self.since).days + 1)]

    def offset_label(self) -> str:
        """ "UTC+08:00"."""
        sign = "-" if self.offset_seconds < 0 else "+"
        hours, minutes = divmod(abs(self.offset_seconds) // 60, 60)
        return f"UTC{sign}{hours:02d}:{minutes:02d}"

    def _midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=timezone(self.utc_offset)).astimezone(timezone.utc)


def period_for(zone: tzinfo, since: date | None = None, until: date | None = None, today: date | None = None) -> Period:
    """The period from `since` to `until` (both included); by default the last DEFAULT_DAYS days up to today.

    Days are the support team's (support.yml's `sla.timezone`), at the zone's offset on the first
    day: one fixed offset keeps the day arithmetic in SQL simple on both SQLite and PostgreSQL. The
    shops' zones (Malaysia, Indonesia, the Philippines, Vietnam) have no daylight saving time; in a
    zone that has, days next to a change would be off by its hour.
    Raises ValueError with a message for the user when the dates make no period.
    """
    today = today or datetime.now(zone).date()
    until = until or today
    since = since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise ValueError(f"--since {since} is after --until {until}")
    if (until - since).days + 1 > MAX_DAYS:
        raise ValueError(f"a report covers at most {MAX_DAYS} days; {since} to {until} is longer")
    offset = zone.utcoffset(datetime.combine(since, time())) or timedelta(0)
    return Period(since=since, until=until, zone=_zone_name(zone), utc_offset=offset)


def parse_day(text: str | None, name: str) -> date | None:
    """A YYYY-MM-DD day from a query string or the command line; ValueError naming the parameter."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} must be a day as YYYY-MM-DD, got {text!r}") from None


def _zone_name(zone: tzinfo) -> str:
    return str(getattr(zone, "key", None) or zone.tzname(None) or "UTC")
