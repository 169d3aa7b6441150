"""The local cloud beside a peer emulator, in one session (``python -m tools.bench peer``, ``make bench BENCH=peer``).

The peer is MiniStack (PyPI ``ministack``, the release pinned in ``PEER``), installed into a virtualenv of its own
under ``build/peer/`` (never the project's), with the Lambda functions' own requirements beside it (the project's
``lambda`` extra: boto3 and the pinned Powertools), which stand in for Lambda's runtime and the Powertools layer.
MiniStack runs the functions in local worker processes (``LAMBDA_EXECUTOR=local``: no Docker); the local cloud's
sandboxes run on that virtualenv's interpreter too, so the functions run the same libraries on both (MiniStack pins
its own botocore, which may not be the project's release).

Both clouds get the same deployment: the same Terraform (``--stream-consumer`` direct by default, the local
profile), the same zips, a table of the smallest of ``--table-sizes`` of history for the traffic's cardholders, and
the same traffic from ``tools.emulator.loadgen`` (``--posts`` transactions, ``--concurrency`` clients): as fast as
the API answers (saturated), then ``--rate`` per second (paced). The clouds take turns, ``--peer-rounds`` times each.
Each run reports, measured the same way on both:

- end to end, transactions per second: from the first POST to the last "Transaction scored" line of
  detect-fraud (its own log: the local cloud's log file, MiniStack's CloudWatch Logs), over the transactions scored;
- POST-to-alert median and p95: from each POST to its alert on the topic's SQS subscription;
- CPU per transaction: the server's process and its function workers (``/proc``), over the transactions scored.

and the local cloud's figures over MiniStack's of the same round (ratios), then their medians over the rounds. The
alert watcher runs in a process of its own for both (``tools.emulator.alert_watch``): each cloud's CPU includes
serving its calls, not making them. The CPU is read once the last transaction is scored, before the local cloud's
log is read for the times (its own lines only). While the local cloud is measured, MiniStack's processes are
stopped (SIGSTOP, ``frozen``), so its pollers take no CPU from the run; the local cloud runs in this process and
cannot be stopped while MiniStack is measured, so each cloud's idle cost (deployed, warm, no traffic: CPU
milliseconds a second) is measured once and reported.
Where MiniStack cannot be installed or started, the section is skipped with the reason.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3

from tools._cli import BUILD, ROOT, ToolError, progress
from tools.detection import simulate
from tools.emulator import bench
from tools.emulator.timings import percentile

REGION = "us-east-1"
SCORED_MESSAGE = "Transaction scored"
IDLE_S = 10.0  # how long each cloud's idle CPU is measured


@dataclass(frozen=True)
class Peer:
    name: str
    package: str
    version: str

    @property
    def home(self) -> Path:
        return BUILD / "peer" / f"{self.package}-{self.version}"


PEER = Peer("MiniStack", "ministack", "1.5.33")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("peer section (also uses the emulator section's options)")
    group.add_argument("--peer-rounds", type=int, default=2, help="turns each cloud takes, alternated (default 2)")
    group.add_argument("--peer-routing", choices=("direct", "eventbridge"), default="direct", help="(default direct)")


# -- the peer's virtualenv and server ------------------------------------------------------------------


def lambda_requirements() -> list[str]:
    """The project's ``lambda`` extra: what the functions import beside their zip."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["optional-dependencies"]["lambda"])


def install(peer: Peer = PEER) -> tuple[Path | None, str]:
    """The peer's interpreter in its own virtualenv (made once), or None and why it cannot be had."""
    venv = peer.home / "venv"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    wanted = json.dumps([f"{peer.package}=={peer.version}", *lambda_requirements()])
    if marker.is_file() and marker.read_text() == wanted:
        return python, ""
    progress(f"installing {peer.name} {peer.version} into {venv} (its own virtualenv)")
    steps = [[sys.executable, "-m", "venv", "--clear", str(venv)], [str(python), "-m", "pip", "install", "--quiet"]]
    steps[1] += json.loads(wanted)
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"{peer.name} {peer.version} could not be installed: {tail}"
    marker.write_text(wanted)
    return python, ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# MiniStack 1.5.33 refuses the empty key value the AWS provider sends for a key whose value AWS generates
