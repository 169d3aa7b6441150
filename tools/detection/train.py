"""Train the risk model on labeled transactions and write one model artifact (JSON) and a report.

    make train                                              # the default model: models/default.json
    python -m tools.detection.train ../shared/data/sparkov_train_150cards.csv.gz --simulate-users 3000 \\
        --output models/default.json --report build/train/report.md
    python -m tools.detection.train my-labels.jsonl --no-simulate --output build/my-model.json

Inputs: labeled files in the formats the backtest reads (``tools.detection.readers``: our JSON lines,
Sparkov CSV, Kaggle CSV, gzip or not) and, unless ``--no-simulate``, traffic generated here by
``tools.detection.simulate`` with a seed (``--simulate-users/--simulate-days/--simulate-seed``), so
account takeover, impossible travel and card-testing bursts, which the Sparkov data lacks, are learned
too. A simulated file can also be passed as an input.

Features come from the one code path the Lambda and the backtest use: each input is replayed in time
order through ``fraud.history.InMemoryHistoryStore`` (``history = store.history_for(item)``, then
``fraud.features.extract(item, history, spec)``, then ``store.record(item)``), with the feature spec of
the rules document (``--config``, default ``lambdas/fraud/rules.default.json``). The rules-only
engine (``fraud.engine.Engine(config).assess(item, history)``) scores the same replay, so the report
puts the rules beside the model on the same transactions.

Splits, all by user/card (``user_id``), so no card is in two of them:

- ``check``: ``tools.detection.backtest.part_of(user_id) == "check"``, a stable third. Nothing is fitted
  on it; every target is measured on it.
- ``fit`` (the rest) is split again by a keyed hash of the user: ``validation`` (a quarter) for early
  stopping, the score calibration and the review/alert thresholds, and ``train`` (the trees).

The artifact holds the trees (``tools.detection.export``), the features in vector order, the category
vocabulary (from ``train``), the feature spec, the calibration (Platt scaling of the raw score on
``validation``, as a log-odds points scale), the thresholds, the metrics by split, a hash of the
inputs, the library versions and a version id derived from the content and the date of the newest
training row (never the wall clock). LightGBM runs deterministically (one thread, ``deterministic``,
``force_col_wise``, seeded), keys are sorted and floats written with ``repr``: the same inputs, seed and
library versions give a byte-identical artifact.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from fraud import model as fraud_model
from fraud.config import EngineConfig
from fraud.engine import Engine
from fraud.history import InMemoryHistoryStore, Item
from tools._cli import ROOT, ToolError, progress, reading, run
from tools.detection import readers
from tools.detection.backtest import CHUNK, ProgressBar, load_rules, no_gc, part_of, read_records
from tools.detection.export import ExportError, trees_from_dump
from tools.detection.metrics import ScoreHistogram, confusion

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "sparkov_train_150cards.csv.gz"
DEFAULT_OUTPUT = ROOT / "models" / "default.json"
SPLITS = ("train", "validation", "check")
VALIDATION_SHARE = 4  # one fit user in this many validates
PARITY_TOLERANCE = 1e-9
FITTED_DIGITS = 12
"""Significant digits the artifact keeps of each float fitted outside the trees (the calibration). The Platt fit's
last bits depend on the machine's floating-point kernels (summation order, the BLAS build); 12 digits survive
that, so the same inputs give the same bytes on any machine. The trees are LightGBM's own, already reproducible,
and kept exact."""

# LightGBM settings: small trees (the evaluator's cost is proportional to trees x depth), and every
# switch that makes a run reproducible.
PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.1,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l2": 1.0,
    "max_bin": 255,
    "cat_smooth": 10.0,
    "min_data_per_group": 50,
    "max_cat_threshold": 16,
    "feature_pre_filter": False,
    "deterministic": True,
    "force_col_wise": True,
    "num_threads": 1,
    "verbose": -1,
}
ROUNDS = 150
EARLY_STOPPING = 20


def split_of(user_id: str | None) -> str:
    """``check`` (the backtest's held-out third), else ``validation`` for a quarter of the rest (a
    hash keyed differently from ``part_of``'s, so it is independent of it), else ``train``."""
    if part_of(user_id) == "check":
        return "check"
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=8, person=b"fraud-validate").digest()
    return "validation" if int.from_bytes(digest, "big") % VALIDATION_SHARE == 0 else "train"


