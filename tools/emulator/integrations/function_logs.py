"""Function logs in CloudWatch Logs: each function's output goes to ``/aws/lambda/<name>``, as Lambda
sends it, so that tools can read it back with ``FilterLogEvents``.

The runtime writes every function's output, with Lambda's START / END / REPORT lines, to
``<log_dir>/<function>.log``. This integration follows those files and ships new lines once a
second (and when the cloud stops) with ``PutLogEvents``, to the stream named by the sandboxes'
``AWS_LAMBDA_LOG_STREAM_NAME``; the group is created if the deployment did not create it. One call
per function and second, off the invocation path: the pipeline does not wait for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tools.emulator.integrations.base import Context, Integration

log = logging.getLogger("emulator")

SHIP_EVERY_S = 1.0
MAX_EVENTS_PER_CALL = 10_000  # PutLogEvents limits: 10,000 events and 1 MB per call
MAX_BYTES_PER_CALL = 1_000_000
EVENT_OVERHEAD_BYTES = 26


class _Follower:
    """New complete lines of one log file since the last read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.partial = b""

    def lines(self) -> list[str]:
        try:
            with open(self.path, "rb") as file:
                file.seek(self.offset)
                data = file.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self.partial + data
        *complete, self.partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in complete if line.strip()]


class FunctionLogs(Integration):
    name = "function-logs"

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.logs = ctx.session.client("logs")
        self.targets: dict[str, tuple[str, str, _Follower]] = {}  # function -> (group, stream, file)
        for name in ctx.topology.functions:
            group = f"/aws/lambda/{name}"
            stream = ctx.runtime.log_stream(name)
            self.targets[name] = (group, stream, _Follower(ctx.runtime.log_file(name)))
        self.shipped: Counter[str] = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="function-logs", daemon=True)
        self._lock = threading.Lock()
        self.error: BaseException | None = None

    @property
    def deployed(self) -> bool:
        return bool(self.targets)

    def start(self) -> None:
        existing: set[str] = set()
        for page in self.logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix="/aws/lambda/"):
            existing.update(group["logGroupName"] for group in page["logGroups"])
        for group, stream, _ in self.targets.values():
            if group not in existing:
                self.logs.create_log_group(logGroupName=group)
            self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self.ship()  # what was written since the last round

    def _run(self) -> None:
        while not self._stop.wait(SHIP_EVERY_S):
            try:
                self.ship()
            except Exception as error:  # shown by the health check; shipping goes on
                self.error = error
                log.exception("function logs: shipping failed")

    def ship(self) -> int:
        """Send every new line now; returns how many."""
        total = 0
        with self._lock:
            for name, (group, stream, follower) in self.targets.items():
                lines = follower.lines()
                if not lines:
                    continue
                now_ms = int(time.time() * 1000)
                for chunk in _chunks(lines):
                    self.logs.put_log_events(
                        logGroupName=group,
                        logStreamName=stream,
                        logEvents=[{"timestamp": now_ms, "message": line} for line in chunk],
                    )
                self.shipped[name] += len(lines)
                total += len(lines)
        return total

    def counters(self) -> dict[str, Any]:
        return dict(self.shipped)

    def errors(self) -> list[str]:
        return [f"function-logs: {self.error!r}"] if self.error is not None else []


def _chunks(lines: list[str]) -> list[list[str]]:
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        cost = len(line.encode("utf-8")) + EVENT_OVERHEAD_BYTES
        if chunks[-1] and (len(chunks[-1]) >= MAX_EVENTS_PER_CALL or size + cost > MAX_BYTES_PER_CALL):
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += cost
    return chunks
