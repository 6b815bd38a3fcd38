"""The product replicated on one machine: `python -m deploy.cluster start|stop|status` (`make cluster`).

On 127.0.0.1 only, from Debian packages and the project's venv:

    browser ──▶ nginx :8005 ──hash(address)──▶ Rasa :5105 ─┬──▶ nginx :8055 ──▶ action servers :5155, :5156
                                          └─▶ Rasa :5106 ─┘
    PostgreSQL :5433 (tracker store, product database); Redis :6380 (locks, socket.io's message queue)

Everything lives in a state folder (`var/cluster/` by default): the PostgreSQL data (kept across
restarts), generated secrets (`secrets/`, mode 600), configuration files, logs, and `cluster.json`
with the ports and the pids `stop` uses. `start` returns once every process answers; the processes
run on in the background until `stop`. docs/scale.md ("Cluster") describes the layout.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
DEFAULT_STATE = ROOT / "var" / "cluster"
ENDPOINTS = DEPLOY / "endpoints.cluster.yml"
NGINX_TEMPLATE = DEPLOY / "nginx.cluster.conf.in"
START_TIMEOUT = 240.0  # s for every process to answer; Rasa replicas take 20-60 s here, more on a busy machine
STOP_TIMEOUT = 20.0  # s a process gets after SIGTERM before SIGKILL
APP_USER = "supportbot"
PRODUCT_DATABASE = "supportbot"


class ClusterError(Exception):
    """The cluster cannot start or stop; the message says why and what to do."""


@dataclass
class Ports:
    nginx: int = 8005  # the public address: widget, REST, socket.io, console, HTTP API
    actions_proxy: int = 8055  # nginx's internal listener in front of the action servers
    rasa: list[int] = field(default_factory=lambda: [5105, 5106])
    actions: list[int] = field(default_factory=lambda: [5155, 5156])
    postgres: int = 5433
    redis: int = 6380

    @classmethod
    def free(cls, replicas: int) -> Ports:
        """Ports the kernel says are free now (for tests: several clusters never clash)."""
        return cls(free_port(), free_port(), [free_port() for _ in range(replicas)],
                   [free_port() for _ in range(replicas)], free_port(), free_port())

    @classmethod
    def defaults(cls, replicas: int) -> Ports:
        ports = cls()
        ports.rasa = [5105 + i for i in range(replicas)]
        ports.actions = [5155 + i for i in range(replicas)]
        return ports

    def all(self) -> list[int]:
        return [self.nginx, self.actions_proxy, *self.rasa, *self.actions, self.postgres, self.redis]


@dataclass
class Process:
    name: str  # rasa-1, actions-2, redis, nginx (PostgreSQL is stopped with pg_ctl)
    pid: int
    log: str


@dataclass
class Cluster:
    """What `start` wrote to `<state>/cluster.json`; `stop` and the tests read it back."""

    state: str
    ports: Ports
    processes: list[Process]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports.nginx}"

    @property
    def api_token(self) -> str:
        return secret(Path(self.state), "api_token")

    @property
    def database_url(self) -> str:
        """The product database (tickets, handoffs, ...), as SQLAlchemy opens it."""
        return postgres_url(Path(self.state), self.ports.postgres, PRODUCT_DATABASE)

    @property
    def tracker_url(self) -> str:
        """Rasa's tracker store: the `events` table in the product database, so that exporting,
        deleting and purging a customer's data is one transaction (bot/security/personal_data.py)."""
        return self.database_url

    def process(self, name: str) -> Process:
        return next(p for p in self.processes if p.name == name)

    def save(self) -> None:
        path = Path(self.state) / "cluster.json"
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, state: Path) -> Cluster | None:
        path = state / "cluster.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(data["state"], Ports(**data["ports"]), [Process(**p) for p in data["processes"]])


# --- what the machine needs -------------------------------------------------------------------------------------------


def postgres_bin() -> Path | None:
    """Debian's newest PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`)."""
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    found = [b for b in found if (b / "pg_ctl").exists()]
    return max(found, key=lambda b: int(b.parent.name) if b.parent.name.isdigit() else 0) if found else None


