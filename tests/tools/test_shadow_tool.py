"""tools.detection.shadow: live against shadow decisions from detect-fraud's "Transaction scored" lines."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws

from tools._cli import ToolError
from tools.detection import shadow

GROUP = "/aws/lambda/detect-fraud-test"
HOUR_MS = 3_600_000


def line(txn: str, score: int, decision: str, shadow_score: int | None = None, shadow_decision: str | None = None):
    record = {
        "level": "INFO",
        "message": "Transaction scored",
        "service": "fraud-detection",
        "transaction_id": txn,
        "score": score,
        "decision": decision,
        "model_version": "20250101-aaaa",
        "rules_version": "r1",
        "history_items": 3,
    }
    if shadow_decision is not None:
        record["shadow"] = {
            "score": shadow_score,
            "decision": shadow_decision,
            "model_version": "20250102-bbbb",
            "rules_version": "r1",
        }
    return json.dumps(record)


LINES = [
    line("t1", 10, "allow", 12, "allow"),
    line("t2", 65, "review", 80, "alert"),
    line("t3", 90, "alert", 50, "allow"),
    line("t4", 20, "allow"),  # scored before the shadow was configured
    line("t5", 5, "allow", 5, "allow"),
    line("t5", 5, "allow", 5, "allow"),  # a retry: counted once
]


def test_decisions_alerts_and_score_shift_are_tallied(tmp_path) -> None:
    path = tmp_path / "detect-fraud.log"
    noise = ["START RequestId: 1", '{"level": "INFO", "message": "Stream record skipped"}', "not json {"]
    path.write_text("\n".join([*noise, *(f"2025-01-01T00:00:00Z\trequest\t{x}" for x in LINES)]) + "\n")
    summary = shadow.compare(shadow.read_file(path)).summary()
    assert (summary["log_lines"], summary["transactions"], summary["without_shadow"]) == (6, 5, 1)
    assert (summary["compared"], summary["agree"], summary["disagree"]) == (4, 2, 2)
    assert summary["decisions"]["review"]["alert"] == 1 and summary["decisions"]["alert"]["allow"] == 1
    assert summary["alerts_queued"] == {"live": 2, "shadow": 1}
    assert summary["alert_decisions"] == {"live": 1, "shadow": 1}
    assert summary["score_shift"]["mean"] == pytest.approx((2 + 15 - 40 + 0) / 4, abs=1e-3)
    assert (summary["score_shift"]["up"], summary["score_shift"]["down"], summary["score_shift"]["same"]) == (2, 1, 1)
    assert summary["shadow_versions"] == {"model 20250102-bbbb, rules r1": 4}
    text = shadow.render(summary)
    assert "agree 2 (50.00 %), disagree 2" in text


def test_no_shadow_in_the_period_says_so(tmp_path, capsys) -> None:
    path = tmp_path / "only-live.log"
    path.write_text(line("t1", 10, "allow") + "\n")
    assert shadow.main(["--log-file", str(path)]) == 0
    assert "no shadow decisions in the period" in capsys.readouterr().out


def test_cloudwatch_lines_of_the_period_are_read(monkeypatch, capsys) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        logs = boto3.client("logs")
        logs.create_log_group(logGroupName=GROUP)
        logs.create_log_stream(logGroupName=GROUP, logStreamName="s")
        # CloudWatch takes events of the last 14 days only: a period that ended an hour ago
        end_ms = (int(time.time() * 1000) // HOUR_MS - 1) * HOUR_MS
        events = [{"timestamp": end_ms - 2 * HOUR_MS + 1000 * i, "message": text} for i, text in enumerate(LINES)]
        events.append({"timestamp": end_ms + 1000, "message": line("late", 1, "allow", 99, "alert")})
        logs.put_log_events(logGroupName=GROUP, logStreamName="s", logEvents=events)
        end = datetime.fromtimestamp(end_ms / 1000, tz=UTC).isoformat()
        argv = ["--log-group", GROUP, "--since", "6h", "--end", end, "--json"]
        assert shadow.main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["transactions"] == 5 and summary["compared"] == 4  # the late line is outside the period


def test_a_bad_period_is_refused() -> None:
    with pytest.raises(ToolError, match="--since takes a duration"):
        shadow.main(["--log-group", GROUP, "--since", "yesterday"])
    with pytest.raises(ToolError, match="start must be before its end"):
        shadow.main(["--log-group", GROUP, "--start", "2025-01-02", "--end", "2025-01-01"])


# --- label-based quality (the fraud team's labels judge live and the candidate alike) -------------------


def scored(txn: str, decision: str, shadow_decision: str, reasons: list[str], shadow_reasons: list[str]) -> str:
    record = json.loads(line(txn, 50, decision, 50, shadow_decision))
    record["timestamp"] = "2025-01-15 12:10:00,123+0000"  # Powertools' own stamp: a Wednesday
    record["reasons"], record["shadow"]["reasons"] = reasons, shadow_reasons
    return json.dumps(record)


def test_with_labels_the_same_precision_and_recall_are_reported_for_live_and_the_candidate(tmp_path, capsys) -> None:
    import gzip

    from fraud.labels import Label
    from tools.cases.labels import export_bytes

    log = tmp_path / "detect-fraud.log"
    log.write_text(
        "\n".join(
            [
                scored("a", "alert", "alert", ["VELOCITY"], ["VELOCITY"]),  # fraud, both flag it
                scored("b", "review", "allow", ["NEW_DEVICE"], []),  # legitimate: live's false alarm
                scored("c", "allow", "alert", [], ["SPREE"]),  # a chargeback: only the candidate caught it
            ]
        )
        + "\n"
    )
    labels = tmp_path / "labels" / "labels.jsonl.gz"
    labels.parent.mkdir()
    labels.write_bytes(
        export_bytes(
            [
                Label("a", "fraud", "analyst", "ana", 1_736_942_400_000, "txn-a"),
                Label("b", "legitimate", "analyst", "ana", 1_736_942_400_000, "txn-b"),
                Label("c", "fraud", "chargeback", "cb.csv", 1_737_000_000_000),
            ]
        )
    )
    assert gzip.decompress(labels.read_bytes()).count(b"\n") == 3
    assert shadow.main(["--log-file", str(log), "--labels", str(labels), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)["quality"]
    live, candidate = figures["live"]["2025-01-13"], figures["shadow"]["2025-01-13"]
    assert (live["all"]["decided"], live["all"]["confirmed"], live["all"]["recall"]) == (2, 1, 0.0)
    assert (candidate["all"]["decided"], candidate["all"]["confirmed"], candidate["all"]["recall"]) == (2, 2, 1.0)
    assert live["rules"]["NEW_DEVICE"]["precision"] == 0.0 and candidate["rules"]["SPREE"]["precision"] == 1.0
    assert shadow.main(["--log-file", str(log), "--labels", str(labels)]) == 0
    text = capsys.readouterr().out
    assert "label-based quality (3 labelled transactions)" in text and "shadow (the candidate):" in text


def test_a_bad_labels_file_is_refused_with_its_line(tmp_path) -> None:
    log = tmp_path / "detect-fraud.log"
    log.write_text(scored("a", "alert", "alert", [], []) + "\n")
    bad = tmp_path / "labels.jsonl"
    bad.write_text('{"transaction_id": "a", "label": "maybe", "source": "analyst", "at": 1736942400000}\n')
    with pytest.raises(ToolError, match="labels.jsonl:1: label must be"):
        shadow.main(["--log-file", str(log), "--labels", str(bad)])
