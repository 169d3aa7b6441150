"""``make export ENV=<suffix> [SINCE=... UNTIL=...] [LABELS=file]``: the transactions table into the exports
bucket with DynamoDB's point-in-time export, the labels beside it, and a local copy for Spark's local mode.

    python -m tools.training.export --env dev                                  # full export of now
    python -m tools.training.export --env dev --until 2026-11-30T00:00         # full export as of that time
    python -m tools.training.export --env dev --since 2026-11-30T00:00 --until 2026-11-30T12:00   # incremental
    python -m tools.training.export --env dev --labels chargebacks.jsonl       # labels from a file too
    python -m tools.training.export --env dev --no-download                    # the bucket only (EMR reads it)

The table has point-in-time recovery (Terraform turns it on), so ``ExportTableToPointInTime`` reads a consistent
snapshot without consuming the table's capacity. A full export is the table as of ``--until`` (default now); an
incremental one (``--since``) the items written between the two times (DynamoDB allows 15 minutes to 24 hours).
The export is written under ``exports/<name>/`` of the exports bucket with the environment's KMS key, followed
with a progress line until DynamoDB reports it complete, then the labels (every record of the labels table, when
the environment has one, plus ``--labels``, validated) go beside it as ``labels/labels.jsonl.gz`` and the tool's
record as ``export.json``. Layout: ``tools.training.layout``.

Where the export has no manifests (the local cloud's moto 5.2.5 writes only the data file), the tool writes
``manifest-summary.json`` and ``manifest-files.json`` the way DynamoDB does, from the data files it finds, and
says so in ``export.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tools._cli import BUILD, ToolError, progress, run, validate_suffix
from tools.training import labels as label_contract
from tools.training import layout

INCREMENTAL_MIN_MS = 15 * 60_000
INCREMENTAL_MAX_MS = 24 * 3_600_000


def aws_session() -> Any:
    import boto3

    return boto3.Session()


def _aws_error(action: str, error: Exception) -> ToolError:
    response = getattr(error, "response", None)
    detail = (response.get("Error", {}).get("Message") or response.get("Error", {}).get("Code")) if response else None
    return ToolError(f"{action}: {detail or error}")


def parse_time(value: str) -> int:
    """Epoch ms of an ISO date/time (UTC unless it says otherwise) or of a number of epoch milliseconds."""
    if value.isdigit():
        return int(value)
    from tools.detection.shadow import parse_time as parse_iso

    return parse_iso(value)


def _when(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def start_export(
    dynamodb: Any,
    *,
    table_arn: str,
    bucket: str,
    prefix: str,
    kms_key: str,
    since_ms: int | None,
    until_ms: int | None,
) -> str:
    """Ask DynamoDB for the export; returns its ARN."""
    request: dict[str, Any] = {
        "TableArn": table_arn,
        "S3Bucket": bucket,
        "S3Prefix": prefix,
        "S3SseAlgorithm": "KMS",
        "S3SseKmsKeyId": kms_key,
        "ExportFormat": "DYNAMODB_JSON",
    }
    if since_ms is None:
        request["ExportType"] = "FULL_EXPORT"
        if until_ms is not None:
            request["ExportTime"] = _when(until_ms)
    else:
        request["ExportType"] = "INCREMENTAL_EXPORT"
        request["IncrementalExportSpecification"] = {
            "ExportFromTime": _when(since_ms),
            "ExportToTime": _when(until_ms or 0),
            "ExportViewType": "NEW_IMAGE",
        }
    try:
        return dynamodb.export_table_to_point_in_time(**request)["ExportDescription"]["ExportArn"]
    except Exception as error:  # botocore ClientError / BotoCoreError
        raise _aws_error(f"DynamoDB refused the export of {table_arn}", error) from None


def wait_for_export(
    dynamodb: Any,
    export_arn: str,
    *,
    interval: float = 10.0,
    timeout_s: float = 6 * 3600,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll DescribeExport until COMPLETED (returned) or FAILED (a ToolError with DynamoDB's reason)."""
    began = clock()
    while True:
        description = dynamodb.describe_export(ExportArn=export_arn)["ExportDescription"]
        status = description["ExportStatus"]
        if status == "COMPLETED":
            progress(f"  export complete: {description.get('ItemCount', '?')} items ({clock() - began:.0f} s)")
            return description
        if status == "FAILED":
            raise ToolError(f"the export failed: {description.get('FailureCode')}: {description.get('FailureMessage')}")
        if clock() - began > timeout_s:
            raise ToolError(f"the export {export_arn} is still {status} after {timeout_s:.0f} s; it goes on in AWS")
        progress(f"  export {status.lower().replace('_', ' ')} ({clock() - began:.0f} s)")
        sleep(interval)


