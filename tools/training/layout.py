"""Where an export, its labels and a feature table live: in the exports bucket and in the local copy.

    s3://exports-<account>-<region>-<suffix>/
      exports/<name>/export.json                              what was exported (ours: table, type, times, counts)
      exports/<name>/AWSDynamoDB/<export id>/manifest-summary.json   DynamoDB's (written by us where the emulator
      exports/<name>/AWSDynamoDB/<export id>/manifest-files.json     lacks them, see tools.training.export)
      exports/<name>/AWSDynamoDB/<export id>/data/<file>.json.gz     the items, typed DynamoDB JSON, gzip
      exports/<name>/labels/labels.jsonl.gz                   every label, every source (tools.training.labels)
      features/<name>/part-*.parquet                          the feature table of that export (the Spark job)
      jobs/<name>/job.py, jobs/<name>/job.zip                 the code an EMR Serverless job run starts from

``<name>`` is ``<export time, UTC, YYYYMMDDTHHMMSSZ>-full`` or ``-incremental``. ``make export`` keeps a copy of
``exports/<name>/`` under ``build/<suffix>/exports/<name>/`` (what Spark's local mode reads); ``make features``
writes ``build/<suffix>/features/<name>/`` locally. Standard library only (the Spark job reads it on EMR).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

EXPORTS = "exports"
FEATURES = "features"
JOBS = "jobs"
DYNAMODB = "AWSDynamoDB"
LABELS_FILE = "labels/labels.jsonl.gz"
RECORD_FILE = "export.json"
DATA_GLOB = f"{DYNAMODB}/*/data/*"
KINDS = ("full", "incremental")


def export_name(export_time_ms: int, kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    return f"{datetime.fromtimestamp(export_time_ms / 1000, tz=UTC):%Y%m%dT%H%M%SZ}-{kind}"


def local_root(build: Path, suffix: str) -> Path:
    return build / suffix


def local_exports(build: Path, suffix: str) -> Path:
    return local_root(build, suffix) / EXPORTS


def local_features(build: Path, suffix: str, name: str) -> Path:
    return local_root(build, suffix) / FEATURES / name


def chain(names: list[str]) -> list[str]:
    """The exports a feature table reads: the newest full export and every incremental one after it, oldest
    first (names sort by time)."""
    ordered = sorted(names)
    fulls = [i for i, name in enumerate(ordered) if name.endswith("-full")]
    if not fulls:
        return []
    return ordered[fulls[-1] :]


# -- DynamoDB's export format ------------------------------------------------------------------------------

MANIFEST_VERSION = "2020-06-30"


def typed(value: Any) -> dict[str, Any]:
    """A value in typed DynamoDB JSON, numbers as DynamoDB keeps them (``fraud.storage`` stores a float as the
    Decimal of its repr)."""
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": str(Decimal(repr(value)) if isinstance(value, float) else value)}
    if isinstance(value, Mapping):
        return {"M": {key: typed(item) for key, item in value.items() if item is not None}}
    if isinstance(value, list | tuple):
        return {"L": [typed(item) for item in value]}
    if value is None:
        return {"NULL": True}
    raise TypeError(f"cannot export a {type(value).__name__}")


def item_line(item: Mapping[str, Any]) -> str:
    """One line of a full export's data file: ``{"Item": {...}}``."""
    return json.dumps({"Item": {k: typed(v) for k, v in item.items() if v is not None}}, separators=(",", ":"))


