"""Clients of the one-machine cluster (deploy/cluster.py) that come from different addresses.

nginx routes by the client's address, so clients on one loopback address all reach one Rasa
replica. Linux routes all of 127.0.0.0/8 to the loopback device: a client that binds its side of
the connection to 127.0.0.11 or 127.0.0.12 is, for nginx, another customer, and the tests can put
customers (and a widget's two tabs) on chosen replicas.
"""

from __future__ import annotations

import re
import socket
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import requests
import socketio
from requests.adapters import HTTPAdapter

from deploy.cluster import Cluster
from tests.servers import Browser

ACCESS_LINE = re.compile(r'^(?P<address>\S+) \[[^\]]+\] "(?P<method>\S+) (?P<uri>\S+)" (?P<status>\d+) '
                         r"upstream=(?P<upstream>\S+)")


def state_folder() -> Path:
    """A folder for a cluster's state that the `postgres` and `www-data` users can reach: pytest's
    tmp_path is under /tmp/pytest-of-root, which only root may enter."""
    folder = Path(tempfile.mkdtemp(prefix="supportbot-cluster-"))
    folder.chmod(0o755)
    return folder


class _FromAddress(HTTPAdapter):
    """requests' adapter whose connections leave from `address`."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


class Customer:
    """A REST customer of the cluster, talking to nginx from its own loopback address."""

    def __init__(self, cluster: Cluster, address: str, sender: str | None = None) -> None:
        self.cluster = cluster
        self.address = address
        self.sender = sender or uuid.uuid4().hex
        self.http = requests.Session()
        self.http.mount("http://", _FromAddress(address))

    def post(self, text: str, timeout: float = 60) -> requests.Response:
        return self.http.post(f"{self.cluster.url}/webhooks/rest/webhook",
                              json={"sender": self.sender, "message": text}, timeout=timeout)

    def say(self, text: str) -> list[dict]:
        response = self.post(text)
        response.raise_for_status()
        return response.json()

    def close(self) -> None:
        self.http.close()


class WidgetTab(Browser):
    """tests.servers.Browser (the widget's socket.io client) connected to nginx from `address`.

    Browser connects to `bot.url`; the cluster is such an object. The WebSocket's TCP connection is
    opened here, from `address`, and handed to websocket-client, so no reconnection (a socket
    is used once)."""

    def __init__(self, cluster: Cluster, address: str) -> None:
        super().__init__(cluster, reconnection=False)  # type: ignore[arg-type]  # only .url is used
        host, port = cluster.url.removeprefix("http://").split(":")
        connection = socket.create_connection((host, int(port)), timeout=30, source_address=(address, 0))
        self.client = socketio.SimpleClient(
            reconnection=False, websocket_extra_options={"origin": cluster.url, "socket": connection}
        )


def access_log(cluster: Cluster) -> list[dict[str, str]]:
    """nginx's access log, one dict per request: address, method, uri, status, upstream."""
    lines = (Path(cluster.state) / "nginx" / "access.log").read_text().splitlines()
    return [match.groupdict() for line in lines if (match := ACCESS_LINE.match(line))]


def access_log_settled(cluster: Cluster, at_least: int, timeout: float = 5) -> list[dict[str, str]]:
    """The access log once it holds `at_least` lines: nginx writes a line as the request ends,
    which may be after the client has its response."""
    deadline = time.monotonic() + timeout
    while len(access_log(cluster)) < at_least and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.1)  # one more late line would be a request we did not expect: let it show
    return access_log(cluster)


def replica_of(cluster: Cluster, address: str) -> str:
    """The replica (127.0.0.1:port) nginx sends `address`'s requests to while both are up."""

    def served() -> list[dict[str, str]]:
        return [e for e in access_log(cluster) if e["address"] == address]

    before = len(served())
    with requests.Session() as http:
        http.mount("http://", _FromAddress(address))
        http.get(f"{cluster.url}/webhooks/rest/", timeout=10).raise_for_status()
    deadline = time.monotonic() + 5  # nginx writes the line as the request ends, maybe after we read
    while len(entries := served()) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    return entries[-1]["upstream"]


def addresses_per_replica(cluster: Cluster, wanted: int = 3, tries: int = 60) -> dict[str, list[str]]:
    """Loopback addresses grouped by the replica that serves them, at least `wanted` for each replica."""
    groups: dict[str, list[str]] = {f"127.0.0.1:{port}": [] for port in cluster.ports.rasa}
    for host in range(11, 11 + tries):
        address = f"127.0.0.{host}"
        groups.setdefault(replica_of(cluster, address), []).append(address)
        if all(len(addresses) >= wanted for addresses in groups.values()):
            break
    return groups