# -- inputs --------------------------------------------------------------------------------------


@dataclass
class Source:
    """One labeled input, in time order: ``(item, is_fraud, scenario)`` as the backtest replays."""

    name: str
    records: list[tuple[Item, bool, str | None]]
    sha256: str
    detail: dict = field(default_factory=dict)

    def describe(self) -> dict:
        return {
            "name": self.name,
            "sha256": self.sha256,
            "transactions": len(self.records),
            "fraud": sum(label for _, label, _ in self.records),
            **self.detail,
        }


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(path: str | Path, fmt: str | None = None) -> Source:
    path = Path(path)
    with reading(path):
        sha256 = file_sha256(path)
    records = read_records(path, fmt)
    if not records:
        raise ToolError(f"{path}: no transactions")
    return Source(path.name, records, sha256)


def simulated_source(users: int, days: float, seed: int, fraud_rate: float) -> Source:
    """Traffic from ``tools.detection.simulate`` (the same bytes as its JSON lines for the same
    arguments; their sha256 identifies the input)."""
    from tools.detection.simulate import generate

    digest = hashlib.sha256()
    records = []
    for txn in generate(users, days, seed=seed, fraud_rate=fraud_rate):
        digest.update((json.dumps(txn, separators=(",", ":")) + "\n").encode())
        is_fraud, scenario = txn.pop("is_fraud"), txn.pop("scenario", None)
        records.append((Item(txn), bool(is_fraud), scenario))
    settings = {"users": users, "days": days, "seed": seed, "fraud_rate": fraud_rate}
    return Source(f"simulated-{users}u-{days:g}d-seed{seed}", records, digest.hexdigest(), {"simulated": settings})


# -- the replay ----------------------------------------------------------------------------------


@dataclass
class Rows:
    """Every replayed transaction of every source: its features, labels and the rules' verdict."""

    source: list[str] = field(default_factory=list)
    user: list[str | None] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    label: list[bool] = field(default_factory=list)
    scenario: list[str | None] = field(default_factory=list)
    features: list[dict] = field(default_factory=list)
    rules_score: list[int] = field(default_factory=list)

    def in_split(self, split: str) -> list[int]:
        """The indexes of the rows of ``split``, in replay order."""
        return [i for i, row_split in enumerate(self.split) if row_split == split]


def replay(
    sources: Sequence[Source], config: EngineConfig, spec: Any, features: ModuleType, show_progress: bool
) -> Rows:
    """Each source in time order through a fresh history store: features, then the rules, then record."""
    rows = Rows()
    engine = Engine(config)
    extract = features.extract
    for source in sources:
        store = InMemoryHistoryStore(config)
        history_for, remember, assess = store.history_for, store.record, engine.assess
        bar = ProgressBar(len(source.records), f"features {source.name}", enabled=show_progress)
        kept_features, kept_scores = rows.features.append, rows.rules_score.append
        with no_gc():
            for start in range(0, len(source.records), CHUNK):
                for item, _, _ in source.records[start : start + CHUNK]:
                    history = history_for(item)
                    kept_features(extract(item, history, spec))
                    kept_scores(assess(item, history).score)
                    remember(item)
                bar.update(min(start + CHUNK, len(source.records)))
        bar.close(len(source.records))
        rows.source += [source.name] * len(source.records)
        rows.user += [item.user_id for item, _, _ in source.records]
        rows.split += [split_of(user) for user in rows.user[-len(source.records) :]]
        rows.ts += [item.ts for item, _, _ in source.records]
        rows.label += [label for _, label, _ in source.records]
        rows.scenario += [scenario for _, _, scenario in source.records]
    return rows


# -- calibration, thresholds, metrics ------------------------------------------------------------


