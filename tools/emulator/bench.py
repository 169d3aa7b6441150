"""The local cloud's benchmark (``python -m tools.bench emulator``): end-to-end throughput, POST-to-alert
latency and where the time goes, per stream routing and table size.

For each routing (``--stream-consumer``, both by default) it restores or applies the deployment in an
environment of its own (``bench-eventbridge``, ``bench-direct``), starts the local cloud and every
sandbox, makes a warm-up run, then for each table size (``--table-sizes``, default 1,000 and 100,000
transactions) pre-loads the table up to that size and posts ``--posts`` simulated transactions (the
demo's traffic: 8 % fraudulent) with ``--concurrency`` clients (a separate process,
``tools.emulator.loadgen``) twice: as fast as the API answers (saturation: the throughput), then at
``--rate`` per second (the latency when the pipeline keeps up). Each run waits until every accepted
transaction is scored and the pipeline is idle, and reports:

- ``api_tx_per_s``: accepted POSTs per second; ``end_to_end_tx_per_s``: transactions scored per
  second, from the first POST to the last successful detect-fraud invocation;
- ``latency_ms``: from each POST to its alert on the topic's SQS subscription (median, p95);
- ``cpu_ms_per_transaction``: CPU time of the emulator's process and of each function's sandboxes;
- ``breakdown``: every hop's median and p95 (``tools.emulator.timings``).

Pre-loaded transactions are written the way process-transaction writes them (its storage code, on a
client that only collects the items) straight into moto's table and indexes, without going through
the stream: history older than the stream's retention. Figures from an emulator are no estimate of
AWS capacity; compare them as ratios within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

from tools._cli import BUILD, LAMBDAS, ROOT, ToolError, progress
from tools.detection import simulate
from tools.emulator.local_cloud import LocalCloud, freeze_heap
from tools.emulator.localaws import LocalAWS
from tools.emulator.timings import TIMINGS, format_summary, percentile

DAY_MS = 86_400_000
TRAFFIC_USERS = 100  # the demo's traffic: 100 cardholders (at least), 8 % fraudulent transactions
FRAUD_RATE = 0.08


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("emulator section")
    group.add_argument(
        "--stream-consumer",
        default="eventbridge,direct",
        help="routings to measure, comma-separated (default eventbridge,direct)",
    )
    group.add_argument(
        "--table-sizes",
        default="1000,100000",
        help="transactions in the table for each measurement, comma-separated (default 1000,100000)",
    )
    group.add_argument("--posts", type=int, default=400, help="transactions posted per measurement (default 400)")
    group.add_argument("--concurrency", type=int, default=8, help="parallel clients (default 8)")
    group.add_argument(
        "--rate",
        type=float,
        default=50.0,
        help="offered load of the latency run, transactions per second (default 50; 0: no latency run)",
    )
    group.add_argument("--sandboxes", type=int, default=4, help="maximum sandboxes per function (default 4)")
    group.add_argument("--time-scale", type=float, default=60.0, help="divide AWS's waits by this (default 60)")
    group.add_argument("--seed", type=int, default=11)


# -- pre-loading ---------------------------------------------------------------------------------------


class _CollectingClient:
    """A DynamoDB client that keeps the items of each ``TransactWriteItems`` instead of sending them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []

    def transact_write_items(self, TransactItems: list[dict[str, Any]]) -> dict[str, Any]:  # noqa: N803 (boto3)
        self.items.extend(entry["Put"]["Item"] for entry in TransactItems if "Put" in entry)
        return {}


def preload(cloud: LocalCloud, count: int, *, seed: int, users: int, end_ms: int, user_prefix: str = "") -> float:
    """Add ``count`` transactions of ``users`` simulated cardholders (about two a day each, ending at
    ``end_ms``) to the table; ``user_prefix`` renames their user ids (other users than the traffic's).
    Returns the seconds it took."""
    if count <= 0:
        return 0.0
    started = time.monotonic()
    assert cloud.topology is not None
    items = history_items(cloud, count, seed=seed, users=users, end_ms=end_ms, user_prefix=user_prefix)
    _write_items(cloud, cloud.topology.function("process-transaction").environment["TABLE_NAME"], items)
    return time.monotonic() - started