def manifest_files(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """``manifest-files.json``: one JSON object per data file (itemCount, md5, etag, dataFileS3Key), as DynamoDB
    writes it."""
    return "".join(
        json.dumps({k: entry[k] for k in ("itemCount", "md5", "etag", "dataFileS3Key")}, separators=(",", ":")) + "\n"
        for entry in entries
    ).encode()


def manifest_summary(
    *,
    export_arn: str,
    table_arn: str,
    bucket: str,
    prefix: str,
    export_id: str,
    export_time_ms: int,
    start_ms: int,
    end_ms: int,
    item_count: int,
    billed_bytes: int,
    export_type: str = "FULL_EXPORT",
    sse_algorithm: str | None = "KMS",
    kms_key_id: str | None = None,
) -> bytes:
    """``manifest-summary.json`` as DynamoDB writes it."""

    def iso(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"

    summary = {
        "version": MANIFEST_VERSION,
        "exportArn": export_arn,
        "startTime": iso(start_ms),
        "endTime": iso(end_ms),
        "tableArn": table_arn,
        "tableId": table_arn.rsplit("/", 1)[-1],
        "exportTime": iso(export_time_ms),
        "s3Bucket": bucket,
        "s3Prefix": prefix,
        "s3SseAlgorithm": sse_algorithm,
        "s3SseKmsKeyId": kms_key_id,
        "manifestFilesS3Key": f"{prefix}/{DYNAMODB}/{export_id}/manifest-files.json",
        "billedSizeBytes": billed_bytes,
        "itemCount": item_count,
        "outputFormat": "DYNAMODB_JSON",
        "exportType": export_type,
    }
    return (json.dumps(summary, indent=2) + "\n").encode()


def file_entry(key: str, data: bytes, item_count: int) -> dict[str, Any]:
    """A ``manifest-files.json`` entry of one data file (single-part upload: the ETag is the hex MD5)."""
    digest = hashlib.md5(data, usedforsecurity=False).digest()
    return {
        "itemCount": item_count,
        "md5": base64.b64encode(digest).decode(),
        "etag": digest.hex(),
        "dataFileS3Key": key,
    }


def write_export(
    directory: Path,
    items: Iterable[Mapping[str, Any]],
    *,
    export_time_ms: int,
    table_arn: str = "arn:aws:dynamodb:us-east-1:123456789012:table/transactions-local",
    items_per_file: int = 250_000,
    labels: Iterable[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Write ``items`` (stored items, as the table holds them) as a full export in ``directory`` (an
    ``exports/<name>`` directory of the layout), with DynamoDB's manifests and the labels file: the files
    ``make export`` leaves locally. For tests and the benchmark; deterministic (gzip without a time)."""
    from tools.training.labels import encode

    export_id = f"{export_time_ms:014d}-synthetic"
    prefix = f"{EXPORTS}/{directory.name}"
    data_dir = directory / DYNAMODB / export_id / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    entries: list[dict[str, Any]] = []
    lines: list[str] = []

    def flush() -> None:
        if not lines:
            return
        name = f"{len(entries):05d}.json.gz"
        data = gzip.compress(("\n".join(lines) + "\n").encode(), compresslevel=1, mtime=0)
        (data_dir / name).write_bytes(data)
        entries.append(file_entry(f"{prefix}/{DYNAMODB}/{export_id}/data/{name}", data, len(lines)))
        lines.clear()

    for item in items:
        lines.append(item_line(item))
        if len(lines) >= items_per_file:
            flush()
    flush()
    count = sum(entry["itemCount"] for entry in entries)
    (directory / DYNAMODB / export_id / "manifest-files.json").write_bytes(manifest_files(entries))
    (directory / DYNAMODB / export_id / "manifest-summary.json").write_bytes(
        manifest_summary(
            export_arn=f"{table_arn}/export/{export_id}",
            table_arn=table_arn,
            bucket="local",
            prefix=prefix,
            export_id=export_id,
            export_time_ms=export_time_ms,
            start_ms=export_time_ms,
            end_ms=export_time_ms,
            item_count=count,
            billed_bytes=0,
        )
    )
    (directory / "labels").mkdir(exist_ok=True)
    (directory / LABELS_FILE).write_bytes(encode(labels))
    return {"export_id": export_id, "items": count, "files": len(entries)}


def count_lines(gzipped: bytes) -> int:
    """Items in a data file (one JSON object per line, gzip)."""
    return sum(1 for line in gzip.decompress(gzipped).splitlines() if line.strip())