# (aws_api_gateway_api_key without ``value``): "API Key value should be at least 20 characters". AWS generates
# one; so does MiniStack for a request without the value, which is what this start-up makes of an empty one.
LAUNCHER = """
import ministack.services.apigateway_v1 as api
create = api._create_api_key
api._create_api_key = lambda data: create({k: v for k, v in data.items() if not (k == "value" and v == "")})
from ministack.app import main
main()
"""


@contextlib.contextmanager
def ministack(python: Path, peer: Peer = PEER) -> Iterator[tuple[str, int]]:
    """Run MiniStack on a free port of 127.0.0.1 in a session of its own (its workers too); yields its endpoint
    and process id (the session's)."""
    port = _free_port()
    log = peer.home / "server.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LOCALSTACK", "MINISTACK"))},
        "GATEWAY_PORT": str(port),
        "BIND_HOST": "127.0.0.1",
        "MINISTACK_REGION": REGION,
        "LAMBDA_EXECUTOR": "local",
        "LOG_LEVEL": "WARNING",
        "TMPDIR": str(peer.home),
    }
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [str(python), "-c", LAUNCHER],
            env=env,
            cwd=peer.home,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://127.0.0.1:{port}"
    # A bench stopped with SIGTERM still tears MiniStack down (Python's default handler runs no finally blocks; a
    # frozen MiniStack would stay stopped for good: it is a session of its own).
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _exit_on_sigterm) if on_main_thread else None
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise ToolError(f"{peer.name} exited at start (see {log})")
            try:
                with urllib.request.urlopen(f"{endpoint}/_ministack/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise ToolError(f"{peer.name} did not answer within 60 s (see {log})") from None
                time.sleep(0.2)
        yield endpoint, server.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
            os.killpg(server.pid, signal.SIGCONT)  # a process left stopped (frozen) acts on SIGTERM only once let go
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)  # the server, or a worker the server left behind
        server.wait()
        if on_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _session(leader: int) -> Iterator[tuple[int, list[str]]]:
    """The live processes of the session ``leader`` started (Linux ``/proc``): each one's id and the fields of its
    ``stat`` after the command name (``fields[3]`` is the session id, ``fields[11:13]`` its user and system ticks)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == leader:
            yield int(stat.parent.name), fields


def session_cpu_seconds(leader: int) -> dict[str, float]:
    """CPU time of the processes of the session ``leader`` started: the leader's (``server``) and the others'
    (``functions``: MiniStack's workers, the live ones and those that exited and the leader reaped, whose time the
    leader's ``stat`` keeps: a worker reaped during a run takes its CPU out of the live sum, not out of the total)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = {"server": 0.0, "functions": 0.0}
    for pid, fields in _session(leader):
        if pid == leader:
            total["server"] += (int(fields[11]) + int(fields[12])) / ticks
            total["functions"] += (int(fields[13]) + int(fields[14])) / ticks  # reaped children
        else:
            total["functions"] += (int(fields[11]) + int(fields[12])) / ticks
    return total


@contextlib.contextmanager
def frozen(leader: int) -> Iterator[None]:
    """Every process of the session ``leader`` started stopped (SIGSTOP) for the block, then let go on (SIGCONT):
    the cloud that is not being measured takes no CPU from the one that is (its pollers and timers stand still).
    A process started while the others were being stopped is found by the next look and stopped too; the
    freeze holds once a look finds every process stopped (or gone: a zombie). Freeze a quiet session (``settle``):
    its clocks run on while it stands, and work in flight times out when it is let go."""
    stopped: set[int] = set()
    try:
        deadline = time.monotonic() + 5  # a signal is delivered when its process is next scheduled
        while True:
            running = [pid for pid, fields in _session(leader) if fields[0] not in "TtZX"]
            if not running:
                break
            if time.monotonic() > deadline:
                raise ToolError(f"could not stop the processes {running} of session {leader}")
            for pid in running:
                with contextlib.suppress(ProcessLookupError):
                    if pid not in stopped:
                        os.kill(pid, signal.SIGSTOP)
                        stopped.add(pid)
            time.sleep(0.01)
        yield
    finally:
        for pid in stopped:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)


