"""`make bench-scale`: one process, the cluster and Rasa's default pipeline side by side, in one run (issue 9).

    python -m benchmarks.scale_table [--levels 10,100,1000] [--duration 30] [--max-messages 20000]
        [--skip-ours] [--skip-cluster] [--skip-anchor] [--anchor-project DIR] [--seed N]
        [--out FILE.json] [--docs docs/benchmarks.md | --no-docs]

Order: the anchor (Rasa's default pipeline on the same data, `benchmarks.rasa_default`) is trained
first, 5-10 minutes, so that no training competes with a measurement. Then one system at a time is
started, warmed up, driven through one load phase per level and stopped: our single process
(`benchmarks.servers.start_ours`: Rasa server + action server, SQLite), the cluster
(`deploy/cluster.py` on free ports in a temporary state folder, through its nginx) and the anchor
(`rasa run`, in-memory tracker store, no action server).

The customers are `benchmarks.loadtest`'s (FAQ conversations over REST, no think time), with one
change: each conversation's connection leaves from a loopback address of its own (127.0.10.1 and
on), because the cluster's nginx routes by the client's address; from 127.0.0.1 alone every
customer would reach the same replica. All three systems get the same customers.

Per system and level: throughput, p50/p99 latency, errors, CPU-seconds per 1,000 answered messages
(every server process and its children, from /proc) and each process's peak RSS. A system that does
not start, or a level that crashes, is reported with its reason and the run goes on. The result goes
to benchmarks/results/scale-<time>.json (logs next to it) and, unless --no-docs, to its own section
of docs/benchmarks.md (`benchmarks.scale_report`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # the started servers and `rasa train` inherit it
# Read when SQLAlchemy is imported (the cluster's schema set-up): Rasa's tables would warn about 2.0.
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")

import aiohttp

from benchmarks import loadtest, rasa_default, report
from benchmarks.loadtest import Phase
from benchmarks.loadtest_clients import Recorder
from benchmarks.loadtest_monitor import Sample, Sampler, cpu_seconds
from benchmarks.scale_report import SYSTEMS, render_table, update_docs
from benchmarks.servers import _vm_rss_kb, start_anchor, start_ours
from benchmarks.training import rasa_train
from deploy import cluster as deploy_cluster
from tests.servers import MODEL, ROOT

RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
MIX = {"faq": 1}  # FAQ conversations only: the messages every system answers the same way
REPLY_TIMEOUT = 10.0  # seconds; a slower reply is an error
MAX_MESSAGES = 20_000  # per level: a bound in case a system answers far faster than expected
WARMUP = Phase("warm-up", customers=8, transport="rest", duration=5, mix=MIX, reply_timeout=30.0)
REPLICAS = 2
SETTLE_TIMEOUT = 30.0  # seconds to wait after a level for the servers to finish what customers gave up on
IDLE_CORES = 0.15  # below this share of one core, all server processes together count as idle
# 1,000 source addresses: one per customer at the largest level, and at most ~1 message/s per address
# at any throughput seen here, far under the per-address rate limit (600/min, credentials.yml).
SOURCE_ADDRESSES = [f"127.0.{10 + i // 250}.{1 + i % 250}" for i in range(1000)]


@dataclass
class Running:
    """A started system: where customers send to, the processes to measure, how to stop it."""

    url: str
    roots: dict[str, int]  # process name ("rasa", "rasa-1", "postgres", ...) -> pid; children are counted too
    stop: Callable[[], None]
    startup_s: float | None


# ---- the customers ---------------------------------------------------------------------------

class SourceAddresses:
    """One aiohttp session per loopback source address, handed out round-robin to new conversations."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses
        self.sessions: dict[str, aiohttp.ClientSession] = {}
        self.turn = itertools.count()

    def next_session(self) -> aiohttp.ClientSession:
        address = self.addresses[next(self.turn) % len(self.addresses)]
        if address not in self.sessions:  # limit=0: one keep-alive connection per customer in flight
            connector = aiohttp.TCPConnector(limit=0, local_addr=(address, 0))
            self.sessions[address] = aiohttp.ClientSession(connector=connector)
        return self.sessions[address]

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self.sessions.values()))


@contextlib.contextmanager
def rest_customers_from(addresses: SourceAddresses) -> Iterator[None]:
    """Make `loadtest.run_phase` give each REST conversation a session from `addresses`.

    run_phase builds its REST channels with one shared session from 127.0.0.1; it looks the class
    up in its module at call time, so swapping it for the phase is enough and loadtest stays as it is.
    """
    original = loadtest.RestChannel

    def channel(_shared: aiohttp.ClientSession, url: str, recorder: Recorder, timeout: float):
        return original(addresses.next_session(), url, recorder, timeout)

    loadtest.RestChannel = channel  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        loadtest.RestChannel = original  # type: ignore[misc]


