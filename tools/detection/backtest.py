"""Replay labeled transactions through the fraud engine and measure how well it detects fraud.

The file is read (our JSON lines from ``tools.detection.simulate``, or a Sparkov/Kaggle CSV, gzip or not), sorted
by time and scored transaction by transaction with the same ``Engine`` the Lambda runs, over an
``InMemoryHistoryStore`` (each transaction is scored against the user's history before it, then
recorded). Flagged means decision ``alert`` at the configuration's alert band.

    python -m tools.detection.backtest ../shared/data/sparkov_train_150cards.csv.gz --report build/backtest/report.md
    python -m tools.detection.backtest PATH --format sparkov --json       # one JSON object on stdout
    python -m tools.detection.backtest sim.jsonl --config my-rules.json    # try a rules document before deploying it
    python -m tools.detection.backtest PATH --part check                   # only the held-out third of the users
    python -m tools.detection.backtest PATH --model models/default.json    # the learned model beside the rules
    python -m tools.detection.backtest PATH --lists lists.jsonl            # with block and allow lists (a list file)

``--part fit|check`` splits the users deterministically by a hash of their id (a third to ``check``),
so rules can be tuned on one part and judged on cards they never saw. ``--lists`` applies a list file after the
score, as detect-fraud does (``fraud.lists.apply``: a block entry forces the alert band, an allow entry caps it
at review): what a list change would have done to these transactions, whatever the entries' dates (an entry's
expiry is compared with each transaction's time). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import hashlib
import json
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fraud.config import ConfigError, EngineConfig, load_config
from fraud.engine import Engine
from fraud.history import InMemoryHistoryStore, Item
from fraud.lists import FIELDS, Lists, apply, read_entries
from tools._cli import ToolError, progress, reading, run
from tools.detection import readers
from tools.detection.metrics import Confusion, ScoreHistogram, confusion

PARTS = ("all", "fit", "check")
CHUNK = 4096  # transactions between progress-bar updates


def part_of(user_id: str | None) -> str:
    """``check`` for a stable third of the users, ``fit`` for the rest (a transaction without a user
    counts as the user ``None``)."""
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=8).digest()
    return "check" if int.from_bytes(digest, "big") % 3 == 0 else "fit"


class ProgressBar:
    """A one-line progress bar on stderr, redrawn at most every ``interval`` seconds."""

    def __init__(self, total: int, label: str, enabled: bool = True, interval: float = 0.25) -> None:
        self.total, self.label, self.enabled, self.interval = total, label, enabled, interval
        self._last = 0.0
        self._began = time.monotonic()

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or now - self._last < self.interval:
            return
        self._last = now
        self._draw(done, now)

    def _draw(self, done: int, now: float) -> None:
        share = done / self.total if self.total else 1.0
        filled = int(30 * share)
        rate = done / max(now - self._began, 1e-9)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {done:,}/{self.total:,} "
            f"{100 * share:5.1f} % {rate:,.0f}/s"
        )
        sys.stderr.flush()

    def close(self, done: int) -> None:
        if self.enabled:
            self._draw(done, time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()


@dataclass
class Result:
    """Everything the replay observed; metrics are derived on demand."""

    source: str
    config_name: str
    alert_threshold: float
    review_threshold: float
    labels: list[bool]
    scores: list[int]
    flagged: list[bool]
    decisions: list[str]  # per transaction, in replay order (with transaction_ids)
    transaction_ids: list[str | None]  # None where a transaction carries no id
    reviewed: int
    scenarios: list[str | None]
    rule_hits: Counter = field(default_factory=Counter)
    rule_fraud_hits: Counter = field(default_factory=Counter)
    timing: dict = field(default_factory=dict)
    lists: dict = field(default_factory=dict)  # with a list file: what its entries did

    @property
    def at_alert(self) -> Confusion:
        return confusion(self.flagged, self.labels)

    @property
    def histogram(self) -> ScoreHistogram:
        return ScoreHistogram.of(self.scores, self.labels)

    def per_rule(self) -> dict[str, dict]:
        positives = sum(self.labels)
        return {
            code: {
                "hits": hits,
                "fraud_hits": self.rule_fraud_hits[code],
                "precision": round(self.rule_fraud_hits[code] / hits, 4),
                "fraud_share": round(self.rule_fraud_hits[code] / positives, 4) if positives else 0.0,
            }
            for code, hits in self.rule_hits.most_common()
        }

    def per_scenario(self) -> dict[str, dict]:
        if not any(self.scenarios):
            return {}
        totals: Counter = Counter()
        flagged: Counter = Counter()
        for scenario, hit in zip(self.scenarios, self.flagged, strict=True):
            totals[scenario or "unlabeled"] += 1
            flagged[scenario or "unlabeled"] += hit
        return {
            name: {"transactions": count, "flagged": flagged[name], "flagged_share": round(flagged[name] / count, 4)}
            for name, count in sorted(totals.items())
        }

    def summary(self) -> dict:
        """The contract's keys first (transactions, positives, tp, fp, fn, tn, precision, recall, f1,
        recall_at_1pct_fpr), then the detail."""
        counts = self.at_alert.as_dict()
        recall_1pct, threshold_1pct = self.histogram.recall_at_fpr(0.01)
        return {
            **counts,
            "recall_at_1pct_fpr": round(recall_1pct, 4),
            "threshold_at_1pct_fpr": threshold_1pct,
            "flagged": self.at_alert.tp + self.at_alert.fp,
            "reviewed": self.reviewed,
            "alert_threshold": self.alert_threshold,
            "review_threshold": self.review_threshold,
            "source": self.source,
            "config": self.config_name,
            "per_rule": self.per_rule(),
            "per_scenario": self.per_scenario(),
            "timing": self.timing,
            **({"lists": self.lists} if self.lists else {}),
        }


def read_records(path: str | Path, fmt: str | None = None) -> list[tuple[Item, bool, str | None]]:
    """``readers.read_items`` with the garbage collector paused (``no_gc``); a file that cannot be read
    or is not in the format is a ToolError saying why."""
    try:
        with reading(path), no_gc():
            return readers.read_items(path, fmt)
    except readers.DataFormatError as error:
        raise ToolError(str(error)) from None


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector (and freeze what already exists) for a bulk phase.

    A replay or a parse allocates hundreds of thousands of long-lived objects (records, ``Item``s in
    the histories) and no reference cycles, so every automatic collection only re-scans a growing
    heap to free nothing: on the Sparkov file it cost about a third of the engine loop's CPU time.
    Reference counting still frees everything that dies; collection resumes afterwards.
    """
    was_enabled = gc.isenabled()
    gc.freeze()  # objects from before the phase: never scanned during it
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
        gc.unfreeze()


