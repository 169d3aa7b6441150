"""Where the time goes: samples per hop of the pipeline, summarised as medians and p95.

Every part of the emulator adds what it measures (``timings.add("stream read", seconds)``); the
benchmark prints ``summary()``. Appending to a list is atomic in CPython, so adding costs no lock.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any


def percentile(sorted_values: list[float], share: float) -> float:
    """The nearest-rank percentile of already sorted values (``share`` in 0..1)."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, round(share * len(sorted_values) + 0.5 - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class Timings:
    """Samples in seconds by hop name; ``summary`` gives count, median, p95 and total in milliseconds."""

    def __init__(self) -> None:
        self._samples: defaultdict[str, list[float]] = defaultdict(list)
        self.enabled = True

    def add(self, hop: str, seconds: float) -> None:
        if self.enabled:
            self._samples[hop].append(seconds)

    def clear(self) -> None:
        self._samples = defaultdict(list)

    def summary(self) -> dict[str, dict[str, Any]]:
        result = {}
        for hop, samples in sorted(self._samples.items()):
            values = sorted(samples)
            if not values:
                continue
            result[hop] = {
                "n": len(values),
                "median_ms": round(statistics.median(values) * 1000, 1),
                "p95_ms": round(percentile(values, 0.95) * 1000, 1),
                "total_s": round(sum(values), 2),
            }
        return result


def format_summary(summary: dict[str, dict[str, Any]]) -> str:
    """The summary as an aligned table (one hop per line)."""
    width = max((len(hop) for hop in summary), default=10)
    lines = [f"  {'hop':<{width}}  {'n':>6}  {'median ms':>10}  {'p95 ms':>10}  {'total s':>8}"]
    for hop, row in summary.items():
        n, median, p95, total = row["n"], row["median_ms"], row["p95_ms"], row["total_s"]
        lines.append(f"  {hop:<{width}}  {n:>6}  {median:>10.1f}  {p95:>10.1f}  {total:>8.2f}")
    return "\n".join(lines)


# One recorder per process: the moto server and its middleware are per process too.
TIMINGS = Timings()
