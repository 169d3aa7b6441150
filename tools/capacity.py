"""Capacity per profile and cost per million transactions, by hop: the tables of docs/architecture.md.

    python -m tools.capacity                      # the tables (markdown), from the inputs below
    python -m tools.capacity measure --logs build/local/logs   # measure the inputs again

The tables are arithmetic on four kinds of input, each written once, here:

- the profiles (``tools/deploy/profiles/*.json``: reservations, memory, shards, parallelization, API throttle);
- ``MEASURED``: sizes and rates measured by ``measure`` (item sizes from the storage code itself on
  simulated traffic, the history a transaction is scored against from the labeled Sparkov data, log bytes
  from a ``make demo ONCE=1`` run, the analysis's CPU time per item);
- ``ESTIMATED``: what only AWS can measure (durations on Lambda, stream shards), with the reasoning;
- ``PRICES`` and ``QUOTAS``: AWS list prices for us-east-1 and default quotas, with where and when they were read.

``tests/tools/test_capacity.py`` fails when docs/architecture.md no longer shows what this prints.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import math
import statistics
import time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tools._cli import LAMBDAS, ROOT, run

PROFILES_DIR = ROOT / "tools" / "deploy" / "profiles"
SPARKOV = ROOT.parent / "shared" / "data" / "sparkov_train_150cards.csv.gz"
PROFILES = ("local", "dev", "staging", "prod")
ROUTINGS = ("eventbridge", "direct")
KB = 1024
STREAM_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/transactions-prod/stream/2026-12-07T00:00:00.000"
STREAM_POLLS_PER_SHARD_S = 4  # GetRecords a second per shard (Lambda's rate for DynamoDB streams)


# --- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Price:
    usd: float  # per unit
    unit: str
    source: str


PRICES_READ = "2026-12-07"  # the day these were read with the search tool (pages stored by then)
PRICES: dict[str, Price] = {
    "api_request": Price(
        3.50e-6,
        "REST API call (first 333 M a month)",
        "aws.amazon.com/api-gateway/pricing; docs.aws.amazon.com/whitepapers"
        " best-practices-api-gateway-private-apis-integration (cost optimization)",
    ),
    "lambda_request": Price(
        0.20e-6, "Lambda request", "aws.amazon.com/lambda/pricing (cloudchipr.com, Lambda pricing 2024)"
    ),
    "lambda_gb_s": Price(
        0.0000133334,
        "GB-second on arm64 (first 7.5 billion a month)",
        "aws.amazon.com/lambda/pricing (cloudchipr.com, Lambda pricing 2024)",
    ),
    "ddb_wru": Price(
        0.625e-6,
        "DynamoDB on-demand write request unit",
        "aws.amazon.com/dynamodb/pricing/on-demand (airbyte.com, July 2025: after the November 2024 cut)",
    ),
    "ddb_rru": Price(
        0.125e-6,
        "DynamoDB on-demand read request unit",
        "aws.amazon.com/dynamodb/pricing/on-demand (airbyte.com, July 2025)",
    ),
    "streams_read": Price(
        0.02e-5,
        "DynamoDB Streams GetRecords call (free for Lambda; first 2.5 M a month free)",
        "docs.aws.amazon.com/amazondynamodb CostOptimization_StreamsUsage",
    ),
    "pipes_request": Price(
        0.40e-6,
        "Pipes request: 64 KB of payload, after filtering",
        "aws.amazon.com/eventbridge/pricing (cloudburn.io, March 2026)",
    ),
    "custom_event": Price(
        1.00e-6,
        "custom event put on a bus (per 64 KB entry)",
        "aws.amazon.com/eventbridge/pricing (cloudburn.io, March 2026)",
    ),
    "sqs_request": Price(
        0.40e-6, "SQS standard request (per 64 KB)", "aws.amazon.com/sqs/pricing (cloudburn.io, March 2026)"
    ),
    "sns_publish": Price(
        0.50e-6,
        "SNS standard publish (deliveries to SQS free)",
        "aws.amazon.com/sns/pricing (factualminds.com, June 2026)",
    ),
    "sns_email": Price(2.00e-5, "SNS e-mail delivery", "aws.amazon.com/sns/pricing (factualminds.com, June 2026)"),
    "kms_request": Price(0.03e-4, "KMS request", "aws.amazon.com/kms/pricing"),
    "log_gb": Price(
        0.50, "CloudWatch Logs GB ingested (standard class)", "aws.amazon.com/cloudwatch/pricing (c3x.dev, June 2026)"
    ),
    "xray_trace": Price(5.00e-6, "X-Ray trace recorded (first 100,000 a month free)", "aws.amazon.com/xray/pricing"),
}

QUOTAS = {  # default quotas, us-east-1, per account and region (docs.aws.amazon.com, read PRICES_READ)
    "api_account_rps": 10_000,  # API Gateway throttle, steady state (burst 5,000)
    "lambda_account_concurrency": 1_000,
    "ddb_partition_wru": 1_000,  # per partition (and per partition key value) each second
    "ddb_table_wru": 40_000,  # on-demand maximum per table (adjustable)
    "put_events_tps": 10_000,  # PutEvents per account (EventBridge quotas, eb-quota)
    "rule_invocations_tps": 18_750,  # rule target invocations per account
    "sns_publish_tps": 30_000,  # SNS Publish, us-east-1
}

# Measured by `python -m tools.capacity measure --logs build/local/logs` (the logs of `make demo ONCE=1`,
# 218 transactions, eventbridge routing) on 2026-12-07; bytes as DynamoDB counts an item's size.
MEASURED = {
    "transaction_item_bytes": 374,  # mean stored transaction item (simulated traffic, storage code)
    "claim_item_bytes": 147,
    "recent_item_bytes": 302,  # a transaction's entry in its user's recent activity
    "time_bucket_entry_bytes": 233,  # its time-bucket index entry (projection and keys)
    "stream_record_bytes": 1195,  # a stream record as JSON, as the Pipe and the mapping carry it
    "analysis_us_per_item": 25.4,  # CPU to deserialize and analyse one index item (this machine: 13-30 in 3 runs)
    "history_items_mean": 110.0,  # items a history Query reads: the card's 30 days (Sparkov, cap 500)
    "history_rru_mean": 5.27,  # its read units (eventually consistent, 4 KB units of the items read)
    "log_bytes_process": 948,  # CloudWatch Logs bytes per request, process-transaction
    "log_bytes_detect": 1211,  # per transaction, detect-fraud (one event each)
    "log_bytes_notify_per_alert": 857,
}

ESTIMATED = {
    # Durations on Lambda (arm64), warm, from the calls each makes in-region (DynamoDB 3-10 ms a call):
    "process_s": 0.025,  # validation, one TransactWriteItems
    "detect_record_s": 0.030,  # two Queries, scoring (0.05 ms CPU here), the decision's put, SQS when suspicious
    "detect_invoke_s": 0.005,  # a detect-fraud invocation's own overhead (the batch's records share it)
    "notify_alert_s": 0.040,  # idempotency (put + update), SNS Publish
    "pipe_batch_s": 0.050,  # a Pipe batch: GetRecords share, filter, one PutEvents of up to 10 entries
    "alert_share": 0.01,  # transactions alerted (the demo's traffic is 8 % fraud: not production's)
    "xray_traces_per_txn": 0.10,  # default sampling (1 a second + 5 %): the API's trace and detect-fraud's
    "api_log_bytes": 1500,  # API Gateway: the JSON access log line (~450 B) and INFO execution logs
    "analysis_reads_per_txn": 2,  # windows of 10 minutes every 5 minutes: each item is read twice
    "lambda_cpu_factor": 2.0,  # Lambda's arm64 share at 1 GB (~0.6 vCPU) against this machine's core
    "writes_per_txn_table": 6,  # transaction, claim, per-user activity: three transactional writes of 2 units
}


# --- item sizes (DynamoDB's rules: docs.aws.amazon.com/amazondynamodb CapacityUnitCalculations) ---


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one typed attribute value: strings and binaries by length, a number 1 byte per two
    significant digits plus 1, booleans and nulls 1, lists and maps 3 plus 1 per element and their content."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode("utf-8"))
    if kind == "N":
        digits = content.lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(base64.b64decode(content)) if isinstance(content, str) else len(content)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in content)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in content.items())
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in content)
    if kind == "NS":
        return sum(value_size({"N": n}) for n in content)
    raise ValueError(f"unknown DynamoDB type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes of a typed item: attribute names (UTF-8) and values."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def write_units(size: float, transactional: bool = False) -> int:
    return math.ceil(size / KB) * (2 if transactional else 1)


# --- the tables -------------------------------------------------------------------------------------


def load_profile(name: str) -> dict[str, Any]:
    return json.loads((PROFILES_DIR / f"{name}.json").read_text())["variables"]


def function_memory_gb(profile: Mapping[str, Any], key: str) -> float:
    catalog = json.loads((LAMBDAS / "functions.json").read_text())
    return float(profile.get("functions", {}).get(key, {}).get("memory_mb") or catalog[key]["memory_mb"]) / 1024


def usage_per_txn(profile: Mapping[str, Any], routing: str) -> list[tuple[str, str, float]]:
    """(hop, price key, units per transaction) for one routing, at the profile's sustained peak."""
    m, e, a = MEASURED, ESTIMATED, ESTIMATED["alert_share"]
    pipe, batch = routing == "eventbridge", 10
    sustained = profile["peak_transactions_per_second"]["sustained"]
    writes = sum(
        write_units(m[key], True) for key in ("claim_item_bytes", "transaction_item_bytes", "recent_item_bytes")
    )
    index_writes = write_units(m["transaction_item_bytes"]) + write_units(m["time_bucket_entry_bytes"])
    detect_s = e["detect_record_s"] + e["detect_invoke_s"] / (1 if pipe else batch)
    analysis_s = m["analysis_us_per_item"] * 1e-6 * e["lambda_cpu_factor"] * e["analysis_reads_per_txn"]
    log_bytes = m["log_bytes_process"] + m["log_bytes_detect"] + e["api_log_bytes"]
    log_bytes += a * m["log_bytes_notify_per_alert"]
    pipe_requests = math.ceil(batch * m["stream_record_bytes"] / (64 * KB)) / batch
    stream_reads = stream_shards(sustained) * STREAM_POLLS_PER_SHARD_S / sustained

    def gb(key: str) -> float:
        return function_memory_gb(profile, key)

    return [
        ("API Gateway (REST)", "api_request", 1),
        ("process-transaction: requests", "lambda_request", 1),
        ("process-transaction: GB-s", "lambda_gb_s", gb("process-transaction") * e["process_s"]),
        ("table: TransactWriteItems (claim, transaction, per-user activity)", "ddb_wru", writes),
        ("table: user and time-bucket indexes", "ddb_wru", index_writes),
        ("stream: GetRecords by the Pipe (Lambda's are free)", "streams_read", stream_reads if pipe else 0.0),
        ("Pipe: requests (batches of 10, 64 KB each)", "pipes_request", pipe_requests if pipe else 0.0),
        ("bus: PutEvents entries (custom events)", "custom_event", 1.0 if pipe else 0.0),
        ("detect-fraud: requests", "lambda_request", 1.0 if pipe else 1 / batch),
        ("detect-fraud: GB-s", "lambda_gb_s", gb("detect-fraud") * detect_s),
        ("detect-fraud: history Query + per-user activity Query", "ddb_rru", m["history_rru_mean"] + 1),
        ("detect-fraud: decision record (one conditional put)", "ddb_wru", 1),
        ("detect-fraud: decision read before an alert", "ddb_rru", a),
        ("alerts: SQS send, receive, delete", "sqs_request", 3 * a),
        ("alerts: idempotency records (detect-fraud, notify-team)", "ddb_wru", 4 * a),
        ("notify-team: requests", "lambda_request", a),
        ("notify-team: GB-s", "lambda_gb_s", a * gb("notify-team") * e["notify_alert_s"]),
        ("SNS: publish", "sns_publish", a),
        ("SNS: e-mail to the fraud team", "sns_email", a),
        (
            "analyze-patterns: index reads",
            "ddb_rru",
            e["analysis_reads_per_txn"] * m["time_bucket_entry_bytes"] / (8 * KB),
        ),
        ("analyze-patterns: GB-s", "lambda_gb_s", gb("analyze-patterns") * analysis_s),
        ("KMS: data keys cached by each service", "kms_request", 0.0),
        ("CloudWatch Logs: API, process, detect, notify", "log_gb", log_bytes / 1e9),
        ("X-Ray: traces recorded", "xray_trace", e["xray_traces_per_txn"]),
    ]


