"""The peer benchmark's own arithmetic (tools/emulator/peer.py): when a transaction was scored, from
detect-fraud's log lines, and the local cloud's figures over the peer's, round by round."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tools.emulator import peer


def scored_line(transaction_id: str, timestamp: str, message: str = peer.SCORED_MESSAGE) -> str:
    return json.dumps({"level": "INFO", "message": message, "timestamp": timestamp, "transaction_id": transaction_id})


def test_a_transaction_is_scored_when_its_first_scored_line_was_written() -> None:
    lines = [
        "START RequestId: 1 Version: $LATEST",
        scored_line("t1", "2026-12-07 05:25:43,240+0000"),
        scored_line("t1", "2026-12-07 05:25:50,000+0000"),  # a redelivery: the first line counts
        scored_line("t2", "2026-12-07 05:25:44,500+0000", message="Transaction already scored"),
        scored_line("other", "2026-12-07 05:25:45,000+0000"),  # not this run's traffic
        "2026-12-07T05:25:46Z " + scored_line("t3", "2026-12-07 05:25:46,001+0000"),  # a prefixed line
        "not json " + peer.SCORED_MESSAGE,
    ]

    found = peer.scored_times(iter(lines), {"t1", "t2", "t3"})

    assert found.keys() == {"t1", "t3"}
    assert found["t1"] == pytest.approx(1796621143.240) and found["t3"] == pytest.approx(1796621146.001)


def test_ratios_pair_each_round_and_load_and_take_the_median() -> None:
    def run(cloud: str, round_number: int, rate: float, tx_per_s: float, p95: int, cpu: float) -> dict[str, object]:
        return {
            "cloud": cloud,
            "round": round_number,
            "offered_tx_per_s": rate or None,
            "end_to_end_tx_per_s": tx_per_s,
            "latency_ms_p95": p95,
            "cpu_ms_per_transaction": cpu,
        }

    runs = [
        run("local cloud", 1, 0, 60.0, 900, 20.0),
        run(peer.PEER.name, 1, 0, 50.0, 1000, 25.0),
        run(peer.PEER.name, 2, 0, 40.0, 1000, 20.0),
        run("local cloud", 2, 0, 60.0, 800, 20.0),
        run("local cloud", 1, 50, 50.0, 300, 18.0),
        run(peer.PEER.name, 1, 50, 50.0, 200, 18.0),
    ]

    result = peer.ratios(runs)

    saturated = result["saturated end_to_end_tx_per_s (local / peer, higher is better)"]
    assert saturated == {"per_round": [1.2, 1.5], "median": 1.35}
    assert result["50/s latency_ms_p95 (local / peer, lower is better)"] == {"per_round": [1.5], "median": 1.5}
    assert result["saturated cpu_ms_per_transaction (local / peer, lower is better)"]["per_round"] == [0.8, 1.0]


def _states(leader: int) -> dict[int, str]:
    return {pid: fields[0] for pid, fields in peer._session(leader)}


@pytest.fixture
def session() -> Iterator[int]:
    """A leader and a child of its session, both idle: what MiniStack's server and its workers look like."""
    nap = "import time\nwhile True: time.sleep(0.05)"
    spawn = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {nap!r}]); exec({nap!r})"
    leader = subprocess.Popen([sys.executable, "-c", spawn], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while len(_states(leader.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_states(leader.pid)) == 2
        yield leader.pid
    finally:
        os.killpg(leader.pid, signal.SIGKILL)
        leader.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc: Linux only")
def test_a_frozen_session_is_stopped_for_the_block_and_runs_again_after_it(session: int) -> None:
    with peer.frozen(session):
        assert set(_states(session).values()) == {"T"}  # both stopped
        frozen_cpu = peer.session_cpu_seconds(session)
        time.sleep(0.2)
        assert peer.session_cpu_seconds(session) == frozen_cpu  # a stopped process uses no CPU

    assert "T" not in set(_states(session).values())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc: Linux only")
def test_a_frozen_session_is_let_go_when_the_block_fails(session: int) -> None:
    with pytest.raises(RuntimeError), peer.frozen(session):
        raise RuntimeError("the measurement failed")

    assert "T" not in set(_states(session).values())


def test_the_alert_watcher_notes_each_transaction_alert_from_a_process_of_its_own() -> None:
    import boto3

    from tools.emulator.bench import AlertWatcher
    from tools.emulator.localaws import LocalAWS

    with LocalAWS() as aws:
        sqs = boto3.client(
            "sqs", endpoint_url=aws.endpoint, region_name=aws.region, aws_access_key_id="t", aws_secret_access_key="t"
        )
        url = sqs.create_queue(QueueName="alerts-subscription")["QueueUrl"]

        def publish(alert: dict[str, object]) -> None:  # as SNS delivers to an SQS subscription
            envelope = {"Type": "Notification", "Message": json.dumps(alert)}
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(envelope))

        publish({"kind": "transaction", "transaction": {"transaction_id": "t-early"}})  # waiting before the start
        watcher = AlertWatcher(aws.endpoint, aws.region, url)
        watcher.start()
        publish({"kind": "transaction", "transaction": {"transaction_id": "t1"}})
        publish({"kind": "pattern", "pattern": "burst"})
        publish({"kind": "transaction", "transaction": {"transaction_id": "t1"}})  # a second alert: the first counts
        watcher.stop()
        left = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", [])

    assert set(watcher.arrived) == {"t-early", "t1"}
    assert watcher.command[1:3] == ["-m", "tools.emulator.alert_watch"], "read in a process of its own"
    assert left == [], "what it read it deleted"