def platt(
    raw: Sequence[float], labels: Sequence[bool], ridge: float = 1e-3, iterations: int = 100
) -> tuple[float, float]:
    """``(slope, intercept)`` of the logistic regression ``P(fraud) = sigmoid(slope * raw + intercept)``
    (Newton's method; a small ridge keeps it finite when the classes are separable)."""
    import numpy as np

    x = np.asarray(raw, dtype=float)
    y = np.asarray(labels, dtype=float)
    if y.min() == y.max():
        raise ToolError("the validation part needs both fraud and legitimate transactions to calibrate the score")
    a, b = 1.0, 0.0
    for _ in range(iterations):
        z = np.clip(a * x + b, -700, 700)
        p = 1.0 / (1.0 + np.exp(-z))
        w = p * (1.0 - p)
        gradient = np.array([np.dot(p - y, x) + ridge * a, np.sum(p - y) + ridge * b])
        hessian = np.array([[np.dot(w, x * x) + ridge, np.dot(w, x)], [np.dot(w, x), np.sum(w) + ridge]])
        step = np.linalg.solve(hessian, gradient)
        a, b = a - float(step[0]), b - float(step[1])
        if abs(step[0]) < 1e-12 and abs(step[1]) < 1e-12:
            break
    if not a > 0:
        raise ToolError("the calibration found no positive relation between the raw score and fraud")
    return a, b


def round_fitted(value: float) -> float:
    """A fitted float (the Platt calibration) to ``FITTED_DIGITS`` significant digits, before it is hashed and
    written: its last bits depend on the BLAS and the platform, the decisions it makes do not."""
    return float(f"{value:.{FITTED_DIGITS}g}")


@dataclass(frozen=True)
class Targets:
    """How the thresholds are chosen on the validation part."""

    alert_precision: float = 0.9
    alert_fpr: float = 0.005
    review_fpr: float = 0.01


def choose_thresholds(scores: Sequence[int], labels: Sequence[bool], targets: Targets) -> tuple[int, int, str]:
    """``(review, alert, how)`` on integer scores: alert is the lowest threshold (the most recall)
    whose precision is at least ``alert_precision`` with a false-positive rate at most ``alert_fpr``
    (else the best F1); review the lowest whose false-positive rate is at most ``review_fpr``, never
    above alert."""
    histogram = ScoreHistogram.of(scores, labels)
    alert, how = None, "lowest score with the target precision and false-positive rate"
    for threshold in range(1, 101):
        counts = histogram.at_threshold(threshold)
        if (
            counts.tp
            and counts.precision >= targets.alert_precision
            and counts.false_positive_rate <= targets.alert_fpr
        ):
            alert = threshold
            break
    if alert is None:
        alert = max(range(1, 101), key=lambda t: (histogram.at_threshold(t).f1, -t))
        how = "best F1 (no score reached the target precision and false-positive rate)"
    review = next(
        (t for t in range(1, 101) if histogram.at_threshold(t).false_positive_rate <= targets.review_fpr), alert
    )
    return min(review, alert), alert, how


def measure(
    scores: Sequence[int], labels: Sequence[bool], scenarios: Sequence[str | None], review: float, alert: float
) -> dict:
    """Precision, recall, F1, false-positive rate and counts at ``alert``; the review band's size and
    recall; recall at 1 % false-positive rate; recall by scenario (where the data names scenarios)."""
    flagged = [score >= alert for score in scores]
    counts = confusion(flagged, labels)
    recall_1pct, threshold_1pct = ScoreHistogram.of(scores, labels).recall_at_fpr(0.01)
    reviewed = [score >= review for score in scores]
    result = {
        **counts.as_dict(),
        "recall_at_1pct_fpr": round(recall_1pct, 4),
        "threshold_at_1pct_fpr": threshold_1pct,
        "review_or_alert": sum(reviewed),
        "review_or_alert_recall": round(confusion(reviewed, labels).recall, 4),
    }
    if any(s not in (None, "legit") for s in scenarios):
        totals: Counter = Counter()
        hits: Counter = Counter()
        for scenario, hit, is_fraud in zip(scenarios, flagged, labels, strict=True):
            name = scenario or ("fraud" if is_fraud else "legit")
            totals[name] += 1
            hits[name] += hit
        result["per_scenario"] = {
            name: {
                "transactions": totals[name],
                "flagged": hits[name],
                "flagged_share": round(hits[name] / totals[name], 4),
            }
            for name in sorted(totals)
        }
    return result