async def drive(url: str, phase: Phase, seed: int) -> Recorder:
    """One load phase of loadtest's customers, each conversation from its own loopback address."""
    addresses = SourceAddresses(SOURCE_ADDRESSES)
    try:
        with rest_customers_from(addresses):
            return await loadtest.run_phase(url, phase, seed)
    finally:
        await addresses.close()


def ramp_for(level: int, duration: float) -> float:
    """Seconds over which a level's customers arrive: none for small levels, up to a third of the phase."""
    return 0.0 if level < 100 else min(duration / 3, level / 20)


def phase_for(level: int, args: argparse.Namespace) -> Phase:
    return Phase(f"rest-faq-{level}", customers=level, transport="rest", duration=args.duration,
                 max_messages=args.max_messages, ramp=ramp_for(level, args.duration), mix=dict(MIX), think=0.0,
                 reply_timeout=args.reply_timeout)


# ---- the server processes' memory and CPU ----------------------------------------------------

class TreeSampler(Sampler):
    """loadtest_monitor's sampler, reading /proc once per sample for all roots (the cluster has seven)."""

    def sample(self) -> Sample:
        trees = process_trees(self.roots)
        return Sample(
            self.now(),
            {name: sum(_vm_rss_kb(pid) for pid in tree) / 1024 for name, tree in trees.items()},
            {name: sum(cpu_seconds(pid) for pid in tree) for name, tree in trees.items()},
        )


def process_trees(roots: dict[str, int]) -> dict[str, list[int]]:
    """Each root pid with its descendants, from one pass over /proc/*/stat."""
    children: dict[int, list[int]] = defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended while we read
        children[parent].append(int(stat.parent.name))
    trees = {}
    for name, root in roots.items():
        tree, frontier = [root], [root]
        while frontier:
            frontier = [child for pid in frontier for child in children.get(pid, [])]
            tree += frontier
        trees[name] = tree
    return trees


def settle(sampler: TreeSampler) -> float:
    """Wait until the servers are idle again (at most SETTLE_TIMEOUT); the seconds it took.

    A server goes on working on requests whose customers timed out: that work belongs to the level.
    """
    started = time.perf_counter()
    previous = sum(sampler.sample().cpu_s.values())
    while time.perf_counter() - started < SETTLE_TIMEOUT:
        time.sleep(1.0)
        current = sum(sampler.sample().cpu_s.values())
        if current - previous < IDLE_CORES:
            break
        previous = current
    return round(time.perf_counter() - started, 1)


def costs(before: Sample, after: Sample, during: list[Sample], replies: int) -> dict:
    """CPU-seconds per process and per 1,000 answered messages; each process's peak RSS."""
    cpu = {name: round(after.cpu_s[name] - before.cpu_s[name], 2) for name in before.cpu_s}
    total = sum(cpu.values())
    peak = {name: round(max(s.rss_mb[name] for s in during), 1) for name in before.rss_mb}
    return {
        "cpu_s": cpu,
        "cpu_s_total": round(total, 2),
        "cpu_s_per_1000": round(1000 * total / replies, 1) if replies else None,
        "rss_peak_mb": peak,
        "rss_peak_sum_mb": round(sum(peak.values()), 1),
    }


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# ---- one level, one system -------------------------------------------------------------------

def run_level(url: str, phase: Phase, sampler: TreeSampler, seed: int) -> dict:
    """One bounded phase: loadtest's summary plus the servers' CPU and memory over it."""
    before, generator_before = sampler.sample(), own_cpu()
    recorder = asyncio.run(drive(url, phase, seed))
    generator_cpu = own_cpu() - generator_before
    settle_s = settle(sampler)
    after = sampler.sample()
    summary = loadtest.summarise(phase, recorder, None, (0.0, 0.0), generator_cpu)
    attempts = summary["replies"] + summary["error_count"]
    summary["error_share"] = round(summary["error_count"] / attempts, 4) if attempts else None
    summary["settle_s"] = settle_s
    summary.update(costs(before, after, [before, *sampler.between(before.t, after.t), after], summary["replies"]))
    summary["exited"] = [name for name, pid in sampler.roots.items() if not deploy_cluster.alive(pid)]
    return summary


