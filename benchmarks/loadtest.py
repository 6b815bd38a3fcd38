"""`make loadtest` / `make soak`: simulated customers over REST and socket.io, on loopback only.

    python -m benchmarks.loadtest [--target URL [--pids rasa=PID,actions=PID]]
        [--customers N] [--transport rest|socketio|mixed] [--duration S] [--max-messages M]
        [--ramp S] [--think S] [--mix faq=6,ticket=2,handoff=2] [--hold] [--questions Q]
        [--preset standard] [--soak S] [--out FILE.json] [--docs docs/loadtest.md | --no-docs]

Without `--target` it starts one process of the product (`benchmarks.servers.start_ours`: Rasa
server + action server, SQLite, free 127.0.0.1 ports) and stops it at the end. Every phase is
bounded by its duration and its message budget; customers are asyncio tasks in this one process
(conversations: `benchmarks.loadtest_conversations`; transports: `benchmarks.loadtest_clients`;
memory and CPU: `benchmarks.loadtest_monitor`). The result goes to benchmarks/results/ (JSON) and
docs/loadtest.md (markdown). Exit status 1 when any customer saw an error or a soak's memory grew.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import random
import resource
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # the started servers inherit it

import aiohttp
import numpy as np

from benchmarks import report
from benchmarks.loadtest_clients import CustomerError, Recorder, RestChannel, SocketChannel
from benchmarks.loadtest_conversations import KINDS, Conversation, Message, kind_schedule
from benchmarks.loadtest_monitor import MetricsSampler, Sampler, handling_totals, memory_verdict
from benchmarks.loadtest_report import update_docs
from benchmarks.servers import start_ours
from tests.servers import MODEL, ROOT

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "loadtest.md"
DEFAULT_MIX = {"faq": 6, "ticket": 2, "handoff": 2}
GRACE = 30.0  # seconds a phase may overrun its duration (replies in flight) before it is cut off


@dataclass(frozen=True)
class Phase:
    """One bounded run of customers."""

    name: str
    customers: int = 10
    transport: str = "mixed"  # rest | socketio | mixed (even customers REST, odd socket.io)
    duration: float = 10.0  # seconds; no message is sent after it
    max_messages: int = 100_000  # messages sent at most, all customers together
    ramp: float = 0.0  # seconds over which the customers arrive, evenly
    mix: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MIX))  # conversation kind -> weight
    think: float = 0.0  # seconds a customer waits after a reply before the next message
    hold: bool = False  # socket.io: connect, ask `questions`, stay connected to the end
    questions: int = 2  # with hold: FAQ questions per customer (1 to this many)
    reply_timeout: float = 10.0  # seconds; a slower reply (or connection) is an error


# Six customers, each transport, each kind once: the conversation schedule starts at the customer's index.
WARMUP = Phase("warm-up", customers=6, transport="mixed", duration=5, mix={"faq": 1, "ticket": 1, "handoff": 1},
               reply_timeout=30.0)


class Finished(Exception):
    """The phase's time or message budget is used up: the customer stops (not an error)."""


class Bounded:
    """A channel that stops at the phase's deadline or budget and thinks between messages."""

    def __init__(self, channel: RestChannel | SocketChannel, budget: Budget) -> None:
        self.channel = channel
        self.budget = budget

    async def say(self, text: str, kind: str, display: str | None = None) -> list[Message]:
        self.budget.claim()
        reply = await self.channel.say(text, kind, display)
        if self.budget.think:
            await asyncio.sleep(self.budget.think)
        return reply


@dataclass
class Budget:
    deadline: float
    messages: int
    think: float
    sent: int = 0

    def over(self) -> bool:
        return self.sent >= self.messages or time.perf_counter() >= self.deadline

    def claim(self) -> None:
        if self.over():
            raise Finished
        self.sent += 1