def cost_table(profile_name: str = "prod") -> str:
    """Units per transaction and dollars per million transactions, by hop, for both routings."""
    profile = load_profile(profile_name)
    rows = {routing: usage_per_txn(profile, routing) for routing in ROUTINGS}
    lines = [
        f"| hop ({profile_name}) | USD | eventbridge: units | $ / million | direct: units | $ / million |",
        "|---|---|---|---|---|---|",
    ]
    totals = dict.fromkeys(ROUTINGS, 0.0)
    for index, (hop, key, _) in enumerate(rows["eventbridge"]):
        price = PRICES[key]
        cells = []
        for routing in ROUTINGS:
            units = rows[routing][index][2]
            totals[routing] += units * price.usd * 1e6
            cells += [_number(units), f"{units * price.usd * 1e6:.3f}"]
        lines.append(f"| {hop} | {_price(price)} | {' | '.join(cells)} |")
    lines.append(f"| **total** | | | **{totals['eventbridge']:.2f}** | | **{totals['direct']:.2f}** |")
    return "\n".join(lines)


def stream_shards(tps: float) -> int:
    """Stream shards follow the table's partitions: at least 4, one per 1,000 write units a second."""
    return max(4, math.ceil(tps * ESTIMATED["writes_per_txn_table"] / QUOTAS["ddb_partition_wru"]))