def measure(name: str, start: Callable[[], Running], args: argparse.Namespace) -> dict:
    """Start one system, warm it up, run every level, stop it; failures are recorded, not raised."""
    print(f"[{time.strftime('%H:%M:%S')}] {SYSTEMS[name]}: starting …", flush=True)
    try:
        running = start()
    except Exception as error:  # the other systems are still worth measuring
        traceback.print_exc()
        return {"error": f"did not start: {one_line(error)}"}
    entry: dict = {"startup_s": running.startup_s, "processes": dict(running.roots), "levels": {}}
    sampler = TreeSampler(running.roots).start()
    try:
        loadtest.require_loopback(running.url)  # customers are never pointed at another machine
        entry["warmup"] = warm_up(running.url, sampler, args.seed - 1)
        for number, level in enumerate(args.levels):
            phase = phase_for(level, args)
            print(f"[{time.strftime('%H:%M:%S')}] {SYSTEMS[name]}: {level} customers, {phase.duration:.0f} s "
                  f"(ramp {phase.ramp:.0f} s) …", flush=True)
            try:
                entry["levels"][str(level)] = run_level(running.url, phase, sampler, args.seed + number)
            except Exception as error:  # one crashed level must not lose the others
                traceback.print_exc()
                entry["levels"][str(level)] = {"error": f"crashed: {one_line(error)}"}
            print("    " + brief(entry["levels"][str(level)]), flush=True)
    finally:
        sampler.stop()
        try:
            running.stop()
        except Exception as error:  # what was measured stands; the next system may still start
            traceback.print_exc()
            entry["stop_error"] = one_line(error)
    return entry


def warm_up(url: str, sampler: TreeSampler, seed: int) -> dict:
    """Unmeasured: the first turns load code paths and caches (a second or more each)."""
    try:
        warmup = asyncio.run(drive(url, WARMUP, seed))
    except Exception as error:  # the levels will show whether the system answers at all
        traceback.print_exc()
        return {"error": one_line(error)}
    return {"replies": warmup.replies, "errors": dict(warmup.errors), "settle_s": settle(sampler)}


def brief(cell: dict) -> str:
    if "error" in cell:
        return cell["error"]
    latency = cell["latency"] or {}
    return (f"{cell['replies']} answered, {cell['throughput_per_s']}/s, p50 {latency.get('p50_ms')} ms, "
            f"p99 {latency.get('p99_ms')} ms, errors {cell['error_count']} {cell['errors'] or ''}, "
            f"{cell['cpu_s_per_1000']} CPU-s/1,000, settled in {cell['settle_s']} s")


def one_line(error: BaseException) -> str:
    first = (str(error).strip().splitlines() or [""])[0]
    return f"{type(error).__name__}: {first}"[:200]


# ---- the three systems -----------------------------------------------------------------------

def start_single(work: Path, logs: Path) -> Running:
    server = start_ours(work / "ours", MODEL, logs / "ours")
    roots = {role: process.pid for role, process in server.processes.items()}
    return Running(server.url, roots, server.stop, server.startup_seconds.get("rasa"))


def start_cluster(logs: Path) -> Running:
    """deploy/cluster.py on free ports, its state in a folder the `postgres` user can reach."""
    folder = Path(tempfile.mkdtemp(prefix="supportbot-scale-cluster-"))
    folder.chmod(0o755)  # PostgreSQL runs as `postgres`: every folder above its data must be searchable
    state = folder / "state"

    def stop() -> None:
        try:
            deploy_cluster.stop(state)
        finally:
            keep_logs(state, logs / "cluster")
            shutil.rmtree(folder, ignore_errors=True)

    started = time.perf_counter()
    try:
        cluster = deploy_cluster.start(state, deploy_cluster.Ports.free(REPLICAS), MODEL)
        roots = {process.name: process.pid for process in cluster.processes}
        roots["postgres"] = postmaster_pid(state)  # pg_ctl starts it, so it is not in cluster.processes
    except BaseException:
        stop()
        raise
    return Running(cluster.url, roots, stop, time.perf_counter() - started)


def postmaster_pid(state: Path) -> int:
    """The first line of PostgreSQL's postmaster.pid; its backends are its children."""
    return int((state / "postgres" / "data" / "postmaster.pid").read_text().splitlines()[0])


def keep_logs(state: Path, target: Path) -> None:
    for folder in (state / "logs", state / "nginx"):
        if folder.exists():
            shutil.copytree(folder, target / folder.name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("tmp", "*.conf", "*.pid"))
    postgres_log = state / "postgres" / "postgres.log"
    if postgres_log.exists():
        shutil.copy2(postgres_log, target / "postgres.log")


def train_anchor(project: Path, logs: Path) -> dict:
    """Rasa's default pipeline on our data in `project` (kept when it already holds a model)."""
    model = project / "models" / "anchor.tar.gz"
    if model.exists():
        return {"model": str(model), "train_s": None, "reused": True}
    data = rasa_default.write_faq_project(project)
    print(f"[{time.strftime('%H:%M:%S')}] training Rasa's default pipeline ({data}); 5-10 minutes …", flush=True)
    model, seconds = rasa_train(project, "anchor", logs / "train-anchor.log")
    return {"model": str(model), "train_s": round(seconds, 1), "data": data}


