"""The one benchmark entry point (``make bench``), in sections.

    python -m tools.bench                      # the default sections: imports, engine
    python -m tools.bench emulator             # the local cloud (see tools/emulator/bench.py)
    python -m tools.bench all --json           # every section, one JSON object

Sections (``SECTIONS``; to add one: a ``run(args) -> dict`` and a ``report(dict) -> str``, optionally
an ``add_arguments(parser)``, and one ``Section`` line):

- ``imports``: ``python -X importtime -c "import <module>"`` in a fresh interpreter with ``lambdas/``
  on PYTHONPATH; the cumulative time of the module's top-level import line, best of ``--repeat`` runs.
- ``engine``: a seeded synthetic stream scored through ``InMemoryHistoryStore`` + ``Engine.assess``
  (with ``record`` after each, as the backtest does), transactions per CPU second (one core;
  wall-clock rate too, which drops when the machine is busy).
- ``card-numbers``: the card-number detector where it runs: per request (``validate_transaction`` of
  seeded typical bodies with UUID, prefixed and hex ids, and the detector alone over the body's keys
  and strings) and per log line (``handler_kit.ScrubbingFormatter`` on a typical "Transaction scored"
  record, and the detector alone over the line's strings), CPU time, best of ``--card-rounds``
  interleaved passes; with same-run ratios to ``json.loads`` of the body and to Powertools' own
  formatter without the scrubbing.
- ``emulator``: the local cloud end to end, per stream routing and table size, with the per-hop
  breakdown (``tools.emulator.bench``; takes minutes, so only when asked for).
- ``peer``: the local cloud and MiniStack (a peer emulator, in a virtualenv of its own under ``build/peer/``) take
  turns with the same deployment and traffic; end-to-end throughput, POST-to-alert latency and CPU per transaction
  as same-run ratios (``tools.emulator.peer``; takes minutes, so only when asked for).
- ``training``: the Spark feature job in ``local[2]`` over a generated history (5 million transactions by
  default) against today's single process, with memory peaks and the EMR Serverless projection
  (``tools.training.bench``; long, so only when asked for).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

from tools._cli import LAMBDAS, ROOT, function_modules, run

HANDLERS = tuple(function_modules().values())
CATEGORIES = (
    "grocery_pos",
    "gas_transport",
    "shopping_net",
    "shopping_pos",
    "food_dining",
    "misc_net",
    "entertainment",
    "health_fitness",
    "home",
    "kids_pets",
    "personal_care",
    "travel",
)
COUNTRIES = ("US", "US", "US", "US", "CA", "GB", "FR", "DE", "MX")


class _Habits(TypedDict):
    """One synthetic user's habits (``synthetic_stream``)."""

    user_id: str
    scale: float
    categories: list[str]
    country: str
    devices: list[str]
    home: tuple[float, float]
    hours: list[int]


def import_time_ms(module: str, repeat: int = 3) -> float:
    """Best cumulative import time of ``module`` in a fresh interpreter, in milliseconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(LAMBDAS), os.environ.get("PYTHONPATH")]))}
    best = math.inf
    for _ in range(repeat):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
            raise RuntimeError(f"import {module} failed: {tail[0]}")
        for line in proc.stderr.splitlines():
            # "import time: self [us] | cumulative | imported package"; the top level has no indent
            parts = line.split("|")
            if len(parts) == 3 and parts[2].rstrip() == f" {module}":
                best = min(best, int(parts[1]) / 1000)
    if best == math.inf:
        raise RuntimeError(f"no importtime line for {module}")
    return best


# --- cold start -------------------------------------------------------------------------------

# One fresh interpreter per handler: import it, serve two requests, print the three times (ms).
_COLD_START_CHILD = r"""
import json, sys, time
started = time.perf_counter()
module = __import__(sys.argv[1])
imported = time.perf_counter()
events = json.loads(sys.stdin.read())

