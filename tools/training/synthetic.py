"""A simulated history as the table would hold it, and its ground truth as labels: for the local path, the tests
and the benchmark.

``stored_items`` runs ``tools.detection.simulate.generate`` in shards of users (each shard its own seed, its user
ids prefixed with the shard, so a history of millions is generated without holding it all) and adds what
process-transaction stores beside a transaction (``kind``, ``received_at``); ``chargebacks`` turns the
simulator's ``is_fraud`` into labels of source ``chargeback`` (the processor's outcome for each fraudulent
transaction, decided ``CHARGEBACK_DELAY_MS`` after it). Same arguments, same items.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from tools.detection.simulate import LABELS as SIMULATOR_ONLY
from tools.detection.simulate import generate

CHARGEBACK_DELAY_MS = 30 * 86_400_000
RECEIVED_AFTER_MS = 150  # the API answers within a few hundred milliseconds of the client's timestamp


def stored_items(
    users: int, days: float, *, seed: int, fraud_rate: float, end_ms: int, shard_users: int = 1000
) -> Iterator[tuple[dict[str, Any], bool]]:
    """(stored item, is_fraud) of ``users`` simulated users over the ``days`` before ``end_ms``, shard by shard
    (time order within a shard only: an export has no order either)."""
    for shard, first in enumerate(range(0, users, shard_users)):
        count = min(shard_users, users - first)
        for txn in generate(count, days, seed=seed * 100_003 + shard, fraud_rate=fraud_rate, end_ms=end_ms):
            is_fraud = bool(txn["is_fraud"])
            item = {key: value for key, value in txn.items() if key not in SIMULATOR_ONLY}
            if users > shard_users:
                item["user_id"] = f"s{shard}-{item['user_id']}"
            item["kind"] = "transaction"
            item["received_at"] = item["timestamp"] + RECEIVED_AFTER_MS
            yield item, is_fraud


def chargebacks(truth: Iterable[tuple[Mapping[str, Any], bool]], by: str = "simulator") -> Iterator[dict[str, Any]]:
    """A ``chargeback`` label of ``fraud`` for every fraudulent transaction of ``truth`` ((transaction, is_fraud)
    pairs); legitimate ones get no label (the label policy treats them as legitimate once mature)."""
    for txn, is_fraud in truth:
        if is_fraud:
            yield {
                "transaction_id": txn["transaction_id"],
                "label": "fraud",
                "source": "chargeback",
                "by": by,
                "at": int(txn["timestamp"]) + CHARGEBACK_DELAY_MS,
            }
