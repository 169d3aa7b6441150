"""The fraud team's command-line tools (tools/cases): labels in and out, lists from the command line."""

from __future__ import annotations

import argparse
import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from fraud.cases import CaseStore
from fraud.labels import Label, LabelStore
from fraud.lists import ListStore, entry, iter_lines
from fraud.storage import TransactionStore
from tests.console.support import BASE_MS, CASES_TABLE, LABELS_TABLE, LISTS_TABLE, create_case_tables
from tests.unit.handler_support import create_transactions_table, make_transaction
from tools._cli import ToolError
from tools.cases import labels as labels_tool
from tools.cases import lists as lists_tool
from tools.cases.environment import Tables, tables

TABLES = Tables(CASES_TABLE, LABELS_TABLE, LISTS_TABLE, "transactions-test")


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_case_tables(client)
        create_transactions_table(client, TABLES.transactions)
        yield client


def test_an_import_names_every_bad_row_and_writes_nothing(tmp_path, dynamodb):
    bad = tmp_path / "cb.csv"
    bad.write_text("transaction_id,label,source,at\nt-1,fraud,chargeback,2025-01-15\nt-2,fraud,chargeback,tomorrow\n")
    with pytest.raises(ToolError, match=r"1 bad row\(s\), nothing was imported:\n  line 3: at must be"):
        labels_tool.read_file(bad)
    assert list(LabelStore(dynamodb, LABELS_TABLE).all()) == []


def test_an_import_reports_unknown_transactions_writes_once_and_keeps_newer_labels(tmp_path, dynamodb, capsys):
    TransactionStore(dynamodb, TABLES.transactions).put_transaction(
        make_transaction(transaction_id="t-1"), body_hash="h", received_at=BASE_MS
    )
    LabelStore(dynamodb, LABELS_TABLE).put(Label("t-1", "legitimate", "chargeback", "later.csv", BASE_MS + 10))
    good = tmp_path / "cb.jsonl"
    good.write_text(
        json.dumps({"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "at": BASE_MS}) + "\n"
        + json.dumps({"transaction_id": "t-9", "label": "fraud", "source": "dispute", "at": BASE_MS}) + "\n"
    )  # fmt: skip
    found = labels_tool.read_file(good)
    assert labels_tool.import_labels(dynamodb, LABELS_TABLE, TABLES.transactions, found, check=True) == 0
    assert list(LabelStore(dynamodb, LABELS_TABLE).all())[0].by == "later.csv"  # --check wrote nothing
    labels_tool.import_labels(dynamodb, LABELS_TABLE, TABLES.transactions, found, check=False)
    out, err = capsys.readouterr()
    assert "1 transaction(s) not in transactions-test (imported all the same): t-9" in err
    assert "imported 1 labels into fraud-labels-test; 1 kept the newer label already there" in out
    labels_tool.import_labels(dynamodb, LABELS_TABLE, TABLES.transactions, found, check=False)  # again: harmless
    assert sorted((x.transaction_id, x.label) for x in LabelStore(dynamodb, LABELS_TABLE).all()) == [
        ("t-1", "legitimate"),
        ("t-9", "fraud"),
    ]


def test_the_export_is_every_label_as_sorted_json_lines_beside_a_table_export(tmp_path, dynamodb):
    store = LabelStore(dynamodb, LABELS_TABLE)
    store.put(Label("t-2", "fraud", "analyst", "ana", BASE_MS, "txn-t-2", "confirmed"))
    store.put(Label("t-1", "fraud", "chargeback", "cb.csv", BASE_MS))
    path = labels_tool.export(dynamodb, LABELS_TABLE, str(tmp_path / "export"))
    assert path == str(tmp_path / "export" / "labels" / "labels.jsonl.gz")
    lines = [
        json.loads(x)
        for x in gzip.decompress((tmp_path / "export" / "labels" / "labels.jsonl.gz").read_bytes()).splitlines()
    ]
    assert lines == [
        {"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "by": "cb.csv", "at": BASE_MS},
        {
            "transaction_id": "t-2",
            "label": "fraud",
            "source": "analyst",
            "by": "ana",
            "at": BASE_MS,
            "case_id": "txn-t-2",
            "note": "confirmed",
        },
    ]
    again = labels_tool.export(dynamodb, LABELS_TABLE, str(tmp_path / "again"))
    assert Path(again).read_bytes() == Path(path).read_bytes()  # the same labels, the same bytes


def test_lists_from_the_command_line_are_versions_on_the_lists_trail(tmp_path, dynamodb):
    store = ListStore(dynamodb, LISTS_TABLE)
    args = argparse.Namespace(list="block", field="device_id", value="dev-9f2", reason="ATO ring", expires_days=30)
    assert "device ********" in lists_tool.add(store, TABLES, "cli:ops", args) and store.version() == 1
    shown = lists_tool.show(store)
    assert "version 1" in shown and "dev-9f2" not in shown and "by cli:ops: ATO ring" in shown
    assert (
        lists_tool.remove(store, TABLES, "cli:ops", "device_id", "dev-9f2") == "removed from the block list (version 2)"
    )
    with pytest.raises(ToolError, match="no entry"):
        lists_tool.remove(store, TABLES, "cli:ops", "device_id", "dev-9f2")
    listed = tmp_path / "lists.jsonl"
    listed.write_text(
        "\n".join(iter_lines([entry("allow", "merchant_id", "m-1", reason="payroll", by="x", at=BASE_MS)])) + "\n"
    )
    assert lists_tool.import_file(store, TABLES, "cli:ops", str(listed)) == "1 entries added or replaced (version 3)"
    trail = CaseStore(dynamodb, CASES_TABLE).trail("lists")
    assert [(e.action, e.by) for e in trail] == [("listed", "cli:ops"), ("unlisted", "cli:ops"), ("listed", "cli:ops")]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"list": "block", "field": "email", "value": "a", "reason": "r"}\n')
    with pytest.raises(ToolError, match="line 1"):
        lists_tool.import_file(store, TABLES, "cli:ops", str(bad))


def test_an_environment_without_the_tables_says_to_deploy_first():
    with pytest.raises(ToolError, match="make deploy ENV=dev"):
        tables({"table_name": "transactions-dev"}, "dev")