def settle(target: Target, *, quiet_ms_per_s: float = 20.0, timeout_s: float = 60.0) -> None:
    """Wait until ``target`` is quiet: a second in which it spent less than ``quiet_ms_per_s`` of CPU (its last
    run's alerts, retries and log shipping done), for ``timeout_s`` at most."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and idle_cpu_ms_per_s(target, 1.0) >= quiet_ms_per_s:
        pass


@contextlib.contextmanager
def turn(target: Target, peer: PeerTarget) -> Iterator[None]:
    """``target``'s turn to be measured: MiniStack (``peer``) as it is for its own, settled and frozen for the local
    cloud's."""
    if target is peer:
        yield
        return
    settle(peer)
    with frozen(peer.leader):
        yield


def idle_cpu_ms_per_s(target: Target, seconds: float) -> float:
    """CPU milliseconds ``target`` spends a second with nothing to do (deployed, warm, no traffic), over
    ``seconds``: its pollers, timers and watchers."""
    before, started = target.cpu_seconds(), time.monotonic()
    time.sleep(seconds)
    after, elapsed = target.cpu_seconds(), time.monotonic() - started
    return round(sum(after[part] - before[part] for part in after) * 1000 / elapsed, 1)


# -- a cloud under test --------------------------------------------------------------------------------


def scored_times(lines: Iterator[str], wanted: set[str]) -> dict[str, float]:
    """Transaction id -> epoch seconds of its "Transaction scored" line, for the ``wanted`` ids."""
    found: dict[str, float] = {}
    for line in lines:
        if SCORED_MESSAGE not in line:
            continue
        try:
            record = json.loads(line[line.index("{") :])
        except ValueError:
            continue
        tid = record.get("transaction_id")
        if record.get("message") == SCORED_MESSAGE and tid in wanted and tid not in found:
            found[tid] = datetime.strptime(record["timestamp"], "%Y-%m-%d %H:%M:%S,%f%z").timestamp()
    return found


class Target:
    """What a measurement needs of a cloud: where to POST, its clients, its CPU, its detect-fraud log lines."""

    name: str
    endpoint: str  # the cloud's AWS endpoint (the alert watcher reads its queue there)
    region: str
    api_url: str
    api_key: str
    outputs: dict[str, Any]

    def client(self, service: str) -> Any:
        raise NotImplementedError

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far: ``server`` (the cloud's own process) and ``functions`` (the function workers)."""
        raise NotImplementedError

    def start(self) -> None:
        """Called as a run starts."""

    def log_lines(self, since_ms: int) -> Iterator[str]:
        raise NotImplementedError

    def wait_scored(self, accepted: set[str], since_ms: int) -> None:
        """Wait (5 minutes at most) until every accepted transaction is scored."""
        deadline = time.monotonic() + 300
        while not accepted <= self.scored(accepted, since_ms).keys() and time.monotonic() < deadline:
            time.sleep(1)

    def scored(self, wanted: set[str], since_ms: int) -> dict[str, float]:
        """When each of the ``wanted`` transactions scored so far was scored."""
        return scored_times(self.log_lines(since_ms), wanted)


class LocalTarget(Target):
    def __init__(self, cloud: Any) -> None:
        self.cloud, self.name = cloud, "local cloud"
        self.endpoint, self.region = cloud.endpoint, cloud.region
        self.api_url, self.api_key, self.outputs = cloud.api_url, cloud.api_key, cloud.outputs
        self.detect = cloud.topology.function("detect-fraud").name

    def wait_scored(self, accepted: set[str], since_ms: int) -> None:
        # Waits on the emulator's own count (no log reading meanwhile, in the process whose CPU is measured).
        deadline = time.monotonic() + 300
        while self.cloud.ledger[(self.detect, "ok")] - self.before < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.cloud.wait_idle(quiet_s=0.5, timeout_s=60)

    def start(self) -> None:
        self.before = self.cloud.ledger[(self.detect, "ok")]
        self.log_offset = self.cloud.runtime.log_file(self.detect).stat().st_size  # this run's lines come after

    def client(self, service: str) -> Any:
        return self.cloud.client(service)

    def cpu_seconds(self) -> dict[str, float]:
        return {"server": time.process_time(), "functions": sum(self.cloud.runtime.cpu_seconds().values())}

    def log_lines(self, since_ms: int) -> Iterator[str]:
        with open(self.cloud.runtime.log_file(self.detect), "rb") as log:
            log.seek(self.log_offset)
            for line in log:
                yield line.decode("utf-8", errors="replace")


class PeerTarget(Target):
    def __init__(self, endpoint: str, leader: int, outputs: dict[str, Any]) -> None:
        self.name, self.endpoint, self.leader, self.outputs = PEER.name, endpoint, leader, outputs
        self.region = REGION
        self.api_url = f"{endpoint}/_aws/execute-api/{outputs['api_id']}/{outputs['api_stage_name']}/transactions"
        self.api_key = outputs["api_key_value"]
        self.detect = f"detect-fraud-{outputs['suffix']}"
        self._session = boto3.Session(aws_access_key_id="test", aws_secret_access_key="test", region_name=REGION)

    def client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self.endpoint)

    def cpu_seconds(self) -> dict[str, float]:
        return session_cpu_seconds(self.leader)

    def log_lines(self, since_ms: int) -> Iterator[str]:
        logs = self.client("logs")
        pages = logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{self.detect}", startTime=since_ms
        )
        for page in pages:
            for event in page.get("events", []):
                yield event["message"]