def history_items(
    cloud: LocalCloud, count: int, *, seed: int, users: int, end_ms: int, user_prefix: str = ""
) -> list[dict[str, Any]]:
    """The typed items process-transaction's storage code writes for ``count`` simulated transactions."""
    if str(LAMBDAS) not in sys.path:
        sys.path.insert(0, str(LAMBDAS))
    from fraud.storage import TransactionStore
    from fraud.validation import body_hash, validate_transaction

    assert cloud.topology is not None
    environment = cloud.topology.function("process-transaction").environment
    collector = _CollectingClient()
    store = TransactionStore(
        collector, environment["TABLE_NAME"], time_bucket_shards=int(environment.get("TIME_BUCKET_SHARDS", "4"))
    )
    now_ms = int(time.time() * 1000)
    days = max(1.0, count / (2.0 * users))
    for txn in simulate.generate(
        n_users=users, days=days, seed=seed, fraud_rate=0.0, end_ms=end_ms, n_transactions=count
    ):
        body = simulate.api_body(txn)
        body["user_id"] = user_prefix + body["user_id"]
        transaction = validate_transaction(json.dumps(body), now_ms=now_ms)
        store.put_transaction(transaction, body_hash=body_hash(transaction), received_at=int(txn["timestamp"]))
    return collector.items


def _write_items(cloud: LocalCloud, table_name: str, items: list[dict[str, Any]]) -> None:
    """Put typed items into moto's table (and its indexes), not into its stream."""
    from moto.dynamodb.models import dynamodb_backends

    assert cloud.topology is not None
    table = dynamodb_backends[cloud.topology.account][cloud.topology.region].get_table(table_name)
    with cloud.gateway.dynamodb_lock:  # no DynamoDB call runs meanwhile
        shard, table.stream_shard = table.stream_shard, None
        try:
            for attributes in items:
                table.put_item(attributes)
        finally:
            table.stream_shard = shard


def table_transactions(cloud: LocalCloud, table_name: str) -> int:
    from moto.dynamodb.models import dynamodb_backends

    assert cloud.topology is not None
    table = dynamodb_backends[cloud.topology.account][cloud.topology.region].get_table(table_name)
    with cloud.gateway.dynamodb_lock:
        entries = table.items.values()
        items = (item for entry in entries for item in (entry.values() if isinstance(entry, dict) else [entry]))
        return sum(1 for item in items if "kind" in item.attrs and item.attrs["kind"].value == "transaction")


# -- one measurement -----------------------------------------------------------------------------------


class AlertWatcher:
    """Notes when each alert arrives on the topic's SQS subscription. The reading runs in a process of its
    own (``tools.emulator.alert_watch``): its work is not the cloud's, and the local cloud's CPU is read
    from this process. ``start`` returns once the watcher is reading."""

    def __init__(self, endpoint: str, region: str, queue_url: str) -> None:
        self.command = [sys.executable, "-m", "tools.emulator.alert_watch", endpoint, region, queue_url]
        self.arrived: dict[str, float] = {}  # transaction id -> first alert time
        self._ready = threading.Event()
        self._errors: Any = None  # the watcher's stderr, a temporary file from start to stop
        self._process: subprocess.Popen[bytes] | None = None
        self._reader: threading.Thread | None = None

    @classmethod
    def of(cls, cloud: Any) -> AlertWatcher:
        """The watcher of a deployment's alerts: ``cloud`` has its ``endpoint``, ``region`` and Terraform
        ``outputs`` (a ``LocalCloud``, or a target of the peer benchmark)."""
        return cls(cloud.endpoint, cloud.region, cloud.outputs["alert_subscription_queue_url"])

    def start(self) -> None:
        self._errors = tempfile.TemporaryFile("w+b")  # noqa: SIM115 (closed in stop)
        self._process = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, cwd=ROOT
        )
        self._reader = threading.Thread(target=self._read, name="alert-watcher", daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout=60):
            self.stop()
            raise ToolError("the alert watcher did not start within 60 s")

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            seen = json.loads(line)
            if seen.get("ready"):
                self._ready.set()
                continue
            TIMINGS.add("sns subscription (published to read)", seen["arrived"] - seen["published"])
            if seen["transaction_id"] is not None:
                self.arrived.setdefault(seen["transaction_id"], seen["arrived"])

    def stop(self) -> None:
        """Let the watcher read what is left, then wait for it; a watcher that failed fails the run."""
        assert self._process is not None and self._process.stdin is not None
        self._process.stdin.close()
        try:
            code = self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            code = self._process.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self._errors.seek(0)
        errors = self._errors.read().decode(errors="replace")
        self._errors.close()
        if code != 0:
            raise ToolError(f"the alert watcher failed ({code}): {errors[-500:]}")


def post_all(
    cloud: LocalCloud, bodies: list[dict[str, Any]], concurrency: int, rate: float = 0.0
) -> list[dict[str, Any]]:
    """POST every body with ``concurrency`` clients in a separate process (as fast as they are answered,
    or ``rate`` per second in all); their (id, sent, status)."""
    with tempfile.TemporaryFile("w+b") as stdin:
        stdin.write(b"".join(json.dumps(body).encode() + b"\n" for body in bodies))
        stdin.seek(0)
        done = subprocess.run(
            [sys.executable, "-m", "tools.emulator.loadgen", cloud.api_url, cloud.api_key, str(concurrency), str(rate)],
            stdin=stdin,
            capture_output=True,
            cwd=ROOT,
            check=False,
        )
    if done.returncode != 0:
        raise ToolError(f"the load generator failed: {done.stderr.decode(errors='replace')[-500:]}")
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


