"""``make train-at-scale ENV=train-local``: the whole training path in the local cloud, in one command.

    python -m tools.training.local                           # environment train-local, the small default history
    python -m tools.training.local --users 200 --days 28     # a larger one

1. Deploy the real Terraform into the embedded emulator (``tools.emulator.demo.deploy``; restored from the
   previous run when nothing changed) and run the pipeline (``LocalCloud``).
2. Post a simulated history through the API (``tools.detection.simulate``; its time is pinned: it ends at
   ``END_MS``, never at the wall clock) and wait until every transaction is stored and scored.
3. Write the simulator's ground truth as a labels file (every fraudulent transaction a ``chargeback``).
4. ``make export``'s code: DynamoDB's export into the exports bucket (moto writes no manifests: the tool writes
   them), the labels beside it, the local copy.
5. ``make features``'s code: the Spark job in ``local[2]``.
6. Train on the feature table and report the candidate beside the live model (read from the model bucket
   through the pointer) and the rules on the newest days.
7. Check that the offline features are the live ones: for a sample of users every feature of every transaction
   equals what detect-fraud's code computes from the table (``fraud.storage.TransactionStore.user_history``,
   ``fraud.history.history_from_items``, ``fraud.features.extract``), and every transaction's live score (detect-
   fraud's "Transaction scored" log line) equals the live model's score of the offline features.
8. ``make model ... SHADOW=1``'s code: push the candidate as the shadow model.

The local cloud lives only in this process, so the steps run here together; ``make features ENV=train-local``
and ``python -m tools.training.fit --env train-local`` work afterwards on what it left under
``build/train-local/``. Summary: ``build/<suffix>/training/summary.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tools._cli import BUILD, ToolError, progress, run, validate_suffix
from tools.training import layout

SUFFIX = "train-local"
END_MS = 1_793_491_200_000  # 2026-11-01T00:00:00Z: the simulated history ends here, whatever the date today
PARITY_USERS = 12


def post_history(cloud: Any, users: int, days: float, seed: int, fraud_rate: float, rate: float) -> list[dict]:
    """Post the simulated history through the API; returns the labeled transactions (all accepted, or a ToolError)."""
    from tools.detection import simulate

    history = list(simulate.generate(users, days, seed=seed, fraud_rate=fraud_rate, end_ms=END_MS))
    fraud = sum(1 for t in history if t["is_fraud"])
    progress(f"posting {len(history):,} simulated transactions ({fraud:,} fraudulent) through the API at {rate:.0f}/s")
    summary = simulate.post(history, cloud.api_url, cloud.api_key, rate=rate)
    if summary.accepted != len(history):
        raise ToolError(f"the API accepted {summary.accepted} of {len(history)} transactions: {summary.as_dict()}")
    progress("waiting for the pipeline to score everything")
    if not cloud.wait_idle(quiet_s=2.0, timeout_s=600):
        raise ToolError("the pipeline did not settle within 600 s")
    return history


def write_labels(history: Sequence[dict], path: Path) -> int:
    from tools.training import synthetic

    path.parent.mkdir(parents=True, exist_ok=True)
    labels = list(synthetic.chargebacks((t, bool(t["is_fraud"])) for t in history))
    path.write_text("".join(json.dumps(label, sort_keys=True) + "\n" for label in labels), encoding="utf-8")
    return len(labels)


def live_model(cloud: Any) -> tuple[Any, Path | None]:
    """The deployment's live model (through its pointer) and where its artifact was saved."""
    from tools.detection.model import ModelStore
    from tools.detection.model import read_artifact as read

    outputs = cloud.outputs
    store = ModelStore(
        outputs["model_bucket_name"], outputs["model_parameter_name"], cloud.client("s3"), cloud.client("ssm")
    )
    ref = store.pointer()["live"]
    if ref is None:
        return None, None
    path = BUILD / outputs["suffix"] / "training" / "live-model.json"
    path.write_bytes(store.fetch(ref))
    return read(path)[1], path


