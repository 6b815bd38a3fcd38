"""The support lead's report: every figure of a known history, the CLI, the HTML page, the console route.

The history (tests/report_history.py) is written as the product writes it: Rasa's SQL tracker
store for the conversations, the product's store functions for handoffs, first replies, CSAT,
"was this helpful?" and tickets. The figures below are counted by hand from it.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from bot.cli import main
from bot.handoff.store import create_handoff, new_handoff_id, record_first_reply
from bot.reports.dialect import Dialect
from bot.reports.figures import Figures, Report, build_report, events
from bot.reports.html import CONTENT_SECURITY_POLICY, render_html
from bot.reports.period import period_for
from bot.storage.database import create_engine, transaction
from bot.storage.feedback import Feedback, record_feedback
from bot.storage.tables import handoffs
from bot.storage.tracker_store import open_tracker
from tests.handoff_support import Console, database
from tests.report_history import ROOT, ZONE, History, busy_history, known_history, local
from tests.servers import RunningBot

ARTIFACTS = ROOT / "tests" / "artifacts" / "report"
D16, D17, D18 = date(2026, 11, 16), date(2026, 11, 17), date(2026, 11, 18)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return known_history(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def report(history: History) -> Report:
    return report_of(history, D16, D18)


def report_of(history: History, since: date, until: date) -> Report:
    return build_report(history.product, open_tracker(history.tracker_url), period_for(ZONE, since, until))


def counts(figures: Figures) -> tuple[int, int, int, int, int]:
    """conversations, contained, handed off, handoffs, tickets."""
    return figures.conversations, figures.contained, figures.handed_off, figures.handoffs, figures.tickets


def test_conversations_containment_handoffs_and_tickets_per_day_and_language(report):
    assert report.languages == ("en", "ms", "id", "tl", "vi")
    assert {key: counts(figures) for key, figures in report.cells.items()} == {
        # 16 Nov: alice and eve (en) answered; budi (ms) handed off; dewi (id) opened a ticket; citra typed nothing.
        (D16, "en"): (2, 2, 0, 0, 0),
        (D16, "ms"): (1, 0, 1, 1, 0),
        (D16, "id"): (1, 0, 0, 0, 1),
        # 17 Nov: eve again after midnight, alice's second day, gan handed off at 23:58 (en); siti wrote at 00:30
        # Kuala Lumpur time (16:30 UTC on the 16th) in Malay on an English page; tala (tl) handed off and got a
        # ticket from the agent; van (vi) answered.
        (D17, "en"): (3, 2, 1, 1, 0),
        (D17, "ms"): (1, 1, 0, 0, 0),
        (D17, "tl"): (1, 0, 1, 1, 1),
        (D17, "vi"): (1, 1, 0, 0, 0),
        # 18 Nov: budi handed off again; hoa (vi) opened a ticket. gan's time-out at 00:01 is no conversation.
        (D18, "ms"): (1, 0, 1, 1, 0),
        (D18, "vi"): (1, 0, 0, 0, 1),
    }
    assert {day: counts(f) for day, f in report.by_day.items()} == {
        D16: (4, 2, 1, 1, 1),
        D17: (6, 4, 2, 2, 1),
        D18: (2, 0, 1, 1, 1),
    }
    assert {lang: counts(f) for lang, f in report.by_language.items()} == {
        "en": (5, 4, 1, 1, 0),
        "ms": (3, 1, 2, 2, 0),
        "id": (1, 0, 0, 0, 1),
        "tl": (1, 0, 1, 1, 1),
        "vi": (2, 1, 0, 0, 1),
    }
    assert counts(report.total) == (12, 6, 4, 4, 3)
    assert report.total.containment == 0.5
    assert report.total.handoff_rate == pytest.approx(1 / 3)
    assert report.by_day[D17].containment == pytest.approx(4 / 6)
    assert report.by_language["ms"].handoff_rate == pytest.approx(2 / 3)


def test_handoff_reasons(report):
    assert report.total.reasons == {"asked": 2, "needs_person": 1, "not_understood": 1}
    assert report.cell(D17, "en").reasons == {"asked": 1}
    assert report.cell(D17, "tl").reasons == {"needs_person": 1}
    assert report.by_language["ms"].reasons == {"asked": 1, "not_understood": 1}


def test_time_to_the_first_agent_reply(report):
    def times(figures: Figures) -> tuple[int, float | None, float | None]:
        return figures.replied, figures.first_reply_median, figures.first_reply_p90

    # budi 16 Nov: 90 s; tala 17 Nov: 240 s; budi 18 Nov: 30 s; gan's handoff timed out with no reply.
    # The second reply of each chat did not move the first one's time.
    assert times(report.total) == (3, 90.0, 240.0)
    assert [times(report.by_day[day]) for day in (D16, D17, D18)] == [
        (1, 90.0, 90.0),
        (1, 240.0, 240.0),
        (1, 30.0, 30.0),
    ]
    assert times(report.by_language["ms"]) == (2, 60.0, 90.0)  # an even count: the mean of the two middle ones
    assert times(report.by_language["en"]) == (0, None, None)
    assert times(report.cell(D18, "ms")) == (1, 30.0, 30.0)


def test_csat(report):
    assert (report.total.csat_count, report.total.csat_total) == (3, 11)
    assert report.total.csat_average == pytest.approx(11 / 3)
    assert report.by_language["ms"].csat_average == 4.5
    assert [report.by_day[day].csat_average for day in (D16, D17, D18)] == [4.0, 2.0, 5.0]
    assert report.by_language["en"].csat_average is None


def test_agents(report):
    assert [
        (a.username, a.chats, a.replied, a.first_reply_median, a.first_reply_p90, a.csat_count, a.csat_average)
        for a in report.agents
    ] == [("maya", 2, 2, 60.0, 90.0, 2, 4.5), ("sam", 1, 1, 240.0, 240.0, 1, 2.0)]


def test_was_this_helpful_per_entry_and_per_day(report):
    assert [(e.faq_id, e.yes, e.no, e.share) for e in report.helpful] == [
        ("returns.policy", 3, 1, 0.75),
        ("orders.track", 0, 1, 0.0),
    ]
    assert (report.total.helpful_yes, report.total.helpful_no) == (3, 2)
    assert (report.cell(D16, "en").helpful_yes, report.cell(D16, "ms").helpful_no) == (2, 1)
    assert report.by_language["vi"].helpful_share == 0.5


def test_top_questions_count_each_answer_once(report):
    # van's answer of a removed entry set no slot and counts for nothing; tala's entry offered a person
    # instead of "was this helpful?" (last_faq cleared) and still counts, from last_topic.
    assert [(q.faq_id, q.answers) for q in report.top_questions] == [
        ("returns.policy", 4),
        ("shipping.time", 3),
        ("orders.track", 2),
        ("payments.double_charge", 1),
        ("payments.methods", 1),
    ]


def test_the_days_are_filtered(history, report):
    with_15th = report_of(history, date(2026, 11, 15), D18)
    assert counts(with_15th.total) == (13, 6, 5, 5, 3)  # zed, handed off on the 15th
    assert (with_15th.total.csat_count, with_15th.total.csat_total) == (4, 12)
    assert with_15th.total.first_reply_median == 60.0  # 10, 30, 90, 240 s
    assert (with_15th.top_questions[0].faq_id, with_15th.top_questions[0].answers) == ("returns.policy", 5)
    only_17th = report_of(history, D17, D17)
    assert counts(only_17th.total) == counts(report.by_day[D17])
    assert list(only_17th.by_day) == [D17]
    assert [(q.faq_id, q.answers) for q in only_17th.top_questions] == [
        ("shipping.time", 2),
        ("payments.double_charge", 1),
        ("payments.methods", 1),
        ("returns.policy", 1),
    ]
    empty = report_of(history, date(2026, 12, 1), date(2026, 12, 3))
    assert counts(empty.total) == (0, 0, 0, 0, 0) and empty.languages == () and empty.top_questions == ()
    assert "No conversations" in render_html(empty)


def test_the_days_are_the_support_teams(history):
    """The same history in UTC days: eve's and siti's messages after midnight in Kuala Lumpur are on the 16th."""
    utc = build_report(
        history.product,
        open_tracker(history.tracker_url),
        period_for(timezone.utc, D16, D18),
    )
    assert utc.period.offset_label() == "UTC+00:00"
    assert (utc.cell(D16, "en").conversations, utc.cell(D16, "ms").conversations) == (2, 2)  # alice, eve; budi, siti


def test_the_first_reply_is_kept_once(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'supportbot.db'}")
    handoff_id, start = new_handoff_id(), datetime(2026, 11, 16, 2, 0, tzinfo=timezone.utc)
    with transaction(engine) as connection:
        create_handoff(
            connection,
            handoff_id=handoff_id,
            conversation_id="c",
            reason="asked",
            language="en",
            customer_name=None,
            packet={},
            now=start,
        )
    assert record_first_reply(engine, handoff_id, start + timedelta(seconds=75)) is True
    assert record_first_reply(engine, handoff_id, start + timedelta(seconds=300)) is False
    with engine.connect() as connection:
        stored = connection.execute(sa.select(handoffs.c.first_reply_at)).scalar_one()
    assert stored.replace(tzinfo=timezone.utc) == start + timedelta(seconds=75)
    assert record_first_reply(engine, "HND-NOSUCH", start) is False


def test_the_sql_compiles_for_postgresql():
    """PostgreSQL is not run here (a later issue); its dialect's expressions at least compile to what it reads."""
    dialect = Dialect("postgresql")
    compiled = [
        str(expression.compile(dialect=postgresql.dialect()))
        for expression in (
            dialect.json_text(events.c.data, "value"),
            dialect.json_true(events.c.data, "metadata", "hidden"),
            dialect.day_of_unix(events.c.timestamp, 28800),
            dialect.day_of(handoffs.c.created_at, 28800),
            dialect.seconds_between(handoffs.c.created_at, handoffs.c.first_reply_at),
        )
    ]
    assert compiled[0] == "CAST(events.data AS JSON) #>> '{value}'"
    assert "'{metadata,hidden}'" in compiled[1] and "= 'true'" in compiled[1]
    assert compiled[2] == "to_char(to_timestamp(events.timestamp + 28800) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
    assert "interval '28800 seconds'" in compiled[3]
    assert "EXTRACT(epoch FROM handoffs.first_reply_at - handoffs.created_at)" in compiled[4]


