"""Train the risk model on a feature table (the Spark job's Parquet), report it beside the live model and the rules
on the newest weeks, and write the artifact ``make model ... SHADOW=1`` ships.

    python -m tools.training.fit --env dev                        # build/dev/features/<newest>/ -> build/dev/training/
    python -m tools.training.fit --table DIR --output model.json --report report.md --live-model models/default.json
    python -m tools.training.fit --env dev --check-days 14 --validation-days 7 --maturity-days 60 --negative-rate 0.1

Labels (``tools.training.labels``: the effective label per transaction, in the table's ``label`` column) and the
policy for transactions without one: a transaction older than ``--maturity-days`` before the newest one in the
table and without a label is legitimate (chargebacks and disputes arrive within weeks; by then a fraud nobody
reported is rare), and everything newer is left out of training and of every measure, labeled or not (keeping its
labeled fraud and dropping its unlabeled legitimate traffic would inflate the fraud rate and precision). The
report gives the label coverage: how much of the check window carries a label at all, by source.

Splits by time, on the mature rows: ``check`` the newest ``--check-days`` (nothing is fitted on it: every number
of the report comes from it), ``validation`` the ``--validation-days`` before (early stopping, the calibration,
the thresholds), ``train`` everything older (the trees). Negative down-sampling for size: the trees see every
fraud and a ``--negative-rate`` share of the legitimate train rows (kept by a keyed hash of the transaction id);
validation and check are never sampled, so the Platt calibration, fitted on validation, maps the raw score to the
odds of the real population and needs no correction for the sampling.

The artifact is the one ``tools.detection.train`` writes (the same pieces: ``fit_trees``, ``artifact_document``,
``platt``, ``choose_thresholds``, ``measure``, ``version_id``): it loads in ``fraud.model``, the evaluator's raw
scores equal LightGBM's within 1e-9 on the check rows (all of them up to ``--parity-rows``), LightGBM runs
deterministically and the calibration is rounded to 12 significant digits (``round_fitted``), so the same table
and settings give the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraud import model as fraud_model
from fraud.config import EngineConfig
from fraud.features import CATEGORICAL, FEATURE_NAMES
from tools._cli import BUILD, ToolError, progress, run, validate_suffix
from tools.detection.backtest import load_model
from tools.detection.train import (
    PARITY_TOLERANCE,
    Settings,
    Targets,
    artifact_document,
    choose_thresholds,
    dump_artifact,
    evaluator_parity,
    fit_trees,
    library_versions,
    measure,
    platt,
    round_fitted,
    version_id,
)
from tools.training import layout

DAY_MS = 86_400_000
SPLITS = ("train", "validation", "check")


@dataclass(frozen=True)
class Policy:
    """How the rows are labeled, split and sampled."""

    check_days: float = 14
    validation_days: float = 7
    maturity_days: float = 60
    negative_rate: float = 0.1
    parity_rows: int = 1_000_000

    def check(self) -> None:
        if self.check_days <= 0 or self.validation_days <= 0:
            raise ToolError("--check-days and --validation-days must be positive")
        if self.maturity_days < 0:
            raise ToolError("--maturity-days must be >= 0")
        if not 0 < self.negative_rate <= 1:
            raise ToolError("--negative-rate must be in (0, 1]")


@dataclass
class Table:
    """A feature table in time order (``timestamp``, then ``transaction_id``), with where it came from."""

    name: str
    frame: Any  # pandas.DataFrame
    sha256: str
    spec_document: dict | None = None  # the features section the job computed with (its summary), if known
    detail: dict = field(default_factory=dict)


def content_sha256(frame: Any) -> str:
    """A digest of the table's content (columns in order, rows in time order): the same rows, the same digest,
    whatever files and partitions Spark wrote them in."""
    import numpy as np

    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(name.encode() + b"\0")
        column = frame[name]
        if column.dtype.kind in "fiu":
            digest.update(np.ascontiguousarray(column.to_numpy(dtype=np.float64, na_value=np.nan)).tobytes())
        else:
            digest.update("\x1f".join("\x00" if v is None else str(v) for v in column.tolist()).encode())
    return digest.hexdigest()


def read_table(path: Path) -> Table:
    """The Parquet table at ``path`` (Spark's part files; ``_``-prefixed entries are not data), in time order."""
    import pyarrow.parquet as pq

    if not path.is_dir():
        raise ToolError(f"no feature table at {path}: run `make features` first")
    try:
        frame = pq.read_table(path).to_pandas()
    except Exception as error:  # pyarrow's ArrowInvalid and OSError
        raise ToolError(f"cannot read the feature table {path}: {error}") from None
    missing = [c for c in ("transaction_id", "timestamp", "label", "rules_score", *FEATURE_NAMES) if c not in frame]
    if missing:
        raise ToolError(f"{path} is not a feature table of this code: it lacks {', '.join(missing)}")
    if frame.empty:
        raise ToolError(f"{path} has no rows")
    frame = frame.sort_values(["timestamp", "transaction_id"], kind="mergesort").reset_index(drop=True)
    summary_file = path.with_name(f"{path.name}.summary.json")
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.is_file() else {}
    return Table(path.name, frame, content_sha256(frame), summary.get("feature_spec"), summary)


def kept_negative(transaction_id: str, seed: int, rate: float) -> bool:
    """Whether a legitimate train row is kept: a keyed hash of its id below ``rate`` (stable across runs)."""
    digest = hashlib.blake2b(
        transaction_id.encode(), digest_size=8, person=b"fraud-negatives", salt=str(seed).encode()[:16]
    )
    return int.from_bytes(digest.digest(), "big") < rate * 2**64


@dataclass
class Split:
    """Row indexes of each split, the label of every row, and what the labels cover."""

    indexes: dict[str, Any]
    labels: Any  # numpy bool array: fraud
    coverage: dict[str, Any]
    window_ms: dict[str, tuple[int, int]]


def split(table: Table, policy: Policy, seed: int) -> Split:
    """Labels by the policy, then the time split and the down-sampling of legitimate train rows."""
    import numpy as np

    frame = table.frame
    ts = frame["timestamp"].to_numpy(dtype=np.int64)
    label = frame["label"]
    explicit = label.notna().to_numpy()
    fraud = (label == "fraud").to_numpy()
    cutoff = int(ts.max()) - round(policy.maturity_days * DAY_MS)
    check_start = cutoff - round(policy.check_days * DAY_MS)
    validation_start = check_start - round(policy.validation_days * DAY_MS)
    mature = ts <= cutoff
    in_check = mature & (ts > check_start)
    in_validation = (ts > validation_start) & (ts <= check_start)
    in_train = ts <= validation_start
    ids = frame["transaction_id"].tolist()
    keep = np.array([f or kept_negative(i, seed, policy.negative_rate) for i, f in zip(ids, fraud, strict=True)])
    indexes = {
        "train": np.flatnonzero(in_train & keep),
        "validation": np.flatnonzero(in_validation),
        "check": np.flatnonzero(in_check),
    }
    for name in SPLITS:
        positives = int(fraud[indexes[name]].sum())
        if not len(indexes[name]) or not positives or positives == len(indexes[name]):
            raise ToolError(
                f"the {name} split has {len(indexes[name]):,} transactions, {positives:,} fraud: it needs both classes "
                "(a longer history, more labels, or other --check-days/--validation-days/--maturity-days)"
            )
    sources = frame["label_source"]
    check_sources = Counter(
        f"{lab} ({src})" for lab, src in zip(label[in_check], sources[in_check], strict=True) if isinstance(lab, str)
    )
    coverage = {
        "transactions": len(frame),
        "labeled": int(explicit.sum()),
        "immature_left_out": int((~mature).sum()),
        "check_transactions": int(in_check.sum()),
        "check_labeled": int((explicit & in_check).sum()),
        "check_labeled_share": round(float((explicit & in_check).sum() / max(in_check.sum(), 1)), 6),
        "check_assumed_legitimate": int((~explicit & in_check).sum()),
        "check_by_label_and_source": dict(sorted(check_sources.items())),
        "train_legitimate_kept": int(len(indexes["train"]) - fraud[indexes["train"]].sum()),
        "train_legitimate_total": int((in_train & ~fraud).sum()),
    }
    windows = {
        "train": (int(ts.min()), validation_start),
        "validation": (validation_start, check_start),
        "check": (check_start, cutoff),
    }
    return Split(indexes, fraud, coverage, windows)


def matrix(frame: Any, names: Sequence[str], vocabulary: dict[str, list[str]]) -> Any:
    """The model's input rows, column by column (``fraud.model.vectorizer``'s encoding: NaN for unknown, a
    category's index in the vocabulary, NaN when it is not in it)."""
    import numpy as np

    columns = []
    for name in names:
        if name in vocabulary:
            codes = {value: float(code) for code, value in enumerate(vocabulary[name])}
            columns.append(np.array([codes.get(v, np.nan) for v in frame[name].tolist()], dtype=np.float64))
        else:
            columns.append(frame[name].to_numpy(dtype=np.float64, na_value=np.nan))
    return np.column_stack(columns)


def feature_dicts(frame: Any, rows: Any) -> list[dict[str, Any]]:
    """The rows as the features mappings the engine passes to a model (None for an unknown category)."""
    part = frame.iloc[rows][list(FEATURE_NAMES)]
    records = part.to_dict("records")
    for record in records:
        for name in CATEGORICAL:
            if not isinstance(record[name], str):
                record[name] = None
    return records


def per_reason(
    reasons: Sequence[str], labels: Sequence[bool], flagged: Mapping[str, Sequence[bool]]
) -> dict[str, dict]:
    """Per rule reason code on the rows: how often it fired, the precision of its hits, the share of all fraud it
    fired on, and the share of the fraud it fired on that each scorer flagged."""
    positives = sum(labels)
    hits: Counter = Counter()
    fraud_hits: Counter = Counter()
    caught: dict[str, Counter] = {name: Counter() for name in flagged}
    for i, (codes, is_fraud) in enumerate(zip(reasons, labels, strict=True)):
        for code in filter(None, (codes or "").split(",")):
            hits[code] += 1
            if is_fraud:
                fraud_hits[code] += 1
                for name, flags in flagged.items():
                    caught[name][code] += bool(flags[i])
    return {
        code: {
            "hits": count,
            "fraud_hits": fraud_hits[code],
            "precision": round(fraud_hits[code] / count, 4),
            "fraud_share": round(fraud_hits[code] / positives, 4) if positives else 0.0,
            **{
                f"{name}_recall": round(caught[name][code] / fraud_hits[code], 4) if fraud_hits[code] else None
                for name in flagged
            },
        }
        for code, count in hits.most_common()
    }


@dataclass
class Trained:
    artifact: bytes
    document: dict
    coverage: dict
    reasons: dict
    live_version: str | None
    live_note: str
    parity: float = 0.0  # the largest |evaluator - LightGBM| raw score on the parity rows, on this machine


def train(
    table: Table,
    config: EngineConfig,
    *,
    live: fraud_model.Model | None = None,
    policy: Policy | None = None,
    settings: Settings | None = None,
    config_name: str = "defaults",
    show_progress: bool = False,
) -> Trained:
    """Split, down-sample, fit, calibrate, choose thresholds, check parity, measure beside the live model and the
    rules on the check window; the artifact's bytes included."""
    import numpy as np

    policy, settings = policy or Policy(), settings or Settings()
    policy.check()
    spec = config.features
    if table.spec_document is not None and table.spec_document != spec.to_document():
        raise ToolError(
            "the feature table was computed with another features section: pass the same --config as make features"
        )
    names = tuple(settings.feature_names or FEATURE_NAMES)
    categorical = [name for name in names if name in CATEGORICAL]
    frame = table.frame
    parts = split(table, policy, settings.seed)
    idx, y_all = parts.indexes, parts.labels
    if show_progress:
        progress(
            "splits by time (transactions / fraud): "
            + ", ".join(f"{s} {len(idx[s]):,} / {int(y_all[idx[s]].sum()):,}" for s in SPLITS)
            + f"; legitimate train rows kept {parts.coverage['train_legitimate_kept']:,}"
            f" of {parts.coverage['train_legitimate_total']:,}"
        )
    vocabulary = {
        name: sorted({v for v in frame[name].iloc[idx["train"]].tolist() if isinstance(v, str)}) for name in categorical
    }
    x = matrix(frame, names, vocabulary)
    y = y_all.astype(np.int32)
    booster, best, trees, params = fit_trees(
        x, y, idx["train"], idx["validation"], names, categorical, settings, show_progress=show_progress
    )
    document = artifact_document(names, vocabulary, spec, trees)
    uncalibrated = fraud_model.load(dump_artifact(document))

    check = idx["check"]
    step = max(1, -(-len(check) // policy.parity_rows))
    parity_rows = check[::step]
    served_raw = [uncalibrated.raw_score(uncalibrated.vector(f)) for f in feature_dicts(frame, parity_rows)]
    parity = evaluator_parity(served_raw, booster.predict(x[parity_rows], num_iteration=best, raw_score=True))

    raw_validation = booster.predict(x[idx["validation"]], num_iteration=best, raw_score=True)
    slope, intercept = platt(raw_validation.tolist(), y[idx["validation"]].tolist())
    document["calibration"].update(slope=round_fitted(slope), intercept=round_fitted(intercept))
    calibrated = fraud_model.load(dump_artifact(document))
    validation_scores = [calibrated.calibrate(r) for r in raw_validation.tolist()]
    review, alert, how = choose_thresholds(validation_scores, y[idx["validation"]].tolist(), settings.targets)
    document["thresholds"] = {"review": review, "alert": alert}

    raw_check = booster.predict(x[check], num_iteration=best, raw_score=True)
    if step == 1:
        raw_check = np.array(served_raw)  # the check scores are the served model's own
    check_scores = [calibrated.calibrate(r) for r in raw_check.tolist()]
    check_labels = y_all[check].tolist()
    none = [None] * len(check)
    rules_scores = frame["rules_score"].to_numpy()
    rules_bands = (config.review_threshold, config.alert_threshold)
    check_metrics: dict[str, Any] = {
        "model": measure(check_scores, check_labels, none, review, alert),
        "rules": measure(rules_scores[check].tolist(), check_labels, none, *rules_bands),
    }
    flagged = {
        "model": [s >= alert for s in check_scores],
        "rules": [s >= rules_bands[1] for s in rules_scores[check].tolist()],
    }
    live_note = "no live model given"
    if live is not None:
        if live.feature_spec != spec:
            live_note = f"live model {live.version} was trained with another feature spec: not comparable on this table"
        else:
            live_scores = [live.score(f) for f in feature_dicts(frame, check)]
            check_metrics["live"] = measure(
                live_scores, check_labels, none, live.review_threshold, live.alert_threshold
            )
            flagged["live"] = [s >= live.alert_threshold for s in live_scores]
            live_note = f"live model {live.version}"
    validation_metrics = {
        "model": measure(
            validation_scores, y[idx["validation"]].tolist(), [None] * len(idx["validation"]), review, alert
        ),
        "rules": measure(
            rules_scores[idx["validation"]].tolist(),
            y[idx["validation"]].tolist(),
            [None] * len(idx["validation"]),
            *rules_bands,
        ),
    }
    reasons = per_reason(frame["rules_reasons"].iloc[check].tolist(), check_labels, flagged)
    document["metrics"] = {
        "validation": {"all": validation_metrics, "by_source": {}},
        "check": {
            "all": check_metrics,
            "by_source": {},
            "per_reason": reasons,
            "label_coverage": parts.coverage,
            # The bound checked, not this machine's measured difference (the report gives that).
            "parity_tolerance": PARITY_TOLERANCE,
            "parity_rows": len(parity_rows),
        },
    }
    inputs = [{"name": table.name, "sha256": table.sha256, "transactions": len(frame), "fraud": int(y_all.sum())}]
    document["training"] = {
        "inputs": inputs,
        "inputs_sha256": hashlib.sha256(
            json.dumps([[i["name"], i["sha256"]] for i in inputs], separators=(",", ":")).encode()
        ).hexdigest(),
        "rules_config": config_name,
        "splits": {s: {"transactions": len(idx[s]), "fraud": int(y[idx[s]].sum())} for s in SPLITS},
        "split_method": "by time: check = the newest check_days of mature rows, validation = the validation_days "
        "before, train = older (legitimate train rows down-sampled)",
        "split_windows_ms": {s: list(w) for s, w in parts.window_ms.items()},
        "label_policy": {
            "effective_label": "tools.training.labels (chargeback, then dispute, then analyst; newest at)",
            "unlabeled": f"legitimate when at least {policy.maturity_days:g} days older than the newest transaction; "
            "newer rows left out",
            "maturity_days": policy.maturity_days,
        },
        "negative_rate": policy.negative_rate,
        "seed": settings.seed,
        "params": params,
        "rounds": settings.rounds,
        "early_stopping_rounds": settings.early_stopping,
        "best_iteration": best,
        "thresholds_chosen_on": "validation",
        "threshold_method": how,
        "targets": vars(settings.targets),
        "calibrated_on": "validation (not down-sampled)",
        "newest_transaction_ms": parts.window_ms["check"][1],
    }
    document["libraries"] = library_versions()
    document["version"] = version_id(document)
    artifact = dump_artifact(document)
    fraud_model.load(artifact)  # what make model will check
    return Trained(artifact, document, parts.coverage, reasons, live.version if live else None, live_note, parity)


# -- report --------------------------------------------------------------------------------------------------


def _row(name: str, m: dict) -> str:
    return (
        f"| {name} | {m['transactions']:,} | {m['positives']:,} | {m['precision']:.3f} | {m['recall']:.3f} "
        f"| {m['f1']:.3f} | {100 * m['false_positive_rate']:.2f} % | {m['tp']:,} / {m['fp']:,} / {m['fn']:,} "
        f"| {m['recall_at_1pct_fpr']:.3f} |"
    )


def _day(ms: int) -> str:
    from datetime import UTC, datetime

    return f"{datetime.fromtimestamp(ms / 1000, tz=UTC):%Y-%m-%d %H:%M}"


def render(trained: Trained) -> str:
    doc = trained.document
    training, check = doc["training"], doc["metrics"]["check"]
    coverage = check["label_coverage"]
    windows = training["split_windows_ms"]
    model = doc["thresholds"]
    lines = [
        f"# Candidate {doc['version']} (trained on the feature table {training['inputs'][0]['name']})",
        "",
        f"LightGBM {doc['libraries']['lightgbm']}, {len(doc['trees'])} trees, {len(doc['features'])} features; rules "
        f"configuration {training['rules_config']}. Splits by time on mature rows:",
        "",
        "| split | from | to | transactions | fraud |",
        "|---|---|---|---|---|",
        *(
            f"| {s} | {_day(windows[s][0])} | {_day(windows[s][1])} | {v['transactions']:,} | {v['fraud']:,} |"
            for s, v in training["splits"].items()
        ),
        "",
        f"Legitimate train rows down-sampled to {training['negative_rate']:g} "
        f"({coverage['train_legitimate_kept']:,} of {coverage['train_legitimate_total']:,} kept); "
        f"calibration (Platt, slope {doc['calibration']['slope']:g}, "
        f"intercept {doc['calibration']['intercept']:g}) and thresholds (review >= {model['review']:g}, alert >= "
        f"{model['alert']:g}: {training['threshold_method']}) on validation, which is not sampled.",
        "",
        f"Evaluator parity on {check['parity_rows']:,} check rows: largest difference from LightGBM's raw score "
        f"{trained.parity:.3g} on this machine (the trainer stops above {check['parity_tolerance']:g}).",
        "",
        "## Check window (never fitted on): candidate, live model, rules alone",
        "",
        f"Live model: {trained.live_note}.",
        "",
        "| scorer | transactions | fraud | precision | recall | F1 | FPR | tp / fp / fn | recall at 1 % FPR |",
        "|---|---|---|---|---|---|---|---|---|",
        _row("candidate", check["all"]["model"]),
        *([_row("live model", check["all"]["live"])] if "live" in check["all"] else []),
        _row("rules alone", check["all"]["rules"]),
        "",
        "## Label coverage",
        "",
        f"{coverage['labeled']:,} of {coverage['transactions']:,} transactions carry a label; "
        f"{coverage['immature_left_out']:,} are newer than the maturity cutoff "
        f"({training['label_policy']['maturity_days']:g} days) and left out. In the check window "
        f"{coverage['check_labeled']:,} of {coverage['check_transactions']:,} transactions "
        f"({100 * coverage['check_labeled_share']:.2f} %) have a label; {coverage['check_assumed_legitimate']:,} are "
        "counted legitimate because no label came:",
        "",
        "| label (source) | check transactions |",
        "|---|---|",
        *(f"| {k} | {v:,} |" for k, v in coverage["check_by_label_and_source"].items()),
        "",
        "## Per reason code (check window)",
        "",
        "How often each rule fired, the precision of its hits, the share of all fraud it fired on, and the share of "
        "the fraud it fired on that each scorer flagged at its alert threshold.",
        "",
    ]
    scorers = [
        name for name in ("model", "live", "rules") if f"{name}_recall" in next(iter(trained.reasons.values()), {})
    ]
    titles = {"model": "candidate", "live": "live model", "rules": "rules alone"}
    lines.append("| code | hits | precision | fraud share | " + " | ".join(titles[s] for s in scorers) + " |")
    lines.append("|---|---|---|---|" + "---|" * len(scorers))
    for code, row in trained.reasons.items():
        recalls = " | ".join("-" if row[f"{s}_recall"] is None else f"{row[s + '_recall']:.3f}" for s in scorers)
        lines.append(f"| `{code}` | {row['hits']:,} | {row['precision']:.3f} | {row['fraud_share']:.3f} | {recalls} |")
    lines.append("")
    return "\n".join(lines)


# -- command line --------------------------------------------------------------------------------------------


def newest_table(suffix: str, build: Path = BUILD) -> Path:
    root = layout.local_root(build, suffix) / layout.FEATURES
    tables = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not tables:
        raise ToolError(f"no feature table under {root}: run `make features ENV={suffix}` first")
    return tables[-1]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.training.fit",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--env", help="environment suffix: its newest local feature table, output in build/<env>/training/"
    )
    parser.add_argument("--table", type=Path, help="a feature table directory (instead of --env)")
    parser.add_argument("--output", type=Path, help="the artifact (default build/<env>/training/model.json)")
    parser.add_argument("--report", type=Path, help="the markdown report (default beside the artifact)")
    parser.add_argument("--live-model", type=Path, help="the live model's artifact to compare with (default: none)")
    parser.add_argument("--config", help="the rules document make features used (its features and bands)")
    parser.add_argument("--check-days", type=float, default=Policy.check_days)
    parser.add_argument("--validation-days", type=float, default=Policy.validation_days)
    parser.add_argument("--maturity-days", type=float, default=Policy.maturity_days)
    parser.add_argument("--negative-rate", type=float, default=Policy.negative_rate)
    parser.add_argument("--parity-rows", type=int, default=Policy.parity_rows)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=Settings.rounds)
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from tools.detection.backtest import load_rules

    args = _parser().parse_args(argv)
    if args.table:
        table_path = args.table
        out_dir = args.output.parent if args.output else table_path.parent.parent / "training"
    elif args.env:
        suffix = validate_suffix(args.env)
        table_path = newest_table(suffix)
        out_dir = layout.local_root(BUILD, suffix) / "training"
    else:
        raise ToolError("give --env SUFFIX or --table DIR")
    output = args.output or out_dir / "model.json"
    report_path = args.report or output.with_suffix(".md")
    config, config_name = load_rules(args.config)
    began = time.monotonic()
    table = read_table(table_path)
    policy = Policy(args.check_days, args.validation_days, args.maturity_days, args.negative_rate, args.parity_rows)
    trained = train(
        table,
        config,
        live=load_model(args.live_model),
        policy=policy,
        settings=Settings(seed=args.seed, rounds=args.rounds, targets=Targets()),
        config_name=config_name,
        show_progress=not args.quiet,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(trained.artifact)
    report_path.write_text(render(trained), encoding="utf-8")
    progress(f"wrote {output} and {report_path} in {time.monotonic() - began:.0f} s")
    print(render(trained))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
