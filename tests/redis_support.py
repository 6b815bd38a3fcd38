"""A private redis-server for tests, and a lock-store worker process that plays one Rasa replica.

`python -m tests.redis_support hammer|hold|wait ...` runs `AtomicRedisLockStore` in its own OS
process, as a second Rasa server would (see `main`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from bot.storage.lock_store import AtomicRedisLockStore
from bot.storage.redis_locks import RedisLockConfig

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server")


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, decode_responses=True)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_redis(folder: Path, port: int) -> RedisServer:
    """A throwaway redis-server on 127.0.0.1:`port`: no persistence, files only in `folder`."""
    assert REDIS_SERVER, "redis-server is not installed"
    options = ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [REDIS_SERVER, *options, "--dir", str(folder), "--logfile", str(folder / "redis.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    server = RedisServer(port, process)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}; see {folder / 'redis.log'}")
        try:
            with server.client() as client:
                client.ping()
            return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise TimeoutError(f"redis-server on port {port} not up after 10 s")


async def start_together(shared: redis.asyncio.Redis, key: str, parties: int) -> None:
    """Wait (bounded) until every worker is ready, so their rounds overlap despite uneven start-ups."""
    await shared.incr(key)
    deadline = time.monotonic() + 60
    while int(await shared.get(key) or 0) < parties:
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {await shared.get(key)} of {parties} workers started")
        await asyncio.sleep(0.001)


async def hammer(
    store: AtomicRedisLockStore, url: str, conversation: str, rounds: int, locked: bool, parties: int
) -> dict:
    """Increment a shared Redis counter `rounds` times by read, pause, write, under the lock (or not).

    Without mutual exclusion the read-pause-write loses increments and `inside` exceeds 1.
    """
    shared = redis.asyncio.Redis.from_url(url, decode_responses=True)
    overlaps = 0
    await start_together(shared, f"test:{conversation}:ready", parties)

    async def increment() -> None:
        nonlocal overlaps
        if await shared.incr(f"test:{conversation}:inside") > 1:
            overlaps += 1
        value = int(await shared.get(f"test:{conversation}:counter") or 0)
        await asyncio.sleep(0.001)  # the work between read and write: where a second holder would slip in
        await shared.set(f"test:{conversation}:counter", value + 1)
        await shared.decr(f"test:{conversation}:inside")

    for _ in range(rounds):
        if locked:
            async with store.lock(conversation):
                await increment()
        else:
            await increment()
    await shared.close(close_connection_pool=True)
    return {"overlaps": overlaps, "rounds": rounds}


async def run(args: argparse.Namespace) -> None:
    config = RedisLockConfig(
        url=args.url, key_prefix=args.prefix, lock_lifetime=args.lock_lifetime, waiter_ttl=args.waiter_ttl
    )
    store = AtomicRedisLockStore(config=config)
    if args.mode == "hammer":
        result = await hammer(store, args.url, args.conversation, args.rounds, not args.no_lock, args.parties)
        print(json.dumps(result), flush=True)
    else:
        # hold: take the lock and keep it; wait: queue for it. Either way, until killed.
        if args.mode == "hold":
            async with store.lock(args.conversation):
                print("holding", flush=True)
                await asyncio.Event().wait()
        async with store.lock(args.conversation):
            print("acquired", flush=True)
    await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="One replica's lock store, for the lock store tests.")
    parser.add_argument("mode", choices=["hammer", "hold", "wait"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--conversation", required=True)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--parties", type=int, default=2, help="hammer workers that start together")
    parser.add_argument("--lock-lifetime", type=float, default=10.0)
    parser.add_argument("--waiter-ttl", type=float, default=5.0)
    parser.add_argument("--no-lock", action="store_true", help="the control: no lock around the increments")
    asyncio.run(run(parser.parse_args()))


def worker(server: RedisServer, mode: str, prefix: str, conversation: str, *options: str) -> subprocess.Popen:
    """Start `main` in another OS process; its stdout is a pipe of text lines."""
    command = [sys.executable, "-m", "tests.redis_support", mode, "--url", server.url]
    command += ["--prefix", prefix, "--conversation", conversation, *options]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


if __name__ == "__main__":
    main()