def nginx_bin() -> str | None:
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def missing_packages() -> list[str]:
    """Debian packages whose programs the cluster needs and this machine lacks."""
    missing = []
    if nginx_bin() is None:
        missing.append("nginx")
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    if postgres_bin() is None:
        missing.append("postgresql")
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    """Something listens on the port. Connections of a just-stopped cluster in TIME_WAIT do not count:
    nginx, Redis and PostgreSQL bind with SO_REUSEADDR too, so a restart right after a stop works."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


# --- secrets ----------------------------------------------------------------------------------------------------------


def secret(state: Path, name: str, *, renew: bool = False) -> str:
    """`<state>/secrets/<name>` (mode 600), generated the first time (or every time with `renew`)."""
    folder = state / "secrets"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / name
    if renew or not path.exists():
        path.unlink(missing_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(24))  # hex: safe in URLs and configuration files unquoted
    return path.read_text().strip()


def postgres_url(state: Path, port: int, database: str) -> str:
    password = secret(state, "postgres_password")
    return f"postgresql+psycopg2://{APP_USER}:{password}@127.0.0.1:{port}/{database}"


# --- PostgreSQL -------------------------------------------------------------------------------------------------------


def as_postgres() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the `postgres` system user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def start_postgres(state: Path, port: int) -> None:
    binaries = postgres_bin()
    assert binaries is not None
    folder = state / "postgres"
    data = folder / "data"
    fresh = not (data / "PG_VERSION").exists()
    if fresh:
        folder.mkdir(mode=0o700, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            reachable = subprocess.run([*as_postgres(), "test", "-w", str(folder)], cwd="/", check=False)
            if reachable.returncode != 0:
                raise ClusterError(
                    f"the postgres user cannot reach {folder}: every folder above it must be world-searchable "
                    f"(chmod o+x), or choose another --state"
                )
        # The superuser's password goes to initdb in a file only postgres can read, removed at once.
        password_file = folder / "superuser_password"
        password_file.touch(mode=0o600)
        password_file.write_text(secret(state, "postgres_superuser_password"))
        if os.geteuid() == 0:
            shutil.chown(password_file, "postgres", "postgres")
        try:
            run([*as_postgres(), str(binaries / "initdb"), "-D", str(data), "-U", "postgres",
                 f"--pwfile={password_file}", "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C"],
                cwd=folder, what="initdb")
        finally:
            password_file.unlink(missing_ok=True)
        # TCP on 127.0.0.1 only, no Unix socket (no shared /var/run/postgresql needed).
        with open(data / "postgresql.conf", "a") as conf:
            conf.write("\n# deploy/cluster.py\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
                       "max_connections = 200\n")
    run([*as_postgres(), str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"),
         "-o", f"-p {port}", "-w", "-t", "60", "start"], cwd=folder, what="pg_ctl start")
    if fresh:
        create_app_databases(state, port)


def create_app_databases(state: Path, port: int) -> None:
    """The application's role (password auth) and its two databases, owned by it."""
    import psycopg2  # installed with the project (psycopg2-binary); only the cluster needs it here

    connection = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                                  password=secret(state, "postgres_superuser_password"))
    connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {APP_USER} LOGIN PASSWORD %s", (secret(state, "postgres_password"),))
            cursor.execute(f"CREATE DATABASE {PRODUCT_DATABASE} OWNER {APP_USER}")
    finally:
        connection.close()


def stop_postgres(state: Path) -> bool:
    """Stop the cluster's PostgreSQL (fast: open transactions are rolled back); False if it was not running."""
    binaries = postgres_bin()
    data = state / "postgres" / "data"
    if binaries is None or not (data / "postmaster.pid").exists():
        return False
    run([*as_postgres(), str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "-t", "30", "stop"],
        cwd=state / "postgres", what="pg_ctl stop")
    return True


def prepare_schemas(cluster: Cluster) -> None:
    """Create both databases' tables once, before the servers start: four processes migrating one
    PostgreSQL database at the same moment would race on CREATE TABLE."""
    import sqlalchemy as sa
    from rasa.core.tracker_store import SQLTrackerStore

    from bot.storage.database import create_engine

    create_engine(cluster.database_url).dispose()  # Alembic migrations to the latest revision
    tracker = sa.create_engine(cluster.tracker_url)
    try:
        SQLTrackerStore.Base.metadata.create_all(tracker)  # Rasa's `events` table, as the replicas expect it
    finally:
        tracker.dispose()


# --- the other processes ----------------------------------------------------------------------------------------------