class Context:
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "00000000-0000-0000-0000-000000000000"
    def get_remaining_time_in_millis(self):
        return 60_000

times = []
for event in events:
    begin = time.perf_counter()
    module.handler(event, Context())
    times.append((time.perf_counter() - begin) * 1000)
print(json.dumps({"import_ms": (imported - started) * 1000, "first_ms": times[0], "second_ms": times[1]}))
"""


def _cold_start_events(now_ms: int) -> dict[str, list[dict]]:
    """Two requests per handler (different ids, so the second does the same work as the first)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    run = uuid.uuid4().hex  # ids unique to this run, without long runs of digits

    def transaction(i: int) -> dict:
        return {
            "transaction_id": f"bench-{run}-{i}",
            "user_id": "bench-user",
            "amount": 912,
            "currency": "USD",
            "merchant_id": "m-1",
            "merchant_category": "shopping_net",
            "timestamp": now_ms - 60_000 + i,
            "card_id": "tok_bench",
            "country": "US",
        }

    def stream_event(i: int) -> dict:
        image = {**transaction(100 + i), "kind": "transaction", "received_at": now_ms}
        return {
            "source": "fraud.transactions",
            "detail-type": "TransactionInserted",
            "id": f"bench-{i}",
            "detail": {
                "eventID": f"bench-{i}",
                "eventName": "INSERT",
                "dynamodb": {"NewImage": {k: serializer.serialize(v) for k, v in image.items()}},
            },
        }

    def alert(i: int) -> dict:
        body = {
            "alert_id": f"txn-bench-{run}-{i}",
            "kind": "transaction",
            "created_at": now_ms,
            "environment": "bench",
            "score": 87,
            "decision": "alert",
            "reasons": [{"code": "HIGH_AMOUNT", "score": 30, "explanation": "high"}],
            "transaction": {"transaction_id": "t", "user_id": "u", "amount": "912.00", "currency": "USD"},
        }
        return {"Records": [{"messageId": f"m-{i}", "receiptHandle": "r", "body": json.dumps(body), "attributes": {}}]}

    def schedule(i: int) -> dict:
        minute = (now_ms // 60_000 - 5 * i) * 60
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(minute))
        return {"id": f"bench-{i}", "detail-type": "Scheduled Event", "source": "aws.events", "time": when}

    return {
        "process_transaction": [{"body": json.dumps(transaction(i)), "isBase64Encoded": False} for i in (0, 1)],
        "detect_fraud": [stream_event(i) for i in (0, 1)],
        "notify_team": [alert(i) for i in (0, 1)],
        "analyze_patterns": [schedule(i) for i in (1, 2)],
    }


