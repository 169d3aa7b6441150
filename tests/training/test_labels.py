"""The label contract: what a label must say, which one counts, and the export's labels file."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest

from tools.training import labels


def label(**changes: object) -> dict:
    return {
        "transaction_id": "t-1",
        "label": "fraud",
        "source": "analyst",
        "by": "ana",
        "at": 1_700_000_000_000,
        **changes,
    }


def test_a_valid_label_keeps_the_contracts_fields_only() -> None:
    record = label(case_id="c-9", note="called the cardholder", extra="dropped")
    assert labels.validate(record) == {k: v for k, v in record.items() if k != "extra"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": "maybe"}, "label must be one of fraud, legitimate"),
        ({"source": "rumour"}, "source must be one of chargeback, dispute, analyst"),
        ({"at": "yesterday"}, "at must be a whole number"),
        ({"at": True}, "at must be a whole number"),
        ({"transaction_id": ""}, "transaction_id is empty"),
        ({"by": None}, "by is missing"),
    ],
)
def test_a_label_that_breaks_the_contract_is_refused_with_the_field(changes: dict, message: str) -> None:
    with pytest.raises(labels.LabelError, match=message):
        labels.validate(label(**changes), "f.jsonl:3")


def test_numbers_from_json_or_a_table_scan_are_whole_milliseconds() -> None:
    assert labels.validate(label(at=1.7e12))["at"] == 1_700_000_000_000
    assert labels.validate(label(at=Decimal("1700000000000")))["at"] == 1_700_000_000_000


def test_a_processors_outcome_outranks_an_analyst_and_the_newest_decision_counts_within_a_source() -> None:
    chosen = labels.effective(
        [
            label(transaction_id="a", source="analyst", label="legitimate", at=9),
            label(transaction_id="a", source="chargeback", label="fraud", at=1),
            label(transaction_id="b", source="analyst", label="fraud", at=1),
            label(transaction_id="b", source="analyst", label="legitimate", at=2),
            label(transaction_id="c", source="dispute", label="legitimate", at=1),
            label(transaction_id="c", source="analyst", label="fraud", at=5),
            label(transaction_id="d", source="chargeback", label="fraud", at=3),
            label(transaction_id="d", source="dispute", label="legitimate", at=4),
        ]
    )
    assert {t: (x["label"], x["source"]) for t, x in chosen.items()} == {
        "a": ("fraud", "chargeback"),
        "b": ("legitimate", "analyst"),
        "c": ("legitimate", "dispute"),
        "d": ("fraud", "chargeback"),
    }


def test_the_labels_file_is_the_same_bytes_for_the_same_labels_in_any_order(tmp_path: Path) -> None:
    records = [label(transaction_id=f"t-{i}", at=i) for i in range(5)]
    data = labels.encode(records)
    assert data == labels.encode(list(reversed(records)))
    path = tmp_path / "labels.jsonl.gz"
    path.write_bytes(data)
    assert labels.read_file(path) == records
    assert [json.loads(line)["transaction_id"] for line in gzip.decompress(data).splitlines()] == [
        r["transaction_id"] for r in records
    ]


def test_a_bad_line_of_a_labels_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(label()) + "\n" + "{not json\n")
    with pytest.raises(labels.LabelError, match=r"labels.jsonl:2: not JSON"):
        labels.read_file(path)
