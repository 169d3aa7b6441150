"""Chargebacks and disputes into an environment's labels, and the labels out (docs/labels.md).

    make labels ENV=prod FILE=chargebacks-2025-01.csv           # check the whole file, then import it
    python -m tools.cases.labels --env prod import FILE --check  # check only: nothing is written
    python -m tools.cases.labels --env prod export --out build/export            # build/export/labels/labels.jsonl.gz
    python -m tools.cases.labels --env prod export --out s3://bucket/exports/2025-01-31   # the labels alone

``make export`` (tools/training) writes the same file beside each table export; this writes the labels alone.

An import file is CSV with a header (``transaction_id,label,source,at`` and optionally ``by``, ``note``,
``case_id``) or JSON lines of the contract's objects; ``source`` is ``chargeback`` or ``dispute`` (analysts'
labels come from the console), ``at`` epoch milliseconds or an ISO 8601 date. The whole file is checked before
anything is written: a bad row is reported with its line and nothing is imported. Transactions the environment
does not hold (expired, or of another environment) are listed and still imported. Writing is idempotent: the
table keeps the newest label of each transaction and source, so an import that stopped half-way (a throttle, a
lost connection) is finished by running it again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from fraud.labels import MAX_ERRORS, Label, LabelStore, read_import
from fraud.storage import CLAIM_TIMESTAMP, serialize_item
from tools._cli import ToolError, progress, reading, run
from tools.cases.environment import open_environment
from tools.training.labels import encode
from tools.training.layout import LABELS_FILE

EXPORT_KEY = LABELS_FILE  # labels/labels.jsonl.gz: where an export keeps them (tools.training.layout)


def read_file(path: str | Path) -> list[Label]:
    """The labels of ``path``, or a ToolError listing every bad row by line (nothing is written)."""
    with reading(path):
        text = Path(path).read_text(encoding="utf-8-sig")
    result = read_import(text, name=Path(path).name)
    if not result.ok:
        shown = "\n".join(f"  line {line}: {message}" for line, message in result.errors[:MAX_ERRORS])
        more = len(result.errors) - MAX_ERRORS
        raise ToolError(
            f"{path}: {len(result.errors)} bad row(s), nothing was imported:\n{shown}"
            + (f"\n  ... and {more} more" if more > 0 else "")
        )
    return result.labels


def unknown_transactions(client: Any, table: str, ids: Iterable[str]) -> list[str]:
    """Which transaction ids the table does not hold (their claim items, BatchGetItem by 100)."""
    wanted = sorted(set(ids))
    found: set[str] = set()
    for start in range(0, len(wanted), 100):
        keys = [
            serialize_item({"transaction_id": t, "timestamp": CLAIM_TIMESTAMP}) for t in wanted[start : start + 100]
        ]
        request: dict[str, Any] = {table: {"Keys": keys, "ProjectionExpression": "transaction_id"}}
        while request:
            reply = client.batch_get_item(RequestItems=request)
            found.update(item["transaction_id"]["S"] for item in reply.get("Responses", {}).get(table, []))
            request = reply.get("UnprocessedKeys") or {}
    return [t for t in wanted if t not in found]


def write(store: LabelStore, labels: Sequence[Label]) -> tuple[int, int]:
    """Write every label (the newest of a transaction and source is kept); returns (written, kept newer)."""
    written = kept = 0
    for done, label in enumerate(labels, 1):
        try:
            stored = store.put(label)
        except Exception as error:
            raise ToolError(
                f"stopped after {written + kept} of {len(labels)} labels ({error}); run the import again to finish it: "
                "labels already written are kept, the newest of each transaction and source wins"
            ) from None
        written, kept = written + stored, kept + (not stored)
        if done % 500 == 0 or done == len(labels):
            progress(f"  {done:,}/{len(labels):,} labels written")
    return written, kept


def import_labels(
    client: Any, labels_table: str, transactions_table: str, labels: Sequence[Label], *, check: bool
) -> int:
    """Report the transactions the environment does not hold, then (unless ``check``) write every label."""
    missing = unknown_transactions(client, transactions_table, (label.transaction_id for label in labels))
    if missing:
        shown = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more" if len(missing) > 10 else "")
        progress(f"  {len(missing):,} transaction(s) not in {transactions_table} (imported all the same): {shown}")
    if check:
        progress("checked only (--check): nothing was written")
        return 0
    written, kept = write(LabelStore(client, labels_table), labels)
    print(f"imported {written:,} labels into {labels_table}; {kept:,} kept the newer label already there")
    return 0


def export_bytes(labels: Iterable[Label]) -> bytes:
    """``labels/labels.jsonl.gz``'s bytes exactly as a table export writes them (``tools.training.labels.encode``:
    one label per line, sorted, gzip without a name or a time: the same labels give the same bytes)."""
    return encode(label.to_dict() for label in labels)


def export(client: Any, labels_table: str, destination: str) -> str:
    """Write ``labels/labels.jsonl.gz`` under ``destination`` (a directory or ``s3://bucket/prefix``)."""
    data = export_bytes(LabelStore(client, labels_table).all())
    if destination.startswith("s3://"):
        import boto3

        bucket, _, prefix = destination.removeprefix("s3://").partition("/")
        key = f"{prefix.strip('/')}/{EXPORT_KEY}".lstrip("/")
        boto3.client("s3", region_name=client.meta.region_name).put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"
    path = Path(destination) / EXPORT_KEY
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return str(path)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.cases.labels",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", required=True, help="environment suffix (its Terraform outputs name the tables)")
    commands = parser.add_subparsers(dest="command", required=True)
    importing = commands.add_parser("import", help="import a file of chargebacks and disputes")
    importing.add_argument("file", help="CSV with a header, or JSON lines")
    importing.add_argument("--check", action="store_true", help="check the file only; write nothing")
    exporting = commands.add_parser(
        "export", help=f"write every label as {EXPORT_KEY} under a directory or s3:// prefix"
    )
    exporting.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command == "import":
        labels = read_file(args.file)  # a bad file is refused before any AWS call
        progress(f"{args.file}: {len(labels):,} labels, every row valid")
    tables, client = open_environment(args.env)
    if args.command == "import":
        return import_labels(client, tables.labels, tables.transactions, labels, check=args.check)
    print(export(client, tables.labels, args.out))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
