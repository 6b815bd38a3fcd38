"""`make bench-floor`: how fast can Rasa 3.6 answer at all, in one process, on this machine? (issue 9)

    python -m benchmarks.rasa_floor [--seconds 20] [--customers 20 100] [--out FILE.json] [--no-docs]

Three servers, one after the other, each loaded by the same closed-loop REST client (every customer
sends its next message when the reply arrives, no think time; a new customer after four messages):

- **floor, stock**: `rasa run` on a bot that does almost nothing: two intents found by keyword
  (KeywordIntentClassifier), two rules, one response each, trackers in memory. What Rasa's own
  machinery (channel, lock, tracker, NLU and policy graphs, events) costs a message.
- **floor, our runtime**: the same bot under `python -m bot.server` (bot/rasa_speedups.py) with the
  product's tracker store (SQLite, bot/storage/cached_tracker_store.py) and lock store.
- **the product**: `make run`'s servers, customers asking held-out FAQ questions in five languages
  (`tests/data/heldout_*.yml`, FAQ entries only), as the FAQ load test does without the "was this helpful?".

It answers where the time of the product's ~5 ms a message goes: the floor is what no bot on Rasa
can avoid; the rest is the product's own work. It also shows what a closed loop of 100 customers
does to latency whatever the bot: the mean wait is 100 / throughput (Little's law).

Results go to benchmarks/results/floor-<time>.json and to their section of docs/benchmarks.md
(between the `floor` markers).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import aiohttp
import yaml

from benchmarks.loadtest import latency_stats
from benchmarks.loadtest_clients import CustomerError, Recorder, RestChannel
from benchmarks.loadtest_monitor import cpu_seconds
from benchmarks.scale_report import splice_between
from benchmarks.servers import Server, _spawn, _wait_until_up, start_anchor, start_ours
from bot.evaluation import load_cases
from bot.language.detection import LANGUAGES
from tests.servers import MODEL, ROOT, free_port

START, END = "<!-- floor:start -->", "<!-- floor:end -->"
DOCS = ROOT / "docs" / "benchmarks.md"
RESULTS = ROOT / "benchmarks" / "results"
MESSAGES_PER_CUSTOMER = 4
WARM_UP_SECONDS = 3.0
FLOOR_PROJECT = {
    "config.yml": {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": "floor",
        "pipeline": [{"name": "WhitespaceTokenizer"}, {"name": "KeywordIntentClassifier"}],
        "policies": [{"name": "RulePolicy"}],
    },
    "domain.yml": {
        "version": "3.1",
        "intents": ["greet", "goodbye"],
        "responses": {"utter_greet": [{"text": "Hi!"}], "utter_goodbye": [{"text": "Bye!"}]},
    },
    "data/nlu.yml": {
        "version": "3.1",
        "nlu": [
            {"intent": "greet", "examples": "- hello\n- hi\n"},
            {"intent": "goodbye", "examples": "- bye\n- goodbye\n"},
        ],
    },
    "data/rules.yml": {
        "version": "3.1",
        "rules": [
            {"rule": "greet", "steps": [{"intent": "greet"}, {"action": "utter_greet"}]},
            {"rule": "goodbye", "steps": [{"intent": "goodbye"}, {"action": "utter_goodbye"}]},
        ],
    },
    "credentials.yml": {"rest": None},
}
OUR_RUNTIME_ENDPOINTS = {
    "tracker_store": {"type": "bot.storage.cached_tracker_store.CachedSQLTrackerStore", "dialect": "sqlite"},
    "lock_store": {"type": "bot.storage.lock_store.WakingInMemoryLockStore"},
}


@dataclass(frozen=True)
class Level:
    server: str
    customers: int
    seconds: float
    replies: int
    throughput_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    server_cpu_ms_per_reply: float


def write_floor_project(folder: Path) -> None:
    for name, document in FLOOR_PROJECT.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def train_floor(folder: Path) -> Path:
    rasa = Path(sys.executable).with_name("rasa")
    done = subprocess.run(
        [str(rasa), "train", "--fixed-model-name", "floor", "--out", "models"],
        cwd=folder, capture_output=True, text=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"training the floor bot failed ({done.returncode}): {(done.stdout + done.stderr)[-2000:]}")
    return folder / "models" / "floor.tar.gz"


def start_floor(folder: Path, model: Path) -> Server:
    """The floor bot under `bot.server`, with the product's tracker and lock stores. (Stock `rasa run`
    is `benchmarks.servers.start_anchor` on the floor's project.)"""
    port, token = free_port(), secrets.token_urlsafe(24)
    endpoints = folder / "endpoints.yml"
    stores = copy.deepcopy(OUR_RUNTIME_ENDPOINTS)
    stores["tracker_store"]["db"] = str(folder / f"tracker-{port}.db")
    endpoints.write_text(yaml.safe_dump(stores), encoding="utf-8")
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "SANIC_HOST": "127.0.0.1",
        "SUPPORTBOT_API_TOKEN": token,
        "SUPPORTBOT_SUPPORT_CONFIG": str(ROOT / "support.yml"),
        "PYTHONPATH": str(ROOT),
    }
    command = [sys.executable, "-m", "bot.server", "--model", str(model), "--port", str(port),
               "--endpoints", str(endpoints), "--credentials", "credentials.yml"]
    server = Server("floor, our runtime", f"http://127.0.0.1:{port}", token, {})
    started = time.perf_counter()
    try:
        server.processes["rasa"] = _spawn(command, folder, env, folder / f"{port}.log")
        server.startup_seconds["rasa"] = _wait_until_up(
            f"{server.url}/status?token={token}", server.processes["rasa"], started, 300.0)
    except BaseException:
        server.stop()
        raise
    return server