def _cold_start_resources(endpoint: str) -> dict[str, str]:
    """What the four handlers use, in the moto server at ``endpoint``; returns their environment."""
    import boto3

    def client(service: str):
        return boto3.client(
            service, endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )

    dynamodb, sqs, sns, ssm = client("dynamodb"), client("sqs"), client("sns"), client("ssm")
    key = {"AttributeName": "transaction_id", "KeyType": "HASH"}
    dynamodb.create_table(
        TableName="transactions-bench",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": kind}
            for name, kind in (
                ("transaction_id", "S"),
                ("timestamp", "N"),
                ("user_id", "S"),
                ("time_bucket", "S"),
                ("received_at", "N"),
            )
        ],
        KeySchema=[key, {"AttributeName": "timestamp", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": hash_key, "KeyType": "HASH"},
                    {"AttributeName": rng, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, hash_key, rng in (
                ("user_id-timestamp-index", "user_id", "timestamp"),
                ("time_bucket-received_at-index", "time_bucket", "received_at"),
            )
        ],
    )
    dynamodb.create_table(
        TableName="fraud-state-bench",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    rules = (LAMBDAS / "fraud" / "rules.default.json").read_text()
    ssm.put_parameter(Name="/bench/rules", Type="String", Value=rules)
    ssm.put_parameter(Name="/bench/hash-key", Type="SecureString", Value="bench-" + "k" * 40)
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "t",
        "AWS_SECRET_ACCESS_KEY": "t",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_SERVICE_NAME": "fraud-detection",
        "POWERTOOLS_METRICS_NAMESPACE": "FraudDetection",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "ENVIRONMENT": "bench",
        "TABLE_NAME": "transactions-bench",
        "STATE_TABLE_NAME": "fraud-state-bench",
        "ALERTS_QUEUE_URL": sqs.create_queue(QueueName="fraud-alerts-bench")["QueueUrl"],
        "TOPIC_ARN": sns.create_topic(Name="fraud-notifications-bench")["TopicArn"],
        "RULES_PARAMETER_NAME": "/bench/rules",
        "HASH_KEY_PARAMETER_NAME": "/bench/hash-key",
        "TRANSACTION_RETENTION_DAYS": "30",
    }


def cold_start(repeat: int = 3) -> dict:
    """Each handler's cold start: import time and its ratio to ``import boto3`` (``-X importtime``,
    best of ``repeat`` fresh interpreters, measured in this run), then the first and second request
    in a fresh interpreter against a local moto server (best of ``repeat``). ``first - second`` is
    what the first request pays once: clients, the validator, the rules document, the hash key;
    ``import_and_first_request_ms`` (same interpreter) is the whole cold start but Lambda's own init."""
    from tools.emulator.localaws import LocalAWS

    boto3_ms = import_time_ms("boto3", repeat)
    handlers: dict[str, dict] = {}
    with LocalAWS() as aws:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))},
            **_cold_start_resources(aws.endpoint),
            "PYTHONPATH": str(LAMBDAS),
        }
        for module in HANDLERS:
            import_ms = import_time_ms(module, repeat)
            runs = []
            for _ in range(repeat):
                events = _cold_start_events(int(time.time() * 1000))[module]
                proc = subprocess.run(
                    [sys.executable, "-c", _COLD_START_CHILD, module],
                    input=json.dumps(events),
                    capture_output=True,
                    text=True,
                    env=env,
                    cwd=LAMBDAS,
                    check=False,
                )
                if proc.returncode != 0:
                    tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
                    raise RuntimeError(f"{module}: first request failed: {tail[0]}")
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            first = min(r["first_ms"] for r in runs)
            second = min(r["second_ms"] for r in runs)
            total = min(r["import_ms"] + r["first_ms"] for r in runs)
            handlers[module] = {
                "import_ms": round(import_ms, 1),
                "import_ratio_to_boto3": round(import_ms / boto3_ms, 2),
                "first_request_ms": round(first, 1),
                "second_request_ms": round(second, 1),
                "first_request_once_ms": round(first - second, 1),
                "import_and_first_request_ms": round(total, 1),
            }
    return {"boto3_import_ms": round(boto3_ms, 1), "handlers": handlers}


def synthetic_stream(n: int, users: int = 2_000, seed: int = 7) -> list[dict]:
    """``n`` time-ordered transactions of ``users`` users with per-user habits (and some noise)."""
    rng = random.Random(seed)
    profiles: list[_Habits] = []
    for u in range(users):
        profiles.append(
            {
                "user_id": f"u{u}",
                "scale": math.exp(rng.gauss(3.8, 0.6)),
                "categories": rng.sample(CATEGORIES, 4),
                "country": rng.choice(COUNTRIES),
                "devices": [f"dev-{u}-{i}" for i in range(rng.randint(1, 3))],
                "home": (rng.uniform(25, 48), rng.uniform(-122, -70)),
                "hours": rng.sample(range(24), 10),
            }
        )
    ts = 1_700_000_000_000
    mean_gap_ms = 86_400_000 / (3 * users)  # about 3 transactions per user and day, like card data
    stream = []
    for i in range(n):
        p = profiles[rng.randrange(users)]
        ts += int(rng.expovariate(1 / mean_gap_ms)) + 1
        lat, lon = p["home"]
        stream.append(
            {
                "transaction_id": f"t{i}",
                "user_id": p["user_id"],
                "amount": round(p["scale"] * math.exp(rng.gauss(0, 0.7)), 2) or 0.01,
                "currency": "USD",
                "merchant_id": f"m{rng.randrange(5_000)}",
                "merchant_category": rng.choice(p["categories"]) if rng.random() < 0.9 else rng.choice(CATEGORIES),
                "timestamp": ts,
                "local_hour": rng.choice(p["hours"]),
                "country": p["country"] if rng.random() < 0.98 else rng.choice(COUNTRIES),
                "device_id": rng.choice(p["devices"]) if rng.random() < 0.97 else f"dev-x{i}",
                "location": {"lat": lat + rng.gauss(0, 0.3), "lon": lon + rng.gauss(0, 0.3)},
                "channel": "online",
            }
        )
    return stream


