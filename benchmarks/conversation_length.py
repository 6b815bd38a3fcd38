"""`make bench-length`: is a message late in a long conversation answered as fast as an early one? (issue 9)

    python -m benchmarks.conversation_length [--messages 500] [--out FILE.json] [--no-docs]

One customer of the started product (`benchmarks.servers.start_ours`, as `make run`) sends
`--messages` messages in one conversation over REST, one at a time, as a long chat goes: the
held-out English questions (`tests/data/heldout_en.yml`) in turn, each followed by "yes" to "was
this helpful?" when the bot asks. Each message's time is measured at the client, on loopback.

Rasa re-reads and re-processes the whole conversation on every message, so its time per message
grows with the conversation (issue 9: 13 ms at messages 1-50, 103 ms at 251-300). The target:
message 500 answered within 1.5x the time of message 5. Single messages are noisy on a shared
machine, so the report compares the medians of windows of ten: messages 1-10 against 491-500.

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
WINDOW = 10  # messages per window: a median of ten is steady where one message is not
TARGET_RATIO = 1.5


def questions() -> list[str]:
    cases = yaml.safe_load((ROOT / "tests" / "data" / "heldout_en.yml").read_text(encoding="utf-8"))["cases"]
    return [case["text"] for case in cases if case.get("expect")]


def converse(url: str, messages: int) -> list[dict]:
    """Send `messages` messages in one conversation; each one's text and milliseconds."""
    sender, asked = f"long-{uuid.uuid4().hex}", questions()
    helpful = bot_says("utter_ask_helpful")
    timings: list[dict] = []
    next_text, question = asked[0], 1
    with requests.Session() as http:
        for number in range(1, messages + 1):
            started = time.perf_counter()
            body = {"sender": sender, "message": next_text}
            answer = http.post(f"{url}/webhooks/rest/webhook", json=body, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            answer.raise_for_status()
            replies = answer.json()
            timings.append({"number": number, "text": next_text, "ms": round(elapsed, 2), "replies": len(replies)})
            if replies and replies[-1].get("text") == helpful:
                next_text = "yes"
            else:
                next_text, question = asked[question % len(asked)], question + 1
    return timings


def window_median(timings: list[dict], first: int) -> float:
    return statistics.median(t["ms"] for t in timings[first - 1 : first - 1 + WINDOW])


def summarise(timings: list[dict]) -> dict:
    count = len(timings)
    windows = {f"{first}-{first + WINDOW - 1}": window_median(timings, first)
               for first in sorted({1, *range(100 - WINDOW + 1, count + 1, 100)}) if first + WINDOW - 1 <= count}
    early, late = window_median(timings, 1), window_median(timings, count - WINDOW + 1)
    return {"messages": count, "windows_ms": windows, "early_ms": early, "late_ms": late,
            "ratio": round(late / early, 2), "target_ratio": TARGET_RATIO}  # fmt: skip


def render(result: dict) -> str:
    summary = result["summary"]
    rows = "\n".join(f"| {window} | {ms:.1f} |" for window, ms in summary["windows_ms"].items())
    verdict = "met" if summary["ratio"] <= TARGET_RATIO else "missed"
    return (
        f"{START}\n## Long conversations: time per message against the conversation's length\n\n"
        f"Command: `{result['command']}`, {result['started']}, load average before "
        f"{'/'.join(f'{v:.1f}' for v in result['load_before'])}, after "
        f"{'/'.join(f'{v:.1f}' for v in result['load_after'])}.\n\n"
        f"One customer sends {summary['messages']} messages in one conversation over REST to the product as "
        "`make run` starts it: held-out English questions in turn, each followed by \"yes\" when the bot asks "
        "whether it helped. Time per message at the client, median of each window of ten messages:\n\n"
        f"| messages | median ms |\n|---|---|\n{rows}\n\n"
        f"Messages {summary['messages'] - WINDOW + 1}-{summary['messages']} against 1-{WINDOW}: "
        f"{summary['late_ms']:.1f} ms against {summary['early_ms']:.1f} ms, **{summary['ratio']:.2f}×** "
        f"(target ≤ {TARGET_RATIO}×: {verdict}).\n{END}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--docs", type=Path, default=DOCS)
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args(argv)
    if args.messages < 2 * WINDOW:
        parser.error(f"--messages must be at least {2 * WINDOW}")
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