# --- the command line -------------------------------------------------------------------------------------------------


@pytest.fixture
def support_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPPORTBOT_SUPPORT_CONFIG", str(ROOT / "support.yml"))  # Kuala Lumpur's days


def cli(history: History, *extra: str) -> list[str]:
    return ["report", "--database", history.product_url, "--tracker-db", history.tracker_url, *extra]


def test_cli_json(history, report, support_config, capsys):
    assert main(cli(history, "--since", "2026-11-16", "--until", "2026-11-18", "--json")) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(report.as_dict()))
    assert (printed["since"], printed["until"], printed["time_zone"], printed["utc_offset"]) == (
        "2026-11-16",
        "2026-11-18",
        "Asia/Kuala_Lumpur",
        "UTC+08:00",
    )
    assert {k: printed["total"][k] for k in ("conversations", "contained", "containment", "handoff_rate")} == {
        "conversations": 12,
        "contained": 6,
        "containment": 0.5,
        "handoff_rate": 0.3333,
    }
    assert printed["total"]["first_reply_median_seconds"] == 90.0
    assert printed["total"]["csat_average"] == 3.67
    assert [d["day"] for d in printed["days"]] == ["2026-11-16", "2026-11-17", "2026-11-18"]
    assert printed["days"][1]["languages"]["tl"]["handoff_reasons"] == {"needs_person": 1}
    assert printed["top_questions"][0] == {"faq_id": "returns.policy", "answers": 4}
    assert printed["helpful"][0] == {"faq_id": "returns.policy", "yes": 3, "no": 1, "share": 0.75}


