"""The server's memory and CPU over a load test, and whether memory grows (`benchmarks.loadtest`).

Sampled once a second in a thread of its own, so a busy event loop in the load generator does
not skew the clock: resident memory (VmRSS) and CPU time (utime + stime) of each role's process
tree, from /proc. In `--target` mode without pids, `/metrics` (Prometheus, the process collector)
stands in for one process: whichever replica the load balancer sends the scrape to.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests

from benchmarks.servers import _process_tree, _vm_rss_kb

INTERVAL = 1.0  # seconds between samples
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A soak is flat when the least-squares trend over its second half, projected over the whole soak,
# stays under the larger of these: small absolute noise (allocator arenas, SQLite page cache) and a
# share of the process's size.
FLAT_MB = 5.0
FLAT_SHARE = 0.02
HANDLING_LINE = r'^supportbot_message_duration_seconds_(count|sum)\{channel="([^"]+)"\} (\S+)$'


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, in seconds (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass
class Sample:
    t: float  # seconds since the sampler started
    rss_mb: dict[str, float]  # role -> MiB
    cpu_s: dict[str, float]  # role -> cumulative CPU seconds


@dataclass
class Sampler:
    """Samples each role's process tree (role -> root pid) every INTERVAL seconds until stopped."""

    roots: dict[str, int]
    samples: list[Sample] = field(default_factory=list)
    source: str = "/proc"

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="loadtest-sampler", daemon=True)
        self.started = time.perf_counter()

    def start(self) -> Sampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def now(self) -> float:
        return time.perf_counter() - self.started

    def _loop(self) -> None:
        while not self._stop.is_set():
            sample = self.sample()
            if sample is not None:
                self.samples.append(sample)
            self._stop.wait(INTERVAL)

    def sample(self) -> Sample | None:
        rss, cpu = {}, {}
        for role, pid in self.roots.items():
            tree = _process_tree(pid)
            rss[role] = sum(_vm_rss_kb(p) for p in tree) / 1024
            cpu[role] = sum(cpu_seconds(p) for p in tree)
        return Sample(self.now(), rss, cpu)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.t <= end]


class MetricsSampler(Sampler):
    """The same samples from a server's `/metrics` (one process, the one that answered the scrape)."""

    def __init__(self, url: str, token: str) -> None:
        super().__init__({"rasa": 0}, source=f"{url}/metrics")
        self.url = url
        self.token = token

    def sample(self) -> Sample | None:
        try:
            response = requests.get(f"{self.url}/metrics", params={"token": self.token}, timeout=2)
        except requests.RequestException:
            return None
        if response.status_code != 200:
            return None
        values = dict(re.findall(r"^(process_resident_memory_bytes|process_cpu_seconds_total) (\S+)$",
                                 response.text, re.MULTILINE))
        if len(values) < 2:
            return None
        rss = float(values["process_resident_memory_bytes"]) / 2**20
        return Sample(self.now(), {"rasa": rss}, {"rasa": float(values["process_cpu_seconds_total"])})


def handling_totals(url: str, token: str | None) -> dict[str, tuple[float, float]]:
    """Per channel, the server's own count and total seconds of message handling (`/metrics`), or {}.

    The difference to the client's latency is the time spent outside handling: in the transport,
    in the server's event loop before the message is picked up, and in the load generator.
    """
    if not token:
        return {}
    try:
        text = requests.get(f"{url}/metrics", params={"token": token}, timeout=5).text
    except requests.RequestException:
        return {}
    found = re.findall(HANDLING_LINE, text, re.MULTILINE)
    totals: dict[str, list[float]] = {}
    for what, channel, value in found:
        totals.setdefault(channel, [0.0, 0.0])[0 if what == "count" else 1] = float(value)
    return {channel: (count, seconds) for channel, (count, seconds) in totals.items()}


def slope_mb_per_min(samples: list[Sample], role: str) -> float | None:
    """Least-squares slope of a role's RSS over time, in MiB per minute."""
    if len(samples) < 10:
        return None
    t = np.array([s.t for s in samples]) / 60
    rss = np.array([s.rss_mb[role] for s in samples])
    return float(np.polyfit(t, rss, 1)[0])


def memory_verdict(samples: list[Sample], role: str, soak_seconds: float) -> dict:
    """Flat or growing, from the trend over the second half (the first half is warm-up: caches fill)."""
    half = [s for s in samples if s.t >= samples[0].t + (samples[-1].t - samples[0].t) / 2] if samples else []
    slope = slope_mb_per_min(half, role)
    if slope is None:
        return {"role": role, "verdict": "not enough samples"}
    median = float(np.median([s.rss_mb[role] for s in half]))
    projected = slope * soak_seconds / 60
    allowed = max(FLAT_MB, FLAT_SHARE * median)
    return {
        "role": role,
        "slope_mb_per_min": round(slope, 3),
        "projected_growth_mb": round(projected, 1),  # the slope over the whole soak
        "allowed_mb": round(allowed, 1),
        "median_rss_mb": round(median, 1),
        "first_rss_mb": round(samples[0].rss_mb[role], 1),
        "last_rss_mb": round(samples[-1].rss_mb[role], 1),
        "max_rss_mb": round(max(s.rss_mb[role] for s in samples), 1),
        "verdict": "flat" if projected < allowed else "growing",
    }
