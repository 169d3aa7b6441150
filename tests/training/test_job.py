"""The Spark feature job computes, for every transaction, exactly the features and rules verdict of the engine's
own replay (``fraud.history`` + ``fraud.features`` + ``fraud.engine``, as the backtest and detect-fraud run them),
whether a user's history is one group or cut into chunks, and joins the label that counts."""

from __future__ import annotations

import math
from typing import Any

from fraud.config import load_config
from fraud.engine import Engine
from fraud.features import FEATURE_NAMES, extract
from fraud.history import InMemoryHistoryStore, Item
from tests.training.conftest import SMALL_HISTORY, FeatureTable, History
from tools.training import labels as label_contract


def reference(history: History, document: str | None) -> dict[str, dict[str, Any]]:
    """Each transaction's features, rules score and reasons by one in-process replay of the whole history."""
    config = load_config(document)
    engine = Engine(config)
    store = InMemoryHistoryStore(config)
    out = {}
    for item in sorted((Item(i) for i in history.items), key=Item.order_key):
        past = store.history_for(item)
        assessment = engine.assess(item, past)
        out[item.transaction_id] = {
            **extract(item, past, config.features),
            "rules_score": assessment.score,
            "rules_reasons": ",".join(assessment.codes),
        }
        store.record(item)
    return out


def same(a: Any, b: Any) -> bool:
    if isinstance(b, float) and math.isnan(b):
        return isinstance(a, float) and math.isnan(a)
    return a == b


def differences(table: FeatureTable, expected: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any, Any]]:
    found = []
    for row in table.frame.to_dict("records"):
        want = expected[row["transaction_id"]]
        for name in (*FEATURE_NAMES, "rules_score", "rules_reasons"):
            got = row[name] if row[name] is not None else None
            if name == "category" and not isinstance(got, str):
                got = None
            if not same(got, want[name]):
                found.append((row["transaction_id"], name, got, want[name]))
    return found


def test_every_feature_of_every_transaction_equals_the_engines_replay(table: FeatureTable, history: History) -> None:
    expected = reference(history, None)
    assert sorted(table.frame["transaction_id"]) == sorted(expected)
    assert differences(table, expected) == []
    assert table.summary["chunked_users"] == 0


def test_a_user_cut_into_chunks_gets_the_same_features_as_one_replay(
    chunked_table: FeatureTable, history: History
) -> None:
    expected = reference(history, SMALL_HISTORY)
    largest = chunked_table.summary["largest_groups"]
    assert largest[0]["transactions"] > 50 and largest[0]["chunks"] >= 2, largest
    assert chunked_table.summary["chunked_users"] > 0
    assert len(chunked_table.frame) == len(history.items)  # context rows are replayed, never written
    assert differences(chunked_table, expected) == []


def test_the_largest_groups_are_reported_largest_first(table: FeatureTable, history: History) -> None:
    counts: dict[str, int] = {}
    for item in history.items:
        counts[item["user_id"]] = counts.get(item["user_id"], 0) + 1
    largest = table.summary["largest_groups"]
    assert [g["transactions"] for g in largest] == sorted(counts.values(), reverse=True)[: len(largest)]
    assert all(counts[g["user_id"]] == g["transactions"] for g in largest)
    assert (table.summary["rows"], table.summary["users"]) == (len(history.items), len(counts))


def test_each_transaction_carries_the_label_that_counts(table: FeatureTable, history: History) -> None:
    effective = label_contract.effective(history.labels)
    rows = table.frame.set_index("transaction_id")
    for transaction_id, label in effective.items():
        row = rows.loc[transaction_id]
        assert (row["label"], row["label_source"], row["label_at"]) == (label["label"], label["source"], label["at"])
    unlabeled = rows[~rows.index.isin(list(effective))]
    assert unlabeled["label"].isna().all() and len(unlabeled) == len(rows) - len(effective)
    # the conflicts of the fixture resolved by the contract: chargebacks outrank analysts, disputes too
    assert {effective[t]["label"] for t in history.fraud} == {"fraud"}
