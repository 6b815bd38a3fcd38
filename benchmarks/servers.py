"""Start ours and the anchor on free loopback ports, time their start-up, read their memory, stop them.

Ours is started as `tests/servers.py` starts it (action server + `python -m bot.server`,
API token in `SUPPORTBOT_API_TOKEN`), except that the knowledge base can come from any
folder (`faq_source`), so the same code serves the seeded and the generated knowledge base.
The anchor is plain `rasa run` in its project folder; it needs no action server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.servers import ROOT, free_port

STARTUP_TIMEOUT = 300.0  # seconds; the anchor loads TensorFlow (the generated knowledge base passes its own)
POLL_INTERVAL = 0.05  # seconds between /status polls while a server starts


@dataclass
class Server:
    """One running product: its URL, API token, processes by role and how long it took to come up."""

    name: str
    url: str
    token: str
    processes: dict[str, subprocess.Popen]  # role ("rasa", "actions") -> process
    startup_seconds: dict[str, float] = field(default_factory=dict)  # role -> seconds until it answered

    def rss_mb(self, role: str) -> float:
        """Resident memory of one role's process and its children, in MiB (VmRSS from /proc)."""
        return sum(_vm_rss_kb(pid) for pid in _process_tree(self.processes[role].pid)) / 1024

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def start_ours(
    workdir: Path, model: Path, log_dir: Path, faq_source: Path | None = None, timeout: float = STARTUP_TIMEOUT
) -> Server:
    """Copy `faq_source` (default: the repository's faq/) and data/ into `workdir` and run the product there."""
    model = model.resolve()
    shutil.copytree(faq_source or ROOT / "faq", workdir / "faq")
    shutil.copytree(ROOT / "data", workdir / "data")
    (workdir / "var").mkdir()
    rasa_port, action_port = free_port(), free_port()
    token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "RASA_TELEMETRY_ENABLED": "false",
        "SUPPORTBOT_API_TOKEN": token,
        "SUPPORTBOT_ACTION_TOKEN": secrets.token_urlsafe(24),
        "SUPPORTBOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "SUPPORTBOT_TRACKER_DB": str(workdir / "var" / "tracker.db"),
        "SUPPORTBOT_DATABASE_URL": f"sqlite:///{workdir / 'var' / 'supportbot.db'}",
        "SUPPORTBOT_FAQ_PATH": str(workdir / "faq"),
        "SUPPORTBOT_SUPPORT_CONFIG": str(ROOT / "support.yml"),
        "SUPPORTBOT_ENDPOINTS": str(ROOT / "endpoints.yml"),
        "SANIC_HOST": "127.0.0.1",
        "PYTHONPATH": str(ROOT),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    server = Server("ours", f"http://127.0.0.1:{rasa_port}", token, {})
    started = time.perf_counter()
    try:
        server.processes["actions"] = _spawn(
            [sys.executable, "-m", "bot.action_server", "--port", str(action_port)],
            ROOT, env, log_dir / "actions.log",
        )
        server.processes["rasa"] = _spawn(
            [sys.executable, "-m", "bot.server", "--model", str(model), "--port", str(rasa_port),
             "--endpoints", str(ROOT / "endpoints.yml"), "--credentials", str(ROOT / "credentials.yml")],
            workdir, env, log_dir / "rasa.log",
        )
        server.startup_seconds["rasa"] = _wait_until_up(
            f"{server.url}/status?token={token}", server.processes["rasa"], started, timeout)
        server.startup_seconds["actions"] = _wait_until_up(
            f"http://127.0.0.1:{action_port}/health", server.processes["actions"], started, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def start_anchor(project: Path, model: Path, log_dir: Path) -> Server:
    """`rasa run --enable-api` on the anchor's model, from its project folder."""
    model = model.resolve()
    port = free_port()
    token = secrets.token_urlsafe(24)
    rasa = Path(sys.executable).with_name("rasa")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    log_dir.mkdir(parents=True, exist_ok=True)
    server = Server("anchor", f"http://127.0.0.1:{port}", token, {})
    started = time.perf_counter()
    try:
        server.processes["rasa"] = _spawn(
            [str(rasa), "run", "--enable-api", f"--auth-token={token}", "-i", "127.0.0.1", "-p", str(port),
             "-m", str(model), "--credentials", "credentials.yml"],
            project, env, log_dir / "rasa.log",
        )
        server.startup_seconds["rasa"] = _wait_until_up(
            f"{server.url}/status?token={token}", server.processes["rasa"], started, STARTUP_TIMEOUT)
    except BaseException:
        server.stop()
        raise
    return server


def _spawn(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:  # the child keeps its own copy of the file descriptor
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)


def _wait_until_up(url: str, process: subprocess.Popen, started: float, timeout: float) -> float:
    """Seconds from `started` until `url` answers 200; at most `timeout`."""
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode} during start-up")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"{url.split('?')[0]} not up after {timeout:.0f} s")


def _vm_rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def _process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the parent ids in /proc/*/stat."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    tree, frontier = [pid], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        tree += children
        frontier = children
    return tree
