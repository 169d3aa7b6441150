"""Keep a local deployment between runs: record what Terraform did to moto, replay it next time.

moto keeps its state in memory, and ``make demo`` starts a new server each run, while the Terraform
state in ``build/<suffix>/`` says the resources exist. Rather than re-creating 80 resources (about
two minutes), the first run records every request that reaches moto during ``terraform apply``, and
later runs replay that recording into the new server:

- requests run one at a time while recording (Terraform sends them in parallel), so the recorded
  order is the order moto processed them in;
- moto draws every generated identifier (API ids, KMS key ids, subscription ARNs, ...) from one
  seedable generator, seeded with the same value before recording and before replaying, so the
  replay produces the same identifiers the Terraform state holds;
- moto's DynamoDB clock stands still at the request's recorded time while it runs, when recording
  and when replaying, because a stream ARN ends with the time the stream was enabled and the pipe
  or event source mapping on it names it by that ARN (moto checks it);
- each request's status is recorded: a replay stops (``ReplayDiverged``) at the first request that
  succeeded when recorded and fails now, instead of leaving a half-restored emulator;
- the replay goes straight into moto's WSGI application (no sockets), in the recorded order.

``tools.emulator.demo`` replays only when the Terraform inputs are the ones of the recorded apply, then checks
that the resources the outputs name exist; otherwise (or if the replay diverged) it starts from an
empty server and a full apply, because moto cannot update every resource in place.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from werkzeug.test import Client

from tools.emulator.gateway import MotoGateway

SEED = 20241122  # any fixed value; what matters is that recording and replay use the same one


class ReplayDiverged(RuntimeError):
    """Replaying a recording did not reproduce what it recorded."""


class Recorder:
    """Appends each call to a JSON-lines file: time, method, path, query, headers, body, status."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 (closed by stop_recording)
        self.count = 0

    def __call__(self, environ: dict[str, Any], call: Callable[[], tuple[int, list[bytes]]]) -> list[bytes]:
        moment = datetime.now(UTC)
        body = environ["wsgi.input"].getvalue() if isinstance(environ["wsgi.input"], io.BytesIO) else b""
        with _clock_at(moment):
            status, response = call()
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
        self._file.write(json.dumps(entry) + "\n")
        self.count += 1
        return response

    def close(self) -> None:
        self._file.close()


def start_recording(gateway: MotoGateway, path: Path) -> None:
    """Append every call from now on to ``path``; no-op while already recording."""
    if gateway.recorder is None:
        gateway.recorder = Recorder(path)


def stop_recording(gateway: MotoGateway) -> int:
    """Stop recording; returns how many calls were recorded."""
    recorder, gateway.recorder = gateway.recorder, None
    if not isinstance(recorder, Recorder):
        return 0
    recorder.close()
    return recorder.count


def replay(gateway: MotoGateway, path: Path) -> int:
    """Send every recorded request to moto again, in order; returns how many.

    Raises ``ReplayDiverged`` when a request that succeeded while recording fails now: moto is no
    longer in the state the recording (and the Terraform state) describes.
    """
    client = Client(gateway)
    count = 0
    gateway.exclusive = True
    try:
        with open(path, encoding="utf-8") as recording:
            for number, line in enumerate(recording, 1):
                _replay_one(client, number, json.loads(line))
                count += 1
    finally:
        gateway.exclusive = False
    return count


def _replay_one(client: Client, number: int, entry: dict[str, Any]) -> None:
    path_only = entry["path"].split("?", 1)[0]
    what = f"request {number} ({entry['method']} {path_only})"
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
        raise ReplayDiverged(f"{what} raised {error!r}") from error
    status = response.status_code
    response.close()
    recorded = entry.get("status", 0)
    if recorded and recorded < 400 <= status:
        raise ReplayDiverged(f"{what} answered {status}, recorded {recorded}")


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    """moto's DynamoDB clock at a request's recorded time: a stream's ARN ends with the time the
    stream was enabled, and the pipes and mappings that read it name it by that ARN."""
    with mock.patch("moto.dynamodb.models.table.utcnow", return_value=moment.replace(tzinfo=None)):
        yield


def seed(gateway: MotoGateway, value: int = SEED) -> None:
    """Seed moto's identifier generator (moto's public ``/moto-api/seed`` endpoint)."""
    response = Client(gateway).post(f"/moto-api/seed?a={value}")
    if response.status_code != 200:
        raise RuntimeError(f"moto refused the seed: {response.status_code} {response.get_data(as_text=True)}")


def reset(gateway: MotoGateway) -> None:
    """Empty every moto backend (``/moto-api/reset``)."""
    response = Client(gateway).post("/moto-api/reset")
    if response.status_code != 200:
        raise RuntimeError(f"moto refused the reset: {response.status_code} {response.get_data(as_text=True)}")