# -- training ------------------------------------------------------------------------------------


@dataclass
class Settings:
    seed: int = 1
    rounds: int = ROUNDS
    early_stopping: int = EARLY_STOPPING
    params: dict = field(default_factory=lambda: dict(PARAMS))
    targets: Targets = field(default_factory=Targets)
    feature_names: tuple[str, ...] | None = None  # None: every feature fraud.features computes


@dataclass
class Trained:
    artifact: bytes
    document: dict
    model: fraud_model.Model
    rows: Rows
    scores: list[int]  # the model's score of every row
    rules_bands: tuple[float, float]  # the rules-only engine's (review, alert)
    parity: float = 0.0  # the largest |evaluator - LightGBM| raw score on the check split, on this machine


def _progress_callback(show: bool, every: int = 25) -> Callable:
    def callback(env: Any) -> None:
        if show and (env.iteration + 1) % every == 0:
            value = env.evaluation_result_list[0][2] if env.evaluation_result_list else float("nan")
            progress(f"  round {env.iteration + 1}: validation log loss {value:.5f}")

    return callback


def fit_trees(
    x: Any,
    y: Any,
    train_idx: Any,
    validation_idx: Any,
    names: Sequence[str],
    categorical: Sequence[str],
    settings: Settings,
    *,
    show_progress: bool = False,
) -> tuple[Any, int, list, dict]:
    """LightGBM on the rows ``train_idx`` of ``x`` (labels ``y``), early stopping on ``validation_idx``:
    ``(booster, best iteration, the artifact's trees, the parameters used)``."""
    import lightgbm

    params = {**settings.params, "seed": settings.seed}
    categorical_indexes = [list(names).index(name) for name in categorical]
    train_set = lightgbm.Dataset(
        x[train_idx],
        y[train_idx],
        feature_name=list(names),
        categorical_feature=categorical_indexes,
        free_raw_data=False,
    )
    validation_set = lightgbm.Dataset(x[validation_idx], y[validation_idx], reference=train_set)
    if show_progress:
        progress(f"training LightGBM {lightgbm.__version__}: up to {settings.rounds} rounds, {len(names)} features")
    booster = lightgbm.train(
        params,
        train_set,
        num_boost_round=settings.rounds,
        valid_sets=[validation_set],
        valid_names=["validation"],
        callbacks=[
            lightgbm.early_stopping(settings.early_stopping, verbose=False),
            _progress_callback(show_progress),
        ],
    )
    best = booster.best_iteration or booster.current_iteration()
    try:
        trees = trees_from_dump(booster.dump_model(num_iteration=best))
    except ExportError as error:
        raise ToolError(str(error)) from None
    return booster, best, trees, params


def artifact_document(names: Sequence[str], vocabulary: dict, spec: Any, trees: list) -> dict[str, Any]:
    """The artifact's model part, uncalibrated (slope 1, intercept 0) and without thresholds yet."""
    return {
        "format": fraud_model.FORMAT,
        "format_version": fraud_model.FORMAT_VERSION,
        "version": "unset",
        "features": list(names),
        "categories": vocabulary,
        "feature_spec": spec.to_document(),
        "trees": trees,
        "calibration": {"slope": 1.0, "intercept": 0.0, "points_per_doubling": 5.0, "even_odds_score": 50.0},
        "thresholds": {"review": 0, "alert": 100},
    }


def evaluator_parity(evaluator_raw: Sequence[float], lightgbm_raw: Any) -> float:
    """The largest difference between ``fraud.model``'s raw scores and LightGBM's on the same rows; a
    ToolError above ``PARITY_TOLERANCE`` (the artifact would not score as it was trained)."""
    import numpy as np

    parity = float(np.max(np.abs(np.array(evaluator_raw) - lightgbm_raw))) if len(evaluator_raw) else 0.0
    if parity > PARITY_TOLERANCE:
        raise ToolError(f"the evaluator differs from LightGBM by {parity:g} on the check split (tolerance 1e-9)")
    return parity