def measure(target: Target, bodies: list[dict[str, Any]], concurrency: int, rate: float) -> dict[str, Any]:
    """Post ``bodies`` to ``target``, wait until each accepted one is scored; the run's figures."""
    wanted = {body["transaction_id"] for body in bodies}
    watcher = bench.AlertWatcher.of(target)
    watcher.start()
    target.start()
    since_ms = int(time.time() * 1000) - 1000
    cpu_before = target.cpu_seconds()
    results = bench.post_all(target, bodies, concurrency, rate)  # type: ignore[arg-type]
    accepted = {r["id"] for r in results if r["status"] == 201}
    target.wait_scored(accepted, since_ms)
    cpu_after = target.cpu_seconds()
    cpu = {part: cpu_after[part] - cpu_before[part] for part in cpu_after}
    watcher.stop()
    scored = target.scored(wanted, since_ms)  # the local cloud's log read in its own process, not counted
    sent = {r["id"]: r["sent"] for r in results}
    first = min(sent.values(), default=time.time())
    latencies = sorted(watcher.arrived[tid] - sent[tid] for tid in watcher.arrived if tid in sent)
    done = [scored[tid] for tid in accepted if tid in scored]
    return {
        "cloud": target.name,
        "offered_tx_per_s": rate or None,
        "accepted": len(accepted),
        "scored": len(done),
        "end_to_end_tx_per_s": round(len(done) / max(max(done, default=first) - first, 1e-9), 1),
        "latency_ms_median": round(statistics.median(latencies) * 1000) if latencies else None,
        "latency_ms_p95": round(percentile(latencies, 0.95) * 1000) if latencies else None,
        "alerts": len(latencies),
        "cpu_ms_per_transaction": round(sum(cpu.values()) * 1000 / max(len(done), 1), 1),
        **{f"cpu_ms_{part}": round(seconds * 1000 / max(len(done), 1), 1) for part, seconds in cpu.items()},
    }


# -- deployments ---------------------------------------------------------------------------------------


def deploy_peer(endpoint: str, mode: str, suffix: str) -> dict[str, Any]:
    """Apply the same Terraform into the peer (a fresh server: no state to restore)."""
    from tools.deploy import tfvars
    from tools.deploy.tf import Stack
    from tools.emulator.demo import tfvars_arguments

    if tfvars.main(tfvars_arguments(suffix, "local", mode)) != 0:
        raise ToolError("rendering the variables failed (see above)")
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "TF_CLI_CONFIG_FILE": os.devnull,
        # Applies with Terraform's default 10 at once failed now and then on a create MiniStack had done
        # ("already exists": the provider's request retried); fewer at once.
        "TF_CLI_ARGS_apply": "-parallelism=4",
    }
    stack = Stack(suffix, env=env)
    stack.state_file.unlink(missing_ok=True)  # the server is new: an old state describes nothing there
    stack.init()
    started = time.monotonic()
    stack.apply(plan=False)
    progress(f"{PEER.name}: applied in {time.monotonic() - started:.0f} s")
    return stack.outputs()