def spawn(cluster: Cluster, name: str, command: list[str], env: dict[str, str] | None = None) -> Process:
    """Start `command` in its own session (it outlives this launcher), output to `<state>/logs/<name>.log`."""
    logs = Path(cluster.state) / "logs"
    logs.mkdir(exist_ok=True)
    log = logs / f"{name}.log"
    with open(log, "ab") as output:
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=output,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    process = Process(name, child.pid, str(log))
    cluster.processes.append(process)
    cluster.save()  # at once: a failed start is still stopped by `stop`
    return process


def start_redis(cluster: Cluster) -> None:
    folder = Path(cluster.state) / "redis"
    folder.mkdir(exist_ok=True)
    config = folder / "redis.conf"
    config.unlink(missing_ok=True)
    config.touch(mode=0o600)  # it holds the password
    config.write_text(
        f"port {cluster.ports.redis}\nbind 127.0.0.1\nprotected-mode yes\n"
        f"requirepass {secret(Path(cluster.state), 'redis_password', renew=True)}\n"
        f'save ""\nappendonly no\ndir {folder}\ndaemonize no\n'
    )
    run_redis(cluster)


def run_redis(cluster: Cluster) -> None:
    """Start redis-server with the configuration `start_redis` wrote (again, after it stopped)."""
    cluster.processes = [p for p in cluster.processes if p.name != "redis"]
    config = Path(cluster.state) / "redis" / "redis.conf"
    spawn(cluster, "redis", [shutil.which("redis-server") or "redis-server", str(config)])


def server_environment(cluster: Cluster) -> dict[str, str]:
    state = Path(cluster.state)
    redis_password = secret(state, "redis_password")
    env = {
        **os.environ,
        "SUPPORTBOT_API_TOKEN": cluster.api_token,
        "SUPPORTBOT_ACTION_TOKEN": secret(state, "action_token"),
        "SUPPORTBOT_ACTION_URL": f"http://127.0.0.1:{cluster.ports.actions_proxy}/webhook",
        "SUPPORTBOT_ENDPOINTS": str(ENDPOINTS),
        **operator_environment(cluster),
        "SUPPORTBOT_POSTGRES_HOST": "127.0.0.1",
        "SUPPORTBOT_POSTGRES_PORT": str(cluster.ports.postgres),
        "SUPPORTBOT_POSTGRES_USER": APP_USER,
        "SUPPORTBOT_POSTGRES_PASSWORD": secret(state, "postgres_password"),
        "SUPPORTBOT_TRACKER_DATABASE": PRODUCT_DATABASE,  # endpoints.cluster.yml's tracker store
        "SUPPORTBOT_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{cluster.ports.redis}/1",
        # Console frames and the REST mailbox, shared by the replicas (bot/console/relay.py).
        "SUPPORTBOT_RELAY_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{cluster.ports.redis}/1",
        "SUPPORTBOT_SOCKETIO_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:{cluster.ports.redis}/0",
        "SANIC_HOST": "127.0.0.1",  # rasa-sdk listens on 0.0.0.0 unless told
        "PYTHONPATH": str(ROOT),
    }
    return env


def operator_environment(cluster: Cluster) -> dict[str, str]:
    """What the operators' `supportbot` commands need to work on the cluster's data."""
    return {"SUPPORTBOT_DATABASE_URL": cluster.database_url, "SUPPORTBOT_TRACKER_DB": cluster.tracker_url}


def start_servers(cluster: Cluster, model: Path) -> None:
    env = server_environment(cluster)
    # Every action server delivers the outbox: each message is claimed by one of them (bot/storage/outbox.py).
    for number, port in enumerate(cluster.ports.actions, start=1):
        spawn(cluster, f"actions-{number}", [sys.executable, "-m", "bot.action_server", "--port", str(port)], env)
    # Sanic reads SANIC_* into its config: the address Rasa sees is the last X-Forwarded-For entry,
    # the one nginx adds, so per-address rate limits and log-in throttles see the customer, not nginx.
    rasa_env = {**env, "SANIC_PROXIES_COUNT": "1"}
    for number, port in enumerate(cluster.ports.rasa, start=1):
        command = [sys.executable, "-m", "bot.server", "--model", str(model), "--port", str(port),
                   "--endpoints", str(ENDPOINTS)]
        spawn(cluster, f"rasa-{number}", command, rasa_env)