def library_versions() -> dict[str, str]:
    import lightgbm
    import numpy as np

    return {
        "lightgbm": lightgbm.__version__,
        "numpy": np.__version__,
        "python": ".".join(platform.python_version_tuple()[:2]),
    }


def fit(
    sources: Sequence[Source],
    config: EngineConfig,
    *,
    features: ModuleType | None = None,
    settings: Settings | None = None,
    config_name: str = "defaults",
    show_progress: bool = False,
) -> Trained:
    """Replay, split, train, calibrate, choose thresholds and measure; the artifact's bytes included."""
    import numpy as np

    if features is None:
        from fraud import features as default_features

        features = default_features
    settings = settings or Settings()
    spec = config.features  # the rules document's `features` section
    names = tuple(settings.feature_names or features.FEATURE_NAMES)
    unknown = [name for name in names if name not in features.FEATURE_NAMES]
    if unknown:
        raise ToolError(
            f"unknown features: {', '.join(unknown)}; fraud.features computes {', '.join(features.FEATURE_NAMES)}"
        )
    categorical = [name for name in names if name in features.CATEGORICAL]

    rows = replay(sources, config, spec, features, show_progress)
    part = {split: rows.in_split(split) for split in SPLITS}
    for split in SPLITS:
        positives = sum(rows.label[i] for i in part[split])
        if not part[split] or not positives or positives == len(part[split]):
            raise ToolError(
                f"the {split} split has {len(part[split]):,} transactions, {positives:,} fraud: it needs both "
                "classes (add labeled data or more users)"
            )
    vocabulary = {
        name: sorted({rows.features[i][name] for i in part["train"]} - {None}, key=str) for name in categorical
    }
    vector = fraud_model.vectorizer(names, vocabulary)
    x = np.array([vector(f) for f in rows.features], dtype=np.float64)
    y = np.array(rows.label, dtype=np.int32)
    train_idx, validation_idx, check_idx = (np.array(part[s]) for s in SPLITS)
    if show_progress:
        progress(
            "splits (transactions / fraud): "
            + ", ".join(f"{s} {len(part[s]):,} / {int(y[part[s]].sum()):,}" for s in SPLITS)
        )

    booster, best, trees, params = fit_trees(
        x, y, train_idx, validation_idx, names, categorical, settings, show_progress=show_progress
    )
    document = artifact_document(names, vocabulary, spec, trees)
    uncalibrated = fraud_model.load(dump_artifact(document))
    raw = [uncalibrated.raw_score(row) for row in x.tolist()]
    # The evaluator must give LightGBM's own raw scores: checked on every row of the check split.
    expected = booster.predict(x[check_idx], num_iteration=best, raw_score=True)
    parity = evaluator_parity([raw[i] for i in part["check"]], expected)

    slope, intercept = platt([raw[i] for i in part["validation"]], [rows.label[i] for i in part["validation"]])
    document["calibration"].update(slope=round_fitted(slope), intercept=round_fitted(intercept))
    calibrated = fraud_model.load(dump_artifact(document))
    scores = [calibrated.calibrate(r) for r in raw]
    review, alert, how = choose_thresholds(
        [scores[i] for i in part["validation"]], [rows.label[i] for i in part["validation"]], settings.targets
    )
    document["thresholds"] = {"review": review, "alert": alert}
    rules_bands = (config.review_threshold, config.alert_threshold)

    def report(indexes: list[int]) -> dict:
        labels = [rows.label[i] for i in indexes]
        scenarios = [rows.scenario[i] for i in indexes]
        return {
            "model": measure([scores[i] for i in indexes], labels, scenarios, review, alert),
            "rules": measure([rows.rules_score[i] for i in indexes], labels, scenarios, *rules_bands),
        }

    names_of_sources = [source.name for source in sources]
    metrics: dict[str, Any] = {}
    for split in ("validation", "check"):
        by_source = {
            name: report([i for i in part[split] if rows.source[i] == name])
            for name in names_of_sources
            if any(rows.source[i] == name for i in part[split])
        }
        metrics[split] = {"all": report(part[split]), "by_source": by_source}
    # The bound that was checked, not the measured difference: that is this machine's arithmetic, not the
    # model's (the report and the trainer's output give it).
    metrics["check"]["parity_tolerance"] = PARITY_TOLERANCE
    metrics["check"]["parity_rows"] = len(part["check"])

    inputs = [source.describe() for source in sources]
    document["metrics"] = metrics
    document["training"] = {
        "inputs": inputs,
        "inputs_sha256": hashlib.sha256(
            json.dumps([[i["name"], i["sha256"]] for i in inputs], separators=(",", ":")).encode()
        ).hexdigest(),
        "rules_config": config_name,
        "splits": {split: {"transactions": len(part[split]), "fraud": int(y[part[split]].sum())} for split in SPLITS},
        "split_method": "by user_id: check = tools.detection.backtest.part_of; validation = a quarter of the rest",
        "seed": settings.seed,
        "params": params,
        "rounds": settings.rounds,
        "early_stopping_rounds": settings.early_stopping,
        "best_iteration": best,
        "thresholds_chosen_on": "validation",
        "threshold_method": how,
        "targets": vars(settings.targets),
        "calibrated_on": "validation",
        "newest_transaction_ms": max(rows.ts),
    }
    document["libraries"] = library_versions()
    document["version"] = version_id(document)
    artifact = dump_artifact(document)
    final = fraud_model.load(artifact)
    return Trained(artifact, document, final, rows, scores, rules_bands, parity)