def preload_peer(target: PeerTarget, cloud_like: Any, size: int, seed: int, users: int, end_ms: int) -> None:
    """The same history as the local cloud's pre-load, written through the peer's API (BatchWriteItem), then
    drained: its stream carries the writes, and detect-fraud scores them before the first measurement."""
    since_ms = int(time.time() * 1000) - 1000
    items = bench.history_items(cloud_like, size, seed=seed, users=users, end_ms=end_ms)
    dynamodb = target.client("dynamodb")
    table = target.outputs["table_name"]
    for start in range(0, len(items), 25):
        chunk = items[start : start + 25]
        dynamodb.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": item}} for item in chunk]})
    wanted = {item["transaction_id"]["S"] for item in items if item.get("kind", {}).get("S") == "transaction"}
    target.wait_scored(wanted, since_ms)


# -- the section ---------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tools.emulator.demo import deploy
    from tools.emulator.local_cloud import LocalCloud
    from tools.emulator.localaws import LocalAWS

    mode = args.peer_routing
    size = min(int(s) for s in args.table_sizes.split(",") if s.strip())
    result: dict[str, Any] = {
        "peer": f"{PEER.name} {PEER.version}",
        "stream_consumer": mode,
        "table_transactions": size,
        "posts": args.posts,
        "concurrency": args.concurrency,
        "rate": args.rate,
        "runs": [],
    }
    if sys.platform != "linux":
        result["skipped"] = "the CPU figures read /proc: Linux only"
        return result
    python, reason = install()
    if python is None:
        result["skipped"] = reason
        return result
    users = max(bench.TRAFFIC_USERS, args.posts // 2)
    rates = (0.0, args.rate) if args.rate else (0.0,)
    days = 1 + args.peer_rounds * len(rates)
    history_end = int(time.time() * 1000) - (days + 1) * bench.DAY_MS
    with contextlib.ExitStack() as stack:
        aws = stack.enter_context(LocalAWS())
        progress(f"local cloud: deploying bench-{mode}")
        with contextlib.redirect_stdout(sys.stderr):
            outputs, how = deploy(aws, mode, suffix=f"bench-{mode}")
        cloud = stack.enter_context(
            LocalCloud(
                aws,
                outputs,
                log_dir=BUILD / f"bench-{mode}" / "logs",
                time_scale=args.time_scale,
                schedule_time_scale=None,
                max_sandboxes=args.sandboxes,
                # The functions on the same interpreter and libraries on both clouds: MiniStack's virtualenv (its
                # botocore is pinned by MiniStack, so the project's own may be another release).
                sandbox_python=str(python),
            )
        )
        assert cloud.runtime is not None
        cloud.runtime.warm(full=True)
        present = bench.table_transactions(cloud, outputs["table_name"])
        bench.preload(cloud, size - present, seed=args.seed, users=users, end_ms=history_end)
        local = LocalTarget(cloud)
        progress(f"{PEER.name} {PEER.version}: starting, deploying peer-{mode} (the same Terraform and zips)")
        for attempt in (1, 2):  # an apply into MiniStack once failed on a retried CreateTable: a new server, once
            server = contextlib.ExitStack()
            try:
                endpoint, leader = server.enter_context(ministack(python))
                with contextlib.redirect_stdout(sys.stderr):
                    peer_outputs = deploy_peer(endpoint, mode, f"peer-{mode}")
            except ToolError as error:
                server.close()
                if attempt == 2:
                    result["skipped"] = f"{PEER.name} could not be started or deployed into: {error}"[:2000]
                    return result
                progress(f"{PEER.name}: {str(error)[-300:]}; once more, on a new server")
                continue
            stack.enter_context(server)
            break
        peer = PeerTarget(endpoint, leader, peer_outputs)
        preload_peer(peer, cloud, size, seed=args.seed, users=users, end_ms=history_end)
        # A warm-up run each (the sandboxes' first calls, the workers' cold starts), not counted.
        for target in (local, peer):
            warm = _traffic(args.concurrency * 4, users, args.seed, days)
            with turn(target, peer):
                measure(target, warm, args.concurrency, 0.0)
        # MiniStack stands frozen while the local cloud is measured; the local cloud cannot be (it runs in this
        # process), so what each costs idle is measured, the same way, and reported instead.
        idle: dict[str, float] = {}
        settle(peer)
        idle[peer.name] = idle_cpu_ms_per_s(peer, IDLE_S)
        with turn(local, peer):
            settle(local)
            idle[local.name] = idle_cpu_ms_per_s(local, IDLE_S)
        result["idle_cpu_ms_per_s"] = idle
        progress(f"idle, CPU ms a second: {idle}")
        for round_number in range(args.peer_rounds):
            for rate in rates:
                days -= 1
                bodies = _traffic(args.posts, users, args.seed, days)
                for target in (local, peer) if round_number % 2 == 0 else (peer, local):
                    with turn(target, peer):
                        run_result = measure(target, bodies, args.concurrency, rate)
                    run_result["round"] = round_number + 1
                    result["runs"].append(run_result)
                    progress(_line(run_result))
        if errors := cloud.errors():
            raise ToolError("the local cloud failed during the benchmark: " + "; ".join(errors))
    result["ratios"] = ratios(result["runs"])
    return result


def _traffic(count: int, users: int, seed: int, days_ago: int) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    traffic = simulate.generate(
        n_users=users,
        days=1,
        seed=seed,
        fraud_rate=bench.FRAUD_RATE,
        end_ms=now_ms - 1000 - days_ago * bench.DAY_MS,
        n_transactions=count,
    )
    return [simulate.api_body(t) for t in traffic]


def ratios(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Local over peer, per round and load, and their medians over the rounds."""
    pairs: dict[tuple[int, float | None], dict[str, dict[str, Any]]] = {}
    for r in runs:
        pairs.setdefault((r["round"], r["offered_tx_per_s"]), {})[r["cloud"]] = r
    out: dict[str, list[float]] = {}
    for (_, rate), both in sorted(pairs.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        local, peer = both.get("local cloud"), both.get(PEER.name)
        if not local or not peer:
            continue
        load = f"{rate:g}/s" if rate else "saturated"
        for key, better in (
            ("end_to_end_tx_per_s", "higher"),
            ("latency_ms_p95", "lower"),
            ("cpu_ms_per_transaction", "lower"),
        ):
            if local.get(key) and peer.get(key):
                out.setdefault(f"{load} {key} (local / peer, {better} is better)", []).append(
                    round(local[key] / peer[key], 2)
                )
    return {name: {"per_round": values, "median": round(statistics.median(values), 2)} for name, values in out.items()}


def _line(r: dict[str, Any]) -> str:
    load = f"{r['offered_tx_per_s']:g}/s" if r["offered_tx_per_s"] else "saturated"
    return (
        f"round {r['round']} {r['cloud']:<11} {load:>9}: {r['end_to_end_tx_per_s']:>6} tx/s end to end, "
        f"POST-to-alert median {r['latency_ms_median']} ms, p95 {r['latency_ms_p95']} ms ({r['alerts']} alerts), "
        f"CPU {r['cpu_ms_per_transaction']} ms/tx (server {r['cpu_ms_server']}, functions {r['cpu_ms_functions']}; "
        f"{r['scored']}/{r['accepted']} scored)"
    )


def report(result: dict[str, Any]) -> str:
    head = (
        f"local cloud beside {result['peer']} ({result['stream_consumer']} routing, "
        f"{result['table_transactions']:,}-row table, {result['posts']} posts, {result['concurrency']} clients)"
    )
    if "skipped" in result:
        return f"{head}: skipped: {result['skipped']}"
    lines = [head + ":"]
    if idle := result.get("idle_cpu_ms_per_s"):
        lines.append(
            "  idle (deployed, warm, no traffic), CPU ms a second: " + ", ".join(f"{k} {v}" for k, v in idle.items())
        )
    lines += ["  " + _line(r) for r in result["runs"]]
    lines += [f"  {name}: {v['per_round']} (median {v['median']})" for name, v in result["ratios"].items()]
    return "\n".join(lines)