def nginx_config(cluster: Cluster) -> Path:
    state = Path(cluster.state)
    folder = state / "nginx"
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    upstream = "        server 127.0.0.1:{} max_fails=1 fail_timeout=5s;"
    text = (
        NGINX_TEMPLATE.read_text()
        .replace("@STATE@", str(state))
        .replace("@PORT@", str(cluster.ports.nginx))
        .replace("@ACTIONS_PORT@", str(cluster.ports.actions_proxy))
        .replace("@RASA_SERVERS@", "\n".join(upstream.format(p) for p in cluster.ports.rasa))
        .replace("@ACTION_SERVERS@", "\n".join(upstream.format(p) for p in cluster.ports.actions))
        # As root the workers drop to www-data (Debian's nginx user); as anyone else they stay that user.
        .replace("@USER@", "user www-data;" if os.geteuid() == 0 else "")
    )
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


def start_nginx(cluster: Cluster) -> None:
    config = nginx_config(cluster)
    nginx = nginx_bin() or "nginx"
    prefix = config.parent
    run([nginx, "-t", "-q", "-c", str(config), "-p", str(prefix), "-e", str(prefix / "error.log")],
        cwd=prefix, what="nginx -t")
    spawn(cluster, "nginx", [nginx, "-c", str(config), "-p", str(prefix), "-e", str(prefix / "error.log")])


def readiness_url(cluster: Cluster, process: Process) -> str | None:
    if process.name.startswith("rasa-"):
        port = cluster.ports.rasa[int(process.name.split("-")[1]) - 1]
        return f"http://127.0.0.1:{port}/status?token={cluster.api_token}"
    if process.name.startswith("actions-"):
        return f"http://127.0.0.1:{cluster.ports.actions[int(process.name.split('-')[1]) - 1]}/health"
    if process.name == "nginx":
        return f"{cluster.url}/webhooks/rest/"  # the REST channel's health route, through nginx
    return None


def wait_until_ready(cluster: Cluster, timeout: float) -> None:
    """Until every process answers its readiness URL (Redis: a PING); ClusterError if one exits or time runs out."""
    import redis

    waiting = {p.name: p for p in cluster.processes}
    deadline = time.monotonic() + timeout
    while waiting:
        for name, process in list(waiting.items()):
            if not alive(process.pid):
                raise ClusterError(f"{name} exited during start-up; its log: {process.log}\n{tail(process.log)}")
            url = readiness_url(cluster, process)
            try:
                if url is None:
                    redis.Redis(port=cluster.ports.redis, password=secret(Path(cluster.state), "redis_password"),
                                socket_timeout=1).ping()
                    del waiting[name]
                elif requests.get(url, timeout=2).ok:
                    del waiting[name]
            except (requests.RequestException, redis.RedisError):
                pass
        if waiting and time.monotonic() > deadline:
            raise ClusterError(f"not answering after {timeout:.0f} s: {', '.join(sorted(waiting))} (logs in "
                               f"{cluster.state}/logs)")
        time.sleep(0.3)


# --- start, stop ------------------------------------------------------------------------------------------------------


def start(state: Path = DEFAULT_STATE, ports: Ports | None = None, model: Path | None = None,
          timeout: float = START_TIMEOUT) -> Cluster:
    """Start everything and wait until it answers; the cluster's description. On failure everything
    started is stopped again and ClusterError says what failed."""
    state = state.resolve()
    missing = missing_packages()
    if missing:
        raise ClusterError(f"missing Debian packages; install them with: apt-get install {' '.join(missing)}")
    model = (model or ROOT / "models" / "supportbot.tar.gz").resolve()
    if not model.exists():
        raise ClusterError(f"no trained model at {model}: run `make train`")
    previous = Cluster.load(state)
    if previous is not None and any(alive(p.pid) for p in previous.processes):
        raise ClusterError(f"a cluster is already running from {state} at {previous.url}; stop it first")
    ports = ports or Ports.defaults(2)
    busy = [port for port in ports.all() if port_in_use(port)]
    if busy:
        raise ClusterError(f"ports already in use on 127.0.0.1: {busy}")
    state.mkdir(parents=True, exist_ok=True)
    cluster = Cluster(str(state), ports, [])
    cluster.save()
    try:
        start_redis(cluster)
        start_postgres(state, ports.postgres)
        prepare_schemas(cluster)
        start_servers(cluster, model)
        deadline = time.monotonic() + timeout
        wait_until_ready(cluster, timeout)
        # nginx last: probed before the replicas listen, it would mark them down for fail_timeout.
        start_nginx(cluster)
        wait_until_ready(cluster, max(10.0, deadline - time.monotonic()))
    except BaseException:
        stop(state)
        raise
    return cluster


