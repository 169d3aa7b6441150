"""The capacity model (tools/capacity.py): DynamoDB's item sizes, every profile sized for its stated
peaks, the measured inputs still what the storage code writes, and the docs showing the current tables."""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tools import capacity

NOW_MS = 1_796_610_000_000  # the simulated traffic ends here (pinned)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "abc"}, 3),
        ({"S": "é"}, 2),  # UTF-8 bytes
        ({"N": "123.45"}, 4),  # 5 significant digits: 3 bytes + 1
        ({"N": "1000"}, 2),  # trailing zeros do not count
        ({"BOOL": True}, 1),
        ({"M": {"ab": {"N": "7"}}}, 3 + 1 + 2 + 2),
        ({"L": [{"S": "x"}, {"S": "yz"}]}, 3 + (1 + 1) + (1 + 2)),
    ],
)
def test_attribute_values_are_sized_as_dynamodb_counts_them(value, size):
    assert capacity.value_size(value) == size


def test_an_item_counts_its_attribute_names_and_a_transactional_write_two_units_a_kb():
    item = {"id": {"S": "x" * 1000}, "n": {"N": "1"}}
    assert capacity.item_size(item) == 2 + 1000 + 1 + 2
    assert capacity.write_units(capacity.item_size(item)) == 1
    assert capacity.write_units(1025, True) == 4


@pytest.mark.parametrize("profile", capacity.PROFILES)
def test_every_hop_of_a_profile_takes_the_peak_it_is_sized_for(profile):
    sized = capacity.load_profile(profile)
    peak = sized["peak_transactions_per_second"]
    short = {
        hop: (row.takes, row.covers)
        for hop, row in capacity.capacity_rows(sized).items()
        if row.covers is not None and row.takes < peak[row.covers]
    }
    assert not short, f"{profile}: hops below its {peak} transactions per second: {short}"


def test_an_undersized_profile_is_caught():
    prod = capacity.load_profile("prod")
    undersized = {**prod, "stream_parallelization_factor": {"eventbridge": 2, "direct": 1}}
    direct = capacity.capacity_rows(undersized)["direct: mapping + detect-fraud"]
    assert direct.takes < prod["peak_transactions_per_second"]["sustained"]


def test_the_measured_sizes_are_still_what_the_storage_code_writes(tmp_path):
    measured = capacity.measure(now_ms=NOW_MS, sparkov=tmp_path / "absent.csv.gz")
    sizes = ("transaction_item_bytes", "claim_item_bytes", "recent_item_bytes", "time_bucket_entry_bytes")
    for key in (*sizes, "stream_record_bytes"):
        assert abs(measured[key] - capacity.MEASURED[key]) <= 0.02 * capacity.MEASURED[key], (
            f"{key}: now {measured[key]}, MEASURED says {capacity.MEASURED[key]}: run python -m tools.capacity measure"
        )


def test_both_routings_are_costed_and_batching_the_pipe_is_a_tenth_of_a_request_per_transaction():
    prod = capacity.load_profile("prod")
    eventbridge = {hop: units for hop, _, units in capacity.usage_per_txn(prod, "eventbridge")}
    direct = {hop: units for hop, _, units in capacity.usage_per_txn(prod, "direct")}
    assert eventbridge.keys() == direct.keys()
    assert eventbridge["Pipe: requests (batches of 10, 64 KB each)"] == pytest.approx(0.1)
    assert direct["Pipe: requests (batches of 10, 64 KB each)"] == 0
    assert direct["detect-fraud: requests"] == pytest.approx(0.1)


def test_the_architecture_doc_shows_the_current_tables():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    for table in (capacity.capacity_table(), capacity.cost_table("prod"), capacity.prices_table()):
        assert table in doc, "docs/architecture.md is stale: paste `python -m tools.capacity` into Capacity"
