"""Hot reload: rebuild a value when its files change, keep the last good one when they break.

Readers call `current()` once per message and use that object to the end, so
a message in flight during a reload is answered from one consistent version;
the swap is a single reference assignment. A value can be made in two steps:
`build` a quick version that goes live at once, then `refine` it (the matcher
fits its label model) and swap again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Generic, TypeVar

from bot.knowledge.loader import KnowledgeBaseError

T = TypeVar("T")
logger = logging.getLogger(__name__)

# A file's identity for change detection: path, modification time (ns) and size.
Signature = tuple[tuple[str, int, int], ...]


def signature(paths: Iterable[Path]) -> Signature:
    result = []
    for path in sorted(paths):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        result.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(result)


class LiveValue(Generic[T]):
    """A value built from files, rebuilt in a background thread when they change."""

    def __init__(
        self,
        build: Callable[[], T],
        watched_files: Callable[[], Iterable[Path]],
        interval: float = 0.5,
        name: str = "knowledge base",
        refine: Callable[[T], T] | None = None,
    ) -> None:
        self._build = build
        self._refine = refine
        self._unrefined: T | None = None  # the live version, while it waits to be refined
        self._watched_files = watched_files
        self._interval = interval
        self._name = name
        self._signature = signature(watched_files())
        self._value: T = build()  # a broken start raises: there is no last good version yet
        self._failed_signature: Signature | None = None
        self.last_error: KnowledgeBaseError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def current(self) -> T:
        return self._value

    def start(self) -> LiveValue[T]:
        """Start watching in a daemon thread (idempotent)."""
        if self._thread is None and self._interval > 0:
            self._thread = threading.Thread(target=self._watch, name=f"reload {self._name}", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> bool:
        """Reload now if the files changed; True when a new version went live."""
        new_signature = signature(self._watched_files())
        if new_signature == self._signature or new_signature == self._failed_signature:
            return False
        try:
            value = self._build()
        except KnowledgeBaseError as error:
            self._failed_signature = new_signature
            self.last_error = error
            for problem in error.problems:
                if problem.severity == "error":
                    logger.error("%s not reloaded, the last good version stays live: %s", self._name, problem)
            return False
        except Exception:
            self._failed_signature = new_signature
            logger.exception("%s not reloaded, the last good version stays live", self._name)
            return False
        self._value = value
        self._signature = new_signature
        self._failed_signature = None
        self.last_error = None
        logger.info("%s reloaded", self._name)
        self._unrefined = value if self._refine is not None else None
        return True

    def refine(self) -> bool:
        """Refine the live version if it is a quick one; True when the refined version went live."""
        value = self._unrefined
        if value is None or self._refine is None:
            return False
        self._unrefined = None
        try:
            refined = self._refine(value)
        except Exception:
            logger.exception("%s: refining it failed, the quick version stays live", self._name)
            return False
        if self._value is not value:  # a `check()` in another thread swapped in a newer version meanwhile
            return False
        self._value = refined
        logger.info("%s refined", self._name)
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self._interval):
            self.check()
            self.refine()