def list_keys(s3: Any, bucket: str, prefix: str) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(page.get("Contents", []))
    return keys


def ensure_manifests(
    s3: Any, bucket: str, prefix: str, description: dict[str, Any], *, kms_key: str, started_ms: int, ended_ms: int
) -> str:
    """``dynamodb`` when the export came with its manifests; otherwise write them as DynamoDB does (one
    ``manifest-files.json`` line per data file, ``manifest-summary.json``) and say so."""
    keys = [entry["Key"] for entry in list_keys(s3, bucket, f"{prefix}/{layout.DYNAMODB}/")]
    if any(key.endswith("/manifest-summary.json") for key in keys):
        return "dynamodb"
    data = sorted(key for key in keys if "/data/" in key)
    if not data:
        raise ToolError(f"the export wrote no data file under s3://{bucket}/{prefix}/{layout.DYNAMODB}/")
    export_id = data[0].split(f"{layout.DYNAMODB}/", 1)[1].split("/", 1)[0]
    entries = []
    total = 0
    for key in data:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        count = layout.count_lines(body)
        total += count
        entries.append(layout.file_entry(key, body, count))
    base = f"{prefix}/{layout.DYNAMODB}/{export_id}"
    summary = layout.manifest_summary(
        export_arn=description["ExportArn"],
        table_arn=description["TableArn"],
        bucket=bucket,
        prefix=prefix,
        export_id=export_id,
        export_time_ms=int(description.get("ExportTime", _when(started_ms)).timestamp() * 1000)
        if isinstance(description.get("ExportTime"), datetime)
        else started_ms,
        start_ms=started_ms,
        end_ms=ended_ms,
        item_count=total,
        billed_bytes=int(description.get("BilledSizeBytes") or 0),
        export_type=description.get("ExportType") or "FULL_EXPORT",
        kms_key_id=kms_key,
    )
    for name, body in (("manifest-files.json", layout.manifest_files(entries)), ("manifest-summary.json", summary)):
        put(s3, bucket, f"{base}/{name}", body, kms_key)
    return "written by tools.training.export (the export came without DynamoDB's manifests)"


def put(s3: Any, bucket: str, key: str, body: bytes, kms_key: str) -> None:
    try:
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key)
    except Exception as error:
        raise _aws_error(f"could not write s3://{bucket}/{key}", error) from None


def gather_labels(session: Any, outputs: dict[str, Any], labels_file: Path | None) -> tuple[list[dict], dict[str, int]]:
    """Every label of the environment's labels table (when it has one) and of ``labels_file``."""
    found: list[dict] = []
    counts = {"table": 0, "file": 0}
    table = outputs.get("labels_table_name")
    try:
        if table:
            from_table = label_contract.read_table(session.client("dynamodb"), table)
            found += from_table
            counts["table"] = len(from_table)
        if labels_file is not None:
            try:
                from_file = label_contract.read_file(labels_file)
            except OSError as error:
                raise ToolError(f"cannot read the labels file {labels_file}: {error.strerror or error}") from None
            found += from_file
            counts["file"] = len(from_file)
    except label_contract.LabelError as error:
        raise ToolError(f"{error}; nothing was exported") from None
    return found, counts


def download(s3: Any, bucket: str, prefix: str, target: Path) -> int:
    """Copy every object under ``prefix`` into ``target`` (the same relative paths); returns the bytes copied."""
    copied = 0
    for entry in list_keys(s3, bucket, f"{prefix}/"):
        path = target / entry["Key"][len(prefix) + 1 :]
        path.parent.mkdir(parents=True, exist_ok=True)
        body = s3.get_object(Bucket=bucket, Key=entry["Key"])["Body"].read()
        path.write_bytes(body)
        copied += len(body)
    return copied