@dataclass(frozen=True)
class Hop:
    limit: str  # what limits it
    shown: str  # what the table shows
    takes: float  # transactions per second it takes
    covers: str | None  # the peak it must take: "burst" (intake), "sustained" (behind the stream), None


def capacity_rows(p: Mapping[str, Any]) -> dict[str, Hop]:
    """Each hop of one profile: what limits it and the transactions per second it takes."""
    e, q = ESTIMATED, QUOTAS
    peak, pf = p["peak_transactions_per_second"], p["stream_parallelization_factor"]
    rate, burst = p.get("api_throttle_rate_limit", 1000), p.get("api_throttle_burst_limit", 1000)
    shards, stream = p["time_bucket_shards"], stream_shards(peak["sustained"])
    event_s = e["detect_record_s"] + e["detect_invoke_s"]
    batch_s = 10 * e["detect_record_s"] + e["detect_invoke_s"]
    item_s = MEASURED["analysis_us_per_item"] * 1e-6 * e["lambda_cpu_factor"]

    def reserved(key: str) -> int:
        return int(p.get("functions", {}).get(key, {}).get("reserved_concurrency") or q["lambda_account_concurrency"])

    def hop(limit: str, takes: float, covers: str | None, shown: str | None = None) -> Hop:
        return Hop(limit, shown if shown is not None else f"{takes:,.0f}", takes, covers)

    pipe = stream * pf["eventbridge"] * 10 / e["pipe_batch_s"]
    mapped = min(stream * pf["direct"], reserved("detect-fraud")) * 10 / batch_s
    alerts = min(reserved("notify-team") / e["notify_alert_s"], q["sns_publish_tps"])
    return {
        "sized for: sustained / burst": hop(
            "`peak_transactions_per_second`", 0, None, f"{peak['sustained']:,} / {peak['burst']:,}"
        ),
        "API Gateway: rate": hop("stage and usage-plan throttle (account: 10,000)", rate, "sustained"),
        "API Gateway: burst": hop("stage and usage-plan throttle (account: 5,000)", burst, "burst"),
        "process-transaction": hop(
            f"reserved concurrency (unreserved: the account's 1,000, shared) / {e['process_s'] * 1000:.0f} ms",
            reserved("process-transaction") / e["process_s"],
            "burst",
        ),
        "table writes": hop(
            f"{q['ddb_table_wru']:,} WRU/s a table (on-demand maximum) / 6 a transaction",
            q["ddb_table_wru"] / 6,
            "burst",
        ),
        "time-bucket index": hop(
            "shards x 500 writes/s (1,000 a key is DynamoDB's limit)",
            shards * 500,
            "burst",
            f"{shards} x 500 = {shards * 500:,}",
        ),
        "stream shards (at the sustained peak)": hop(
            "a table partition each (1,000 WRU/s), at least 4", 0, None, str(stream)
        ),
        "eventbridge: Pipe": hop(
            f"shards x factor x 10 records / {e['pipe_batch_s'] * 1000:.0f} ms a batch",
            pipe,
            "sustained",
            f"{stream} x {pf['eventbridge']}: {pipe:,.0f}",
        ),
        "eventbridge: bus": hop(
            "PutEvents 10,000/s, rule invocations 18,750/s (account)", q["put_events_tps"], "sustained"
        ),
        "eventbridge: detect-fraud": hop(
            f"reserved concurrency / {event_s * 1000:.0f} ms an event", reserved("detect-fraud") / event_s, "sustained"
        ),
        "direct: mapping + detect-fraud": hop(
            f"min(shards x factor, reserved) x 10 / {batch_s * 1000:.0f} ms a batch",
            mapped,
            "sustained",
            f"{stream} x {pf['direct']}: {mapped:,.0f}",
        ),
        "alerts/s: SQS, notify-team, SNS": hop(
            f"notify-team reserved / {e['notify_alert_s'] * 1000:.0f} ms; SNS 30,000 publishes/s; SQS unbounded",
            alerts / e["alert_share"],
            "sustained",
            f"{alerts:,.0f}",
        ),
        "analyze-patterns": hop(
            f"a 10-minute window in its 300 s timeout at {item_s * 1e6:.0f} us an item", 300 / item_s / 600, "sustained"
        ),
    }