def test_cli_table_and_since(history, support_config, capsys):
    assert main(cli(history, "--since", "2026-11-17", "--until", "2026-11-18")) == 0
    table = capsys.readouterr().out
    assert table.startswith("Support report 2026-11-17 to 2026-11-18 (days in Asia/Kuala_Lumpur, UTC+08:00)")
    by_day = table.split("By day\n")[1].split("\n\n")[0].splitlines()
    assert by_day[0].split()[:3] == ["day", "conversations", "contained"]
    assert by_day[2].split()[:5] == ["2026-11-17", "6", "4", "(67%)", "2"]
    assert by_day[-1].split()[:3] == ["all", "8", "4"]
    assert "2026-11-16" not in table
    assert re.search(r"^1\s+returns\.policy\s+2$", table, re.M)  # van's and hoa's answers, not the 16th's
    assert main(cli(history, "--since", "2026-11-19", "--until", "2026-11-18")) == 2
    assert "is after --until" in capsys.readouterr().err
    assert main(["report", "--database", history.product_url, "--tracker-db", "sqlite:///no/such/tracker.db"]) == 1
    assert "no tracker store" in capsys.readouterr().err


def test_cli_html_is_one_self_contained_page(history, support_config, tmp_path, capsys):
    page_file = tmp_path / "report.html"
    assert main(cli(history, "--since", "2026-11-16", "--until", "2026-11-18", "--html", str(page_file))) == 0
    assert capsys.readouterr().out == f"report for 2026-11-16 to 2026-11-18 written to {page_file}\n"
    page = page_file.read_text(encoding="utf-8")
    assert_self_contained(page)
    charts = re.findall(r"<svg [^>]*>", page)
    assert len(charts) == 9
    for chart in re.finditer(r'<svg class="chart" id="([^"]+)" role="img" aria-labelledby="\1-title \1-desc"', page):
        assert f'<title id="{chart[1]}-title">' in page and f'<desc id="{chart[1]}-desc">' in page
    assert "<caption>Every day: the figures of the charts above</caption>" in page
    assert '<th scope="row">2026-11-17</th><td>6</td><td>4 (67%)</td>' in page


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and "<title>Support report" in page
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from elsewhere
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    assert f'content="{CONTENT_SECURITY_POLICY}"' in page.replace("&#x27;", "'")


