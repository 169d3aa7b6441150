"""Compare the live and the shadow decisions of detect-fraud over a period, from its log lines.

    python -m tools.detection.shadow --env dev --since 24h              # CloudWatch Logs of the deployment
    python -m tools.detection.shadow --log-group /aws/lambda/NAME --start 2025-01-01T00:00 --end 2025-01-02T00:00
    python -m tools.detection.shadow --log-file build/emulator/detect-fraud.log --json
    python -m tools.detection.shadow --log-file detect-fraud.log --labels labels/labels.jsonl.gz  # + quality

detect-fraud writes one "Transaction scored" line per scored transaction (``docs/contracts.md``):
``transaction_id, score, decision, model_version, rules_version, history_items`` and, while a shadow model
or shadow rules document is configured, ``shadow = {score, decision, model_version, rules_version}``. The
shadow's decisions are logged and counted (``ShadowDisagreements``), never alerted. This tool reads those
lines (CloudWatch Logs ``FilterLogEvents`` on ``/aws/lambda/<detect-fraud>``, or a local file of JSON
lines, e.g. the emulator's) and reports, over the transactions scored by both (the last line of a
transaction counts when it was scored more than once):

- how often the decisions agree, and the live x shadow table of decisions;
- the alerts each would have raised (review and alert both go to the alerts queue; alert alone too);
- the score shift (shadow minus live): mean, quantiles, and how many moved up or down;
- the versions seen on each side;
- when labels exist (the environment's labels table with ``--env``, or ``--labels`` a labels export or import
  file): the same label-based quality the console shows (``fraud.quality``), for live and for the candidate,
  per week of scoring: precision of each rule and model (flagged and labelled: the share fraud), recall where
  chargebacks and disputes exist. Analysts label only what live flagged, so a candidate's own flags count in its
  precision only once a chargeback or dispute labels them.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fraud.document import DECISIONS
from fraud.labels import PROCESSOR_SOURCES, Label, LabelError, effective_labels, parse_label
from fraud.quality import Outcome, report, week_of, weekly
from fraud.quality import render as render_quality
from tools._cli import ToolError, progress, reading, run

MESSAGE = "Transaction scored"
SUSPICIOUS = ("review", "alert")


def parse_line(line: str) -> dict | None:
    """The "Transaction scored" record of one log line (JSON, possibly after a prefix), else None."""
    start = line.find("{")
    if start < 0 or MESSAGE not in line:
        return None
    try:
        record = json.loads(line[start:])
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("message") != MESSAGE:
        return None
    return record


@dataclass
class Comparison:
    latest: dict[str, dict] = field(default_factory=dict)  # the last scored line of each transaction
    lines: int = 0
    transactions: int = 0
    without_shadow: int = 0
    table: Counter = field(default_factory=Counter)  # (live decision, shadow decision) -> count
    shifts: list[float] = field(default_factory=list)
    live_versions: Counter = field(default_factory=Counter)
    shadow_versions: Counter = field(default_factory=Counter)

    @property
    def compared(self) -> int:
        return sum(self.table.values())

    @property
    def agreements(self) -> int:
        return sum(count for (live, shadow), count in self.table.items() if live == shadow)

    def raised(self, side: int, decisions: Iterable[str]) -> int:
        wanted = set(decisions)
        return sum(count for pair, count in self.table.items() if pair[side] in wanted)

    def summary(self) -> dict[str, Any]:
        compared = self.compared
        shifts = sorted(self.shifts)
        quantiles = (
            {f"p{q}": shifts[min(len(shifts) - 1, int(q / 100 * len(shifts)))] for q in (1, 10, 50, 90, 99)}
            if shifts
            else {}
        )
        return {
            "log_lines": self.lines,
            "transactions": self.transactions,
            "without_shadow": self.without_shadow,
            "compared": compared,
            "agree": self.agreements,
            "disagree": compared - self.agreements,
            "agreement_rate": round(self.agreements / compared, 4) if compared else None,
            "decisions": {live: {shadow: self.table[(live, shadow)] for shadow in DECISIONS} for live in DECISIONS},
            "alerts_queued": {"live": self.raised(0, SUSPICIOUS), "shadow": self.raised(1, SUSPICIOUS)},
            "alert_decisions": {"live": self.raised(0, ["alert"]), "shadow": self.raised(1, ["alert"])},
            "score_shift": {
                "mean": round(statistics.fmean(shifts), 3) if shifts else None,
                **quantiles,
                "up": sum(1 for s in shifts if s > 0),
                "down": sum(1 for s in shifts if s < 0),
                "same": sum(1 for s in shifts if s == 0),
            },
            "live_versions": dict(self.live_versions.most_common()),
            "shadow_versions": dict(self.shadow_versions.most_common()),
        }


def _versions(record: dict) -> str:
    return f"model {record.get('model_version') or 'none'}, rules {record.get('rules_version') or '?'}"


def compare(records: Iterable[dict]) -> Comparison:
    """Tally live against shadow over ``records`` (parsed lines, any order)."""
    result = Comparison()
    latest: dict[str, dict] = {}
    for record in records:
        result.lines += 1
        key = str(record.get("transaction_id"))
        latest[key] = record  # a retried transaction: its last scoring counts
    result.transactions = len(latest)
    result.latest = latest
    for record in latest.values():
        shadow = record.get("shadow")
        if not isinstance(shadow, dict) or shadow.get("decision") not in DECISIONS:
            result.without_shadow += 1
            continue
        live_decision = record.get("decision")
        if live_decision not in DECISIONS:
            result.without_shadow += 1
            continue
        result.table[(live_decision, shadow["decision"])] += 1
        if isinstance(shadow.get("score"), int | float) and isinstance(record.get("score"), int | float):
            result.shifts.append(float(shadow["score"]) - float(record["score"]))
        result.live_versions[_versions(record)] += 1
        result.shadow_versions[_versions(shadow)] += 1
    return result


# -- label-based quality (fraud.quality) ----------------------------------------------------------


def scored_ms(record: dict) -> int | None:
    """When a line was written (Powertools' ``timestamp``, ``2025-01-15 12:10:00,123+0000``), epoch ms."""
    stamp = record.get("timestamp")
    if isinstance(stamp, int | float):
        return int(stamp)
    try:
        return int(datetime.strptime(str(stamp), "%Y-%m-%d %H:%M:%S,%f%z").timestamp() * 1000)
    except ValueError:
        return None


def outcomes(latest: dict[str, dict], labels: dict[str, Label], side: str) -> list[Outcome]:
    """One outcome per transaction scored on ``side`` (``live`` or ``shadow``), with its effective label."""
    found = []
    for transaction_id, record in latest.items():
        scored = record if side == "live" else record.get("shadow")
        at = scored_ms(record)
        if not isinstance(scored, dict) or scored.get("decision") not in DECISIONS or at is None:
            continue
        label = labels.get(transaction_id)
        found.append(
            Outcome(
                week=week_of(at),
                flagged=scored["decision"] in SUSPICIOUS,
                rules=tuple(scored.get("reasons") or ()),
                model=str(scored.get("model_version") or "none"),
                label=None if label is None else label.label,
                processor=label is not None and label.source in PROCESSOR_SOURCES,
            )
        )
    return found


def quality(comparison: Comparison, labels: dict[str, Label]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The weekly figures (``fraud.quality.Week`` by week) of live and of the shadow, judged by the same labels."""
    return weekly(outcomes(comparison.latest, labels, "live")), weekly(outcomes(comparison.latest, labels, "shadow"))


def read_labels(path: str | Path) -> dict[str, Label]:
    """The effective label of each transaction of a labels file: JSON lines of the contract (gzip or not),
    e.g. ``labels/labels.jsonl.gz`` of an export."""
    import gzip

    with reading(path):
        raw = Path(path).read_bytes()
    text = (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")
    labels = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            labels.append(parse_label(json.loads(line), default_by=Path(path).name))
        except (ValueError, TypeError, AttributeError) as error:
            reason = str(error) if isinstance(error, LabelError) else "not a label object"
            raise ToolError(f"{path}:{number}: {reason}") from None
    return effective_labels(labels)


def labels_of_environment(suffix: str) -> dict[str, Label]:
    """The effective labels of an environment's labels table (none when it has no table)."""
    import boto3

    from fraud.labels import LabelStore
    from tools.deploy.tf import Stack

    outputs = Stack(suffix).outputs()
    table = outputs.get("labels_table_name")
    if not table:
        return {}
    return effective_labels(LabelStore(boto3.client("dynamodb", region_name=outputs.get("region")), table).all())


# -- where the lines come from -------------------------------------------------------------------


def read_file(path: str | Path) -> Iterator[dict]:
    with reading(path), Path(path).open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            record = parse_line(line)
            if record is not None:
                yield record


def read_cloudwatch(log_group: str, start_ms: int, end_ms: int, logs_client: Any = None) -> Iterator[dict]:
    """The "Transaction scored" lines of ``log_group`` between the two times (FilterLogEvents, paged)."""
    if logs_client is None:
        import boto3

        logs_client = boto3.client("logs")
    arguments = {
        "logGroupName": log_group,
        "startTime": start_ms,
        "endTime": end_ms,
        "filterPattern": f'"{MESSAGE}"',
    }
    seen = 0
    while True:
        try:
            page = logs_client.filter_log_events(**arguments)
        except Exception as error:  # botocore ClientError / BotoCoreError
            response = getattr(error, "response", None)
            detail = response.get("Error", {}).get("Message") if response else None
            raise ToolError(f"could not read {log_group}: {detail or error}") from None
        for event in page.get("events", []):
            record = parse_line(event.get("message", ""))
            if record is not None:
                seen += 1
                yield record
        token = page.get("nextToken")
        if not token:
            break
        arguments["nextToken"] = token
        progress(f"  {seen:,} scored lines so far")


DURATION = re.compile(r"^(\d+)([mhd])$")


def parse_time(value: str) -> int:
    """Epoch ms of an ISO date/time (UTC unless it says otherwise)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ToolError(f"not a date/time: {value!r} (use e.g. 2025-01-31T12:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def period(args: argparse.Namespace, now_ms: int) -> tuple[int, int]:
    end = parse_time(args.end) if args.end else now_ms
    if args.start:
        start = parse_time(args.start)
    else:
        match = DURATION.match(args.since)
        if not match:
            raise ToolError(f"--since takes a duration like 30m, 6h or 7d, not {args.since!r}")
        start = end - int(match.group(1)) * {"m": 60_000, "h": 3_600_000, "d": 86_400_000}[match.group(2)]
    if start >= end:
        raise ToolError("the period's start must be before its end")
    return start, end


def log_group_for(suffix: str) -> str:
    from tools.deploy.tf import Stack  # needs terraform; only the --env path pays for it

    names = Stack(suffix).outputs().get("function_names") or {}
    name = names.get("detect-fraud") if isinstance(names, dict) else None
    if not name:
        raise ToolError(f"environment {suffix} has no detect-fraud in its function_names output: deploy it first")
    return f"/aws/lambda/{name}"


def render(summary: dict, figures: tuple[dict[str, Any], dict[str, Any]] | None = None) -> str:
    """The comparison as text, and the label-based quality of live and shadow (``figures``) when given."""
    text = _render_comparison(summary)
    if figures is None:
        return text
    live, shadow = figures
    return "\n".join(
        [
            text,
            f"label-based quality ({summary['quality']['labels']:,} labelled transactions), live:",
            render_quality(live),
            "shadow (the candidate):",
            render_quality(shadow),
        ]
    )


def _render_comparison(summary: dict) -> str:
    lines = [
        f"{summary['transactions']:,} transactions scored ({summary['log_lines']:,} log lines), "
        f"{summary['compared']:,} with a shadow decision",
    ]
    if not summary["compared"]:
        lines.append("no shadow decisions in the period: is a shadow model or shadow rules document configured?")
        return "\n".join(lines)
    lines += [
        f"agree {summary['agree']:,} ({100 * summary['agreement_rate']:.2f} %), disagree {summary['disagree']:,}",
        "decisions (rows live, columns shadow):",
        "            " + "".join(f"{d:>10}" for d in DECISIONS),
    ]
    for live in DECISIONS:
        lines.append(f"  {live:<10}" + "".join(f"{summary['decisions'][live][s]:>10,}" for s in DECISIONS))
    queued, alerts = summary["alerts_queued"], summary["alert_decisions"]
    lines.append(
        f"queued (review or alert): live {queued['live']:,}, shadow {queued['shadow']:,}; "
        f"alert decisions: live {alerts['live']:,}, shadow {alerts['shadow']:,}"
    )
    shift = summary["score_shift"]
    lines.append(
        f"score shift (shadow - live): mean {shift['mean']:+.2f}, median {shift['p50']:+g}, p1 {shift['p1']:+g}, "
        f"p99 {shift['p99']:+g}; up {shift['up']:,}, down {shift['down']:,}, same {shift['same']:,}"
    )
    lines.append("live: " + "; ".join(f"{v} ({n:,})" for v, n in summary["live_versions"].items()))
    lines.append("shadow: " + "; ".join(f"{v} ({n:,})" for v, n in summary["shadow_versions"].items()))
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.shadow",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--env", help="environment suffix: detect-fraud's log group from its Terraform outputs")
    source.add_argument("--log-group", help="a CloudWatch Logs group (e.g. /aws/lambda/detect-fraud-dev)")
    source.add_argument("--log-file", help="a local file of log lines (the emulator's)")
    parser.add_argument("--since", default="24h", help="period length before --end (30m, 6h, 7d; default 24h)")
    parser.add_argument("--start", help="period start (ISO date/time, UTC unless given), instead of --since")
    parser.add_argument("--end", help="period end (ISO date/time; default now)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--labels", help="a labels file (an export's labels/labels.jsonl.gz, or JSON lines): label-based quality too"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.log_file:
        records: Iterable[dict] = read_file(args.log_file)
    else:
        start, end = period(args, int(time.time() * 1000))
        group = args.log_group or log_group_for(args.env)
        progress(f"reading {group} from {start} to {end} (epoch ms)")
        records = read_cloudwatch(group, start, end)
    comparison = compare(records)
    summary = comparison.summary()
    labels = read_labels(args.labels) if args.labels else labels_of_environment(args.env) if args.env else {}
    figures = quality(comparison, labels) if labels else None
    if figures is not None:
        summary["quality"] = {"labels": len(labels), "live": report(figures[0]), "shadow": report(figures[1])}
    print(json.dumps(summary, indent=2) if args.json else render(summary, figures))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