def capacity_table() -> str:
    """Transactions per second each hop takes, per profile, and what limits it."""
    rows = {name: capacity_rows(load_profile(name)) for name in PROFILES}
    lines = ["| hop | limit | " + " | ".join(PROFILES) + " |", "|---|---|" + "---|" * len(PROFILES)]
    for hop, first in rows[PROFILES[0]].items():
        lines.append(f"| {hop} | {first.limit} | " + " | ".join(rows[name][hop].shown for name in PROFILES) + " |")
    return "\n".join(lines)


def prices_table() -> str:
    lines = [f"| price | USD | where (read {PRICES_READ}) |", "|---|---|---|"]
    lines += [f"| {p.unit} | {_price(p)} | {p.source} |" for p in PRICES.values()]
    return "\n".join(lines)


def tables() -> str:
    return "\n\n".join([capacity_table(), cost_table("prod"), prices_table()])


def _price(price: Price) -> str:
    return f"{price.usd * 1e6:.4g} per million" if price.usd < 0.01 else f"{price.usd:.4g}"


def _number(value: float) -> str:
    return f"{value:.4g}" if value else "0"


# --- measuring the inputs ---------------------------------------------------------------------------


def measure(
    *, now_ms: int, transactions: int = 2000, logs: Path | None = None, sparkov: Path = SPARKOV
) -> dict[str, float]:
    """The MEASURED values: item sizes from the storage code on simulated traffic, history from the
    Sparkov data (when present), the analysis's CPU per item, and log bytes from a demo's logs."""
    import sys

    if str(LAMBDAS) not in sys.path:
        sys.path.insert(0, str(LAMBDAS))
    from fraud.config import load_config
    from fraud.patterns import PatternAnalyzer
    from fraud.storage import TransactionStore, deserialize_item
    from fraud.validation import body_hash, validate_transaction
    from tools.detection import simulate

    class Collector:
        def __init__(self) -> None:
            self.items: list[dict[str, Any]] = []

        def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3)
            self.items.extend(entry["Put"]["Item"] for entry in TransactItems)
            return {}

    collector = Collector()
    store = TransactionStore(collector, "transactions", time_bucket_shards=8)
    for txn in simulate.generate(
        n_users=200, days=10, seed=7, fraud_rate=0.0, end_ms=now_ms, n_transactions=transactions
    ):
        body = simulate.api_body(txn)
        valid = validate_transaction(json.dumps(body), now_ms=now_ms)
        store.put_transaction(valid, body_hash=body_hash(valid), received_at=int(txn["timestamp"]))
    stored = [i for i in collector.items if i["kind"]["S"] == "transaction"]
    claims = [i for i in collector.items if i["kind"]["S"] == "claim"]
    recent = [i for i in collector.items if i["kind"]["S"] not in ("claim", "transaction")]
    projected = (
        "amount",
        "card_id",
        "country",
        "currency",
        "device_id",
        "ip_address",
        "merchant_category",
        "merchant_id",
        "user_id",
    )
    keys = ("transaction_id", "timestamp", "time_bucket", "received_at")
    entries = [{k: v for k, v in i.items() if k in projected + keys} for i in stored]
    records = [_stream_record(i) for i in stored]
    item_bytes = statistics.fmean(item_size(i) for i in stored)
    result: dict[str, float] = {
        "transaction_item_bytes": round(item_bytes),
        "claim_item_bytes": round(statistics.fmean(item_size(i) for i in claims)),
        "recent_item_bytes": round(statistics.fmean(item_size(i) for i in recent)),
        "time_bucket_entry_bytes": round(statistics.fmean(item_size(i) for i in entries)),
        "stream_record_bytes": round(statistics.fmean(len(json.dumps(r)) for r in records)),
    }
    analyzer = PatternAnalyzer(load_config())
    started = time.process_time()
    for entry in entries * 5:
        analyzer.add(deserialize_item(entry))
    result["analysis_us_per_item"] = round((time.process_time() - started) / (5 * len(entries)) * 1e6, 1)
    if sparkov.exists():
        counts = list(_history_counts(sparkov))
        result["history_items_mean"] = round(statistics.fmean(counts), 1)
        result["history_rru_mean"] = round(
            statistics.fmean(math.ceil(n * item_bytes / (4 * KB)) * 0.5 for n in counts), 2
        )
    if logs is not None:
        result.update(_log_bytes(logs))
    return result