class _GcPauses:
    """Times the garbage collector's pauses in this process (the emulator's), as a hop of the breakdown."""

    def __init__(self) -> None:
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info.get("generation") == 2:
            TIMINGS.add("python gc pause, full collection (emulator process)", time.perf_counter() - self._started)

    def __enter__(self) -> _GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)


def measure(
    cloud: LocalCloud,
    transactions: int,
    concurrency: int,
    seed: int,
    rate: float = 0.0,
    users: int = TRAFFIC_USERS,
    days_ago: int = 0,
) -> dict[str, Any]:
    """Post ``transactions`` (closed loop, or ``rate`` per second), wait until all are scored; the figures."""
    assert cloud.topology is not None and cloud.runtime is not None
    detect = cloud.topology.function("detect-fraud").name
    now_ms = int(time.time() * 1000)
    traffic = list(
        simulate.generate(
            n_users=users,
            days=1,
            seed=seed,
            fraud_rate=FRAUD_RATE,
            end_ms=now_ms - 1000 - days_ago * DAY_MS,
            n_transactions=transactions,
        )
    )
    bodies = [simulate.api_body(t) for t in traffic]
    freeze_heap()  # what earlier runs left (moto's items and stream records) out of full collections
    watcher = AlertWatcher.of(cloud)
    watcher.start()
    scored_before = cloud.ledger[(detect, "ok")]
    TIMINGS.clear()
    cpu_before = {"emulator": time.process_time(), **cloud.runtime.cpu_seconds()}
    started = time.time()
    with _GcPauses():
        results = post_all(cloud, bodies, concurrency, rate)
        deadline = time.monotonic() + 600
        accepted = sum(1 for r in results if r["status"] == 201)
        while cloud.ledger[(detect, "ok")] - scored_before < accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    if results:  # from the first request out to the last answer in (not the clients' start-up)
        started = min(r["sent"] for r in results)
    post_seconds = max((r["done"] for r in results), default=time.time()) - started
    cloud.wait_idle(quiet_s=0.5, timeout_s=120)
    watcher.stop()
    cpu_after = {"emulator": time.process_time(), **cloud.runtime.cpu_seconds()}
    scored = cloud.ledger[(detect, "ok")] - scored_before
    last_score = cloud.last_success.get(detect, time.time())
    sent = {r["id"]: r["sent"] for r in results}
    latencies = sorted((arrived - sent[tid]) for tid, arrived in watcher.arrived.items() if tid in sent)
    for latency in latencies:
        TIMINGS.add("POST to alert", latency)
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {
        "offered_tx_per_s": rate or None,
        "transactions": len(bodies),
        "statuses": statuses,
        "post_seconds": round(post_seconds, 2),
        "api_tx_per_s": round(accepted / post_seconds, 1),
        "scored": scored,
        "end_to_end_tx_per_s": round(scored / max(last_score - started, 1e-9), 1),
        "alerts": len(latencies),
        "latency_ms_median": round(statistics.median(latencies) * 1000) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 0.95) * 1000) if latencies else None,
        "cpu_ms_per_transaction": {
            name: round((cpu_after[name] - cpu_before.get(name, 0.0)) * 1000 / max(scored, 1), 1)
            for name in cpu_after
            if cpu_after[name] - cpu_before.get(name, 0.0) > 0
        },
        "breakdown": TIMINGS.summary(),
    }