def live_scores(log_file: Path) -> dict[str, int]:
    """transaction_id -> score of detect-fraud's "Transaction scored" lines (the last one of a transaction)."""
    from tools.detection.shadow import read_file

    return {str(line["transaction_id"]): int(line["score"]) for line in read_file(log_file)}


def same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if a is None or (isinstance(a, float) and math.isnan(a)):
        return b is None
    return a == b


def check_parity(cloud: Any, frame: Any, model: Any, config: Any, log_file: Path) -> dict[str, Any]:
    """Offline equals live: every feature of every transaction of ``PARITY_USERS`` users (the offline table's
    against detect-fraud's code on the table), and every live score against the live model on the offline row."""
    from fraud.features import FEATURE_NAMES, extract
    from fraud.history import Item, history_from_items
    from fraud.storage import TransactionStore, deserialize_item
    from tools.training.fit import feature_dicts

    store = TransactionStore(cloud.client("dynamodb"), cloud.outputs["table_name"])
    users = sorted(set(frame["user_id"].tolist()))[:PARITY_USERS]
    rows = frame[frame["user_id"].isin(users)]
    by_id = dict(zip(rows["transaction_id"].tolist(), feature_dicts(frame, rows.index.to_numpy()), strict=True))
    mismatches: list[str] = []
    for transaction_id in sorted(by_id):
        stored = cloud.client("dynamodb").query(
            TableName=cloud.outputs["table_name"],
            KeyConditionExpression="transaction_id = :id AND #ts > :zero",
            ExpressionAttributeNames={"#ts": "timestamp"},
            ExpressionAttributeValues={":id": {"S": transaction_id}, ":zero": {"N": "0"}},
        )["Items"]
        item = Item(deserialize_item(stored[0]))
        found = store.user_history(
            str(item.user_id),
            through_ms=item.ts,
            window_ms=config.history_window_ms,
            max_items=config.history_max_items,
            before=item.order_key(),
        )
        history = history_from_items(found, config.history_window_ms, config.history_max_items, item.ts, before=item)
        live = extract(item, history, config.features)
        mismatches += [
            f"{transaction_id}.{name}" for name in FEATURE_NAMES if not same(by_id[transaction_id][name], live[name])
        ]
    scores = live_scores(log_file)
    offline = dict(zip(frame["transaction_id"].tolist(), feature_dicts(frame, frame.index.to_numpy()), strict=True))
    score_mismatches = [] if model is None else [t for t, s in scores.items() if model.score(offline[t]) != s]
    return {
        "users": len(users),
        "transactions": len(by_id),
        "features_compared": len(by_id) * len(FEATURE_NAMES),
        "feature_mismatches": mismatches[:20],
        "feature_mismatch_count": len(mismatches),
        "live_scores_compared": len(scores) if model is not None else 0,
        "live_scores_missing": len(set(offline) - set(scores)),
        "score_mismatches": score_mismatches[:20],
    }


