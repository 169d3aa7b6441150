"""The training section of the benchmark: ``python -m tools.bench training``.

    python -m tools.bench training                                 # 5,000,000 transactions (generated once, kept)
    python -m tools.bench training --training-transactions 200000  # a smaller run of the same code path

1. A simulated history of ``--training-transactions`` transactions (``tools.training.synthetic``, seeded: the same
   size gives the same items) is written once as a full export in the export layout (gzip DynamoDB JSON, manifests,
   chargeback labels) under ``build/bench/training/<size>/`` and reused by later runs.
2. The feature job runs in its own process in Spark's ``local[2]`` (``python -m tools.training.features --export
   ... --output ...``): wall time, and the CPU time and resident memory of its whole process tree (the driver, the
   JVM, the Python workers), sampled from ``/proc`` every half second; the peak is the largest sum seen.
3. Today's single process on the same items, in its own process: read the export's data files into ``Item``s,
   sort them by ``order_key`` and replay them with ``tools.detection.train.replay`` (features, rules, record: what
   ``make train`` does per transaction), with its CPU time and peak memory (``ru_maxrss``).
4. The projection for EMR Serverless: a year at ``--training-per-day`` transactions, from the job's measured rate
   per CPU second (``PRICES`` and the assumptions are in the result).

Linux only (``/proc``). It takes a long time at 5 million (generation included); the load average before and after
is in the result, as the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tools._cli import BUILD, LAMBDAS, ROOT, progress

BENCH_DIR = BUILD / "bench" / "training"
END_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z
DAYS = 90
PER_USER_DAY = 2.2  # the simulator's mean transactions per user and day (measured: users = size / (DAYS * this))
# EMR Serverless on-demand prices, us-east-1, ARM64 (Graviton) workers: the public price list (aws.amazon.com/emr/
# pricing) as known on 2026-12-07; this machine cannot reach it, so check it before relying on the figure.
PRICES = {"vcpu_hour": 0.042094, "gb_hour": 0.004628, "storage_gb_hour": 0.000111, "free_storage_gb": 20}
WORKER = {"vcpu": 4, "memory_gb": 16, "storage_gb": 20}  # spark.executor.cores 4, 16 GB (EMR Serverless's default size)
OVERHEAD = 1.3  # the driver, start-up, scheduling and the shuffle, on top of the workers' Python time


class TreeMonitor:
    """CPU seconds and the peak resident memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.cpu: dict[int, float] = {}
        self.peak_rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry))
        found, stack = [], [self.pid]
        while stack:
            pid = stack.pop()
            found.append(pid)
            stack.extend(children.get(pid, []))
        return found

    def sample(self) -> None:
        rss = 0
        for pid in self._tree():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self.cpu[pid] = max(self.cpu.get(pid, 0.0), (int(fields[11]) + int(fields[12])) / self._tick)
            rss += int(fields[21]) * self._page
        self.peak_rss = max(self.peak_rss, rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def cpu_seconds(self) -> float:
        return sum(self.cpu.values())


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def generate(size: int, directory: Path) -> dict[str, Any]:
    """The export of ``size`` simulated transactions in ``directory`` (kept: a marker names what is there)."""
    from tools.training import layout, synthetic

    marker = directory / "generated.json"
    if marker.is_file():
        return json.loads(marker.read_text())
    began = time.monotonic()
    users = max(50, round(size / (DAYS * PER_USER_DAY)))
    export = directory / "exports" / layout.export_name(END_MS, "full")
    fraud: list[dict[str, Any]] = []
    written = 0

    def items() -> Any:
        nonlocal written
        for item, is_fraud in synthetic.stored_items(users * 2, DAYS, seed=2026, fraud_rate=0.01, end_ms=END_MS):
            if written == size:
                return
            written += 1
            if is_fraud:
                fraud.append(item)
            if written % 250_000 == 0:
                progress(f"  generated {written:,} of {size:,}")
            yield item

    summary = layout.write_export(export, items(), export_time_ms=END_MS, labels=())
    from tools.training import labels as label_contract

    (export / layout.LABELS_FILE).write_bytes(label_contract.encode(synthetic.chargebacks((i, True) for i in fraud)))
    result = {
        "export": str(export),
        "transactions": summary["items"],
        "files": summary["files"],
        "fraud": len(fraud),
        "seconds": round(time.monotonic() - began, 1),
    }
    marker.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _child_env() -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(LAMBDAS), str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


def spark_job(export: Path, output: Path, master: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "tools.training.features",
        "--export",
        str(export),
        "--output",
        str(output),
        "--master",
        master,
    ]
    before = load()
    began = time.monotonic()
    process = subprocess.Popen(command, cwd=ROOT, env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    with TreeMonitor(process.pid) as monitor:
        stdout, _ = process.communicate()
        monitor.sample()
    wall = time.monotonic() - began
    if process.returncode != 0:
        raise RuntimeError(f"the feature job failed ({process.returncode}): {stdout.decode()[-500:]}")
    summary = json.loads((output.with_name(f"{output.name}.summary.json")).read_text())
    return {
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(monitor.cpu_seconds, 1),
        "peak_rss_gb": round(monitor.peak_rss / 2**30, 2),
        "rows": summary["rows"],
        "users": summary["users"],
        "largest_group": summary["largest_groups"][0],
        "load_before": before,
        "load_after": load(),
    }


_SINGLE = r"""
import json, resource, sys, time
from pathlib import Path
from tools.training.bench import single_process
print(json.dumps(single_process(Path(sys.argv[1]), int(sys.argv[2]))))
"""


def single_process(export: Path, users_in: int = 1) -> dict[str, Any]:
    """Today's single process on the export: read into Items, sort, ``tools.detection.train.replay``; with
    ``users_in`` > 1 only one user in that many (by a hash of the user id: whole histories)."""
    import gzip
    import hashlib

    from fraud import features as fraud_features
    from fraud.config import load_config
    from fraud.history import Item
    from tools.detection.backtest import no_gc
    from tools.detection.train import Source, replay
    from tools.training import layout

    began, began_cpu = time.monotonic(), time.process_time()
    records: list[tuple[Item, bool, str | None]] = []
    with no_gc():
        for path in sorted(export.glob(layout.DATA_GLOB)):
            for line in gzip.decompress(path.read_bytes()).splitlines():
                item = {k: next(iter(v.values())) for k, v in json.loads(line)["Item"].items()}
                if item.get("kind") != "transaction":
                    continue
                if users_in > 1:
                    digest = hashlib.blake2b(item["user_id"].encode(), digest_size=8).digest()
                    if int.from_bytes(digest, "big") % users_in:
                        continue
                if "location" in item:
                    item["location"] = {k: next(iter(v.values())) for k, v in item["location"].items()}
                records.append((Item(item), False, None))
        records.sort(key=lambda record: record[0].order_key())
    read_cpu = time.process_time() - began_cpu
    config = load_config(None)
    replay_began, replay_cpu = time.monotonic(), time.process_time()
    rows = replay([Source("bench", records, "-")], config, config.features, fraud_features, False)
    cpu = time.process_time() - replay_cpu
    return {
        "rows": len(rows.ts),
        "read_cpu_seconds": round(read_cpu, 1),
        "replay_cpu_seconds": round(cpu, 1),
        "replay_wall_seconds": round(time.monotonic() - replay_began, 1),
        "wall_seconds": round(time.monotonic() - began, 1),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
    }


def single(export: Path, users_in: int) -> dict[str, Any]:
    before = load()
    proc = subprocess.run(
        [sys.executable, "-c", _SINGLE, str(export), str(users_in)],
        cwd=ROOT,
        env=_child_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"the single process failed: {proc.stderr.strip()[-500:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "load_before": before, "load_after": load()}


def projection(rate_per_cpu_s: float, per_day: int, days: int = 365) -> dict[str, Any]:
    """EMR Serverless time and cost of the feature job over ``days`` at ``per_day`` transactions, from a rate per
    CPU second, on ``WORKER``-sized workers at ``PRICES``, times ``OVERHEAD``."""
    rows = per_day * days
    vcpu_hours = rows / rate_per_cpu_s / 3600 * OVERHEAD
    gb_hours = vcpu_hours * WORKER["memory_gb"] / WORKER["vcpu"]
    cost = vcpu_hours * PRICES["vcpu_hour"] + gb_hours * PRICES["gb_hour"]
    workers = 16
    return {
        "transactions": rows,
        "vcpu_hours": round(vcpu_hours),
        "gb_hours": round(gb_hours),
        "cost_usd": round(cost, 2),
        "hours_on_16_workers": round(vcpu_hours / (workers * WORKER["vcpu"]), 2),
        "prices": PRICES,
        "worker": WORKER,
        "overhead": OVERHEAD,
        "assumptions": "per-core rate as measured here (x86, shared machine); ARM64 workers assumed as fast per "
        "vCPU; storage within the 20 GB per worker that is free; S3 requests and the export not counted",
    }


def compare(result: dict[str, Any]) -> dict[str, Any]:
    """The single process scaled to the whole history: it parsed every line of the export (``read_cpu_seconds``
    covers all of them) and replayed one user in ``users_in``, so its CPU for everything is the read plus the
    replay times the share it left out; against the Spark tree's CPU for the same transactions."""
    one, job = result["single_process"], result["spark"]
    whole_cpu = one["read_cpu_seconds"] + one["replay_cpu_seconds"] * result["transactions"] / one["rows"]
    return {
        "single_process_cpu_seconds_all": round(whole_cpu, 1),
        "single_process_peak_gb_all": round(one["peak_rss_gb_per_million"] * result["transactions"] / 1e6, 1),
        "spark_cpu_over_single": round(job["cpu_seconds"] / whole_cpu, 2),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = args.training_transactions
    directory = BENCH_DIR / str(size)
    progress(f"training bench: {size:,} transactions in {directory} (load {load()})")
    generated = generate(size, directory)
    export = Path(generated["export"])
    progress("feature job, Spark local[2]")
    job = spark_job(export, directory / "features", args.training_master)
    result: dict[str, Any] = {"transactions": generated["transactions"], "generated": generated, "spark": job}
    job["tx_per_wall_s"] = round(job["rows"] / job["wall_seconds"])
    job["tx_per_cpu_s"] = round(job["rows"] / job["cpu_seconds"]) if job["cpu_seconds"] else None
    if not args.training_no_single:
        progress("today's single process (train replay)")
        users_in = max(1, -(-generated["transactions"] // args.training_single_rows))
        one = single(export, users_in)
        one["users_in"] = users_in
        one["peak_rss_gb_per_million"] = round(one["peak_rss_gb"] / one["rows"] * 1e6, 2)
        one["tx_per_cpu_s"] = round(one["rows"] / one["replay_cpu_seconds"]) if one["replay_cpu_seconds"] else None
        one["tx_per_wall_s"] = round(one["rows"] / one["wall_seconds"])
        result["single_process"] = one
        result.update(compare(result))
    result["projection"] = projection(job["tx_per_cpu_s"] or 1, args.training_per_day)
    return result


def report(result: dict[str, Any]) -> str:
    job = result["spark"]
    lines = [
        f"training: {result['transactions']:,} transactions ({result['generated']['files']} export files)",
        f"  Spark local[2] feature job: {job['wall_seconds']} s wall = {job['tx_per_wall_s']:,} tx/s;"
        f" {job['cpu_seconds']} CPU s over its process tree = {job['tx_per_cpu_s']:,} tx per CPU s;"
        f" peak memory {job['peak_rss_gb']} GB (load {job['load_before']} -> {job['load_after']})",
    ]
    if "single_process" in result:
        one = result["single_process"]
        lines.append(
            f"  single process (read + train replay) on {one['rows']:,} transactions (one user in {one['users_in']}):"
            f" {one['wall_seconds']} s wall, replay {one['replay_cpu_seconds']} CPU s = {one['tx_per_cpu_s']:,} tx per"
            f" CPU s; peak memory {one['peak_rss_gb']} GB ({one['peak_rss_gb_per_million']} GB per million)"
            f" (load {one['load_before']} -> {one['load_after']})"
        )
        whole_cpu, whole_gb = result["single_process_cpu_seconds_all"], result["single_process_peak_gb_all"]
        lines.append(
            f"  the single process on all {result['transactions']:,}: about {whole_cpu:,} CPU s (read"
            f" {one['read_cpu_seconds']} + replay scaled) and {whole_gb} GB in one process; Spark used"
            f" {result['spark_cpu_over_single']}x that CPU, spread over the cores, with a {job['peak_rss_gb']} GB peak"
        )
    p = result["projection"]
    lines.append(
        f"  a year at {p['transactions'] // 365:,}/day on EMR Serverless: {p['vcpu_hours']:,} vCPU-hours,"
        f" {p['gb_hours']:,} GB-hours = ${p['cost_usd']:,} (ARM64, us-east-1 list prices, overhead x{p['overhead']});"
        f" {p['hours_on_16_workers']} h on 16 workers of {p['worker']['vcpu']} vCPU"
    )
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("training")
    group.add_argument("--training-transactions", type=int, default=5_000_000, help="training: history size (5M)")
    group.add_argument("--training-per-day", type=int, default=5_000_000, help="training: projection's daily volume")
    group.add_argument("--training-master", default="local[2]", help="training: Spark master (local[2])")
    group.add_argument("--training-no-single", action="store_true", help="training: skip the single-process run")
    group.add_argument(
        "--training-single-rows",
        type=int,
        default=1_000_000,
        help="training: the single process replays whole users up to about this many transactions (1M: at 5M it "
        "would hold some 17 GB on a shared 24 GB machine; its memory per million is reported)",
    )