async def run_phase(url: str, phase: Phase, seed: int) -> Recorder:
    """All customers of one phase, to the end of its duration or budget."""
    recorder = Recorder()
    schedule = kind_schedule(phase.mix)
    started = time.perf_counter()
    budget = Budget(started + phase.duration, phase.max_messages, phase.think)
    connector = aiohttp.TCPConnector(limit=0)  # one keep-alive connection per REST customer

    async with aiohttp.ClientSession(connector=connector) as session:

        def channel_for(index: int) -> RestChannel | SocketChannel:
            socket_io = phase.transport == "socketio" or (phase.transport == "mixed" and index % 2 == 1)
            if socket_io:
                return SocketChannel(url, recorder, phase.reply_timeout)
            return RestChannel(session, url, recorder, phase.reply_timeout)

        async def customer(index: int) -> None:
            rng = random.Random(seed * 1_000_003 + index)
            await asyncio.sleep(index * phase.ramp / phase.customers)
            for number in range(1_000_000):
                if budget.over():
                    return
                kind = "faq" if phase.hold else schedule[(index + number) % len(schedule)]
                channel = channel_for(index)
                recorder.conversations[kind] += 1
                try:
                    if isinstance(channel, SocketChannel):
                        await channel.connect()
                    conversation = Conversation(Bounded(channel, budget), rng, _recorder_update(recorder))
                    if phase.hold:
                        await conversation.faq(rng.randint(1, phase.questions))
                        await asyncio.sleep(max(0.0, budget.deadline - time.perf_counter()))
                        if isinstance(channel, SocketChannel):
                            channel.check_alive()
                            recorder.outcomes["held_to_the_end"] += 1
                        return
                    await conversation.run(kind)
                except (Finished, CustomerError):
                    pass  # errors are recorded where they happen; the customer starts a new conversation
                finally:
                    await channel.close()

        tasks = [asyncio.ensure_future(customer(i)) for i in range(phase.customers)]
        done, pending = await asyncio.wait(tasks, timeout=phase.duration + GRACE)
        for task in pending:
            task.cancel()
        if pending:
            recorder.errors["phase:customers_cut_off"] += len(pending)
            await asyncio.wait(pending, timeout=10)
        for task in done:
            if task.exception() is not None:
                recorder.errors[f"generator:{type(task.exception()).__name__}"] += 1
    return recorder


def _recorder_update(recorder: Recorder) -> Callable[[str], None]:
    return lambda outcome: recorder.outcomes.update([outcome])


def latency_stats(values: list[float]) -> dict:
    array = np.array(values)
    return {
        "n": len(values),
        "p50_ms": round(float(np.percentile(array, 50)), 1),
        "p90_ms": round(float(np.percentile(array, 90)), 1),
        "p99_ms": round(float(np.percentile(array, 99)), 1),
        "max_ms": round(float(array.max()), 1),
    }


