"""Readers of labeled data: the real Kaggle head file, a Sparkov slice and our JSON lines."""

from __future__ import annotations

import io
import json

import pytest

from fraud.history import Item
from tools.detection import readers, simulate


@pytest.fixture(scope="module")
def simulated_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("sim") / "sim.jsonl"
    with path.open("w") as handle:
        simulate.write_jsonl(simulate.generate(n_users=20, days=10, seed=3, fraud_rate=0.05), handle)
    return path


def test_kaggle_head_file_reads_every_row_and_label(kaggle_file):
    records = readers.read(kaggle_file)
    assert readers.detect_format(kaggle_file) == "kaggle"
    assert len(records) == 2145
    assert sum(record.is_fraud for record in records) == 11


def test_kaggle_quoted_merchant_with_commas_stays_one_field(kaggle_file):
    merchants = {record.transaction["merchant_id"] for record in readers.read(kaggle_file)}
    assert any("," in merchant for merchant in merchants)
    assert all(merchant.startswith("fraud_") for merchant in merchants)


def test_sparkov_row_maps_to_the_transaction_format(sparkov_slice):
    records = readers.read(sparkov_slice)
    assert readers.detect_format(sparkov_slice) == "sparkov"
    assert len(records) == 5000
    first = records[0].transaction
    # 2019-01-01 00:03:13,4315672200306954562,"fraud_Moore, Dibbert and Koepp",misc_net,700.69,...
    assert first["merchant_id"] == "fraud_Moore, Dibbert and Koepp"
    assert first["merchant_category"] == "misc_net"
    assert first["amount"] == 700.69
    assert first["timestamp"] == 1546300993 * 1000
    assert first["local_hour"] == 0
    assert first["location"] == {"lat": 47.163488, "lon": -86.797685}
    assert first["transaction_id"] == "8e4b2ba268eccfeadac28a25ddc354dd"
    assert first["user_id"] == first["card_id"] == readers.card_token("4315672200306954562")
    assert "4315672200306954562" not in json.dumps(first)  # the card number never reaches the pipeline
    stamps = [record.transaction["timestamp"] for record in records]
    assert stamps == sorted(stamps)


def test_ours_round_trips_the_simulator_output(tmp_path):
    path = tmp_path / "sim.jsonl"
    with path.open("w") as handle:
        simulate.write_jsonl(simulate.generate(n_users=10, days=5, seed=1, fraud_rate=0.05), handle)
    records = readers.read(path)
    assert readers.detect_format(path) == "ours"
    generated = list(simulate.generate(n_users=10, days=5, seed=1, fraud_rate=0.05))
    assert [record.is_fraud for record in records] == [txn["is_fraud"] for txn in generated]
    assert [record.scenario for record in records] == [txn["scenario"] for txn in generated]
    assert all("is_fraud" not in record.transaction for record in records)


def test_unknown_format_is_a_clear_error(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(readers.DataFormatError, match="cannot detect the format"):
        readers.read(path)


@pytest.mark.parametrize("parse", [readers.read_sparkov, readers.read_sparkov_items])
def test_bad_row_names_file_and_line(parse):
    handle = io.StringIO(",".join(readers.SPARKOV_COLUMNS) + "\n" + ",".join(["x"] * 22) + "\n")
    with pytest.raises(readers.DataFormatError, match=r"<stream>:2: bad row"):
        list(parse(handle))


def test_a_label_other_than_0_or_1_is_an_error_in_the_item_parser_too():
    row = dict.fromkeys(readers.SPARKOV_COLUMNS, "0") | {
        "trans_date_trans_time": "2019-01-01 00:03:13",
        "is_fraud": "2",
    }
    handle = io.StringIO(",".join(readers.SPARKOV_COLUMNS) + "\n" + ",".join(row.values()) + "\n")
    with pytest.raises(readers.DataFormatError, match=r"<stream>:2: is_fraud must be 0 or 1, got '2'"):
        readers.read_sparkov_items(handle)


def _fields(item) -> dict:
    return {name: getattr(item, name) for name in Item.__slots__}


@pytest.mark.parametrize("data", ["kaggle_file", "sparkov_slice", "simulated_file"])
def test_read_items_gives_the_engine_item_of_every_transaction_read_gives(data, request):
    """The backtest replays ``read_items``; it must be exactly ``Item(transaction)`` of ``read``, in order."""
    path = request.getfixturevalue(data)
    records, items = readers.read(path), readers.read_items(path)
    assert len(items) == len(records) > 0
    for record, (item, is_fraud, scenario) in zip(records, items, strict=True):
        assert type(item) is Item
        assert _fields(item) == _fields(Item(record.transaction))
        assert (is_fraud, scenario) == (record.is_fraud, record.scenario)
