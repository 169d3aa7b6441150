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
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from werkzeug.test import Client

from tools.emulator.timings import TIMINGS

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
            target = environ.get("HTTP_X_AMZ_TARGET", "")
            action = _action(environ, target)
            started = time.perf_counter()
            if not target.startswith("DynamoDB_"):
                body = list(self.app(environ, start_response))  # pass-through outside recording and replay
                TIMINGS.add(f"moto {action}", time.perf_counter() - started)
                return iter(body)
            # moto's DynamoDB is not safe under concurrent writes: TransactWriteItems deep-copies the
            # table for its rollback while another thread writes to it. One call at a time.
            with self._lock:
                locked = time.perf_counter()
                body = list(self.app(environ, start_response))
            TIMINGS.add("moto DynamoDB lock wait", locked - started)
            TIMINGS.add(f"moto {action}", time.perf_counter() - locked)
            return iter(body)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        with self._lock:
            if self._file is None:
                # Consume the response inside the lock: moto does its work while the body is produced.
                return iter(list(self.app(environ, start_response)))
            # moto's DynamoDB clock stands still at the recorded time while the request runs, so that
            # a replay under the same clock produces the same stream ARNs (they carry that time).
            moment = datetime.now(UTC)
            status: list[str] = []

            def recording_start_response(code: str, *args: Any, **kwargs: Any) -> Any:
                status.append(code)
                return start_response(code, *args, **kwargs)

            with _clock_at(moment):
                response = list(self.app(environ, recording_start_response))
            self._record(environ, body, moment, int(status[0].split()[0]) if status else 0)
            return iter(response)

    def _record(self, environ: dict[str, Any], body: bytes, moment: datetime, status: int) -> None:
        headers = {
            key[5:].replace("_", "-").title(): value for key, value in environ.items() if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        entry = {
            "time": moment.isoformat(),
            "method": environ["REQUEST_METHOD"],
            "path": environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ["PATH_INFO"],
            "query": environ.get("QUERY_STRING", ""),
            "headers": headers,
            "body": base64.b64encode(body).decode("ascii"),
            "status": status,
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
        """Send every recorded request to moto again, in order; returns how many.

        Raises ``ReplayDiverged`` when a request that succeeded while recording fails now: moto is no
        longer in the state the recording (and the Terraform state) describes.
        """
        client = Client(self)
        count = 0
        self._replaying = True
        try:
            with open(path, encoding="utf-8") as recording:
                for number, line in enumerate(recording, 1):
                    self._replay_one(client, number, json.loads(line))
                    count += 1
        finally:
            self._replaying = False
        return count

    @staticmethod
    def _replay_one(client: Client, number: int, entry: dict[str, Any]) -> None:
        path_only = entry["path"].split("?", 1)[0]
        try:
            with _clock_at(datetime.fromisoformat(entry["time"])):
                response = client.open(
                    path_only,
                    method=entry["method"],
                    query_string=entry["query"],
                    headers=entry["headers"],
                    data=base64.b64decode(entry["body"]),
                )
        except Exception as error:  # moto raised instead of answering: the state is not the recorded one
            raise ReplayDiverged(f"request {number} ({entry['method']} {path_only}) raised {error!r}") from error
        status = response.status_code
        response.close()
        recorded = entry.get("status", 0)
        if recorded and recorded < 400 <= status:
            what = f"request {number} ({entry['method']} {path_only})"
            raise ReplayDiverged(f"{what} answered {status}, recorded {recorded}")


class ReplayDiverged(RuntimeError):
    """Replaying a recording did not reproduce what it recorded."""


def _action(environ: dict[str, Any], target: str) -> str:
    """The service and action of a request: ``DynamoDB.Query``, ``sns.Publish``, ``lambda.POST /2015-03-31``."""
    if target:
        service, _, action = target.partition(".")
        return f"{service.split('_')[0]}.{action}"
    # Credential=KEY/DATE/REGION/SERVICE/aws4_request
    scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
    service = scope[3] if len(scope) > 3 else "?"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        for pair in body.split(b"&"):
            if pair.startswith(b"Action="):
                return f"{service}.{pair[7:].decode()}"
    path = environ.get("PATH_INFO", "/")
    return f"{service}.{environ['REQUEST_METHOD']} /{path.split('/')[1] if path != '/' else ''}"


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