def test_hostile_text_is_escaped(tmp_path, support_config):
    """FAQ ids, agent names and languages come from data: they are shown as text, never as markup."""
    hostile = "<script>alert('x')</script>"
    history = History(tmp_path)
    chat = history.chat("mallory", "en", local("2026-11-16", "10:00"))
    chat.ask(hostile, helpful=False)  # a FAQ id in the tracker's slot and in faq_feedback
    record_feedback(history.product, Feedback("mallory", '"><img src=x onerror=alert(1)>', True, "en"), now=chat.now)
    handoff_id = chat.hand_off("asked", agent=hostile, reply_after=30, rating=3)
    history.save()
    with transaction(history.product) as connection:  # a language no store checks
        connection.execute(handoffs.update().where(handoffs.c.id == handoff_id).values(language="<b>x"))
    page_file = tmp_path / "report.html"
    assert main(cli(history, "--since", "2026-11-16", "--until", "2026-11-16", "--html", str(page_file))) == 0
    page = page_file.read_text(encoding="utf-8")
    assert_self_contained(page)
    assert "<img" not in page and "<b>x" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page  # the FAQ id and the agent's name
    assert page.count("&lt;script&gt;alert(") >= 4  # helpful table and chart, top questions, agents
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;b&gt;x" in page


def test_the_html_report_in_a_browser(chromium, tmp_path):
    """A fuller fortnight in Chromium: the page draws its charts, loads and runs nothing; the screenshot is kept."""
    history = busy_history(tmp_path, date(2026, 11, 9), 14)
    report = build_report(
        history.product, open_tracker(history.tracker_url), period_for(ZONE, date(2026, 11, 9), date(2026, 11, 22))
    )
    assert report.total.conversations > 100 and report.total.handoffs > 10 and len(report.agents) == 2
    page_file = tmp_path / "report.html"
    made = datetime(2026, 11, 22, 18, 0, tzinfo=timezone.utc)
    page_file.write_text(render_html(report, generated_at=made), encoding="utf-8")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(page_file.as_uri())
    charts = page.locator("svg.chart")
    assert charts.count() == 9
    for n in range(charts.count()):
        chart = charts.nth(n)
        assert chart.get_attribute("role") == "img"
        assert chart.locator("title").first.text_content() and chart.locator("desc").text_content()
        box = chart.bounding_box()
        assert box and box["width"] > 300 and box["height"] > 100  # drawn, not collapsed
    assert page.locator("svg#chart-conversations rect").count() > 14 * 3  # a stacked bar per day and language
    assert page.locator("svg#chart-rates polyline").count() == 2
    assert page.locator("h1").text_content() == "Support report 2026-11-09 to 2026-11-22"
    assert page.locator("table").count() >= 6
    assert requested == [page_file.as_uri()] and problems == []
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "report.png", full_page=True)
    context.close()