# -- the section ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tools.emulator.demo import deploy

    modes = [m.strip() for m in args.stream_consumer.split(",") if m.strip()]
    sizes = sorted(int(s) for s in args.table_sizes.split(",") if s.strip())
    if not modes or any(m not in ("eventbridge", "direct") for m in modes):
        raise ToolError(f"--stream-consumer takes eventbridge and/or direct, not {args.stream_consumer!r}")
    result: dict[str, Any] = {"concurrency": args.concurrency, "sandboxes_per_function": args.sandboxes, "runs": []}
    for mode in modes:
        suffix = f"bench-{mode}"
        with LocalAWS() as aws:
            progress(f"{mode}: deploying environment {suffix} into the emulator")
            with contextlib.redirect_stdout(sys.stderr):  # packaging and rendering report on stdout
                outputs, how = deploy(aws, mode, suffix=suffix)
            with LocalCloud(
                aws,
                outputs,
                log_dir=BUILD / suffix / "logs",
                time_scale=args.time_scale,
                schedule_time_scale=None,
                max_sandboxes=args.sandboxes,
            ) as cloud:
                progress(f"{mode}: deployment {how}; starting every sandbox, then a warm-up run")
                assert cloud.runtime is not None  # LocalCloud starts the runtime on entry
                cloud.runtime.warm(full=True)
                # One seed for the traffic's cardholders everywhere: their history (pre-loaded) and every
                # run's traffic come from the same profiles (cards, devices, places), as in a real table.
                # Each run's traffic is a day of its own (the warm-up's the oldest, the last run's the
                # latest), after the pre-loaded history: no run doubles another's velocity.
                users = max(TRAFFIC_USERS, args.posts // 2)  # about two transactions a day each
                runs = 1 + len(sizes) * (2 if args.rate else 1)
                history_end = int(time.time() * 1000) - (runs + 1) * DAY_MS
                measure(cloud, 4 * args.concurrency, args.concurrency, seed=args.seed, days_ago=runs, users=users)
                table = outputs["table_name"]
                for number, size in enumerate(sizes):
                    present = table_transactions(cloud, table)
                    # The smallest table is the traffic's own cardholders' history; what is added to
                    # grow it belongs to other cardholders, so the history a transaction is scored
                    # against stays the same and only the table grows.
                    if number == 0:
                        seconds = preload(cloud, size - present, seed=args.seed, users=users, end_ms=history_end)
                    else:
                        seconds = preload(
                            cloud,
                            size - present,
                            seed=args.seed + number,
                            users=max(users, (size - present) // 60),
                            end_ms=history_end,
                            user_prefix=f"other{number}-",
                        )
                    progress(f"{mode}: table holds {size:,} transactions (pre-loaded in {seconds:.1f} s); measuring")
                    # Saturation: the clients send as fast as the API answers (the throughput), then an
                    # offered load of --rate per second (the latency when the pipeline keeps up).
                    for rate in (0.0, args.rate) if args.rate else (0.0,):
                        runs -= 1
                        run_result = measure(
                            cloud, args.posts, args.concurrency, seed=args.seed, rate=rate, users=users, days_ago=runs
                        )
                        run_result.update(stream_consumer=mode, table_transactions=size)
                        result["runs"].append(run_result)
                        progress(
                            f"{mode} @ {size:,} ({f'{rate:g}/s offered' if rate else 'saturation'}): "
                            f"{run_result['end_to_end_tx_per_s']} tx/s end to end, POST-to-alert median "
                            f"{run_result['latency_ms_median']} ms, p95 {run_result['latency_ms_p95']} ms"
                        )
                if errors := cloud.errors():
                    raise ToolError("the emulator failed during the benchmark: " + "; ".join(errors))
    for mode in modes:
        saturated = [r for r in result["runs"] if r["stream_consumer"] == mode and not r["offered_tx_per_s"]]
        if len(saturated) > 1 and saturated[0]["end_to_end_tx_per_s"]:
            result.setdefault("throughput_ratio_largest_to_smallest_table", {})[mode] = round(
                saturated[-1]["end_to_end_tx_per_s"] / saturated[0]["end_to_end_tx_per_s"], 2
            )
    return result


def report(result: dict[str, Any]) -> str:
    clients, sandboxes = result["concurrency"], result["sandboxes_per_function"]
    lines = [f"local cloud ({clients} clients, up to {sandboxes} sandboxes per function):"]
    for run in result["runs"]:
        load = f"{run['offered_tx_per_s']:g}/s offered" if run["offered_tx_per_s"] else "saturation"
        lines.append(
            f"  {run['stream_consumer']:<11} table {run['table_transactions']:>7,} {load:>16}: "
            f"{run['end_to_end_tx_per_s']:>6} tx/s end to end ({run['api_tx_per_s']} accepted/s at the API), "
            f"POST-to-alert median {run['latency_ms_median']} ms, p95 {run['latency_ms_p95']} ms "
            f"({run['alerts']} alerts); CPU ms per transaction {run['cpu_ms_per_transaction']}"
        )
    for mode, ratio in result.get("throughput_ratio_largest_to_smallest_table", {}).items():
        lines.append(f"  {mode}: saturation throughput at the largest table / at the smallest = {ratio}")
    for run in result["runs"]:
        load = f"{run['offered_tx_per_s']:g}/s offered" if run["offered_tx_per_s"] else "saturation"
        lines.append(f"  per hop, {run['stream_consumer']} at {run['table_transactions']:,} transactions, {load}:")
        lines.append(format_summary(run["breakdown"]))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.emulator.bench`` = ``python -m tools.bench emulator``."""
    from tools import bench

    return bench.main(["emulator", *(argv if argv is not None else sys.argv[1:])])


if __name__ == "__main__":
    raise SystemExit(main())
