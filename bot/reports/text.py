"""The report as plain-text tables for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from bot.handoff.packet import REASONS
from bot.reports import formats
from bot.reports.figures import Figures, Report

FIGURE_HEADERS = (
    "conversations",
    "contained",
    "handed off",
    "handoffs",
    "tickets",
    "1st reply median",
    "p90",
    "CSAT (n)",
    "helpful",
)


def render_text(report: Report) -> str:
    period = report.period
    parts = [
        f"Support report {period.since} to {period.until} (days in {period.zone}, {period.offset_label()})",
        _table("By day", ("day",), [([str(d)], report.by_day[d]) for d in report.days] + [(["all"], report.total)]),
        _table("By language", ("language",), [([lang], report.by_language[lang]) for lang in report.languages]),
        _table(
            "By day and language",
            ("day", "language"),
            [
                ([str(d), lang], report.cells[(d, lang)])
                for d in report.days
                for lang in report.languages
                if (d, lang) in report.cells
            ],
        ),
        _plain(
            "Why chats were handed to a person",
            ("reason", "handoffs", "share"),
            [
                [REASONS.get(reason, reason), str(count), formats.share(count / report.total.handoffs)]
                for reason, count in sorted(report.total.reasons.items(), key=lambda item: (-item[1], item[0]))
            ],
        ),
        _plain(
            "Agents",
            ("agent", "chats", "1st reply median", "p90", "CSAT (n)"),
            [
                [
                    a.username,
                    str(a.chats),
                    formats.duration(a.first_reply_median),
                    formats.duration(a.first_reply_p90),
                    formats.rating(a.csat_average, a.csat_count),
                ]
                for a in report.agents
            ],
        ),
        _plain(
            "Was this helpful? per FAQ entry",
            ("FAQ entry", "yes", "no", "helpful"),
            [[e.faq_id, str(e.yes), str(e.no), formats.share(e.share)] for e in report.helpful],
        ),
        _plain(
            "Top questions (FAQ entries answered most)",
            ("#", "FAQ entry", "answers"),
            [[str(n), q.faq_id, str(q.answers)] for n, q in enumerate(report.top_questions, 1)],
            left=2,
        ),
    ]
    return "\n\n".join(parts) + "\n"


def figure_cells(figures: Figures) -> list[str]:
    return [
        str(figures.conversations),
        formats.count_and_share(figures.contained, figures.containment),
        formats.count_and_share(figures.handed_off, figures.handoff_rate),
        str(figures.handoffs),
        str(figures.tickets),
        formats.duration(figures.first_reply_median),
        formats.duration(figures.first_reply_p90),
        formats.rating(figures.csat_average, figures.csat_count),
        formats.helpful(figures.helpful_yes, figures.helpful_no),
    ]


def _table(title: str, keys: Sequence[str], rows: list[tuple[list[str], Figures]]) -> str:
    return _plain(title, (*keys, *FIGURE_HEADERS), [[*key, *figure_cells(f)] for key, f in rows], len(keys))


def _plain(title: str, headers: Sequence[str], rows: list[list[str]], left: int = 1) -> str:
    """A titled table; the first `left` columns aligned left, numbers right."""
    if not rows:
        return f"{title}\n  (none)"
    rows = [[_printable(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in [list(headers), *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True))]
        return "  ".join(padded).rstrip()

    return "\n".join([title, line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _printable(text: str) -> str:
    """Data for a terminal: control characters (escape sequences) shown, not obeyed."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