def dump_artifact(document: dict) -> bytes:
    """The artifact's bytes: sorted keys, no spaces, floats as ``repr`` (Python's json), one final newline."""
    return (json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False) + "\n").encode()


def version_id(document: dict) -> str:
    """``<date of the newest training transaction>-<12 hex of the content's sha256>``: the same inputs
    give the same id; the wall clock never enters."""
    content = {key: value for key, value in document.items() if key != "version"}
    digest = hashlib.sha256(dump_artifact(content)).hexdigest()[:12]
    newest = datetime.fromtimestamp(document["training"]["newest_transaction_ms"] / 1000, tz=UTC)
    return f"{newest:%Y%m%d}-{digest}"


# -- report --------------------------------------------------------------------------------------


def plot_pr_curves(trained: Trained, indexes: list[int], title: str, path: Path) -> None:
    """Precision against recall over every score threshold, the model and the rules on the same rows."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows, model = trained.rows, trained.model
    labels = [rows.label[i] for i in indexes]
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    try:
        for name, scores, alert in (
            ("model", [trained.scores[i] for i in indexes], model.alert_threshold),
            ("rules only", [rows.rules_score[i] for i in indexes], None),
        ):
            histogram = ScoreHistogram.of(scores, labels)
            curve = histogram.pr_curve()
            axes.plot([r for _, _, r in curve], [p for _, p, _ in curve], drawstyle="steps-post", label=name)
            if alert is not None:
                at = histogram.at_threshold(int(alert))
                axes.scatter(
                    [at.recall], [at.precision], color="tab:red", zorder=3, label=f"model alert (>= {alert:g})"
                )
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.set_xlim(0, 1.02)
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.set_title(title, fontsize=10)
        axes.legend(loc="lower left")
        figure.tight_layout()
        figure.savefig(path, metadata={"Software": None})
    finally:
        plt.close(figure)


def _row(name: str, m: dict) -> str:
    return (
        f"| {name} | {m['transactions']:,} | {m['positives']:,} | {m['precision']:.3f} | {m['recall']:.3f} "
        f"| {m['f1']:.3f} | {100 * m['false_positive_rate']:.2f} % | {m['tp']:,} / {m['fp']:,} / {m['fn']:,} "
        f"| {m['recall_at_1pct_fpr']:.3f} |"
    )


def render_markdown(trained: Trained, pngs: dict[str, str]) -> str:
    doc = trained.document
    training, metrics, model = doc["training"], doc["metrics"], trained.model
    lines = [
        f"# Model {doc['version']}",
        "",
        f"LightGBM {doc['libraries']['lightgbm']}, {len(doc['trees'])} trees (best of up to {training['rounds']} "
        f"rounds, early stopping on the validation split), {len(doc['features'])} features; rules configuration "
        f"{training['rules_config']}. Inputs:",
        "",
        "| input | transactions | fraud | sha256 |",
        "|---|---|---|---|",
        *(
            f"| {i['name']} | {i['transactions']:,} | {i['fraud']:,} | `{i['sha256'][:16]}` |"
            for i in training["inputs"]
        ),
        "",
        "Splits by card/user: **check** (the backtest's `--part check`, never fitted on), **validation** (a quarter "
        "of the rest: early stopping, calibration, thresholds), **train** (the trees).",
        "",
        "| split | transactions | fraud |",
        "|---|---|---|",
        *(f"| {s} | {v['transactions']:,} | {v['fraud']:,} |" for s, v in training["splits"].items()),
        "",
        f"Thresholds, chosen on validation ({training['threshold_method']}): review >= {model.review_threshold:g}, "
        f"alert >= {model.alert_threshold:g}. Score = {model.even_odds_score:g} + {model.points_per_doubling:g} x "
        f"log2(odds), odds from Platt scaling on validation (slope {model.slope:.4f}, "
        f"intercept {model.intercept:.4f}). "
        f"The rules-only engine at its own bands (review >= {trained.rules_bands[0]:g}, alert >= "
        f"{trained.rules_bands[1]:g}) on the same transactions.",
        "",
        f"Evaluator parity on every row of the check split ({metrics['check']['parity_rows']:,} rows): largest "
        f"difference from LightGBM's raw score {trained.parity:.3g} on this machine (the trainer stops above "
        f"{metrics['check']['parity_tolerance']:g}). The calibration is kept to {FITTED_DIGITS} significant digits.",
        "",
    ]
    for split in ("check", "validation"):
        lines += [
            f"## {split.capitalize()} split" + (" (held out: the numbers that count)" if split == "check" else ""),
            "",
            "| data, scorer | transactions | fraud | precision | recall | F1 | FPR | tp / fp / fn "
            "| recall at 1 % FPR |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        groups = {"all inputs": metrics[split]["all"], **metrics[split]["by_source"]}
        for name, result in groups.items():
            lines.append(_row(f"{name}, model", result["model"]))
            lines.append(_row(f"{name}, rules only", result["rules"]))
        lines.append("")
        for name, result in metrics[split]["by_source"].items():
            scenarios = result["model"].get("per_scenario")
            if not scenarios:
                continue
            lines += [
                f"Recall by scenario, {name} ({split}; `legit` is the false-positive rate):",
                "",
                "| scenario | transactions | model | rules only |",
                "|---|---|---|---|",
            ]
            for scenario, row in scenarios.items():
                rules = result["rules"]["per_scenario"][scenario]
                lines.append(
                    f"| `{scenario}` | {row['transactions']:,} | {100 * row['flagged_share']:.1f} % "
                    f"| {100 * rules['flagged_share']:.1f} % |"
                )
            lines.append("")
        if split in pngs:
            lines += [f"![precision-recall curves, {split} split]({pngs[split]})", ""]
    return "\n".join(lines)


def write_report(trained: Trained, path: Path) -> Path:
    """The markdown report and, beside it, ``<stem>-check-pr.png`` (model and rules on the check split)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = trained.rows
    png = path.with_name(f"{path.stem}-check-pr.png")
    check = rows.in_split("check")
    plot_pr_curves(trained, check, f"Check split: model {trained.document['version']} and rules", png)
    path.write_text(render_markdown(trained, {"check": png.name}), encoding="utf-8")
    return path