def replay(
    records: Sequence[tuple[Item, bool, str | None]],
    config: EngineConfig,
    *,
    source: str = "<records>",
    config_name: str = "defaults",
    show_progress: bool = False,
    model: Any = None,
    lists: Lists | None = None,
    identifiers: dict[str, dict[str, Any]] | None = None,
) -> Result:
    """Score ``records`` (``(item, is_fraud, scenario)`` in time order, ``readers.read_items``) with a
    fresh engine and history store (and ``model``, a ``fraud.model.Model``, beside the rules when given), then
    ``lists`` (their hits on each transaction's ``identifiers``, by transaction id) when given.

    Each item is scored, then recorded; the loop only keeps the assessments (the counts come from
    them afterwards, inside the timed part), reads bound methods from locals, redraws the progress bar
    every ``CHUNK`` items, and the garbage collector pauses meanwhile (``no_gc``).
    """
    engine = Engine(config, model)
    store = InMemoryHistoryStore(config)
    labels = [is_fraud for _, is_fraud, _ in records]
    assessments: list = []
    bar = ProgressBar(len(records), "backtest", enabled=show_progress)
    assess, history_for, remember, keep = engine.assess, store.history_for, store.record, assessments.append
    listed: Counter = Counter()
    if lists is not None:
        known = identifiers or {}
        engine_assess = assess

        def listed_assess(item: Item, history: Any) -> Any:  # the engine, then the lists (as detect-fraud scores)
            before = engine_assess(item, history)
            hits = lists.hits(known.get(str(item.transaction_id)) or _identifiers(item), item.ts)
            if not hits:
                return before
            after = apply(before, hits)
            listed[f"{hits[0].entry.list}_hits"] += 1
            if after.decision != before.decision:
                listed[f"{before.decision}_to_{after.decision}"] += 1
            return after

        assess = listed_assess  # type: ignore[assignment]

    with no_gc():
        began, began_cpu = time.perf_counter(), time.process_time()
        for start in range(0, len(records), CHUNK):
            for item, _, _ in records[start : start + CHUNK]:
                keep(assess(item, history_for(item)))
                remember(item)
            bar.update(min(start + CHUNK, len(records)))
        scores = [assessment.score for assessment in assessments]
        decisions = [assessment.decision for assessment in assessments]
        flagged = [decision == "alert" for decision in decisions]
        hits = Counter(reason.code for assessment in assessments for reason in assessment.reasons)
        fraud_hits = Counter(
            reason.code
            for assessment, is_fraud in zip(assessments, labels, strict=True)
            if is_fraud
            for reason in assessment.reasons
        )
        seconds, cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    bar.close(len(records))
    list_summary: dict = {}
    if lists is not None:
        forced = [
            is_fraud
            for assessment, is_fraud in zip(assessments, labels, strict=True)
            if assessment.forced_by == "BLOCK_LIST"
            or (assessment.reasons and assessment.reasons[0].code == "ALLOW_LIST")
        ]
        list_summary = {
            "version": lists.version,
            "entries": len(lists),
            "transactions_hit": len(forced),
            "fraud_among_them": sum(forced),
            **dict(sorted(listed.items())),
        }
    return Result(
        source=source,
        config_name=config_name,
        alert_threshold=config.alert_threshold if model is None else model.alert_threshold,
        review_threshold=config.review_threshold if model is None else model.review_threshold,
        labels=labels,
        scores=scores,
        flagged=flagged,
        decisions=decisions,
        transaction_ids=[item.transaction_id for item, _, _ in records],
        reviewed=decisions.count("review"),
        scenarios=[scenario for _, _, scenario in records],
        rule_hits=hits,
        rule_fraud_hits=fraud_hits,
        timing={
            "engine_seconds": round(seconds, 3),
            "engine_cpu_seconds": round(cpu_seconds, 3),
            "engine_tx_per_s": round(len(records) / seconds) if seconds else None,
            "engine_tx_per_cpu_s": round(len(records) / cpu_seconds) if cpu_seconds else None,
        },
        lists=list_summary,
    )


