"""A support lead's figures, computed in SQL (GROUP BY in the database), returned as plain dataclasses.

Sources: Rasa's tracker store (table `events`: the conversations, their language, the FAQ answers
given) and the product database (handoffs, tickets, csat, faq_feedback). The two can be different
databases, so no SQL joins them: the few (conversation, day) pairs that had a handoff or a ticket
are copied from the product database into a temporary table beside the events, and joined there.

A *conversation* is a customer's day: a sender with at least one message they typed (not the
widget's hidden greeting, not an intent the server triggers) on that day of the support team's
time zone. Its language is the last value of its `language` slot that day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bot.names import ACTION_ANSWER_FAQ, INTENT_HANDOFF_ENDED, INTENT_HANDOFF_TIMEOUT, SLOT_LANGUAGE, SLOT_LAST_TOPIC
from bot.reports.dialect import Dialect, constant
from bot.reports.period import Period
from bot.storage.database import reading
from bot.storage.tables import csat, faq_feedback, handoffs, tickets
from bot.storage.tracker_store import events

LANGUAGE_ORDER = ("en", "ms", "id", "tl", "vi")  # the product's languages first, any other after
UNKNOWN_LANGUAGE = "unknown"  # a conversation whose language slot was not set that day
TOP_QUESTIONS = 10
TRIGGERED_INTENTS = (INTENT_HANDOFF_ENDED, INTENT_HANDOFF_TIMEOUT)  # the server's, never typed by a customer

# Rasa's tracker store table (bot.storage.tracker_store). For slot events `action_name` holds the slot's name.

# The (conversation, day) pairs with a handoff or a ticket, copied next to the events for one report.
escalated = sa.Table(
    "report_escalated",
    sa.MetaData(),
    sa.Column("conversation_id", sa.String(255)),
    sa.Column("day", sa.String(10)),
    sa.Column("handed_off", sa.Integer),
    sa.Column("ticketed", sa.Integer),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class Figures:
    """The figures of one day in one language, of a day, of a language, or of the whole period."""

    conversations: int = 0  # customers' days with a message they typed
    contained: int = 0  # ... that had no handoff and no ticket that day: the bot was enough
    handed_off: int = 0  # ... that had a handoff that day
    handoffs: int = 0  # handoffs created (a conversation can have more than one)
    reasons: Mapping[str, int] = field(default_factory=dict)  # handoffs per reason (bot.handoff.packet.REASONS)
    tickets: int = 0  # tickets opened, by customers or by agents from a chat
    replied: int = 0  # handoffs whose agent replied
    first_reply_median: float | None = None  # seconds from the handoff to the agent's first reply
    first_reply_p90: float | None = None  # 90% of first replies came at least this fast
    csat_count: int = 0  # 1-5 ratings given
    csat_total: int = 0  # their sum
    helpful_yes: int = 0  # "was this helpful?" answered yes
    helpful_no: int = 0  # ... no

    @property
    def containment(self) -> float | None:
        return self.contained / self.conversations if self.conversations else None

    @property
    def handoff_rate(self) -> float | None:
        return self.handed_off / self.conversations if self.conversations else None

    @property
    def csat_average(self) -> float | None:
        return self.csat_total / self.csat_count if self.csat_count else None

    @property
    def helpful_share(self) -> float | None:
        answered = self.helpful_yes + self.helpful_no
        return self.helpful_yes / answered if answered else None

    def plus(self, other: Figures) -> Figures:
        """The counts of both added up; percentiles do not add up and are left out (computed on their own)."""
        return Figures(
            conversations=self.conversations + other.conversations,
            contained=self.contained + other.contained,
            handed_off=self.handed_off + other.handed_off,
            handoffs=self.handoffs + other.handoffs,
            reasons=dict(Counter(self.reasons) + Counter(other.reasons)),
            tickets=self.tickets + other.tickets,
            csat_count=self.csat_count + other.csat_count,
            csat_total=self.csat_total + other.csat_total,
            helpful_yes=self.helpful_yes + other.helpful_yes,
            helpful_no=self.helpful_no + other.helpful_no,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversations": self.conversations,
            "contained": self.contained,
            "containment": _rounded(self.containment, 4),
            "handed_off": self.handed_off,
            "handoff_rate": _rounded(self.handoff_rate, 4),
            "handoffs": self.handoffs,
            "handoff_reasons": dict(sorted(self.reasons.items())),
            "tickets": self.tickets,
            "first_replies": self.replied,
            "first_reply_median_seconds": self.first_reply_median,
            "first_reply_p90_seconds": self.first_reply_p90,
            "csat_average": _rounded(self.csat_average, 2),
            "csat_count": self.csat_count,
            "helpful_yes": self.helpful_yes,
            "helpful_no": self.helpful_no,
            "helpful_share": _rounded(self.helpful_share, 4),
        }


@dataclass(frozen=True)
class AgentFigures:
    username: str
    chats: int  # handoffs the agent claimed
    replied: int  # ... in which they replied
    first_reply_median: float | None  # seconds from the handoff to their first reply
    first_reply_p90: float | None
    csat_count: int  # ratings of chats they handled
    csat_total: int

    @property
    def csat_average(self) -> float | None:
        return self.csat_total / self.csat_count if self.csat_count else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "agent": self.username,
            "chats": self.chats,
            "first_replies": self.replied,
            "first_reply_median_seconds": self.first_reply_median,
            "first_reply_p90_seconds": self.first_reply_p90,
            "csat_average": _rounded(self.csat_average, 2),
            "csat_count": self.csat_count,
        }


@dataclass(frozen=True)
class EntryFeedback:
    """ "Was this helpful?" for one FAQ entry."""

    faq_id: str
    yes: int
    no: int

    @property
    def share(self) -> float:
        return self.yes / (self.yes + self.no)

    def as_dict(self) -> dict[str, Any]:
        return {"faq_id": self.faq_id, "yes": self.yes, "no": self.no, "share": round(self.share, 4)}


@dataclass(frozen=True)
class TopQuestion:
    faq_id: str
    answers: int  # times the bot answered with this entry

    def as_dict(self) -> dict[str, Any]:
        return {"faq_id": self.faq_id, "answers": self.answers}


@dataclass(frozen=True)
class Report:
    period: Period
    languages: tuple[str, ...]  # every language with figures, the product's first
    cells: Mapping[tuple[date, str], Figures]  # (day, language) -> figures; days and languages without any are absent
    by_day: Mapping[date, Figures]  # every day of the period
    by_language: Mapping[str, Figures]
    total: Figures
    agents: tuple[AgentFigures, ...]  # busiest first
    helpful: tuple[EntryFeedback, ...]  # most answered first
    top_questions: tuple[TopQuestion, ...]  # most answered first, at most TOP_QUESTIONS

    @property
    def days(self) -> list[date]:
        return self.period.days()

    def cell(self, day: date, language: str) -> Figures:
        return self.cells.get((day, language), Figures())

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.period.since.isoformat(),
            "until": self.period.until.isoformat(),
            "time_zone": self.period.zone,
            "utc_offset": self.period.offset_label(),
            "total": self.total.as_dict(),
            "days": [
                {
                    "day": day.isoformat(),
                    **self.by_day[day].as_dict(),
                    "languages": {lang: self.cell(day, lang).as_dict() for lang in self.languages},
                }
                for day in self.days
            ],
            "languages": {lang: self.by_language[lang].as_dict() for lang in self.languages},
            "agents": [agent.as_dict() for agent in self.agents],
            "helpful": [entry.as_dict() for entry in self.helpful],
            "top_questions": [question.as_dict() for question in self.top_questions],
        }


def build_report(product: Engine, tracker: Engine, period: Period) -> Report:
    """Every figure of `period`: grouped queries on each database; only aggregates come back to Python (and the
    few pairs of a conversation and a day that had a handoff or a ticket).

    Raises StorageError when a database fails.
    """
    with reading(product) as connection:
        figures = _ProductFigures(connection, Dialect.of(product), period)
        cells = figures.cells()
        escalations = figures.escalations()
        reply_times = {by: figures.reply_times(by) for by in (("day", "language"), ("day",), ("language",), ())}
        agents = figures.agents()
        helpful = figures.helpful()
    with reading(tracker) as connection:
        conversations = _TrackerFigures(connection, Dialect.of(tracker), period)
        for (day, language), counts in conversations.conversations(escalations).items():
            cells[(day, language)].update(counts)
        top_questions = conversations.top_questions()

    frozen = {key: Figures(**values) for key, values in cells.items()}
    frozen = {key: _with_times(value, reply_times[("day", "language")].get(key)) for key, value in frozen.items()}
    languages = _ordered({language for _, language in frozen})
    by_day = {day: _sum(v for (d, _), v in frozen.items() if d == day) for day in period.days()}
    by_language = {lang: _sum(v for (_, la), v in frozen.items() if la == lang) for lang in languages}
    return Report(
        period=period,
        languages=languages,
        cells=frozen,
        by_day={day: _with_times(v, reply_times[("day",)].get((day,))) for day, v in by_day.items()},
        by_language={lang: _with_times(v, reply_times[("language",)].get((lang,))) for lang, v in by_language.items()},
        total=_with_times(_sum(frozen.values()), reply_times[()].get(())),
        agents=agents,
        helpful=helpful,
        top_questions=top_questions,
    )


class _ProductFigures:
    """The queries on the product database: handoffs, tickets, CSAT, "was this helpful?"."""

    def __init__(self, connection: Connection, dialect: Dialect, period: Period) -> None:
        self.connection, self.dialect, self.period = connection, dialect, period

    def day(self, column: sa.Column) -> sa.sql.ColumnElement:
        return self.dialect.day_of(column, self.period.offset_seconds)

    def within(self, column: sa.Column) -> sa.sql.ColumnElement:
        return sa.and_(column >= self.period.start, column < self.period.end)

    def cells(self) -> defaultdict[tuple[date, str], dict[str, Any]]:
        """Counts per (day, language) that add up: handoffs and their reasons, tickets, CSAT, helpful."""
        cells: defaultdict[tuple[date, str], dict[str, Any]] = defaultdict(dict)
        day = self.day(handoffs.c.created_at)
        rows = self.connection.execute(
            sa.select(day, handoffs.c.language, handoffs.c.reason, sa.func.count())
            .where(self.within(handoffs.c.created_at))
            .group_by(day, handoffs.c.language, handoffs.c.reason)
        )
        for when, language, reason, count in rows:
            cell = cells[(date.fromisoformat(when), language)]
            cell["handoffs"] = cell.get("handoffs", 0) + count
            cell.setdefault("reasons", {})[reason] = count
        day = self.day(tickets.c.created_at)
        rows = self.connection.execute(
            sa.select(day, tickets.c.language, sa.func.count())
            .where(self.within(tickets.c.created_at))
            .group_by(day, tickets.c.language)
        )
        for when, language, count in rows:
            cells[(date.fromisoformat(when), language)]["tickets"] = count
        day = self.day(csat.c.created_at)
        rows = self.connection.execute(
            sa.select(day, csat.c.language, sa.func.count(), sa.func.sum(csat.c.rating))
            .where(self.within(csat.c.created_at))
            .group_by(day, csat.c.language)
        )
        for when, language, count, total in rows:
            cells[(date.fromisoformat(when), language)].update(csat_count=count, csat_total=int(total))
        day = self.day(faq_feedback.c.created_at)
        rows = self.connection.execute(
            sa.select(day, faq_feedback.c.language, *_yes_no(faq_feedback.c.helpful))
            .where(self.within(faq_feedback.c.created_at))
            .group_by(day, faq_feedback.c.language)
        )
        for when, language, yes, no in rows:
            cells[(date.fromisoformat(when), language)].update(helpful_yes=int(yes), helpful_no=int(no))
        return cells

    def escalations(self) -> list[dict[str, Any]]:
        """(conversation, day) pairs with a handoff or a ticket: one row per pair, few next to the conversations."""
        parts = [
            sa.select(
                table.c.conversation_id,
                self.day(table.c.created_at).label("day"),
                sa.literal(int(table is handoffs)).label("handed_off"),
                sa.literal(int(table is tickets)).label("ticketed"),
            ).where(self.within(table.c.created_at))
            for table in (handoffs, tickets)
        ]
        both = sa.union_all(*parts).subquery()
        query = sa.select(
            both.c.conversation_id, both.c.day, sa.func.max(both.c.handed_off), sa.func.max(both.c.ticketed)
        ).group_by(both.c.conversation_id, both.c.day)
        return [
            {"conversation_id": conversation, "day": day, "handed_off": handed_off, "ticketed": ticketed}
            for conversation, day, handed_off, ticketed in self.connection.execute(query)
        ]

    def reply_times(self, by: Sequence[str]) -> dict[tuple[Any, ...], tuple[int, float | None, float | None]]:
        """(replied, median, 90th percentile) of the time to an agent's first reply, grouped by `by`.

        Percentiles are not in SQLite, so window functions rank each group's times and the
        grouping picks the ranks: the median is the middle time (the mean of the two middle ones
        for an even count); the 90th percentile is the nearest rank, ceil(0.9 n).
        """
        keys = {
            "day": self.day(handoffs.c.created_at),
            "language": handoffs.c.language,
            "agent": handoffs.c.claimed_by,
        }
        seconds = self.dialect.seconds_between(handoffs.c.created_at, handoffs.c.first_reply_at)
        timed = (
            sa.select(*(keys[name].label(name) for name in by), seconds.label("seconds"))
            .where(handoffs.c.first_reply_at.is_not(None), self.within(handoffs.c.created_at))
            .subquery()
        )
        group = [timed.c[name] for name in by]
        ranked = sa.select(
            *group,
            timed.c.seconds,
            sa.func.row_number().over(partition_by=group or None, order_by=timed.c.seconds).label("rank"),
            sa.func.count().over(partition_by=group or None).label("n"),
        ).subquery()
        rank, n, value = ranked.c.rank, ranked.c.n, ranked.c.seconds
        # Written without division, whose meaning differs between databases (and SQLAlchemy versions):
        middle = sa.between(2 * rank, n, n + 2)  # rank (n+1)/2 for odd n; n/2 and n/2+1 for even n
        nearest_90 = sa.and_(10 * rank >= 9 * n, 10 * rank < 9 * n + 10)  # rank ceil(0.9 n)
        query = sa.select(
            *(ranked.c[name] for name in by),
            sa.func.count(),
            sa.func.avg(sa.case((middle, value))),
            sa.func.max(sa.case((nearest_90, value))),
        ).group_by(*(ranked.c[name] for name in by))
        times = {}
        for row in self.connection.execute(query):
            key = tuple(date.fromisoformat(v) if name == "day" else v for name, v in zip(by, row, strict=False))
            replied, median, p90 = row[len(by) :]
            if replied:
                times[key] = (replied, _rounded(median, 1), _rounded(p90, 1))
        return times

    def agents(self) -> tuple[AgentFigures, ...]:
        claimed = self.connection.execute(
            sa.select(handoffs.c.claimed_by, sa.func.count())
            .where(handoffs.c.claimed_by.is_not(None), self.within(handoffs.c.created_at))
            .group_by(handoffs.c.claimed_by)
        )
        chats = dict(claimed.all())
        rated = self.connection.execute(
            sa.select(csat.c.agent, sa.func.count(), sa.func.sum(csat.c.rating))
            .where(csat.c.agent.is_not(None), self.within(csat.c.created_at))
            .group_by(csat.c.agent)
        )
        ratings = {agent: (count, int(total)) for agent, count, total in rated}
        times = self.reply_times(("agent",))
        agents = []
        for name in set(chats) | set(ratings):
            replied, median, p90 = times.get((name,), (0, None, None))
            rating_count, rating_total = ratings.get(name, (0, 0))
            agents.append(AgentFigures(name, chats.get(name, 0), replied, median, p90, rating_count, rating_total))
        return tuple(sorted(agents, key=lambda a: (-a.chats, a.username)))

    def helpful(self) -> tuple[EntryFeedback, ...]:
        yes, no = _yes_no(faq_feedback.c.helpful)
        total = sa.func.count()
        rows = self.connection.execute(
            sa.select(faq_feedback.c.faq_id, yes, no)
            .where(self.within(faq_feedback.c.created_at))
            .group_by(faq_feedback.c.faq_id)
            .order_by(total.desc(), faq_feedback.c.faq_id)
        )
        return tuple(EntryFeedback(faq_id, int(y), int(n)) for faq_id, y, n in rows)


class _TrackerFigures:
    """The queries on Rasa's tracker store: conversations with their language and outcome, FAQ answers."""

    def __init__(self, connection: Connection, dialect: Dialect, period: Period) -> None:
        self.connection, self.dialect, self.period = connection, dialect, period
        self.present = sa.inspect(connection).has_table("events")  # Rasa creates it with the first conversation

    def day(self, table: sa.sql.FromClause) -> sa.sql.ColumnElement:
        return self.dialect.day_of_unix(table.c.timestamp, self.period.offset_seconds)

    def within(self, table: sa.sql.FromClause) -> sa.sql.ColumnElement:
        start, end = self.period.start.timestamp(), self.period.end.timestamp()
        return sa.and_(table.c.timestamp >= start, table.c.timestamp < end)

    def conversations(self, escalations: list[dict[str, Any]]) -> dict[tuple[date, str], dict[str, int]]:
        """Conversations, contained and handed off, per (day, language)."""
        if not self.present:
            return {}
        customer = (
            sa.select(events.c.sender_id, self.day(events).label("day"))
            .where(
                events.c.type_name == "user",
                self.within(events),
                sa.not_(self.dialect.json_true(events.c.data, "metadata", "hidden")),
                sa.or_(events.c.intent_name.is_(None), events.c.intent_name.not_in(TRIGGERED_INTENTS)),
            )
            .group_by(events.c.sender_id, self.day(events))
            .subquery("conversation")
        )
        last_set = (
            sa.select(events.c.sender_id, self.day(events).label("day"), sa.func.max(events.c.id).label("id"))
            .where(events.c.type_name == "slot", events.c.action_name == SLOT_LANGUAGE, self.within(events))
            .group_by(events.c.sender_id, self.day(events))
            .subquery("last_language_event")
        )
        slot = events.alias("language_event")
        language = (
            sa.select(last_set.c.sender_id, last_set.c.day, self.dialect.json_text(slot.c.data, "value").label("value"))
            .join_from(last_set, slot, slot.c.id == last_set.c.id)
            .subquery("language")
        )
        value = sa.func.coalesce(language.c.value, constant(UNKNOWN_LANGUAGE))
        joined = customer.outerjoin(
            language, sa.and_(language.c.sender_id == customer.c.sender_id, language.c.day == customer.c.day)
        ).outerjoin(
            escalated,
            sa.and_(escalated.c.conversation_id == customer.c.sender_id, escalated.c.day == customer.c.day),
        )
        query = (
            sa.select(
                customer.c.day,
                value,
                sa.func.count(),
                sa.func.sum(sa.case((escalated.c.conversation_id.is_(None), 1), else_=0)),
                sa.func.sum(sa.func.coalesce(escalated.c.handed_off, 0)),
            )
            .select_from(joined)
            .group_by(customer.c.day, value)
        )
        escalated.create(self.connection)
        try:
            if escalations:
                self.connection.execute(escalated.insert(), escalations)
            rows = self.connection.execute(query).all()
        finally:
            escalated.drop(self.connection)
        return {
            (date.fromisoformat(day), lang): {"conversations": n, "contained": int(c), "handed_off": int(h)}
            for day, lang, n, c, h in rows
        }

    def top_questions(self) -> tuple[TopQuestion, ...]:
        """The FAQ entries the bot answered with most.

        Each `action_answer_faq` event is followed by the events its run returned, then by the next
        action's event (usually `action_listen`). The entry it answered is the `last_topic` slot
        set between the two: every answer sets it (`last_faq` is cleared when a person is offered
        instead of "was this helpful?"), and bounding it by the next action (by event id, the
        order Rasa stores events in; timestamps can tie) ties each slot to its own answer.
        """
        if not self.present:
            return ()
        following = events.alias("following")
        next_action = (
            sa.select(sa.func.min(following.c.id))
            .where(
                following.c.sender_id == events.c.sender_id,
                following.c.id > events.c.id,
                following.c.type_name == "action",
            )
            .scalar_subquery()
        )
        answered = (
            sa.select(events.c.id, events.c.sender_id, next_action.label("next_action"))
            .where(events.c.type_name == "action", events.c.action_name == ACTION_ANSWER_FAQ, self.within(events))
            .subquery("answered")
        )
        slot = events.alias("topic")
        entry = self.dialect.json_text(slot.c.data, "value")
        query = (
            sa.select(entry, sa.func.count())
            .join_from(
                answered,
                slot,
                sa.and_(
                    slot.c.sender_id == answered.c.sender_id,
                    slot.c.id > answered.c.id,
                    sa.or_(answered.c.next_action.is_(None), slot.c.id < answered.c.next_action),
                    slot.c.type_name == "slot",
                    slot.c.action_name == SLOT_LAST_TOPIC,
                ),
            )
            .where(entry.is_not(None))
            .group_by(entry)
            .order_by(sa.func.count().desc(), entry)
            .limit(TOP_QUESTIONS)
        )
        return tuple(TopQuestion(faq_id, count) for faq_id, count in self.connection.execute(query))


def _yes_no(column: sa.Column) -> tuple[sa.sql.ColumnElement, sa.sql.ColumnElement]:
    """Sums of the rows where the boolean `column` is true, and where it is false."""
    return sa.func.sum(sa.case((column, 1), else_=0)), sa.func.sum(sa.case((column, 0), else_=1))


def _with_times(figures: Figures, times: tuple[int, float | None, float | None] | None) -> Figures:
    if times is None:
        return figures
    replied, median, p90 = times
    return replace(figures, replied=replied, first_reply_median=median, first_reply_p90=p90)


def _sum(items: Iterable[Figures]) -> Figures:
    total = Figures()
    for item in items:
        total = total.plus(item)
    return total


def _ordered(languages: set[str]) -> tuple[str, ...]:
    known = [lang for lang in LANGUAGE_ORDER if lang in languages]
    return (*known, *sorted(languages - set(LANGUAGE_ORDER)))


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