def engine_throughput(n: int = 200_000) -> dict:
    sys.path.insert(0, str(LAMBDAS))
    from fraud.config import load_config
    from fraud.engine import Engine
    from fraud.history import InMemoryHistoryStore, Item

    stream = synthetic_stream(n)
    config = load_config()
    engine = Engine(config)
    store = InMemoryHistoryStore(config)
    decisions = {"allow": 0, "review": 0, "alert": 0}
    started, cpu_started = time.perf_counter(), time.process_time()
    for txn in stream:
        item = Item(txn)  # converted once, used by the store and the engine
        assessment = engine.assess(item, store.history_for(item))
        store.record(item)
        decisions[assessment.decision] += 1
    cpu = time.process_time() - cpu_started
    elapsed = time.perf_counter() - started
    # CPU time is the per-core cost; wall time also counts whatever else the machine is doing.
    return {
        "transactions": n,
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(elapsed, 3),
        "per_second": round(n / cpu),
        "per_wall_second": round(n / elapsed),
        "decisions": decisions,
    }


def imports_section(args: argparse.Namespace) -> dict:
    imports: dict[str, float | None] = {}
    notes = []
    for module in ("fraud", "fraud.validation", "fraud.engine"):
        try:
            imports[module] = import_time_ms(module, args.repeat)
        except RuntimeError as exc:
            imports[module] = None
            notes.append(str(exc))
    return {"import_ms": imports, "notes": notes, "repeat": args.repeat, "cold_start": cold_start(args.repeat)}


def imports_report(result: dict) -> str:
    lines = [f"import time (fresh interpreter, best of {result['repeat']}):"]
    for module, ms in result["import_ms"].items():
        lines.append(f"  {module:22s} {'-' if ms is None else f'{ms:8.1f} ms'}")
    lines.extend(f"  note: {note}" for note in result["notes"])
    cold = result["cold_start"]
    lines.append(f"cold start (import boto3 = {cold['boto3_import_ms']:.1f} ms in this run; target ratio <= 1.5):")
    lines.append(
        f"  {'handler':22s} {'import':>10s} {'ratio':>6s} {'1st request':>12s} {'2nd request':>12s}"
        f" {'once':>9s} {'import+1st':>11s}"
    )
    for module, c in cold["handlers"].items():
        lines.append(
            f"  {module:22s} {c['import_ms']:7.1f} ms {c['import_ratio_to_boto3']:6.2f} "
            f"{c['first_request_ms']:9.1f} ms {c['second_request_ms']:9.1f} ms {c['first_request_once_ms']:6.1f} ms"
            f" {c['import_and_first_request_ms']:8.1f} ms"
        )
    return "\n".join(lines)


def engine_section(args: argparse.Namespace) -> dict:
    return engine_throughput(args.engine_transactions)


def engine_report(throughput: dict) -> str:
    return (
        f"engine: {throughput['transactions']:,} transactions in {throughput['cpu_seconds']} CPU s"
        f" = {throughput['per_second']:,} transactions/s per core"
        f" ({throughput['per_wall_second']:,}/s wall clock); decisions {throughput['decisions']}"
    )