def _identifiers(item: Item) -> dict[str, Any]:
    """The identifiers an ``Item`` keeps (the readers' fast path drops the card token and the IP address)."""
    return {"user_id": item.user_id, "device_id": item.device, "merchant_id": item.merchant}


def load_lists(path: str | Path) -> Lists:
    """A list file (JSON lines of entries, ``make lists ENV=... ARGS="export FILE"``); its version is its name."""
    with reading(path):
        text = Path(path).read_text(encoding="utf-8")
    entries, errors = read_entries(text, name=Path(path).name)
    if errors:
        shown = "; ".join(f"line {line}: {message}" for line, message in errors[:10])
        raise ToolError(f"{path}: {len(errors)} bad line(s): {shown}")
    return Lists(entries, Path(path).name)


def list_identifiers(path: str | Path, fmt: str | None) -> dict[str, dict[str, Any]]:
    """Every transaction's identifiers the lists match on (card token and IP address included), by id."""
    try:
        with reading(path), no_gc():
            return {
                str(r.transaction["transaction_id"]): {f: r.transaction.get(f) for f in FIELDS}
                for r in readers.read(path, fmt)
            }
    except readers.DataFormatError as error:
        raise ToolError(str(error)) from None


def load_rules(path: str | None) -> tuple[EngineConfig, str]:
    if path is None:
        return load_config(None), "defaults (lambdas/fraud/rules.default.json)"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise ToolError(f"cannot read the rules document {path}: {error.strerror}") from None
    try:
        return load_config(text), f"{path} merged over the defaults"
    except ConfigError as error:
        raise ToolError(f"{path}: {error}") from None


def load_model(path: str | Path | None) -> Any:
    """The model artifact at ``path`` (``fraud.model.load``), or None."""
    if path is None:
        return None
    from fraud.model import ModelError, load

    try:
        return load(Path(path).read_bytes())
    except OSError as error:
        raise ToolError(f"cannot read the model {path}: {error.strerror or error}") from None
    except ModelError as error:
        raise ToolError(f"{path}: {error}") from None