# -- command line --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.train",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "inputs",
        nargs="*",
        help=f"labeled files: our JSON lines, Sparkov or Kaggle CSV, gzip or not (default: {DEFAULT_DATA.name})",
    )
    parser.add_argument("--format", choices=readers.FORMATS, help="the input files' format (default: detected)")
    parser.add_argument("--config", help="a rules document (its feature parameters and the rules beside the model)")
    parser.add_argument("--no-simulate", action="store_true", help="train on the input files alone")
    parser.add_argument("--simulate-users", type=int, default=3000, help="simulated users (default 3000)")
    parser.add_argument("--simulate-days", type=float, default=30, help="simulated days (default 30)")
    parser.add_argument("--simulate-seed", type=int, default=1, help="simulator seed (default 1)")
    parser.add_argument("--simulate-fraud-rate", type=float, default=0.02, help="simulated fraud share (0.02)")
    parser.add_argument("--seed", type=int, default=1, help="LightGBM seed (default 1)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help=f"most boosting rounds (default {ROUNDS})")
    parser.add_argument("--features", help="comma-separated subset of fraud.features.FEATURE_NAMES (default: all)")
    parser.add_argument("--alert-precision", type=float, default=Targets.alert_precision)
    parser.add_argument("--alert-fpr", type=float, default=Targets.alert_fpr)
    parser.add_argument("--review-fpr", type=float, default=Targets.review_fpr)
    parser.add_argument("--output", "-o", type=Path, default=DEFAULT_OUTPUT, help="the artifact (JSON)")
    parser.add_argument("--report", type=Path, help="write a markdown report (and its PR-curve PNG beside it)")
    parser.add_argument("--json", action="store_true", help="print the metrics as one JSON object on stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    show = not args.quiet
    if args.rounds < 1:
        raise ToolError("--rounds must be at least 1")
    for name in ("alert_precision", "alert_fpr", "review_fpr"):
        if not 0 < getattr(args, name) <= 1:
            raise ToolError(f"--{name.replace('_', '-')} must be in (0, 1]")
    config, config_name = load_rules(args.config)
    began = time.monotonic()
    sources = []
    for path in args.inputs or [DEFAULT_DATA]:
        sources.append(read_source(path, args.format))
        if show:
            progress(f"read {len(sources[-1].records):,} transactions from {path}")
    if not args.no_simulate:
        if args.simulate_users < 1 or args.simulate_days <= 0 or not 0 <= args.simulate_fraud_rate < 1:
            raise ToolError("--simulate-users >= 1, --simulate-days > 0 and 0 <= --simulate-fraud-rate < 1")
        sources.append(
            simulated_source(args.simulate_users, args.simulate_days, args.simulate_seed, args.simulate_fraud_rate)
        )
        if show:
            progress(f"simulated {len(sources[-1].records):,} transactions ({sources[-1].name})")
    names = tuple(name.strip() for name in args.features.split(",") if name.strip()) if args.features else None
    settings = Settings(
        seed=args.seed,
        rounds=args.rounds,
        targets=Targets(args.alert_precision, args.alert_fpr, args.review_fpr),
        feature_names=names,
    )
    trained = fit(sources, config, settings=settings, config_name=config_name, show_progress=show)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(trained.artifact)
    if show:
        progress(f"wrote {args.output} ({len(trained.artifact):,} bytes) in {time.monotonic() - began:.0f} s")
    if args.report:
        progress(f"report: {write_report(trained, args.report)}")
    if args.json:
        print(json.dumps({"version": trained.document["version"], "metrics": trained.document["metrics"]}, indent=2))
    else:
        print(summary_text(trained))
    return 0


def summary_text(trained: Trained) -> str:
    doc, model = trained.document, trained.model
    lines = [
        f"model {doc['version']}: {len(doc['trees'])} trees, review >= {model.review_threshold:g}, "
        f"alert >= {model.alert_threshold:g} (chosen on validation)"
    ]
    for name, result in {"all inputs": doc["metrics"]["check"]["all"], **doc["metrics"]["check"]["by_source"]}.items():
        for scorer in ("model", "rules"):
            m = result[scorer]
            lines.append(
                f"  check, {name}, {scorer}: precision {m['precision']:.3f} recall {m['recall']:.3f} "
                f"FPR {100 * m['false_positive_rate']:.2f} % recall at 1 % FPR {m['recall_at_1pct_fpr']:.3f}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run(main, None))