def export(
    session: Any,
    outputs: dict[str, Any],
    *,
    suffix: str,
    since_ms: int | None = None,
    until_ms: int | None = None,
    labels_file: Path | None = None,
    local: bool = True,
    build: Path = BUILD,
    now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    interval: float = 10.0,
) -> dict[str, Any]:
    """Export the environment's table (full, or incremental with ``since_ms``), put the labels beside it, keep a
    local copy under ``build/<suffix>/exports/<name>/`` (unless ``local`` is false); returns the export's record."""
    for name in ("table_name", "exports_bucket_name", "kms_key_arn"):
        if not outputs.get(name):
            raise ToolError(f"environment {suffix} has no {name} output: deploy it with this version first")
    if since_ms is not None:
        until_ms = until_ms if until_ms is not None else now_ms()
        if not INCREMENTAL_MIN_MS <= until_ms - since_ms <= INCREMENTAL_MAX_MS:
            raise ToolError("an incremental export covers 15 minutes to 24 hours (UNTIL - SINCE); split longer periods")
    labels, label_counts = gather_labels(session, outputs, labels_file)  # a bad label fails before the export
    dynamodb, s3 = session.client("dynamodb"), session.client("s3")
    bucket, kms_key = outputs["exports_bucket_name"], outputs["kms_key_arn"]
    try:
        table_arn = dynamodb.describe_table(TableName=outputs["table_name"])["Table"]["TableArn"]
        backups = dynamodb.describe_continuous_backups(TableName=outputs["table_name"])
    except Exception as error:
        raise _aws_error(f"could not read table {outputs['table_name']}", error) from None
    pitr = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
    if pitr.get("PointInTimeRecoveryStatus") != "ENABLED":
        raise ToolError(f"table {outputs['table_name']} has no point-in-time recovery: re-apply the environment")
    kind = "full" if since_ms is None else "incremental"
    started = now_ms()
    name = layout.export_name(until_ms if until_ms is not None else started, kind)
    prefix = f"{layout.EXPORTS}/{name}"
    progress(f"exporting {outputs['table_name']} ({kind}) to s3://{bucket}/{prefix}/")
    export_arn = start_export(
        dynamodb,
        table_arn=table_arn,
        bucket=bucket,
        prefix=prefix,
        kms_key=kms_key,
        since_ms=since_ms,
        until_ms=until_ms,
    )
    description = wait_for_export(dynamodb, export_arn, interval=interval)
    manifests = ensure_manifests(
        s3, bucket, prefix, description, kms_key=kms_key, started_ms=started, ended_ms=now_ms()
    )
    put(s3, bucket, f"{prefix}/{layout.LABELS_FILE}", label_contract.encode(labels), kms_key)
    record = {
        "name": name,
        "type": kind,
        "export_arn": export_arn,
        "table_arn": table_arn,
        "bucket": bucket,
        "prefix": prefix,
        "since_ms": since_ms,
        "until_ms": until_ms,
        "requested_ms": started,
        "items": description.get("ItemCount"),
        "manifests": manifests,
        "labels": {**label_counts, "total": len(labels)},
    }
    put(s3, bucket, f"{prefix}/{layout.RECORD_FILE}", (json.dumps(record, indent=2) + "\n").encode(), kms_key)
    progress(
        f"  labels: {len(labels):,} ({label_counts['table']:,} from the table, {label_counts['file']:,} from the file)"
    )
    if local:
        target = layout.local_exports(build, suffix) / name
        copied = download(s3, bucket, prefix, target)
        record["local"] = str(target)
        progress(f"  local copy: {target} ({copied / 1e6:.1f} MB)")
    return record


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.training.export",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", required=True, help="environment suffix (its Terraform outputs name the table and bucket)"
    )
    parser.add_argument("--since", help="incremental export from this time (ISO, UTC unless given, or epoch ms)")
    parser.add_argument("--until", help="export as of this time (full) or up to it (incremental); default now")
    parser.add_argument("--labels", type=Path, help="a JSON-lines file of labels to add (docs/training-at-scale.md)")
    parser.add_argument("--no-download", action="store_true", help="leave the export in the bucket only")
    return parser


def refuse_local(suffix: str, build: Path = BUILD) -> None:
    """A ToolError for an environment deployed into the local cloud: it runs only inside the process that
    deployed it (``make train-at-scale``), which exports it itself."""
    variables = build / suffix / "terraform.tfvars.json"
    try:
        profile = json.loads(variables.read_text(encoding="utf-8")).get("tags", {}).get("Profile")
    except (OSError, ValueError):
        return
    if profile == "local":
        raise ToolError(
            f"{suffix} was deployed into the local cloud, which lives only inside `make train-at-scale ENV={suffix}` "
            f"(it exports the table itself; its copy is under {layout.local_exports(build, suffix)})"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    suffix = validate_suffix(args.env)
    refuse_local(suffix)
    since = parse_time(args.since) if args.since else None
    until = parse_time(args.until) if args.until else None
    from tools.deploy.tf import Stack

    outputs = Stack(suffix).outputs()
    record = export(
        aws_session(),
        outputs,
        suffix=suffix,
        since_ms=since,
        until_ms=until,
        labels_file=args.labels,
        local=not args.no_download,
    )
    print(json.dumps(record, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