def run_path(args: argparse.Namespace) -> dict[str, Any]:
    from tools.detection.backtest import load_rules
    from tools.detection.model import ModelStore, push
    from tools.emulator import LocalCloud
    from tools.emulator.demo import deploy
    from tools.emulator.localaws import LocalAWS
    from tools.training import export, features, fit

    suffix = args.env
    work = layout.local_root(BUILD, suffix) / "training"
    work.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        now = time.monotonic()
        timings[name] = round(now - since, 1)
        return now

    with LocalAWS() as aws:
        outputs, how = deploy(aws, "eventbridge", suffix=suffix)
        mark = lap("deploy", began)
        progress(f"deployment {how}; starting the pipeline")
        # The functions' logs append: a previous run's lines (the same seed gives the same ids) would be read as
        # this run's live scores by the parity check.
        log_dir = BUILD / suffix / "logs"
        shutil.rmtree(log_dir, ignore_errors=True)
        with LocalCloud(aws, outputs, log_dir=log_dir, time_scale=120.0, schedule_time_scale=None) as cloud:
            history = post_history(cloud, args.users, args.days, args.seed, args.fraud_rate, args.rate)
            mark = lap("post_and_score", mark)
            labels_file = work / "chargebacks.jsonl"
            labels = write_labels(history, labels_file)
            record = export.export(cloud.session, cloud.outputs, suffix=suffix, labels_file=labels_file, interval=0.5)
            mark = lap("export", mark)
            local_export = Path(record["local"])
            table_dir = layout.local_features(BUILD, suffix, record["name"])
            job = features.run_local([local_export], table_dir, master=args.master)
            progress(features.report(job))
            mark = lap("features", mark)
            model, model_path = live_model(cloud)
            config, config_name = load_rules(None)
            table = fit.read_table(table_dir)
            policy = fit.Policy(
                check_days=args.check_days, validation_days=args.validation_days, maturity_days=0, negative_rate=0.5
            )
            trained = fit.train(table, config, live=model, policy=policy, config_name=config_name, show_progress=True)
            candidate = work / "model.json"
            candidate.write_bytes(trained.artifact)
            (work / "report.md").write_text(fit.render(trained), encoding="utf-8")
            mark = lap("train", mark)
            detect = cloud.outputs["function_names"]["detect-fraud"]
            parity = check_parity(cloud, table.frame, model, config, log_dir / f"{detect}.log")
            mark = lap("parity", mark)
            store = ModelStore(
                outputs["model_bucket_name"], outputs["model_parameter_name"], cloud.client("s3"), cloud.client("ssm")
            )
            pointer = push(store, candidate, shadow=True)
            lap("shadow", mark)
            errors = cloud.errors()
    summary = {
        "suffix": suffix,
        "transactions": len(history),
        "labels": labels,
        "export": {k: record[k] for k in ("name", "items", "manifests", "labels", "local")},
        "features": {k: job[k] for k in ("rows", "users", "largest_groups", "seconds", "output")},
        "candidate": trained.document["version"],
        "live_model": trained.live_version,
        "check": trained.document["metrics"]["check"]["all"],
        "label_coverage": trained.coverage,
        "parity": parity,
        "pointer": pointer,
        "emulator_errors": errors,
        "report": str(work / "report.md"),
        "model": str(work / "model.json"),
        "seconds": timings,
        "live_model_file": str(model_path) if model_path else None,
    }
    (work / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def problems(summary: dict[str, Any]) -> list[str]:
    """What makes the run a failure: offline features or scores that differ from the live ones, no shadow."""
    parity = summary["parity"]
    found = []
    if parity["feature_mismatch_count"]:
        found.append(
            f"{parity['feature_mismatch_count']} features differ from the live path: {parity['feature_mismatches']}"
        )
    if parity["score_mismatches"]:
        found.append(f"live scores differ from the live model on the offline features: {parity['score_mismatches']}")
    if parity["live_scores_missing"]:
        found.append(f"{parity['live_scores_missing']} transactions have no live score")
    if (summary["pointer"].get("shadow") or {}).get("version") != summary["candidate"]:
        found.append("the candidate is not the shadow model")
    if summary["emulator_errors"]:
        found.append(f"emulator errors: {summary['emulator_errors']}")
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.training.local", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default=SUFFIX, help=f"the local environment's suffix (default {SUFFIX})")
    parser.add_argument("--users", type=int, default=60, help="simulated users (default 60)")
    parser.add_argument("--days", type=float, default=21, help="simulated days before 2026-11-01 (default 21)")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fraud-rate", type=float, default=0.06)
    parser.add_argument("--rate", type=float, default=60.0, help="transactions posted per second (default 60)")
    parser.add_argument("--check-days", type=float, default=5)
    parser.add_argument("--validation-days", type=float, default=5)
    parser.add_argument("--master", default="local[2]")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    validate_suffix(args.env)
    if args.env in ("local", "e2e-eventbridge", "e2e-direct"):
        raise ToolError(f"{args.env} is another tool's local environment: pick a suffix of your own (default {SUFFIX})")
    summary = run_path(args)
    print(Path(summary["report"]).read_text(encoding="utf-8"))
    print(json.dumps({k: summary[k] for k in ("candidate", "parity", "seconds")}, indent=2, sort_keys=True))
    found = problems(summary)
    for problem in found:
        progress(f"PROBLEM: {problem}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(run(main, None))