# --- the agent console ------------------------------------------------------------------------------------------------


@pytest.fixture
def console(handoff_bot: RunningBot) -> Iterator[Console]:
    opened = Console(handoff_bot)
    yield opened
    opened.close()


def test_the_console_report_needs_a_login(handoff_bot):
    url = f"{handoff_bot.url}/console/report"
    answer = requests.get(url, timeout=30)
    assert answer.status_code == 401 and answer.json() == {"error": "not logged in"}
    assert requests.get(url, cookies={"supportbot_console": "forged"}, timeout=30).status_code == 401


def test_the_console_serves_the_report_and_records_first_replies(handoff_bot, console):
    sender = f"report-{time.monotonic_ns()}"
    assert "My orders" in handoff_bot.say("how do i track my order", sender)[0]["text"]
    handoff_bot.say("yes", sender)  # it helped: a "was this helpful?" answer for the report
    handoff_bot.say("talk to a person", sender)
    handoff = console.queued(sender)
    assert console.post(f"/handoffs/{handoff['id']}/claim").status_code == 200
    before = datetime.now(timezone.utc)
    assert console.post(f"/handoffs/{handoff['id']}/messages", {"text": "Hello, Maya here."}).status_code == 200
    after = datetime.now(timezone.utc)
    assert console.post(f"/handoffs/{handoff['id']}/messages", {"text": "How can I help?"}).status_code == 200
    assert console.post(f"/handoffs/{handoff['id']}/end").status_code == 200
    with database(handoff_bot).connect() as connection:
        first = connection.execute(
            sa.select(handoffs.c.first_reply_at).where(handoffs.c.id == handoff["id"])
        ).scalar_one()
    assert before <= first.replace(tzinfo=timezone.utc) <= after  # the first reply's time, not the second's

    answer = console.http.get(f"{handoff_bot.url}/console/report", timeout=60)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src" not in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    page = answer.text
    assert_self_contained(page)
    assert page.count('<svg class="chart"') == 9
    assert '<form method="get" action="/console/report"' in page
    today = datetime.now(ZONE).date()
    assert f"Support report {today - timedelta(days=29)} to {today}" in page
    agents = page.split("<caption>Agents: chats claimed, first reply and CSAT</caption>")[1].split("</table>")[0]
    assert '<th scope="row">maya</th>' in agents

    since = console.http.get(f"{handoff_bot.url}/console/report", params={"since": str(today)}, timeout=60)
    assert since.status_code == 200 and f"Support report {today} to {today}" in since.text
    wrong = console.http.get(f"{handoff_bot.url}/console/report", params={"since": "yesterday"}, timeout=30)
    assert wrong.status_code == 400 and wrong.json() == {"error": "since must be a day as YYYY-MM-DD, got 'yesterday'"}
