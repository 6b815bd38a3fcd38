"""`make bench-length`: is a message late in a long conversation answered as fast as an early one? (issue 9)

    python -m benchmarks.conversation_length [--messages 500] [--out FILE.json] [--no-docs]

One customer of the started product (`benchmarks.servers.start_ours`, as `make run`) sends
`--messages` messages in one conversation over REST, one at a time, as a long chat goes: the
held-out English questions (`tests/data/heldout_en.yml`) in turn, each followed by "yes" to "was
this helpful?" when the bot asks. Each message's time is measured at the client, on loopback.

Rasa re-reads and re-processes the whole conversation on every message, so its time per message
grows with the conversation (issue 9: 13 ms at messages 1-50, 103 ms at 251-300). The target:
message 500 answered within 1.5x the time of message 5. Messages differ in cost (a question takes
about twice a "yes"), so the compared windows send the same ten messages (`PROBE`): at message 5,
every hundred messages, and as the last ten. Each probe message's time late is divided by its time
at message 5, and the report gives the median of those ten ratios.

The result goes to benchmarks/results/length-<time>.json and to its own section of
docs/benchmarks.md (between the `length` markers; `make bench` keeps it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import requests
import yaml

from benchmarks.scale_report import splice_between
from benchmarks.servers import start_ours
from tests.servers import MODEL, ROOT, bot_says

START, END = "<!-- length:start -->", "<!-- length:end -->"
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
PROBE_QUESTIONS = 5  # each followed by "yes": the ten messages of a compared window
FIRST_PROBE = 5  # "message 5" of the target
PROBE_EVERY = 100
TARGET_RATIO = 1.5


def questions() -> list[str]:
    cases = yaml.safe_load((ROOT / "tests" / "data" / "heldout_en.yml").read_text(encoding="utf-8"))["cases"]
    return [case["text"] for case in cases if case.get("expect")]


def probe(asked: list[str]) -> list[str]:
    """The ten messages every compared window sends: questions spread over the topics, each with a "yes"."""
    step = len(asked) // PROBE_QUESTIONS
    return [text for question in asked[::step][:PROBE_QUESTIONS] for text in (question, "yes")]


def probe_starts(messages: int) -> list[int]:
    """Where the compared windows start: message 5, every hundred, and the last ten messages."""
    size = 2 * PROBE_QUESTIONS
    return sorted({FIRST_PROBE, *range(PROBE_EVERY, messages - size, PROBE_EVERY), messages - size + 1})


def converse(url: str, messages: int) -> list[dict]:
    """Send about `messages` messages in one conversation; each one's text, milliseconds and window.

    Between the windows, the held-out questions in turn, with "yes" when the bot asks whether an
    answer helped. A window starts once such an exchange is over (a message later if need be), so
    that every window starts from the same point of a dialogue."""
    sender, asked = f"long-{uuid.uuid4().hex}", questions()
    helpful, probe_texts, starts = bot_says("utter_ask_helpful"), probe(asked), probe_starts(messages)
    timings: list[dict] = []
    question, awaiting_yes, window, in_window = 0, False, 0, 0
    with requests.Session() as http:
        number = 0
        while number < messages or in_window:
            number += 1
            if not in_window and not awaiting_yes and window < len(starts) and number >= starts[window]:
                window, in_window = window + 1, len(probe_texts)
            if in_window:
                text = probe_texts[len(probe_texts) - in_window]
            elif awaiting_yes:
                text = "yes"
            else:
                text, question = asked[question % len(asked)], question + 1
            started = time.perf_counter()
            answer = http.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": text}, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            replies = answer.json()
            timing = {"number": number, "text": text, "ms": round(elapsed, 2), "replies": len(replies)}
            if in_window:
                timing["window"] = window
                in_window -= 1
            timings.append(timing)
            awaiting_yes = bool(replies) and replies[-1].get("text") == helpful and not in_window
    return timings


def summarise(timings: list[dict]) -> dict:
    windows: dict[int, list[dict]] = {}
    for timing in timings:
        if "window" in timing:
            windows.setdefault(timing["window"], []).append(timing)
    first = windows[min(windows)]
    rows = []
    for key in sorted(windows):
        sent = windows[key]
        ratios = [late["ms"] / early["ms"] for late, early in zip(sent, first, strict=True)]
        rows.append({"messages": f"{sent[0]['number']}-{sent[-1]['number']}",
                     "median_ms": statistics.median(t["ms"] for t in sent),
                     "median_ratio": round(statistics.median(ratios), 2)})  # fmt: skip
    return {"messages": len(timings), "probe": [t["text"] for t in first], "windows": rows,
            "ratio": rows[-1]["median_ratio"], "target_ratio": TARGET_RATIO}  # fmt: skip


def render(result: dict) -> str:
    summary = result["summary"]
    rows = "\n".join(
        f"| {w['messages']} | {w['median_ms']:.1f} | {w['median_ratio']:.2f}× |" for w in summary["windows"]
    )
    first, last = summary["windows"][0], summary["windows"][-1]
    verdict = "met" if summary["ratio"] <= TARGET_RATIO else "missed"
    return (
        f"{START}\n## Long conversations: time per message against the conversation's length\n\n"
        f"Command: `{result['command']}`, {result['started']}, load average before "
        f"{'/'.join(f'{v:.1f}' for v in result['load_before'])}, after "
        f"{'/'.join(f'{v:.1f}' for v in result['load_after'])}.\n\n"
        f"One customer sends {summary['messages']} messages in one conversation over REST to the product as "
        '`make run` starts it: held-out English questions in turn, each followed by "yes" when the bot asks '
        "whether it helped. At message 5, every hundred messages and at the end, it sends the same ten messages "
        f'(five questions, each followed by "yes"): a question costs about twice a "yes", so only the same '
        "messages compare. Time at the client; each window's median, and the median over its ten messages of "
        "each one's time divided by the same message's time at message 5:\n\n"
        f"| messages | median ms | against message 5 |\n|---|---|---|\n{rows}\n\n"
        f"Messages {last['messages']} against {first['messages']}: **{summary['ratio']:.2f}×** "
        f"(target ≤ {TARGET_RATIO}×: {verdict}).\n{END}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    if args.messages < FIRST_PROBE + 4 * PROBE_QUESTIONS:
        parser.error(f"--messages must be at least {FIRST_PROBE + 4 * PROBE_QUESTIONS}")
    stamp = datetime.now(timezone.utc)
    result = {"command": "python -m benchmarks.conversation_length" + (f" --messages {args.messages}"
                                                                        if args.messages != 500 else ""),
              "started": stamp.strftime("%Y-%m-%d %H:%M UTC"), "load_before": os.getloadavg()}  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="supportbot-length-") as work:
        server = start_ours(Path(work), MODEL, Path(work) / "logs")
        try:
            converse(server.url, 3)  # warm-up in another conversation: the first message loads code paths
            timings = converse(server.url, args.messages)
        finally:
            server.stop()
    result.update(load_after=os.getloadavg(), summary=summarise(timings), timings=timings)
    out = args.out or RESULTS / f"length-{stamp.strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    section = render(result)
    print(section)
    if not args.no_docs:
        splice_between(args.docs, START, END, section)
    print(f"Result: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
