"""A work queue with its own thread, started by the first item and ended when idle.

The server's parts that serve many callers (the generator's decoder, the retrieval batcher, the upload reader)
each own one thread fed by a queue. A thread that lived forever would keep what it works for (a generator and
its KV cache, an index snapshot) in memory for good, so it ends after `IDLE_S` with nothing to do and the next
item starts another.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
#: seconds a worker thread waits for more work before it ends
IDLE_S = 2.0


class OnDemandQueue(Generic[T]):
    """`put` queues an item (starting the thread if none runs); the thread calls `handle(item)` for each item
    it takes, and `handle` may take more waiting items itself (`take_waiting`) to work on them together."""

    def __init__(self, name: str, handle: Callable[[T], None]):
        self.name, self.handle = name, handle
        self.inbox: queue.Queue[T] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def waiting(self) -> int:
        return self.inbox.qsize()

    def put(self, item: T) -> None:
        with self._lock:  # under the lock: an ending thread sees the item, or this starts a new one
            self.inbox.put(item)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def take_waiting(self, limit: int) -> list[T]:
        """What is queued now, up to `limit`, without waiting."""
        taken: list[T] = []
        while len(taken) < limit:
            try:
                taken.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return taken

    def _loop(self) -> None:
        while True:
            try:
                item = self.inbox.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self.inbox.empty():
                        self._thread = None
                        return
                continue
            self.handle(item)