def start_default(project: Path, model: Path, logs: Path) -> Running:
    server = start_anchor(project, model, logs / "anchor")
    return Running(server.url, {"rasa": server.processes["rasa"].pid}, server.stop, server.startup_seconds.get("rasa"))


def measure_all(args: argparse.Namespace, work: Path, logs: Path) -> dict:
    systems: dict = {}
    anchor: dict = {}
    if not args.skip_anchor:  # first: training is the heaviest thing this run does
        project = args.anchor_project or work / "anchor-project"
        try:
            anchor = train_anchor(project.resolve(), logs)
        except Exception as error:
            traceback.print_exc()
            anchor = {"error": f"training failed: {one_line(error)}"}
    systems["ours"] = {"not_run": "--skip-ours"} if args.skip_ours else \
        measure("ours", lambda: start_single(work, logs), args)
    systems["cluster"] = {"not_run": "--skip-cluster"} if args.skip_cluster else \
        measure("cluster", lambda: start_cluster(logs), args)
    if args.skip_anchor:
        systems["anchor"] = {"not_run": "--skip-anchor"}
    elif "error" in anchor:
        systems["anchor"] = dict(anchor)
    else:
        model = Path(anchor["model"])
        systems["anchor"] = {**measure("anchor", lambda: start_default(model.parent.parent, model, logs), args),
                             "training": anchor}
    return systems


# ---- the command -----------------------------------------------------------------------------

def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--levels wants numbers like 10,100,1000; got {text!r}") from None
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("--levels needs at least one positive number")
    return levels


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="One process, the cluster and Rasa's default pipeline under the same REST load (loopback only).")
    parser.add_argument("--levels", type=parse_levels, default=[10, 100, 1000], help="concurrent customers per level")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per level (default 30)")
    parser.add_argument("--max-messages", type=int, default=MAX_MESSAGES, help="messages per level at most")
    parser.add_argument("--reply-timeout", type=float, default=REPLY_TIMEOUT, help="seconds before a reply is an error")
    parser.add_argument("--skip-ours", action="store_true", help="do not measure the single process")
    parser.add_argument("--skip-cluster", action="store_true", help="do not measure the cluster")
    parser.add_argument("--skip-anchor", action="store_true", help="do not train and measure Rasa's default pipeline")
    parser.add_argument("--anchor-project", type=Path,
                        help="folder for the anchor's project; its models/anchor.tar.gz is reused when present")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="JSON result (default benchmarks/results/scale-<UTC time>.json)")
    parser.add_argument("--docs", type=Path, default=DOCS, help="report whose scale section is rewritten")
    parser.add_argument("--no-docs", action="store_true", help="do not touch the report")
    return parser


def meta(args: argparse.Namespace, flags: list[str]) -> dict:
    return {
        "date_utc": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python -m benchmarks.scale_table", *flags]),
        "machine": report.machine(),
        "load_average_start": os.getloadavg(),
        "levels": args.levels,
        "duration_s": args.duration,
        "max_messages": args.max_messages,
        "reply_timeout_s": args.reply_timeout,
        "ramp_s": {str(level): ramp_for(level, args.duration) for level in args.levels},
        "warmup": {"customers": WARMUP.customers, "duration_s": WARMUP.duration},
        "source_addresses": len(SOURCE_ADDRESSES),
        "replicas": REPLICAS,
        "settle_timeout_s": SETTLE_TIMEOUT,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not MODEL.exists():
        raise SystemExit(f"no trained model at {MODEL}: run `make train`")
    # SIGTERM unwinds like Ctrl-C, so every started server is stopped and the temporary folders removed.
    signal.signal(signal.SIGTERM, _interrupt)
    began = time.perf_counter()
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    out = (args.out or RESULTS / f"scale-{stamp}.json").resolve()
    logs = out.with_suffix("") / "logs"
    result: dict = {"meta": meta(args, sys.argv[1:] if argv is None else argv)}
    print(f"Scale benchmark {stamp}; logs in {logs}", flush=True)
    with tempfile.TemporaryDirectory(prefix="supportbot-scale-") as work:
        result["systems"] = measure_all(args, Path(work), logs)
    result["meta"]["load_average_end"] = os.getloadavg()
    result["meta"]["duration_min"] = round((time.perf_counter() - began) / 60, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print("\n" + render_table(result) + "\n")
    print(f"Result: {out}")
    if not args.no_docs:
        docs = args.docs if args.docs.is_absolute() else ROOT / args.docs
        update_docs(docs, result)
        print(f"Report: {docs}")
    return 0


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