def start_floor_stock(folder: Path, model: Path) -> Server:
    server = start_anchor(folder, model, folder / "stock-logs")
    server.name = "floor, stock Rasa"
    return server


def faq_questions() -> list[str]:
    """Held-out phrasings of FAQ entries (ids have a dot), five languages."""
    cases = [case for language in LANGUAGES for case in load_cases(ROOT / "tests" / "data" / f"heldout_{language}.yml")]
    return [case.text for case in cases if "." in case.expect]


async def _customer(
    session: aiohttp.ClientSession, url: str, next_text: Callable[[], str], until: float, recorder: Recorder
) -> None:
    """New customers, each up to MESSAGES_PER_CUSTOMER messages, until `until`; an error ends a customer."""
    while time.perf_counter() < until:
        channel = RestChannel(session, url, recorder, timeout=30.0)
        for _ in range(MESSAGES_PER_CUSTOMER):
            try:
                await channel.say(next_text(), "message")
            except CustomerError:
                break


async def load(server: Server, customers: int, seconds: float, next_text: Callable[[], str]) -> Level:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        warm_until = time.perf_counter() + WARM_UP_SECONDS
        await asyncio.gather(*(_customer(session, server.url, next_text, warm_until, Recorder()) for _ in range(4)))
        recorder = Recorder()
        pid = server.processes["rasa"].pid
        cpu_before, started = cpu_seconds(pid), time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_customer(session, server.url, next_text, until, recorder) for _ in range(customers)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu_before
    replies = recorder.replies
    stats = latency_stats(recorder.latencies[("rest", "message")]) if replies else {}
    return Level(
        server.name, customers, round(elapsed, 1), replies, round(replies / elapsed, 1),
        stats.get("p50_ms", float("nan")), stats.get("p99_ms", float("nan")), sum(recorder.errors.values()),
        round(1000 * cpu / replies, 2) if replies else float("nan"),
    )