def model_section(args: argparse.Namespace) -> dict:
    from tools.detection.model import benchmark

    return benchmark(data=ROOT.parent / "shared" / "data" / "sparkov_train_150cards.csv.gz")


def model_report(result: dict) -> str:
    lines = [
        f"model {result['model']} ({result['trees']} trees): load {result['load_ms']} ms; per transaction"
        f" vector {result['vector_us']} us, trees {result['raw_score_us']} us, score {result['score_us']} us,"
        f" contributions {result['contributions_us']} us (suspicious ones only)",
        f"  engine with the model {result['engine_model_tx_per_cpu_s']:,} tx per CPU s, rules alone"
        f" {result['engine_rules_tx_per_cpu_s']:,} (cost ratio {result['engine_model_cost_ratio']})",
    ]
    for key, value in result.items():
        if key.startswith("backtest"):
            lines.append(f"  {key}: {value:,}" if isinstance(value, (int, float)) else f"  {key}: {value}")
    return "\n".join(lines)


def _typical_body(rng: random.Random, now_ms: int) -> dict:
    """A transaction as a client sends it, with the identifiers payment systems use."""
    from tools.detection import card_number_rates as ids

    return {
        "transaction_id": ids.uuid4(rng),
        "user_id": rng.choice((ids.uuid4, ids.prefixed_id, ids.hex_id(128)))(rng),
        "amount": round(math.exp(rng.gauss(3.8, 0.6)), 2),
        "currency": "USD",
        "merchant_id": ids.prefixed_id(rng),
        "merchant_category": rng.choice(CATEGORIES),
        "timestamp": now_ms - rng.randrange(60_000),
        "card_id": ids.prefixed_id(rng),
        "country": rng.choice(COUNTRIES),
        "location": {"lat": round(rng.uniform(25, 48), 4), "lon": round(rng.uniform(-122, -70), 4)},
        "device_id": ids.hex_id(256)(rng),
        "ip_address": ids.ipv4(rng),
        "channel": "online",
    }


