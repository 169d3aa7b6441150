"""The clock of the traffic the tests generate: pinned, so no decision depends on when the suite runs.

Transactions a test posts are stamped with ``traffic_now_ms()``, never with the wall clock. It runs at the
wall clock's pace from the most recent past moment at a pinned time of day (UTC), fixed once per test
process, so a suite started at any hour posts traffic stamped at that hour (at most a day in the past: the
API accepts past timestamps). What the system stamps itself (``received_at``, the analysis window, record
ages) stays on the wall clock.

Which time of day: ``TRAFFIC_CLOCK=HH:MM`` when set (the whole run at that hour), else the one the current
deployment pins (the e2e ``pipeline`` fixture runs one stream routing's traffic at night and the other's
by day, so every CI run has each pipeline test at both hours), else ``12:30``::

    TRAFFIC_CLOCK=00:30 pytest tests/unit tests/e2e     # every suite's traffic at night
    TRAFFIC_CLOCK=12:30 pytest tests/unit tests/e2e     # ... and by day
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tools._cli import clock_offset_ms

TRAFFIC_CLOCK = "TRAFFIC_CLOCK"
DEFAULT_CLOCK = "12:30"
NIGHT, DAY = "00:30", "12:30"

_pinned: list[str] = []  # the time of day the current deployment pins (innermost last)


def wall_ms() -> int:
    """The wall clock (epoch ms): for what the system stamps itself, e.g. when analyze-patterns runs."""
    return int(time.time() * 1000)


@functools.cache
def _offset(spec: str) -> int:
    return clock_offset_ms(spec, wall_ms())


def traffic_clock() -> str:
    """The time of day the traffic runs at now (``HH:MM`` UTC)."""
    return os.environ.get(TRAFFIC_CLOCK) or (_pinned[-1] if _pinned else DEFAULT_CLOCK)


def traffic_now_ms() -> int:
    """ "Now" for the traffic the tests generate (epoch milliseconds)."""
    return wall_ms() + _offset(traffic_clock())


@contextmanager
def pinned(spec: str) -> Iterator[None]:
    """Run the traffic at ``spec`` (``HH:MM`` UTC) inside the block, unless ``TRAFFIC_CLOCK`` says otherwise."""
    _offset(spec)  # a malformed spec fails here, where it is set
    _pinned.append(spec)
    try:
        yield
    finally:
        _pinned.pop()
