"""The label contract: what one label says, and which label of a transaction counts.

One label is a JSON object::

    {"transaction_id": str, "label": "fraud" | "legitimate", "source": "analyst" | "chargeback" | "dispute",
     "by": str (who, or which file), "at": int (epoch ms when decided), "case_id": str (optional),
     "note": str (optional)}

In a deployed environment labels live in the DynamoDB table of the Terraform output ``labels_table_name`` (hash
key ``transaction_id``, range key ``source``); a team without that table yet, CI and the local path give them as a
file of JSON lines in the same format (``make export LABELS=...``). Every export carries all of them, every
source, as ``labels/labels.jsonl.gz`` (``tools.training.layout``).

The effective label of a transaction: a processor's outcome outranks an analyst's decision (``chargeback``, then
``dispute``, then ``analyst``: ``SOURCES`` in precedence order); within a source the newest ``at`` wins (a tie:
``fraud`` wins, then the smaller ``by``). The Spark job applies the same order (``tools.training.job``, built
from ``SOURCES``); ``effective`` is the reference the tests compare it with.

Standard library only: the Spark job ships this module to EMR Serverless.
"""

from __future__ import annotations

import gzip
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

LABELS = ("fraud", "legitimate")
SOURCES = ("chargeback", "dispute", "analyst")
"""The sources of a label, the one that outranks the others first."""
REQUIRED = {"transaction_id": str, "label": str, "source": str, "by": str, "at": int}
OPTIONAL = {"case_id": str, "note": str}


class LabelError(ValueError):
    """A label record that does not follow the contract (the message names the record and the field)."""


def validate(record: Any, where: str = "label") -> dict[str, Any]:
    """``record`` as a label (the contract's fields only), or LabelError saying what is wrong."""
    if not isinstance(record, Mapping):
        raise LabelError(f"{where}: a label is a JSON object, not {type(record).__name__}")
    label: dict[str, Any] = {}
    for name, kind in (*REQUIRED.items(), *OPTIONAL.items()):
        value = record.get(name)
        if value is None:
            if name in REQUIRED:
                raise LabelError(f"{where}: {name} is missing")
            continue
        if kind is int and isinstance(value, float | Decimal) and value == int(value):
            value = int(value)  # a JSON 1.7e12, or a Decimal from a table scan
        if not isinstance(value, kind) or isinstance(value, bool):
            raise LabelError(f"{where}: {name} must be a {'string' if kind is str else 'whole number'}")
        label[name] = value
    if not label["transaction_id"]:
        raise LabelError(f"{where}: transaction_id is empty")
    if label["label"] not in LABELS:
        raise LabelError(f"{where}: label must be one of {', '.join(LABELS)}, not {label['label']!r}")
    if label["source"] not in SOURCES:
        raise LabelError(f"{where}: source must be one of {', '.join(SOURCES)}, not {label['source']!r}")
    if label["at"] < 0:
        raise LabelError(f"{where}: at must be epoch milliseconds >= 0")
    return label


def rank(label: Mapping[str, Any]) -> tuple[int, int, int, str]:
    """Sort key of the labels of one transaction: the one that counts sorts first."""
    return (SOURCES.index(label["source"]), -int(label["at"]), LABELS.index(label["label"]), str(label["by"]))


def effective(labels: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """transaction_id -> the label that counts for it."""
    best: dict[str, dict[str, Any]] = {}
    for label in labels:
        current = best.get(label["transaction_id"])
        if current is None or rank(label) < rank(current):
            best[label["transaction_id"]] = dict(label)
    return best


def _lines(path: Path) -> Iterator[str]:
    with path.open("rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
    if gzipped:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            yield from handle
    else:
        with path.open(encoding="utf-8") as handle:
            yield from handle


def read_file(path: str | Path) -> list[dict[str, Any]]:
    """Every label of a JSON-lines file (gzip or not), validated; LabelError names the line of the first bad one."""
    path = Path(path)
    labels = []
    for number, line in enumerate(_lines(path), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise LabelError(f"{path}:{number}: not JSON ({error.msg})") from None
        labels.append(validate(record, f"{path}:{number}"))
    return labels


def read_table(client: Any, table_name: str) -> list[dict[str, Any]]:
    """Every label of the labels table (a paginated Scan; typed DynamoDB values), validated."""
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    labels = []
    for page in client.get_paginator("scan").paginate(TableName=table_name):
        for item in page.get("Items", []):
            record = {key: deserialize(value) for key, value in item.items()}
            labels.append(validate(record, f"{table_name} item {record.get('transaction_id')!r}"))
    return labels


def encode(labels: Iterable[Mapping[str, Any]]) -> bytes:
    """``labels/labels.jsonl.gz``'s bytes: one label per line (sorted keys), in (transaction_id, source, at, by)
    order, gzip without a name or a time, so the same labels give the same bytes."""
    ordered = sorted(labels, key=lambda x: (x["transaction_id"], x["source"], x["at"], x["by"], x["label"]))
    text = "".join(json.dumps(dict(label), sort_keys=True, separators=(",", ":")) + "\n" for label in ordered)
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as handle:
        handle.write(text.encode("utf-8"))
    return buffer.getvalue()
