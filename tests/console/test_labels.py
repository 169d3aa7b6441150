"""Labels: the contract (docs/labels.md), which label counts, and a file checked whole before anything is written."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from fraud.labels import Label, LabelError, LabelStore, effective, effective_labels, parse_label, read_import
from tests.console.support import BASE_MS, LABELS_TABLE, create_case_tables


def label(source: str, at: int, value: str = "fraud", tid: str = "t-1") -> Label:
    return Label(tid, value, source, "x", at)


def test_a_processor_outranks_an_analyst_and_the_newest_wins_within_a_source():
    analyst_new = label("analyst", BASE_MS + 9, "legitimate")
    dispute = label("dispute", BASE_MS + 1)
    chargeback_old, chargeback_new = label("chargeback", BASE_MS), label("chargeback", BASE_MS + 5, "legitimate")
    assert effective([analyst_new]) == analyst_new
    assert effective([analyst_new, dispute]) == dispute
    assert effective([analyst_new, dispute, chargeback_old, chargeback_new]) == chargeback_new
    assert effective([]) is None
    assert effective_labels([analyst_new, label("analyst", BASE_MS, tid="t-2")])["t-1"] == analyst_new


def test_a_label_is_exactly_the_contracts_object():
    parsed = parse_label(
        {"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "at": "2025-01-15T12:00:00Z"},
        default_by="chargebacks-2025-01.csv",
    )
    assert parsed.to_dict() == {
        "transaction_id": "t-1",
        "label": "fraud",
        "source": "chargeback",
        "by": "chargebacks-2025-01.csv",
        "at": BASE_MS,
    }


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"transaction_id": "t 1", "label": "fraud", "source": "chargeback", "at": BASE_MS}, "transaction_id"),
        ({"transaction_id": "t-1", "label": "bad", "source": "chargeback", "at": BASE_MS}, "label must be"),
        ({"transaction_id": "t-1", "label": "fraud", "source": "bank", "at": BASE_MS}, "source must be"),
        ({"transaction_id": "t-1", "label": "fraud", "source": "chargeback"}, "at is required"),
        ({"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "at": 1736942400}, "not seconds"),
        ({"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "at": "yesterday"}, "ISO 8601"),
        ({"transaction_id": "t-1", "label": "fraud", "source": "chargeback", "at": BASE_MS, "amount": 5}, "unknown"),
    ],
)
def test_a_bad_label_says_which_field_and_why(row, message):
    with pytest.raises(LabelError, match=message):
        parse_label(row, default_by="f")


def test_an_import_file_is_checked_whole_and_reports_every_bad_row_by_line():
    text = (
        "transaction_id,label,source,at,note\n"
        "t-1,fraud,chargeback,2025-01-15,reason 10.4\n"
        "t-2,fraudulent,chargeback,2025-01-15,\n"
        "t-3,fraud,analyst,2025-01-15,\n"
        "t-4,legitimate,dispute,1736942400000,won by the merchant\n"
        "t-5,fraud,chargeback,2025-01-15,too,many\n"
    )
    result = read_import(text, name="cb.csv")
    assert not result.ok
    assert [line for line, _ in result.errors] == [3, 4, 6]
    assert "label must be" in result.errors[0][1] and "source must be" in result.errors[1][1]
    assert [label.transaction_id for label in result.labels] == ["t-1", "t-4"]


def test_json_lines_are_read_too_and_the_newest_row_of_a_transaction_wins():
    text = (
        '{"transaction_id": "t-1", "label": "fraud", "source": "dispute", "at": 1736942400000}\n'
        "\n"
        '{"transaction_id": "t-1", "label": "legitimate", "source": "dispute", "at": 1736942400001, "by": "acquirer"}\n'
        "[1, 2]\n"
        "{not json\n"
    )
    result = read_import(text, name="d.jsonl")
    assert result.errors == [(4, "not a JSON object"), (5, "not valid JSON")]
    [only] = result.labels
    assert (only.label, only.by) == ("legitimate", "acquirer")


def test_a_file_without_labels_or_without_the_columns_is_refused():
    assert read_import("", name="x").errors == [(1, "the file holds no labels")]
    assert "header lacks" in read_import("id,outcome\nt-1,fraud\n", name="x").errors[0][1]


def test_the_table_keeps_one_label_per_transaction_and_source_the_newest():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        create_case_tables(dynamodb)
        store = LabelStore(dynamodb, LABELS_TABLE)
        assert store.put(label("chargeback", BASE_MS + 5)) is True
        assert store.put(label("chargeback", BASE_MS, "legitimate")) is False  # older: kept out
        assert store.put(label("analyst", BASE_MS)) is True
        assert sorted((x.source, x.at) for x in store.of("t-1")) == [("analyst", BASE_MS), ("chargeback", BASE_MS + 5)]
        assert effective(store.all()).source == "chargeback"


def test_the_console_and_training_agree_on_which_label_counts_including_ties():
    """tools.training.labels (and its Spark job) and fraud.labels implement the same contract: the same labels give
    the same effective label, and the export's bytes are the training export's."""
    import itertools

    from tools.training import labels as training

    candidates = [
        Label("t-1", value, source, by, at)
        for source in ("analyst", "dispute", "chargeback")
        for value in ("fraud", "legitimate")
        for by, at in (("a", BASE_MS), ("b", BASE_MS), ("a", BASE_MS + 1))
    ]
    for group in itertools.combinations(candidates, 3):
        ours = effective(group)
        theirs = training.effective(label.to_dict() for label in group)["t-1"]
        assert ours.to_dict() == theirs, group
    for label in candidates:
        assert training.validate(label.to_dict()) == label.to_dict()  # every label the console writes is valid
