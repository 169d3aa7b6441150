"""Read several paginated sources at once and hand their pages out in order, in bounded memory.

``in_order(sources, workers=..., ahead=...)`` runs each source (a callable returning an iterator of
pages) on a pool of ``workers`` threads and yields every page of the first source, then every page of
the second, and so on: exactly the pages, and the order, that reading the sources one after the other
would give, so what consumes them cannot tell the difference. A source runs at most ``ahead`` pages in
front of the consumer (then it waits), and at most ``workers`` sources run at once, so memory is bounded
by ``workers * (ahead + 1)`` pages whatever the number of sources or pages. The first error of any source
is raised to the consumer as soon as it happens (not when the consumer reaches that source), and stops
the others.

The analyze-patterns job reads the time-bucket index this way: one source per minute bucket and shard
(``fraud.storage.TransactionStore.window_items``), each one ``Query`` page after the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_POLL_S = 0.05  # how often a blocked reader or the consumer looks at the stop flag and the first error


class _Done:
    """Put after a source's last page."""


_DONE = _Done()


class _Failure:
    """The first error of the run; kept here so the consumer raises it wherever it is waiting."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    def record(self, error: BaseException) -> None:
        with self._lock:
            if self.error is None:
                self.error = error


def in_order(sources: Sequence[Callable[[], Iterable[T]]], *, workers: int, ahead: int) -> Iterator[T]:
    """Every page of ``sources[0]``, then of ``sources[1]``, ...; read ``workers`` sources at a time."""
    if workers < 1 or ahead < 1:
        raise ValueError(f"workers and ahead must be >= 1, got {workers} and {ahead}")
    if not sources:
        return
    stop = threading.Event()
    failure = _Failure()
    queues: list[queue.Queue[T | _Done]] = [queue.Queue(maxsize=ahead) for _ in sources]

    def put(slot: queue.Queue[T | _Done], page: T | _Done) -> bool:
        """Wait for room; False once the run is over (stopped, or failed elsewhere)."""
        while not stop.is_set():
            try:
                slot.put(page, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def read(index: int) -> None:
        if stop.is_set():
            return
        try:
            for page in sources[index]():
                if not put(queues[index], page):
                    return
            put(queues[index], _DONE)
        except BaseException as error:  # handed to the consumer, who raises it
            failure.record(error)
            stop.set()

    # Sources start in order, so the one the consumer waits for is always running or done: no deadlock.
    pool = ThreadPoolExecutor(max_workers=min(workers, len(sources)), thread_name_prefix="prefetch")
    try:
        for index in range(len(sources)):
            pool.submit(read, index)
        for slot in queues:
            while True:
                if failure.error is not None:
                    raise failure.error
                try:
                    page = slot.get(timeout=_POLL_S)
                except queue.Empty:
                    continue
                if isinstance(page, _Done):
                    break
                yield page
    finally:
        # Also when the consumer stops early or a source failed: the readers leave their loops after
        # the call in flight, and nobody waits for that call.
        stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
