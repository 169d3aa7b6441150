"""Keep a local deployment between runs: record what Terraform did to moto, replay it next time.

moto keeps its state in memory, and ``make demo`` starts a new server each run, while the Terraform
state in ``build/<suffix>/`` says the resources exist. Rather than re-creating 80 resources (about
two minutes), the first run records every request that reaches moto during ``terraform apply``, and
later runs replay that recording into the new server:

- requests run one at a time while recording (Terraform sends them in parallel), so
  the recorded order is the order moto processed them in;
- moto draws every generated identifier (API ids, KMS key ids, subscription ARNs, ...) from one
  seedable generator, seeded with the same value before recording and before replaying, so the
  replay produces the same identifiers the Terraform state holds;
- the replay goes straight into moto's WSGI application (no sockets), in the recorded order;
- moto's DynamoDB clock is set to each request's recorded time, because a stream ARN ends with the
  time the stream was enabled and the pipe or event source mapping on it names it by that ARN.

``tools.emulator.demo`` replays only when the Terraform inputs are the ones of the recorded apply, then checks
that the resources the outputs name exist; otherwise (or if the check fails) it starts from an empty
server and a full apply, because moto cannot update every resource in place.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from werkzeug.test import Client

SEED = 20241122  # any fixed value; what matters is that recording and replay use the same one

StartResponse = Callable[..., Any]


class RecordingApp:
    """WSGI middleware around moto's application: while recording or replaying, requests run one at
    a time (and are recorded); otherwise only DynamoDB calls are serialised, the rest pass through."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._file: io.TextIOWrapper | None = None
        self._replaying = False
        self.recorded = 0

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterator[bytes]:
        if self._file is None and not self._replaying:
            if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
                return self.app(environ, start_response)  # pass-through outside recording and replay
            # moto's DynamoDB is not safe under concurrent writes: TransactWriteItems deep-copies the
            # table for its rollback while another thread writes to it. One call at a time.
            with self._lock:
                return iter(list(self.app(environ, start_response)))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        with self._lock:
            if self._file is not None:
                self._record(environ, body)
            # Consume the response inside the lock: moto does its work while the body is produced.
            return iter(list(self.app(environ, start_response)))

    def _record(self, environ: dict[str, Any], body: bytes) -> None:
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": base64.b64encode(body).decode("ascii"),
        }
        assert self._file is not None
        self._file.write(json.dumps(entry) + "\n")
        self.recorded += 1

    def start_recording(self, path: Path) -> None:
        """Append every request from now on to ``path`` (JSON lines); no-op while already recording."""
        with self._lock:
            if self._file is not None:
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by stop_recording)

    def stop_recording(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def replay(self, path: Path) -> int:
        """Send every recorded request to moto again, in order; returns how many."""
        client = Client(self)
        count = 0
        self._replaying = True
        with open(path, encoding="utf-8") as recording:
            for line in recording:
                entry = json.loads(line)
                path_only = entry["path"].split("?", 1)[0]
                with _clock_at(datetime.fromisoformat(entry["time"])):
                    response = client.open(
                        path_only,
                        method=entry["method"],
                        query_string=entry["query"],
                        headers=entry["headers"],
                        data=base64.b64decode(entry["body"]),
                    )
                response.close()
                count += 1
        self._replaying = False
        return count


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    """moto's DynamoDB clock at the recorded time of a request: a stream's ARN ends with the time the
    stream was enabled, and the pipes and mappings that read it name it by that ARN."""
    with mock.patch("moto.dynamodb.models.table.utcnow", return_value=moment.replace(tzinfo=None)):
        yield


def install(local_aws: Any) -> RecordingApp:
    """Put a ``RecordingApp`` in front of the moto server of a running ``tools.emulator.localaws.LocalAWS``."""
    # ThreadedMotoServer serves through a werkzeug server whose request handler calls `server.app`.
    wsgi_server = local_aws._server._server
    if isinstance(wsgi_server.app, RecordingApp):
        return wsgi_server.app
    wsgi_server.app = RecordingApp(wsgi_server.app)
    return wsgi_server.app


def seed(app: RecordingApp, value: int = SEED) -> None:
    """Seed moto's identifier generator (moto's public ``/moto-api/seed`` endpoint)."""
    response = Client(app).post(f"/moto-api/seed?a={value}")
    if response.status_code != 200:
        raise RuntimeError(f"moto refused the seed: {response.status_code} {response.get_data(as_text=True)}")


def reset(app: RecordingApp) -> None:
    """Empty every moto backend (``/moto-api/reset``)."""
    response = Client(app).post("/moto-api/reset")
    if response.status_code != 200:
        raise RuntimeError(f"moto refused the reset: {response.status_code} {response.get_data(as_text=True)}")
