"""Labels: what the fraud team and the card processor say a transaction was (docs/labels.md is the contract).

One label is ``{"transaction_id", "label": "fraud"|"legitimate", "source": "analyst"|"chargeback"|"dispute",
"by", "at" (epoch ms decided), "case_id"?, "note"?}``. A decision on a transaction's case is an ``analyst``
label; chargebacks and disputes arrive later from the processor and are imported from a file
(``read_import``: CSV or JSON lines, every row checked before anything is written, bad rows reported by line).

The effective label of a transaction (``effective``): a processor's outcome (chargeback, then dispute)
outranks an analyst's decision; within a source the newest ``at`` wins (a tie: ``fraud``, then the smaller
``by``): the order ``tools.training.labels`` and its Spark job apply (a test checks both agree). In a deployed
environment the labels live in the table named by the Terraform output ``labels_table_name`` (hash
``transaction_id``, range ``source``: one label per transaction and source, the newest kept), written and read by
``LabelStore``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from fraud.card_numbers import scrub
from fraud.storage import condition_failed, deserialize_item, serialize_item

LABELS = ("fraud", "legitimate")
SOURCES = ("chargeback", "dispute", "analyst")  # from the strongest to the weakest
IMPORTED_SOURCES = ("chargeback", "dispute")  # what a file may hold: analysts decide in the console
PROCESSOR_SOURCES = IMPORTED_SOURCES
FIELDS = ("transaction_id", "label", "source", "by", "at", "case_id", "note")
REQUIRED = ("transaction_id", "label", "source", "at")
TRANSACTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # the transaction schema's pattern
MAX_TEXT = 1000
EARLIEST_MS = 946_684_800_000  # 2000-01-01, the transaction schema's earliest timestamp
MAX_ERRORS = 50  # bad rows listed in one report


class LabelError(ValueError):
    """A label that breaks the contract; the message names the field and why (never its value)."""


@dataclass(frozen=True)
class Label:
    transaction_id: str
    label: str
    source: str
    by: str
    at: int
    case_id: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON object (optional keys only when set)."""
        out: dict[str, Any] = {
            "transaction_id": self.transaction_id,
            "label": self.label,
            "source": self.source,
            "by": self.by,
            "at": self.at,
        }
        if self.case_id is not None:
            out["case_id"] = self.case_id
        if self.note is not None:
            out["note"] = self.note
        return out

    @property
    def rank(self) -> tuple[int, int, int, str]:
        """Sorts the effective label first: the strongest source, then the newest, then fraud, then the smaller by."""
        return SOURCES.index(self.source), -self.at, LABELS.index(self.label), self.by


def effective(labels: Iterable[Label]) -> Label | None:
    """The label that counts for a transaction: chargeback over dispute over analyst, the newest within one (a
    tie: fraud, then the smaller ``by``)."""
    return min(labels, key=lambda label: label.rank, default=None)