def _strings(value: object) -> list[str]:
    """Every string of a parsed body, keys included: what validation hands the detector."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in (key, *_strings(item))]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _best_us(works: dict[str, tuple[Callable[[], object], int]], rounds: int) -> dict[str, float]:
    """CPU microseconds per item of each ``name -> (work, items)`` (one call is a pass over ``items``
    items), best of ``rounds``; the works take turns in every round, so a busy spell of the machine
    falls on all of them and their ratios hold."""
    best = dict.fromkeys(works, math.inf)
    for _ in range(rounds):
        for name, (work, _items) in works.items():
            started = time.process_time()
            work()
            best[name] = min(best[name], time.process_time() - started)
    return {name: best[name] / items * 1e6 for name, (_work, items) in works.items()}


def card_numbers_section(args: argparse.Namespace) -> dict:
    import logging

    sys.path.insert(0, str(LAMBDAS))
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
    from handler_kit import ScrubbingFormatter

    from fraud.card_numbers import contains_card_number, scrub
    from fraud.validation import ValidationFailed, validate_transaction
    from tools.detection import card_number_rates as ids

    rng = random.Random(7)
    now_ms = 1_736_942_400_000
    bodies = [json.dumps(_typical_body(rng, now_ms)) for _ in range(args.card_bodies)]
    strings = [_strings(json.loads(body)) for body in bodies]
    refused = 0

    def validate_all() -> None:
        nonlocal refused
        refused = 0
        for body in bodies:
            try:
                validate_transaction(body, now_ms=now_ms)
            except ValidationFailed:
                refused += 1

    def detect_all() -> None:
        for body_strings in strings:
            for text in body_strings:
                contains_card_number(text)

    def parse_all() -> None:
        for body in bodies:
            json.loads(body)

    records = []
    for body in bodies[: args.card_log_lines]:
        txn = json.loads(body)
        record = logging.LogRecord(
            "detect_fraud", logging.INFO, "detect_fraud.py", 263, "Transaction scored", None, None
        )
        extra = {
            "transaction_id": txn["transaction_id"],
            "score": rng.randrange(100),
            "decision": rng.choice(("allow", "review", "alert")),
            "model_version": f"m-{ids.hex_id(32)(rng)}",
            "rules_version": "2025-01-15",
            "rules_parameter_version": rng.randrange(1, 40),
            "history_items": rng.randrange(200),
        }
        record.__dict__.update(extra)
        records.append(record)
    context = {
        "cold_start": False,
        "function_name": "detect-fraud-prod",
        "function_memory_size": 512,
        "function_arn": ids.arn(rng),
        "function_request_id": ids.uuid4(rng),
        "xray_trace_id": ids.trace_id(rng),
    }
    formatters = {"scrubbed": ScrubbingFormatter(), "plain": LambdaPowertoolsFormatter()}
    for formatter in formatters.values():
        formatter.append_keys(**context)

    def format_all(formatter: logging.Formatter) -> Callable[[], None]:
        def work() -> None:
            for record in records:
                formatter.format(record)

        return work

    rounds = args.card_rounds
    log_strings = [_strings(json.loads(formatters["plain"].format(record))) for record in records]

    def scrub_log_strings() -> None:
        for line_strings in log_strings:
            for text in line_strings:
                scrub(text)

    us = _best_us(
        {
            "validation": (validate_all, len(bodies)),
            "json_loads": (parse_all, len(bodies)),
            "detector": (detect_all, len(bodies)),
            "scrubbed": (format_all(formatters["scrubbed"]), len(records)),
            "plain": (format_all(formatters["plain"]), len(records)),
            "scrub": (scrub_log_strings, len(records)),
        },
        rounds,
    )
    validation_us, parse_us, detector_us = us["validation"], us["json_loads"], us["detector"]
    scrubbed_us, plain_us = us["scrubbed"], us["plain"]
    return {
        "bodies": len(bodies),
        "strings_per_body": round(sum(map(len, strings)) / len(strings), 1),
        "refused_bodies": refused,
        "log_lines": len(records),
        "rounds": rounds,
        "validation_us": round(validation_us, 2),
        "json_loads_us": round(parse_us, 2),
        "validation_to_json_loads": round(validation_us / parse_us, 3),
        "detector_per_request_us": round(detector_us, 2),
        "detector_share_of_validation": round(detector_us / validation_us, 3),
        "log_line_us": round(scrubbed_us, 2),
        "log_line_unscrubbed_us": round(plain_us, 2),
        "log_line_to_unscrubbed": round(scrubbed_us / plain_us, 3),
        "detector_per_log_line_us": round(us["scrub"], 2),
        "strings_per_log_line": round(sum(map(len, log_strings)) / len(log_strings), 1),
    }


def card_numbers_report(result: dict) -> str:
    return "\n".join(
        (
            f"card numbers (CPU time, best of {result['rounds']} passes):",
            f"  per request: validation {result['validation_us']:.1f} us"
            f" ({result['validation_to_json_loads']:.2f}x json.loads of the body),"
            f" of which the detector over {result['strings_per_body']} strings"
            f" {result['detector_per_request_us']:.1f} us"
            f" ({100 * result['detector_share_of_validation']:.0f} %); {result['refused_bodies']} of"
            f" {result['bodies']:,} typical bodies refused as holding a card number",
            f"  per log line: {result['log_line_us']:.1f} us scrubbed, {result['log_line_unscrubbed_us']:.1f} us with"
            f" Powertools' own formatter ({result['log_line_to_unscrubbed']:.2f}x), of which the detector over"
            f" {result['strings_per_log_line']} strings {result['detector_per_log_line_us']:.1f} us;"
            f" {result['log_lines']:,} records",
        )
    )


def lists_section(args: argparse.Namespace) -> dict:
    """The block and allow lists' cost per scored transaction, beside the engine's in the same passes: CPU of
    ``Lists.hits`` and ``apply`` (the version check is per sandbox and period, not per transaction) with lists of
    0, 100 and 10,000 entries, and the DynamoDB reads per transaction at a sandbox's rate."""
    sys.path.insert(0, str(LAMBDAS))
    from fraud.config import load_config
    from fraud.engine import Engine
    from fraud.history import InMemoryHistoryStore, Item
    from fraud.lists import Lists, apply, entry

    stream = synthetic_stream(args.list_transactions)
    config = load_config()
    engine, store = Engine(config), InMemoryHistoryStore(config)
    items = [Item(t) for t in stream]
    pairs = []
    for item in items:  # histories once: the passes below time the engine and the lists alone
        pairs.append((item, store.history_for(item)))
        store.record(item)
    assessments = [engine.assess(item, history) for item, history in pairs]
    rng = random.Random(11)
    users = sorted({t["user_id"] for t in stream})
    sizes = (0, 100, 10_000)
    lists = {}
    for size in sizes:
        entries = []
        for i in range(size):  # block entries on identifiers the stream mostly does not hold, a few that it does
            value = rng.choice(users) if i % 50 == 0 else f"u-unknown-{i}"
            entries.append(entry("block", "user_id", value, reason="bench", by="bench", at=0, ref=f"r{i}"))
        unique = {e.key: e for e in entries}
        lists[size] = Lists(unique.values(), str(size))
    now = max(t["timestamp"] for t in stream)

    def engine_pass() -> None:
        for item, history in pairs:
            engine.assess(item, history)

    def lists_pass(snapshot: Lists) -> Callable[[], None]:
        def work() -> None:
            for transaction, assessment in zip(stream, assessments, strict=True):
                apply(assessment, snapshot.hits(transaction, now))

        return work

    works: dict[str, tuple[Callable[[], object], int]] = {"engine": (engine_pass, len(pairs))}
    works.update({f"lists_{size}": (lists_pass(lists[size]), len(stream)) for size in sizes})
    us = _best_us(works, args.list_rounds)
    rate = args.list_sandbox_rate  # scored transactions a second in one sandbox
    check_s = 60  # LISTS_CACHE_SECONDS (the default)
    return {
        "transactions": len(stream),
        "cpu_us_per_transaction": {name: round(value, 2) for name, value in us.items()},
        "ratio_to_engine": {f"lists_{s}": round(us[f"lists_{s}"] / us["engine"], 4) for s in sizes},
        "reads": {
            "version_checks_per_sandbox_per_minute": 60 / check_s,
            "sandbox_transactions_per_second": rate,
            "read_units_per_transaction": round(0.5 / (rate * check_s), 6),  # an eventually-consistent GetItem
            "scan_on_change": "the lists' size / 4 KB read units per sandbox, once per version change",
        },
        "rounds": args.list_rounds,
    }