def summarise(phase: Phase, recorder: Recorder, sampler: Sampler | None, window: tuple[float, float],
              generator_cpu: float) -> dict:
    """One phase's numbers: client-side latency and errors, the server's memory and CPU meanwhile."""
    messages = {key: values for key, values in recorder.latencies.items() if key[1] != "connect"}
    replies = sum(len(values) for values in messages.values())
    seconds = (recorder.last_reply - recorder.first_send) if recorder.first_send and recorder.last_reply else 0.0
    by_transport: dict[str, dict] = {}
    for (transport, kind), values in sorted(recorder.latencies.items()):
        by_transport.setdefault(transport, {})[kind] = latency_stats(values)
    for transport in {t for t, _ in messages}:
        by_transport[transport]["all messages"] = latency_stats(
            [v for (t, _), values in messages.items() if t == transport for v in values])
    result = {
        "phase": asdict(phase),
        "seconds": round(seconds, 2),
        "replies": replies,
        "throughput_per_s": round(replies / seconds, 1) if seconds else None,
        "latency": latency_stats([v for values in messages.values() for v in values]) if replies else None,
        "latency_by_transport": by_transport,
        "errors": dict(recorder.errors),
        "error_examples": recorder.error_examples,
        # Per second of the phase: replies, their median and worst latency (ms), errors.
        "timeline": [
            {"second": second, "replies": len(recorder.timeline.get(second, [])),
             "p50_ms": round(float(np.median(recorder.timeline[second])), 1) if recorder.timeline.get(second) else None,
             "max_ms": round(max(recorder.timeline[second]), 1) if recorder.timeline.get(second) else None,
             "errors": recorder.error_timeline.get(second, 0)}
            for second in range(max([*recorder.timeline, *recorder.error_timeline], default=-1) + 1)
        ],
        "error_count": sum(recorder.errors.values()),
        "conversations": dict(recorder.conversations),
        "outcomes": dict(sorted(recorder.outcomes.items())),
        "peak_socket_connections": recorder.peak_connected,
        "generator_cpu_s": round(generator_cpu, 1),
    }
    if sampler is not None:
        during = sampler.between(*window)
        if len(during) >= 2:
            first, last = during[0], during[-1]
            server = {}
            for role in first.rss_mb:
                cpu = last.cpu_s[role] - first.cpu_s[role]
                span = last.t - first.t
                server[role] = {
                    "rss_start_mb": round(first.rss_mb[role], 1),
                    "rss_end_mb": round(last.rss_mb[role], 1),
                    "rss_max_mb": round(max(s.rss_mb[role] for s in during), 1),
                    "cpu_s": round(cpu, 1),
                    "cpu_percent": round(100 * cpu / span, 1) if span else None,  # 100 = one core
                    "cpu_ms_per_reply": round(1000 * cpu / replies, 2) if replies else None,
                }
            result["server"] = server
    return result