def backtest(
    path: str | Path,
    fmt: str | None = None,
    *,
    rules: str | None = None,
    model: str | Path | None = None,
    part: str = "all",
    show_progress: bool = False,
    lists: str | Path | None = None,
) -> Result:
    """Read ``path``, keep the users of ``part``, replay them (rules, and ``model`` beside them when given, then
    the list file ``lists``); timing covers both phases."""
    config, config_name = load_rules(rules)
    scorer = load_model(model)
    list_snapshot = None if lists is None else load_lists(lists)
    if scorer is not None:
        config_name += f" + model {scorer.version}"
    began, began_cpu = time.perf_counter(), time.process_time()
    records = read_records(path, fmt)
    if part != "all":
        records = [record for record in records if part_of(record[0].user_id) == part]
    parse_seconds, parse_cpu_seconds = time.perf_counter() - began, time.process_time() - began_cpu
    if not records:
        raise ToolError(f"{path}: no transactions to replay" + (f" in part {part}" if part != "all" else ""))
    if show_progress:
        progress(f"read {len(records):,} transactions from {path} in {parse_seconds:.1f} s")
    source = Path(path).name + ("" if part == "all" else f" ({part} part)")
    identifiers = None if list_snapshot is None else list_identifiers(path, fmt)
    if list_snapshot is not None:
        config_name += f" + lists {list_snapshot.version} ({len(list_snapshot)} entries)"
    result = replay(
        records,
        config,
        source=source,
        config_name=config_name,
        show_progress=show_progress,
        model=scorer,
        lists=list_snapshot,
        identifiers=identifiers,
    )
    total = parse_seconds + result.timing["engine_seconds"]
    total_cpu = parse_cpu_seconds + result.timing["engine_cpu_seconds"]
    result.timing.update(
        parse_seconds=round(parse_seconds, 3),
        parse_cpu_seconds=round(parse_cpu_seconds, 3),
        end_to_end_tx_per_s=round(len(records) / total) if total else None,
        end_to_end_tx_per_cpu_s=round(len(records) / total_cpu) if total_cpu else None,
    )
    return result


def _text(summary: dict) -> str:
    lines = [
        f"{summary['source']}: {summary['transactions']:,} transactions, {summary['positives']:,} fraud",
        f"  alert band (score >= {summary['alert_threshold']:g}): precision {summary['precision']:.3f}  "
        f"recall {summary['recall']:.3f}  F1 {summary['f1']:.3f}",
        f"  tp {summary['tp']:,}  fp {summary['fp']:,}  fn {summary['fn']:,}  tn {summary['tn']:,}",
        f"  recall at 1 % false-positive rate: {summary['recall_at_1pct_fpr']:.3f}"
        f" (score >= {summary['threshold_at_1pct_fpr']})",
        "  rules (hits, precision of the hits):",
    ]
    for code, row in summary["per_rule"].items():
        lines.append(f"    {code:<18} {row['hits']:>9,}  {row['precision']:.3f}")
    if summary["per_scenario"]:
        lines.append("  scenarios (transactions, share flagged):")
        for name, row in summary["per_scenario"].items():
            lines.append(f"    {name:<18} {row['transactions']:>9,}  {row['flagged_share']:.3f}")
    if summary.get("lists"):
        listed = summary["lists"]
        changes = ", ".join(f"{k.replace('_to_', ' -> ')} {v:,}" for k, v in listed.items() if "_to_" in k) or "none"
        lines.append(
            f"  lists {listed['version']} ({listed['entries']} entries): {listed['transactions_hit']:,}"
            f" transactions hit ({listed['fraud_among_them']:,} fraud); decisions changed: {changes}"
        )
    timing = summary["timing"]
    lines.append(
        f"  throughput per CPU second: engine {timing['engine_tx_per_cpu_s']:,}/s,"
        f" end to end {timing['end_to_end_tx_per_cpu_s']:,}/s"
        f" (parse {timing['parse_cpu_seconds']:.1f} s, engine {timing['engine_cpu_seconds']:.1f} s CPU;"
        f" wall clock: engine {timing['engine_tx_per_s']:,}/s, end to end {timing['end_to_end_tx_per_s']:,}/s)"
    )
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.backtest",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("path", help="labeled transactions: JSON lines (ours) or a Sparkov/Kaggle CSV, gzip or not")
    parser.add_argument("--format", choices=readers.FORMATS, help="the file's format (default: detected from it)")
    parser.add_argument("--config", help="a rules document (full or partial) merged over the defaults")
    parser.add_argument("--model", help="a model artifact (e.g. models/default.json) scoring beside the rules")
    parser.add_argument("--part", choices=PARTS, default="all", help="replay only the fit or check users")
    parser.add_argument("--lists", help="a list file (JSON lines of block and allow entries) applied after the score")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--report", type=Path, help="write a markdown report (and its PR-curve PNG beside it)")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    result = backtest(
        args.path,
        args.format,
        rules=args.config,
        model=args.model,
        part=args.part,
        show_progress=not args.quiet,
        lists=args.lists,
    )
    summary = result.summary()
    if args.report:
        from tools.detection.report import write_report

        written = write_report(result, args.report)
        progress(f"report: {written}")
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(_text(summary))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
