"""Shared inputs of the training-at-scale tests: a Spark session in local mode, a simulated history written as a
DynamoDB export, and the feature tables the job makes of it.

Spark needs Java: without it these tests skip with the reason on a user's machine and fail in CI
(``tests.conftest.require``).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require
from tools.training import layout, synthetic

END_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z: the simulated history ends here
DAY_MS = 86_400_000


@dataclass
class History:
    """A simulated history, as the table holds it, exported to ``export`` with ``labels`` beside it."""

    export: Path
    items: list[dict[str, Any]]
    fraud: set[str]
    labels: list[dict[str, Any]]


def conflicting_labels(items: list[dict[str, Any]], fraud: set[str]) -> list[dict[str, Any]]:
    """Chargebacks for every fraud, plus labels that disagree: an analyst calling some of the charged-back
    transactions legitimate (the chargeback outranks it), two analysts changing their mind about a legitimate one
    (the newest counts), a dispute overruling an analyst."""
    ordered = sorted(items, key=lambda i: i["transaction_id"])
    labels = list(synthetic.chargebacks((i, i["transaction_id"] in fraud) for i in ordered))
    frauds = [i for i in ordered if i["transaction_id"] in fraud]
    legit = [i for i in ordered if i["transaction_id"] not in fraud]

    def label(item: dict, value: str, source: str, at: int, by: str) -> dict:
        return {"transaction_id": item["transaction_id"], "label": value, "source": source, "by": by, "at": at}

    for item in frauds[::7]:
        labels.append(label(item, "legitimate", "analyst", item["timestamp"] + 99 * DAY_MS, "analyst-1"))
    for item in legit[::97]:
        labels.append(label(item, "fraud", "analyst", item["timestamp"] + DAY_MS, "analyst-1"))
        labels.append(label(item, "legitimate", "analyst", item["timestamp"] + 2 * DAY_MS, "analyst-2"))
    for item in legit[5::131]:
        labels.append(label(item, "fraud", "analyst", item["timestamp"] + DAY_MS, "analyst-3"))
        labels.append(label(item, "legitimate", "dispute", item["timestamp"] + DAY_MS, "dispute-file"))
    return labels


@pytest.fixture(scope="session")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    """180 simulated users over 24 days (about 9,000 transactions, 4 % fraud), exported."""
    pairs = list(synthetic.stored_items(180, 24, seed=5, fraud_rate=0.04, end_ms=END_MS, shard_users=90))
    items = [item for item, _ in pairs]
    fraud = {item["transaction_id"] for item, is_fraud in pairs if is_fraud}
    labels = conflicting_labels(items, fraud)
    export = tmp_path_factory.mktemp("exports") / layout.export_name(END_MS, "full")
    layout.write_export(export, items, export_time_ms=END_MS, items_per_file=1500, labels=labels)
    return History(export, items, fraud, labels)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from tools.training.features import java_missing, spark_session

    missing = java_missing()
    require(missing is None, str(missing))
    require(importlib.util.find_spec("pyspark") is not None, "pyspark is missing: install the spark extra (make venv)")
    session = spark_session("local[2]", shuffle_partitions=4, driver_memory="2g")
    yield session
    session.stop()


@dataclass
class FeatureTable:
    path: Path
    summary: dict[str, Any]
    frame: Any  # pandas, in time order


def make_table(spark: Any, history: History, out: Path, rules: str | None, chunk_rows: int) -> FeatureTable:
    from tools.training import features, fit

    summary = features.run_local(
        [history.export], out, rules_document=rules, chunk_rows=chunk_rows, master="local[2]", spark=spark
    )
    return FeatureTable(out, summary, fit.read_table(out).frame)


@pytest.fixture(scope="session")
def table(spark: Any, history: History, tmp_path_factory: pytest.TempPathFactory) -> FeatureTable:
    """The feature table of ``history`` with the default rules document (no user over a chunk)."""
    return make_table(spark, history, tmp_path_factory.mktemp("features") / history.export.name, None, 100_000)


SMALL_HISTORY = json.dumps({"history": {"window_days": 30, "max_items": 20}})


@pytest.fixture(scope="session")
def chunked_table(spark: Any, history: History, tmp_path_factory: pytest.TempPathFactory) -> FeatureTable:
    """The same history with ``history.max_items`` 20 and chunks of 50 rows: most users are cut into chunks."""
    return make_table(spark, history, tmp_path_factory.mktemp("chunked") / history.export.name, SMALL_HISTORY, 50)