def lists_report(result: dict) -> str:
    cpu, ratio = result["cpu_us_per_transaction"], result["ratio_to_engine"]
    sizes = ", ".join(
        f"{name.removeprefix('lists_')} entries {cpu[name]:.2f} us ({100 * ratio[name]:.2f} % of the engine)"
        for name in ratio
    )
    reads = result["reads"]
    return (
        f"lists: CPU per scored transaction (best of {result['rounds']} interleaved passes over"
        f" {result['transactions']:,}): engine {cpu['engine']:.1f} us; lookup and apply with {sizes};"
        f" reads: one version check a minute per sandbox = {reads['read_units_per_transaction']} read units per"
        f" transaction at {reads['sandbox_transactions_per_second']}/s per sandbox, plus a scan per change"
    )


def _emulator_run(args: argparse.Namespace) -> dict:
    from tools.emulator import bench

    return bench.run(args)


def _emulator_report(result: dict) -> str:
    from tools.emulator import bench

    return bench.report(result)


def _emulator_arguments(parser: argparse.ArgumentParser) -> None:
    from tools.emulator import bench

    bench.add_arguments(parser)


def _peer_run(args: argparse.Namespace) -> dict:
    from tools.emulator import peer

    return peer.run(args)


def _peer_report(result: dict) -> str:
    from tools.emulator import peer

    return peer.report(result)