def _stream_record(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB stream INSERT record of ``item`` as Lambda and Pipes deliver it (JSON-ready)."""
    return {
        "eventID": "c4ca4238a0b923820dcc509a6f75849b",
        "eventName": "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1796610284,
            "Keys": {"transaction_id": item["transaction_id"], "timestamp": item["timestamp"]},
            "NewImage": item,
            "SequenceNumber": "4421584500000000017450439091",
            "SizeBytes": item_size(item),
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
        "eventSourceARN": STREAM_ARN,
    }


def _history_counts(path: Path, window_ms: int = 30 * 86_400_000, cap: int = 500) -> Iterator[int]:
    """For each transaction, the items its history Query reads: the card's transactions in the 30 days
    up to it (itself included, the engine skips it), at most ``cap``."""
    from tools.detection.readers import read_sparkov

    times: dict[str, list[int]] = defaultdict(list)
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for labeled in read_sparkov(handle, path):
            times[labeled.transaction["user_id"]].append(int(labeled.transaction["timestamp"]))
    for stamps in times.values():
        stamps.sort()
        first = 0
        for index, stamp in enumerate(stamps):
            while stamps[first] < stamp - window_ms:
                first += 1
            yield min(index - first + 1, cap)


def _log_bytes(logs: Path) -> dict[str, float]:
    """Bytes each function logged per unit of work, from a demo's function logs (build/<suffix>/logs)."""
    found: dict[str, float] = {}
    for key, name in (("log_bytes_process", "process-transaction"), ("log_bytes_detect", "detect-fraud")):
        [path] = logs.glob(f"{name}*.log")
        text = path.read_text()
        found[key] = round(len(text.encode()) / max(1, text.count("\nSTART ") + text.startswith("START ")))
    [path] = logs.glob("notify-team*.log")
    text = path.read_text()
    published = sum(
        len(json.loads(line).get("Published", [])) for line in text.splitlines() if line.startswith('{"_aws"')
    )
    found["log_bytes_notify_per_alert"] = round(len(text.encode()) / max(1, published))
    return found


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.capacity", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", choices=("tables", "measure"), default="tables")
    parser.add_argument("--logs", type=Path, help="measure: a demo's function logs (build/local/logs)")
    parser.add_argument("--transactions", type=int, default=2000, help="measure: simulated transactions to size")
    args = parser.parse_args(argv)
    if args.command == "measure":
        print(
            json.dumps(
                measure(now_ms=int(time.time() * 1000), transactions=args.transactions, logs=args.logs), indent=2
            )
        )
    else:
        print(tables())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