def stop(state: Path = DEFAULT_STATE) -> list[str]:
    """Stop what `start` started from `state` (nginx first, PostgreSQL last); the names stopped."""
    state = state.resolve()
    cluster = Cluster.load(state)
    stopped = []
    if cluster is not None:
        stopped = terminate([(p.name, p.pid) for p in reversed(cluster.processes)])
    try:
        if stop_postgres(state):
            stopped.append("postgres")
    except ClusterError as error:
        print(error, file=sys.stderr)
    return stopped


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    # A zombie (a child of this process not yet reaped) is as good as dead.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def terminate(processes: list[tuple[str, int]]) -> list[str]:
    """SIGTERM to each process's session (started by `spawn`, so its group is its pid), all at once,
    then SIGKILL to those still running after STOP_TIMEOUT; the names of those that were running."""
    # A pid that is not a group leader any more was reused by something else: not ours to stop.
    running = [(name, pid) for name, pid in processes if alive(pid) and group_of(pid) == pid]
    for _, pid in running:
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline and any(alive(pid) for _, pid in running):
        for _, pid in running:
            reap(pid)
        time.sleep(0.1)
    for _, pid in running:
        if alive(pid):
            os.killpg(pid, signal.SIGKILL)
        reap(pid)
    return [name for name, _ in running]


def group_of(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def reap(pid: int) -> None:
    """Collect the exit status when the process is this one's child (in tests), so it leaves no zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def run(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ClusterError(f"{what} failed ({result.returncode}):\n{result.stdout}{result.stderr}")


def tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="The support bot replicated on 127.0.0.1 (docs/scale.md).")
    parser.add_argument("command", choices=["start", "stop", "status", "env"],
                        help="env: the variables that point `supportbot` (data, tickets, report, faq suggest) at "
                        "the cluster's databases, as shell exports")
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help="folder for data, secrets, logs")
    parser.add_argument("--replicas", type=int, default=2, help="Rasa servers, and as many action servers")
    parser.add_argument("--port", type=int, default=Ports.nginx, help="nginx's public port")
    parser.add_argument("--free-ports", action="store_true", help="any free ports instead of the fixed ones")
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args(argv)
    # Read when SQLAlchemy is imported: Rasa's table definitions would print a warning about 2.0.
    os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")
    if args.command == "stop":
        stopped = stop(args.state)
        print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
        return 0
    if args.command == "env":
        cluster = Cluster.load(args.state.resolve())
        if cluster is None:
            print("no cluster in", args.state, file=sys.stderr)
            return 1
        for name, value in operator_environment(cluster).items():
            print(f"export {name}={shlex.quote(value)}")
        return 0
    if args.command == "status":
        cluster = Cluster.load(args.state.resolve())
        if cluster is None:
            print("no cluster in", args.state)
            return 1
        for process in cluster.processes:
            print(f"{process.name:10} pid {process.pid:7}  {'up' if alive(process.pid) else 'DOWN'}  {process.log}")
        return 0 if all(alive(p.pid) for p in cluster.processes) else 1
    ports = Ports.free(args.replicas) if args.free_ports else Ports.defaults(args.replicas)
    if not args.free_ports:
        ports.nginx = args.port
    try:
        cluster = start(args.state, ports, args.model)
    except ClusterError as error:
        print(f"cluster: {error}", file=sys.stderr)
        return 1
    state = Path(cluster.state)
    print(
        f"The support bot runs replicated at {cluster.url}/ (the demo shop with the widget; "
        f"the console {cluster.url}/console/)\n"
        f"  Rasa replicas :{', :'.join(map(str, ports.rasa))}; action servers :{', :'.join(map(str, ports.actions))} "
        f"(behind nginx :{ports.actions_proxy}); PostgreSQL :{ports.postgres}; Redis :{ports.redis}\n"
        f"  API token in {state / 'secrets' / 'api_token'}; logs in {state / 'logs'} and {state / 'nginx'}\n"
        f"  stop with: make cluster-stop",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