def _text(value: Any, name: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise LabelError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise LabelError(f"{name} must be a string")
    if len(value) > MAX_TEXT:
        raise LabelError(f"{name} is longer than {MAX_TEXT} characters")
    return scrub(value)  # free text never carries a card number into the table or an export


def parse_time_ms(value: Any) -> int:
    """Epoch milliseconds from an integer (or its digits) or an ISO 8601 date or date-time (UTC unless it says)."""
    if isinstance(value, bool):
        raise LabelError("at must be epoch milliseconds or an ISO 8601 date")
    if isinstance(value, int):
        ms = value
    elif isinstance(value, str) and value.strip().isdigit():
        ms = int(value.strip())
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise LabelError("at must be epoch milliseconds or an ISO 8601 date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ms = int(moment.timestamp() * 1000)
    else:
        raise LabelError("at must be epoch milliseconds or an ISO 8601 date")
    if ms < EARLIEST_MS:
        raise LabelError("at is before 2000-01-01 (epoch milliseconds, not seconds?)")
    return ms


def parse_label(data: Mapping[str, Any], *, default_by: str, sources: tuple[str, ...] = SOURCES) -> Label:
    """A ``Label`` from one record of the contract; ``LabelError`` names the first field that is wrong."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        shown = unknown[0] if len(unknown[0]) <= 32 and unknown[0].isprintable() else "<key>"
        raise LabelError(f"unknown field {shown}: the fields are {', '.join(FIELDS)}")
    transaction_id = data.get("transaction_id")
    if not isinstance(transaction_id, str) or not TRANSACTION_ID.match(transaction_id):
        raise LabelError("transaction_id must be 1-64 letters, digits, _ or -")
    label = data.get("label")
    if label not in LABELS:
        raise LabelError(f"label must be one of {', '.join(LABELS)}")
    source = data.get("source")
    if source not in sources:
        raise LabelError(f"source must be one of {', '.join(sources)}")
    if data.get("at") in (None, ""):
        raise LabelError("at is required")
    return Label(
        transaction_id=transaction_id,
        label=str(label),
        source=str(source),
        by=_text(data.get("by"), "by", required=False) or default_by,
        at=parse_time_ms(data["at"]),
        case_id=_text(data.get("case_id"), "case_id", required=False),
        note=_text(data.get("note"), "note", required=False),
    )


@dataclass(frozen=True)
class ImportResult:
    labels: list[Label]
    errors: list[tuple[int, str]]  # (line number, what is wrong)

    @property
    def ok(self) -> bool:
        return not self.errors


def _csv_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any] | None, str | None]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        yield 1, None, f"the header lacks {', '.join(missing)} (columns: {', '.join(FIELDS)})"
        return
    for row in reader:
        if None in row:  # more cells than the header has columns
            yield reader.line_num, None, "more cells than the header has columns"
            continue
        yield (
            reader.line_num,
            {key: (value.strip() if isinstance(value, str) else value) for key, value in row.items()},
            None,
        )


def _json_rows(text: str) -> Iterator[tuple[int, Mapping[str, Any] | None, str | None]]:
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            yield number, None, "not valid JSON"
            continue
        if not isinstance(value, dict):
            yield number, None, "not a JSON object"
            continue
        yield number, value, None


def looks_like_json_lines(text: str) -> bool:
    return text.lstrip().startswith("{")


def read_import(text: str, *, name: str) -> ImportResult:
    """Every processor label of a file's ``text`` (CSV with a header, or JSON lines), checked whole: the
    labels and, for each bad row, its line and what is wrong. ``name`` (the file's) is ``by`` where a row
    gives none. Within the file, a later row for the same transaction and source replaces an earlier one
    only when its ``at`` is newer (the table keeps the newest too)."""
    if not text.strip():
        return ImportResult([], [(1, "the file holds no labels")])
    rows = _json_rows(text) if looks_like_json_lines(text) else _csv_rows(text)
    kept: dict[tuple[str, str], Label] = {}
    errors: list[tuple[int, str]] = []
    for line, row, problem in rows:
        if problem is None and row is not None:
            try:
                label = parse_label(row, default_by=name, sources=IMPORTED_SOURCES)
            except LabelError as error:
                problem = str(error)
            else:
                key = (label.transaction_id, label.source)
                if key not in kept or kept[key].at <= label.at:
                    kept[key] = label
                continue
        errors.append((line, problem or "unreadable row"))
    if not kept and not errors:
        errors.append((1, "the file holds no labels"))
    return ImportResult(sorted(kept.values(), key=lambda label: (label.transaction_id, label.source)), errors)


# --- the labels table -------------------------------------------------------------------------


def put_request(table_name: str, label: Label) -> dict[str, Any]:
    """The ``Put`` (for ``put_item`` or a ``TransactWriteItems``) that stores ``label`` unless the table holds a
    newer label of the same transaction and source."""
    return {
        "TableName": table_name,
        "Item": serialize_item(label.to_dict()),
        "ConditionExpression": "attribute_not_exists(transaction_id) OR #at <= :at",
        "ExpressionAttributeNames": {"#at": "at"},
        "ExpressionAttributeValues": serialize_item({":at": label.at}),
    }


def label_of(item: Mapping[str, Any]) -> Label:
    """A label read back from the table (typed DynamoDB item)."""
    data = deserialize_item(item)
    return Label(
        transaction_id=str(data["transaction_id"]),
        label=str(data["label"]),
        source=str(data["source"]),
        by=str(data.get("by", "")),
        at=int(data["at"]),
        case_id=data.get("case_id"),
        note=data.get("note"),
    )


class LabelStore:
    """The labels table; ``client`` is a low-level boto3 DynamoDB client."""

    def __init__(self, client: Any, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    def put(self, label: Label) -> bool:
        """Store ``label``; False when the table already holds a newer one of that transaction and source."""
        try:
            self.client.put_item(**put_request(self.table_name, label))
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def of(self, transaction_id: str) -> list[Label]:
        """Every label of one transaction (one per source), read strongly consistently."""
        reply = self.client.query(
            TableName=self.table_name,
            KeyConditionExpression="transaction_id = :t",
            ExpressionAttributeValues=serialize_item({":t": transaction_id}),
            ConsistentRead=True,
        )
        return [label_of(item) for item in reply.get("Items", [])]

    def all(self) -> Iterator[Label]:
        """Every label of the table, one scan page at a time."""
        for page in self.client.get_paginator("scan").paginate(TableName=self.table_name):
            for item in page.get("Items", []):
                yield label_of(item)


def effective_labels(labels: Iterable[Label]) -> dict[str, Label]:
    """The effective label of each transaction of ``labels``, by transaction id."""
    by_transaction: dict[str, list[Label]] = {}
    for label in labels:
        by_transaction.setdefault(label.transaction_id, []).append(label)
    return {tid: effective(found) for tid, found in by_transaction.items()}  # type: ignore[misc]