def require_loopback(url: str) -> None:
    """Refuse any target that is not this machine: a load test is never pointed at someone else."""
    host = urlsplit(url).hostname
    if not host:
        raise SystemExit(f"--target {url!r} has no host")
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except socket.gaierror as error:
        raise SystemExit(f"--target {url!r}: {error}") from None
    outside = [a for a in addresses if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if outside:
        raise SystemExit(f"--target {url!r} resolves to {', '.join(outside)}: only loopback targets are allowed")


def parse_mix(text: str) -> dict[str, int]:
    mix = {}
    for part in text.split(","):
        kind, _, weight = part.partition("=")
        if kind.strip() not in KINDS or not weight.strip().isdigit():
            raise argparse.ArgumentTypeError(f"--mix wants kind=weight,… with kinds {', '.join(KINDS)}; got {part!r}")
        mix[kind.strip()] = int(weight)
    if not any(mix.values()):
        raise argparse.ArgumentTypeError("--mix needs one positive weight")
    return mix


def parse_pids(text: str) -> dict[str, int]:
    """`rasa=123,actions=456` or `123,456`."""
    pids = {}
    for number, part in enumerate(text.split(",")):
        role, _, pid = part.rpartition("=")
        pids[role or f"pid{number}"] = int(pid)
    return pids


def standard_phases(args: argparse.Namespace) -> list[Phase]:
    """`make loadtest`: FAQ throughput over REST, the mixed run, then 1,000 widgets held open."""
    timeout = args.reply_timeout
    return [
        Phase("rest-faq", customers=100, transport="rest", duration=30, ramp=5, mix={"faq": 1}, reply_timeout=timeout),
        Phase("mixed", customers=100, transport="mixed", duration=30, ramp=5, reply_timeout=timeout),
        Phase("socketio-1000", customers=1000, transport="socketio", duration=60, ramp=30, hold=True,
              questions=2, reply_timeout=max(timeout, 30.0)),
    ]


def soak_phase(args: argparse.Namespace) -> Phase:
    """`make soak`: a steady mixed load with short think times, long enough to see a trend."""
    return Phase("soak", customers=args.customers or 30, transport=args.transport, duration=args.soak,
                 ramp=args.ramp or 10, mix=args.mix, think=args.think if args.think is not None else 0.5,
                 max_messages=args.max_messages, reply_timeout=args.reply_timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Load-test the support bot with simulated customers (loopback only).")
    parser.add_argument("--target", help="an already running server or the cluster's nginx, e.g. http://127.0.0.1:8080 "
                        "(memory: --pids, or /metrics with SUPPORTBOT_METRICS_TOKEN/SUPPORTBOT_API_TOKEN from the env)")
    parser.add_argument("--pids", type=parse_pids, help="with --target: processes to sample, rasa=PID,actions=PID")
    parser.add_argument("--preset", choices=["standard"], help="standard: the three phases `make loadtest` runs")
    parser.add_argument("--soak", type=float, metavar="S", help="a soak of S seconds with a memory-trend verdict")
    parser.add_argument("--customers", type=int, help="concurrent customers (default 10; soak 30)")
    parser.add_argument("--transport", choices=["rest", "socketio", "mixed"], default="mixed")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds (default 10)")
    parser.add_argument("--max-messages", type=int, default=100_000, help="messages sent at most (default 100000)")
    parser.add_argument("--ramp", type=float, help="seconds over which customers arrive (default 0; soak 10)")
    parser.add_argument("--think", type=float, help="seconds between a reply and the next message (0; soak 0.5)")
    parser.add_argument("--mix", type=parse_mix, default=dict(DEFAULT_MIX), help="faq=6,ticket=2,handoff=2")
    parser.add_argument("--hold", action="store_true", help="socket.io customers stay connected to the end")
    parser.add_argument("--questions", type=int, default=2, help="with --hold: FAQ questions per customer, at most")
    parser.add_argument("--reply-timeout", type=float, default=10.0, help="seconds before a reply counts as an error")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="JSON result (default benchmarks/results/loadtest-<time>.json)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="markdown report to update (default docs/loadtest.md)")
    parser.add_argument("--no-docs", action="store_true", help="do not touch the markdown report")
    return parser


def phases_from(args: argparse.Namespace) -> list[Phase]:
    if args.preset == "standard":
        return standard_phases(args)
    if args.soak:
        return [soak_phase(args)]
    return [Phase("custom", customers=args.customers or 10, transport=args.transport, duration=args.duration,
                  max_messages=args.max_messages, ramp=args.ramp or 0.0, mix=args.mix, think=args.think or 0.0,
                  hold=args.hold, questions=args.questions, reply_timeout=args.reply_timeout)]


def run(args: argparse.Namespace, command: str) -> dict:
    """Start (or reach) the server, run the phases, return the whole result."""
    phases = phases_from(args)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    result: dict = {"meta": {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "command": command,
        "machine": report.machine(),
        "load_average_start": os.getloadavg(),
        "target": args.target or "one process started by the load test (Rasa server + action server, SQLite)",
    }}
    with tempfile.TemporaryDirectory(prefix="loadtest-") as work:
        server = None
        if args.target:
            require_loopback(args.target)
            url = args.target.rstrip("/")
            token = os.environ.get("SUPPORTBOT_METRICS_TOKEN") or os.environ.get("SUPPORTBOT_API_TOKEN")
            sampler = Sampler(args.pids) if args.pids else MetricsSampler(url, token) if token else None
        else:
            log_dir = (args.out.with_suffix("") if args.out else RESULTS / f"loadtest-{stamp}") / "logs"
            print(f"Starting the product (logs in {log_dir}) …", flush=True)
            server = start_ours(Path(work), MODEL, log_dir)
            url, token = server.url, server.token
            sampler = Sampler({role: process.pid for role, process in server.processes.items()})
            result["meta"]["startup_seconds"] = server.startup_seconds
        result["meta"]["memory_source"] = sampler.source if sampler else "none (give --pids or a token)"
        try:
            if sampler:
                sampler.start()
            # Unmeasured: the first turn of each kind loads code paths and caches (a second or more).
            print("Warm-up: one conversation of each kind on each transport …", flush=True)
            warmup = asyncio.run(run_phase(url, WARMUP, args.seed - 1))
            result["warmup"] = {"replies": warmup.replies, "errors": dict(warmup.errors)}
            result["phases"] = []
            for number, phase in enumerate(phases):
                print(f"Phase {phase.name}: {phase.customers} {phase.transport} customers, {phase.duration:.0f} s …",
                      flush=True)
                window_start = sampler.now() if sampler else 0.0
                cpu_before, handled_before = _own_cpu(), handling_totals(url, token)
                recorder = asyncio.run(run_phase(url, phase, args.seed + number))
                window = (window_start, sampler.now() if sampler else 0.0)
                time.sleep(1.5)  # one more sample after the phase, for its end values
                summary = summarise(phase, recorder, sampler, window, _own_cpu() - cpu_before)
                summary["server_handling_ms"] = _mean_handling(handled_before, handling_totals(url, token))
                result["phases"].append(summary)
                print("  " + brief(summary), flush=True)
        finally:
            if sampler:
                sampler.stop()
            if server:
                server.stop()
    result["meta"]["load_average_end"] = os.getloadavg()
    if sampler:
        roles = list(sampler.samples[0].rss_mb) if sampler.samples else []
        result["memory"] = [{"t": round(s.t, 1), **{f"{r}_rss_mb": round(s.rss_mb[r], 1) for r in roles},
                             **{f"{r}_cpu_s": round(s.cpu_s[r], 2) for r in roles}} for s in sampler.samples]
        if args.soak and sampler.samples:
            soak_window = sampler.between(*_soak_window(result, sampler))
            result["soak"] = [memory_verdict(soak_window, role, args.soak) for role in roles]
    return result


def _soak_window(result: dict, sampler: Sampler) -> tuple[float, float]:
    """The samples of the soak phase itself (not the start-up before it)."""
    phase = result["phases"][0]
    end = sampler.samples[-1].t
    return end - phase["seconds"] - 2, end


def _mean_handling(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> dict:
    """Mean server-side handling time per channel over a phase (ms), from the two /metrics readings."""
    means = {}
    for channel, (count, seconds) in after.items():
        count_before, seconds_before = before.get(channel, (0.0, 0.0))
        if count > count_before:
            means[channel] = round(1000 * (seconds - seconds_before) / (count - count_before), 1)
    return means


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def brief(summary: dict) -> str:
    latency = summary["latency"] or {}
    server = summary.get("server", {}).get("rasa", {})
    return (f"{summary['replies']} replies in {summary['seconds']} s = {summary['throughput_per_s']}/s; "
            f"p50 {latency.get('p50_ms')} ms, p99 {latency.get('p99_ms')} ms; errors {summary['error_count']} "
            f"{summary['errors'] or ''}; rasa CPU {server.get('cpu_ms_per_reply')} ms/reply, "
            f"RSS {server.get('rss_end_mb')} MB")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the started servers are stopped and the temporary folder removed.
    signal.signal(signal.SIGTERM, _interrupt)
    command = " ".join(["python -m benchmarks.loadtest", *(sys.argv[1:] if argv is None else argv)])
    result = run(args, command)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or RESULTS / f"loadtest-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(f"Result: {out}")
    if not args.no_docs:
        update_docs(args.docs, result, section="soak" if args.soak else "standard" if args.preset else "custom")
        print(f"Report: {args.docs}")
    errors = sum(p["error_count"] for p in result["phases"])
    growing = [v["role"] for v in result.get("soak", []) if v.get("verdict") == "growing"]
    if errors or growing:
        print(f"FAILED: {errors} errors" + (f"; memory growing in {', '.join(growing)}" if growing else ""))
        return 1
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def with_defaults(**overrides: object) -> argparse.Namespace:
    """The command line's defaults with some options changed, for callers in Python (the smoke test)."""
    return argparse.Namespace(**{**vars(build_parser().parse_args([])), **overrides})


if __name__ == "__main__":
    sys.exit(main())