def run(customer_levels: list[int], seconds: float) -> dict:
    rng = random.Random(9)
    greetings = ("hello", "bye")
    questions = faq_questions()
    levels: list[Level] = []
    with tempfile.TemporaryDirectory(prefix="floor-") as temp:
        folder = Path(temp)
        write_floor_project(folder)
        model = train_floor(folder)
        (folder / "ours").mkdir()
        servers: list[tuple[Callable[[], Server], Callable[[], str]]] = [
            (lambda: start_floor_stock(folder, model), lambda: rng.choice(greetings)),
            (lambda: start_floor(folder, model), lambda: rng.choice(greetings)),
            (lambda: start_ours(folder / "ours", MODEL, folder / "ours-logs"), lambda: rng.choice(questions)),
        ]
        for start, next_text in servers:
            server = start()
            try:
                for customers in customer_levels:
                    level = asyncio.run(load(server, customers, seconds, next_text))
                    print(f"{level.server}: {customers} customers: {level.throughput_per_s} msg/s, "
                          f"p50 {level.p50_ms} ms, p99 {level.p99_ms} ms, errors {level.errors}, "
                          f"CPU {level.server_cpu_ms_per_reply} ms a reply", flush=True)
                    levels.append(level)
            finally:
                server.stop()
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["python -m benchmarks.rasa_floor", *sys.argv[1:]]),
        "load_average": os.getloadavg(),
        "levels": [asdict(level) for level in levels],
    }


def render(result: dict) -> str:
    rows = [
        f"| {lv['server']} | {lv['customers']} | {lv['throughput_per_s']:.1f} | {lv['p50_ms']:.1f} | "
        f"{lv['p99_ms']:.1f} | {lv['errors']} | {lv['server_cpu_ms_per_reply']:.2f} |"
        for lv in result["levels"]
    ]
    return "\n".join([
        START,
        "## Rasa's own floor: one process, a bot that does almost nothing",
        "",
        f"Command: `{result['command']}` ({result['date']}, load average at the end "
        f"{result['load_average'][0]:.2f}). Closed loop over REST, no think time, each level "
        f"{result['levels'][0]['seconds']:.0f} s after a 3 s warm-up; CPU is the Rasa process's. The floor bot: "
        "two keyword intents, two rules, one response each (benchmarks/rasa_floor.py). The product's "
        "customers ask held-out FAQ questions in five languages.",
        "",
        "| server | customers | msg/s | p50 ms | p99 ms | errors | CPU ms a reply |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        *_reading(result["levels"]),
        END,
        "",
    ])


def _reading(levels: list[dict]) -> list[str]:
    """What the table says about one process's ceiling, from its own numbers."""
    most = max(lv["customers"] for lv in levels)
    at_most = {lv["server"]: lv for lv in levels if lv["customers"] == most}
    stock, runtime, product = (at_most.get(name) for name in ("floor, stock Rasa", "floor, our runtime", "ours"))
    if not (stock and runtime and product):
        return []
    own = product["server_cpu_ms_per_reply"] - runtime["server_cpu_ms_per_reply"]
    return [
        f"- At {most} customers Rasa's machinery alone costs {stock['server_cpu_ms_per_reply']:.2f} ms of CPU a "
        f"message, {runtime['server_cpu_ms_per_reply']:.2f} ms under our runtime; the product's own work "
        f"(matching in five languages, language detection, slots, its actions, more events stored) is the "
        f"other {own:.2f} ms of its {product['server_cpu_ms_per_reply']:.2f}.",
        f"- Even the do-nothing bot has a p99 of {runtime['p99_ms']:.0f} ms at {most} customers without think "
        f"time: in a closed loop the mean wait is customers / throughput (Little's law), here "
        f"{1000 * most / runtime['throughput_per_s']:.0f} ms.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each level")
    parser.add_argument("--customers", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--out", type=Path, help="results JSON (default benchmarks/results/floor-<time>.json)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    args = parser.parse_args()
    result = run(args.customers, args.seconds)
    out = args.out or RESULTS / f"floor-{datetime.now(timezone.utc):%Y%m%d-%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    if not args.no_docs:
        splice_between(DOCS, START, END, render(result))
    print(f"results in {out}")


if __name__ == "__main__":
    main()