def _peer_arguments(parser: argparse.ArgumentParser) -> None:
    from tools.emulator import peer

    peer.add_arguments(parser)


def _training_run(args: argparse.Namespace) -> dict:
    from tools.training import bench

    return bench.run(args)


def _training_report(result: dict) -> str:
    from tools.training import bench

    return bench.report(result)


def _training_arguments(parser: argparse.ArgumentParser) -> None:
    from tools.training import bench

    bench.add_arguments(parser)


@dataclass(frozen=True)
class Section:
    name: str
    help: str
    run: Callable[[argparse.Namespace], dict]
    report: Callable[[dict], str]
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None
    default: bool = True  # part of a plain `python -m tools.bench`


SECTIONS = (
    Section("imports", "handler import times", imports_section, imports_report),
    Section("engine", "fraud engine throughput", engine_section, engine_report),
    Section("model", "the default model's cost and the backtest with it", model_section, model_report),
    Section(
        "card-numbers",
        "the card-number detector per request and per log line",
        card_numbers_section,
        card_numbers_report,
    ),
    Section("lists", "the block and allow lists' cost per scored transaction", lists_section, lists_report),
    Section(
        "emulator",
        "the local cloud end to end (minutes)",
        _emulator_run,
        _emulator_report,
        _emulator_arguments,
        default=False,
    ),
    Section(
        "peer",
        "the local cloud beside MiniStack, alternated in one session (minutes; installs MiniStack under build/peer)",
        _peer_run,
        _peer_report,
        _peer_arguments,
        default=False,
    ),
    Section(
        "training",
        "the Spark feature job against one process, projected to EMR Serverless (5M transactions: long)",
        _training_run,
        _training_report,
        _training_arguments,
        default=False,
    ),
)


def _parser() -> argparse.ArgumentParser:
    names = [section.name for section in SECTIONS]
    defaults = [section.name for section in SECTIONS if section.default]
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__.split("\n\n")[0],
        epilog="sections: " + "; ".join(f"{s.name} ({s.help})" for s in SECTIONS),
    )
    parser.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"sections to run: {', '.join(names)} or all (default: {', '.join(defaults)})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeat", type=int, default=3, help="imports: fresh interpreters per measurement")
    parser.add_argument("--engine-transactions", type=int, default=200_000, help="engine: size of the synthetic stream")
    parser.add_argument("--card-bodies", type=int, default=2_000, help="card-numbers: typical request bodies")
    parser.add_argument(
        "--card-log-lines", type=int, default=2_000, help="card-numbers: log records (at most one per body)"
    )
    parser.add_argument("--card-rounds", type=int, default=7, help="card-numbers: timed passes, the best counts")
    parser.add_argument("--list-transactions", type=int, default=20_000, help="lists: size of the synthetic stream")
    parser.add_argument("--list-rounds", type=int, default=5, help="lists: timed passes, the best counts")
    parser.add_argument(
        "--list-sandbox-rate", type=float, default=10.0, help="lists: scored transactions a second per sandbox"
    )
    for section in SECTIONS:
        if section.add_arguments is not None:
            section.add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    by_name = {section.name: section for section in SECTIONS}
    wanted = args.sections or [s.name for s in SECTIONS if s.default]
    if "all" in wanted:
        wanted = list(by_name)
    unknown = [name for name in wanted if name not in by_name]
    if unknown:
        parser.error(f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(by_name)} or all")
    results = {}
    for name in wanted:
        results[name] = by_name[name].run(args)
        if not args.json:
            print(by_name[name].report(results[name]), flush=True)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
