"""The report as ONE self-contained HTML page: inline CSS, inline SVG charts, no script, nothing fetched.

The same page is written by `supportbot report --html` and served at `/console/report`. Every
text that comes from data (FAQ ids, agent names, languages, reasons) goes through `esc`; the
page's own Content-Security-Policy allows its one style sheet and nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from datetime import date, datetime, timezone
from typing import Any

from bot.handoff.packet import LANGUAGE_NAMES, REASONS
from bot.reports import formats
from bot.reports.figures import Figures, Report
from bot.reports.svg import Series, bar_chart, esc, horizontal_bars, line_chart, nice_top
from bot.reports.text import FIGURE_HEADERS, figure_cells

# Okabe-Ito colours: told apart with every common kind of colour blindness.
LANGUAGE_COLOURS = {"en": "#0072B2", "ms": "#E69F00", "id": "#009E73", "tl": "#CC79A7", "vi": "#56B4E9"}
OTHER_COLOURS = ("#7f7f7f", "#D55E00", "#b5a300")
BLUE, VERMILION, GREEN, GREY = "#0072B2", "#D55E00", "#009E73", "#8c8c8c"
MAX_ENTRIES_CHARTED = 15  # "was this helpful?" bars; the table below the chart has every entry

STYLE = """
:root { color: #1f1f1f; background: #fff; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
body { margin: 0 auto; max-width: 1100px; padding: 1.5rem 1.25rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; margin: 2.25rem 0 .5rem; border-bottom: 1px solid #d9d9d9; padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
p.meta { color: #4d4d4d; margin: 0 0 1rem; }
a { color: #0b57d0; }
form { display: flex; flex-wrap: wrap; gap: .75rem; align-items: end; margin: 0 0 1rem; }
label { display: flex; flex-direction: column; font-size: .9rem; }
input, button { font: inherit; padding: .3rem .5rem; }
button { background: #0b57d0; color: #fff; border: 0; border-radius: 4px; padding: .4rem 1rem; cursor: pointer; }
:focus-visible { outline: 3px solid #e8a200; outline-offset: 2px; }
dl.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(135px, 1fr)); gap: .6rem; margin: 1rem 0; }
dl.tiles div { border: 1px solid #d9d9d9; border-radius: 6px; padding: .6rem .75rem; }
dl.tiles dt { font-size: .85rem; color: #4d4d4d; }
dl.tiles dd { margin: .15rem 0 0; font-size: 1.35rem; font-weight: 600; }
dl.tiles dd small { display: block; font-size: .8rem; font-weight: 400; color: #4d4d4d; }
figure { margin: 1rem 0; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr)); gap: 0 2rem; }
svg.chart { width: 100%; height: auto; display: block; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: .5rem 0 1rem; font-size: .9rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e3e3e3; text-align: right; white-space: nowrap; }
th[scope=row], td.text, thead th.text { text-align: left; }
thead th { border-bottom: 2px solid #8c8c8c; }
tbody tr:nth-child(even) { background: #f6f6f6; }
tr.total th, tr.total td { font-weight: 600; border-top: 2px solid #8c8c8c; }
details summary { cursor: pointer; margin: .5rem 0; }
dl.terms dt { font-weight: 600; }
dl.terms dd { margin: 0 0 .5rem 1rem; }
@media print { form, .console-link { display: none; } }
"""
STYLE_HASH = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
# The page may use its own style sheet and nothing else: no script, no image, no font, no request.
CONTENT_SECURITY_POLICY = f"default-src 'none'; style-src '{STYLE_HASH}'; form-action 'self'; base-uri 'none'"

DEFINITIONS = (
    ("Conversation", "a customer's day: a chat with at least one message the customer typed on that day."),
    ("Contained", "conversations that had no handoff to a person and no ticket that day: the bot was enough."),
    ("Handed off", "conversations that were queued for a person that day (the handoff rate)."),
    ("Tickets", "tickets opened that day, by customers in the chat or by agents from a chat."),
    ("First reply", "time from a handoff to the agent's first message: median and 90th percentile (p90)."),
    ("CSAT", "the 1–5 rating customers gave after a chat with a person: average and count."),
    ("Helpful", "answers to “was this helpful?” after an FAQ answer: yes out of all answers."),
)


def render_html(report: Report, console: bool = False, generated_at: datetime | None = None) -> str:
    """The whole page. `console`: served in the agent console, with a form to choose the days."""
    period = report.period
    generated = (generated_at or datetime.now(timezone.utc)).astimezone(timezone(period.utc_offset))
    title = f"Support report {period.since} to {period.until}"
    body = [
        f"<h1>{esc(title)}</h1>",
        f'<p class="meta">Days in {esc(period.zone)} ({esc(period.offset_label())}); '
        f"made {esc(generated.strftime('%Y-%m-%d %H:%M'))}.</p>",
        _form(report) if console else "",
        _tiles(report.total),
        _days(report),
        _languages(report),
        _handoffs(report),
        _answers(report),
        _definitions(),
    ]
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CONTENT_SECURITY_POLICY)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{STYLE}</style></head>"
        "<body><main>" + "\n".join(part for part in body if part) + "</main></body></html>\n"
    )


def _form(report: Report) -> str:
    period = report.period
    return (
        '<p class="console-link"><a href="/console/">Back to the console</a></p>'
        '<form method="get" action="/console/report" aria-label="Days of the report">'
        f'<label>From <input type="date" name="since" value="{esc(period.since)}" required></label>'
        f'<label>To <input type="date" name="until" value="{esc(period.until)}" required></label>'
        '<button type="submit">Show</button></form>'
    )


def _tiles(total: Figures) -> str:
    tiles = (
        ("Conversations", str(total.conversations), ""),
        ("Contained", formats.share(total.containment), f"{total.contained} conversations"),
        ("Handed off", formats.share(total.handoff_rate), f"{total.handed_off} conversations"),
        ("Tickets opened", str(total.tickets), ""),
        (
            "First reply, median",
            formats.duration(total.first_reply_median),
            f"p90 {formats.duration(total.first_reply_p90)}",
        ),
        (
            "CSAT",
            formats.NONE if total.csat_average is None else f"{total.csat_average:.2f}",
            f"{total.csat_count} ratings",
        ),
        (
            "Helpful",
            formats.share(total.helpful_share),
            f"{total.helpful_yes} of {total.helpful_yes + total.helpful_no}",
        ),
    )
    items = "".join(
        f"<div><dt>{esc(name)}</dt><dd>{esc(value)}" + (f" <small>{esc(note)}</small>" if note else "") + "</dd></div>"
        for name, value, note in tiles
    )
    return f'<h2 id="summary">The whole period</h2><dl class="tiles">{items}</dl>'


def _days(report: Report) -> str:
    days, total = report.days, report.total
    labels = [_day_label(day) for day in days]
    by_day = [report.by_day[day] for day in days]
    busiest = max(days, key=lambda day: report.by_day[day].conversations)
    volume = (
        f"{total.conversations} conversations from {days[0]} to {days[-1]}; the busiest day was {busiest} with "
        f"{report.by_day[busiest].conversations}. The bars are stacked by language."
        if total.conversations
        else f"No conversations from {days[0]} to {days[-1]}."
    )
    charts = [
        _figure(
            bar_chart,
            "chart-conversations",
            "Conversations per day, by language",
            volume,
            labels,
            [
                Series(LANGUAGE_NAMES.get(lang, lang), [report.cell(day, lang).conversations for day in days], colour)
                for lang, colour in _language_colours(report.languages)
            ],
            _whole,
        ),
        _figure(
            line_chart,
            "chart-rates",
            "Containment and handoff rate per day",
            "Share of each day's conversations the bot handled alone (contained: "
            f"{formats.share(total.containment)} over the period) and share handed to a person "
            f"({formats.share(total.handoff_rate)}).",
            labels,
            [
                Series("contained", [f.containment for f in by_day], GREEN),
                Series("handed off", [f.handoff_rate for f in by_day], VERMILION),
            ],
            formats.share,
            y_max=1.0,
        ),
        _figure(
            bar_chart,
            "chart-escalations",
            "Handoffs and tickets per day",
            f"{total.handoffs} handoffs to a person and {total.tickets} tickets opened over the period.",
            labels,
            [
                Series("handoffs", [f.handoffs for f in by_day], VERMILION),
                Series("tickets", [f.tickets for f in by_day], GREY),
            ],
            _whole,
            stacked=False,
        ),
        _figure(
            line_chart,
            "chart-first-reply",
            "Time to the first agent reply per day",
            "Median and 90th percentile of the time from a handoff to the agent's first message; over the period "
            f"{formats.duration(total.first_reply_median)} and {formats.duration(total.first_reply_p90)}.",
            labels,
            [
                Series("median", [f.first_reply_median for f in by_day], BLUE),
                Series("p90", [f.first_reply_p90 for f in by_day], VERMILION),
            ],
            formats.duration,
            y_max=_duration_top(max([f.first_reply_p90 or 0 for f in by_day])),
        ),
        _figure(
            bar_chart,
            "chart-csat",
            "Customer satisfaction (CSAT) per day",
            "Average 1–5 rating after a chat with a person; "
            f"{formats.rating(total.csat_average, total.csat_count)} over the period (average and number of ratings).",
            labels,
            [Series("average rating", [f.csat_average for f in by_day], BLUE)],
            _rating,
            y_max=5.0,
        ),
    ]
    every_day = _figures_table(
        "Every day: the figures of the charts above",
        ("day",),
        [([str(day)], report.by_day[day]) for day in days],
        total,
    )
    cells = [
        ([str(day), lang], report.cells[(day, lang)])
        for day in days
        for lang in report.languages
        if (day, lang) in report.cells
    ]
    return (
        '<h2 id="days">Every day</h2>'
        + '<div class="charts">'
        + "".join(charts)
        + "</div>"
        + every_day
        + "<details><summary>Every day in every language</summary>"
        + _figures_table("Every day in every language", ("day", "language"), cells, None)
        + "</details>"
    )


def _languages(report: Report) -> str:
    languages, by_language = report.languages, report.by_language
    if not languages:
        return '<h2 id="languages">Every language</h2><p>No conversations in these days.</p>'
    names = [_language_name(lang) for lang in languages]
    chart = _figure(
        horizontal_bars,
        "chart-languages",
        "Conversations per language: contained or not",
        "; ".join(
            f"{name}: {by_language[lang].conversations} conversations, {formats.share(by_language[lang].containment)} "
            "contained"
            for lang, name in zip(languages, names, strict=True)
        )
        + ".",
        names,
        [
            Series("contained", [by_language[lang].contained for lang in languages], GREEN),
            Series(
                "handed off or ticket",
                [by_language[lang].conversations - by_language[lang].contained for lang in languages],
                VERMILION,
            ),
        ],
        _whole,
    )
    rows = [([name], by_language[lang]) for lang, name in zip(languages, names, strict=True)]
    return (
        '<h2 id="languages">Every language</h2>'
        + f'<div class="charts">{chart}</div>'
        + _figures_table("Every language: the figures of the chart above", ("language",), rows, report.total)
    )


def _handoffs(report: Report) -> str:
    total = report.total
    reasons = sorted(total.reasons.items(), key=lambda item: (-item[1], item[0]))
    labels = [REASONS.get(reason, reason) for reason, _ in reasons]
    why = _figure(
        horizontal_bars,
        "chart-reasons",
        "Why chats were handed to a person",
        "; ".join(f"{label}: {count}" for label, (_, count) in zip(labels, reasons, strict=True)) + ".",
        labels,
        [Series("handoffs", [count for _, count in reasons], VERMILION)],
        _whole,
    )
    why_table = _table(
        "Handoff reasons (the chart's figures)",
        ("reason", "handoffs", "share"),
        [
            [label, str(count), formats.share(count / total.handoffs)]
            for label, (_, count) in zip(labels, reasons, strict=True)
        ],
    )
    agents = _table(
        "Agents: chats claimed, first reply and CSAT",
        ("agent", "chats", "first reply median", "p90", "CSAT (n)"),
        [
            [
                agent.username,
                str(agent.chats),
                formats.duration(agent.first_reply_median),
                formats.duration(agent.first_reply_p90),
                formats.rating(agent.csat_average, agent.csat_count),
            ]
            for agent in report.agents
        ],
    )
    return _section("handoffs", "Handoffs to a person", [(why if reasons else "") + why_table, agents])


def _answers(report: Report) -> str:
    charted, top = report.helpful[:MAX_ENTRIES_CHARTED], report.top_questions
    helpful = _figure(
        horizontal_bars,
        "chart-helpful",
        "Was this helpful? per FAQ entry",
        "Answers to “was this helpful?” per FAQ entry, most answered first: "
        + "; ".join(f"{e.faq_id}: {e.yes} yes, {e.no} no" for e in charted)
        + ".",
        [e.faq_id for e in charted],
        [Series("yes", [e.yes for e in charted], GREEN), Series("no", [e.no for e in charted], VERMILION)],
        _whole,
    )
    helpful_table = _table(
        "Was this helpful? Every FAQ entry",
        ("FAQ entry", "yes", "no", "helpful"),
        [[e.faq_id, str(e.yes), str(e.no), formats.share(e.share)] for e in report.helpful],
    )
    questions = _figure(
        horizontal_bars,
        "chart-top-questions",
        "Top questions: the FAQ entries answered most",
        "; ".join(f"{q.faq_id}: {q.answers}" for q in top) + ".",
        [q.faq_id for q in top],
        [Series("answers", [q.answers for q in top], BLUE)],
        _whole,
    )
    questions_table = _table(
        "Top questions (the chart's figures)",
        ("#", "FAQ entry", "answers"),
        [[str(n), q.faq_id, str(q.answers)] for n, q in enumerate(top, 1)],
        key_columns=2,
    )
    return _section(
        "answers",
        "The bot's answers",
        [(helpful if charted else "") + helpful_table, (questions if top else "") + questions_table],
    )


def _section(anchor: str, title: str, blocks: Sequence[str]) -> str:
    """A titled section whose blocks (a chart with its table) sit side by side on a wide screen."""
    inner = "".join(f"<div>{block}</div>" for block in blocks)
    return f'<h2 id="{anchor}">{esc(title)}</h2><div class="charts">{inner}</div>'


def _definitions() -> str:
    items = "".join(f"<dt>{esc(term)}</dt><dd>{esc(meaning)}</dd>" for term, meaning in DEFINITIONS)
    return f'<h2 id="definitions">What the figures mean</h2><dl class="terms">{items}</dl>'


def _figure(make: Callable[..., str], chart_id: str, title: str, *args: Any, **kwargs: Any) -> str:
    """A chart from `make` (bar_chart, line_chart, horizontal_bars) with its title shown above it."""
    return f"<figure><figcaption>{esc(title)}</figcaption>{make(chart_id, title, *args, **kwargs)}</figure>"


def _figures_table(
    caption: str, keys: Sequence[str], rows: list[tuple[list[str], Figures]], total: Figures | None
) -> str:
    body = [[*key, *figure_cells(figures)] for key, figures in rows]
    total_row = [*(["all"] + [""] * (len(keys) - 1)), *figure_cells(total)] if total is not None else None
    return _table(caption, (*keys, *FIGURE_HEADERS), body, key_columns=len(keys), total=total_row)


def _table(
    caption: str,
    headers: Sequence[str],
    rows: list[list[str]],
    key_columns: int = 1,
    total: list[str] | None = None,
) -> str:
    """A table with a caption, row headers in the first column, and text in the first `key_columns`."""
    if not rows:
        return f"<p><strong>{esc(caption)}</strong>: none in these days.</p>"
    text = ' class="text"'
    head = "".join(f'<th scope="col"{text if i < key_columns else ""}>{esc(h)}</th>' for i, h in enumerate(headers))

    def row(cells: list[str], css: str = "") -> str:
        first = f'<th scope="row">{esc(cells[0])}</th>'
        rest = "".join(f"<td{text if i < key_columns else ''}>{esc(c)}</td>" for i, c in enumerate(cells[1:], 1))
        return f"<tr{css}>{first}{rest}</tr>"

    body = "".join(row(cells) for cells in rows) + (row(total, ' class="total"') if total else "")
    return (
        f'<div class="scroll"><table><caption>{esc(caption)}</caption>'
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _language_name(code: str) -> str:
    name = LANGUAGE_NAMES.get(code)
    return f"{name} ({code})" if name else code


def _language_colours(languages: Sequence[str]) -> list[tuple[str, str]]:
    others = iter(OTHER_COLOURS * len(languages))
    return [(lang, LANGUAGE_COLOURS.get(lang) or next(others)) for lang in languages]


def _day_label(day: date) -> str:
    """ "16 Nov": short enough for a dozen labels under a chart."""
    return f"{day.day} {day:%b}"


def _whole(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _rating(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _duration_top(seconds: float) -> float:
    """A time axis' top whose quarters are round: 1 min (15 s steps) ... 1 day (6 h steps), then whole days."""
    for top in (60, 120, 240, 480, 1200, 2400, 3600, 7200, 14400, 28800, 57600, 86400):
        if seconds <= top:
            return float(top)
    return 86400 * nice_top(seconds / 86400)
