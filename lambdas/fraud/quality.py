"""Label-based quality per week: how often each rule and each model is right, from the environment's own data.

Each ``Outcome`` is one transaction (or pattern finding) the product scored: the week it was scored in,
whether it was flagged (queued to the team: band ``review`` or ``alert``), the rules that fired, the model
that scored it, and its effective label when there is one (``fraud.labels.effective``). Then, per ISO week:

- **precision** of each rule and each model: of the flagged outcomes it took part in that carry a label
  (decided by an analyst, or settled by a chargeback or dispute), the share labelled fraud (confirmed /
  decided);
- **recall**, where processor labels exist: of the transactions a chargeback or dispute says were fraud, the
  share that was flagged. A rule's recall cannot be told from cases (a rule that fired below the band opened
  no case), so recall is the product's, per model.

The console's quality page and ``python -m tools.cases.quality`` build outcomes from decided cases and the
labels table; ``tools.detection.shadow`` builds them from detect-fraud's log lines for the live side and the
candidate, so both are judged by the same labels.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

ALL = "all"  # the key of the whole product's figures
NO_MODEL = "rules only"


def week_of(epoch_ms: int) -> str:
    """The Monday (UTC) of the ISO week ``epoch_ms`` falls in, e.g. ``2025-01-13``."""
    day = datetime.fromtimestamp(int(epoch_ms) / 1000, tz=UTC).date()
    return (day - timedelta(days=day.weekday())).isoformat()


@dataclass(frozen=True)
class Outcome:
    week: str
    flagged: bool
    rules: tuple[str, ...] = ()
    model: str | None = None
    label: str | None = None  # fraud | legitimate | None (no label yet)
    processor: bool = False  # the label comes from a chargeback or a dispute


@dataclass
class Tally:
    decided: int = 0  # flagged, with a label
    confirmed: int = 0  # of those, labelled fraud
    processor_fraud: int = 0  # labelled fraud by a chargeback or dispute
    caught: int = 0  # of those, flagged

    @property
    def precision(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None

    @property
    def recall(self) -> float | None:
        return self.caught / self.processor_fraud if self.processor_fraud else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "decided": self.decided,
            "confirmed": self.confirmed,
            "precision": None if self.precision is None else round(self.precision, 4),
            "processor_fraud": self.processor_fraud,
            "caught": self.caught,
            "recall": None if self.recall is None else round(self.recall, 4),
        }


@dataclass
class Week:
    overall: Tally = field(default_factory=Tally)
    rules: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))
    models: dict[str, Tally] = field(default_factory=lambda: defaultdict(Tally))

    def as_dict(self) -> dict[str, Any]:
        return {
            ALL: self.overall.as_dict(),
            "rules": {name: tally.as_dict() for name, tally in sorted(self.rules.items())},
            "models": {name: tally.as_dict() for name, tally in sorted(self.models.items())},
        }


def weekly(outcomes: Iterable[Outcome]) -> dict[str, Week]:
    """The figures of each week (newest first)."""
    weeks: dict[str, Week] = defaultdict(Week)
    for outcome in outcomes:
        week = weeks[outcome.week]
        model = outcome.model or NO_MODEL
        if outcome.flagged and outcome.label is not None:
            fraud = outcome.label == "fraud"
            for tally in (week.overall, week.models[model], *(week.rules[r] for r in set(outcome.rules))):
                tally.decided += 1
                tally.confirmed += fraud
        if outcome.processor and outcome.label == "fraud":
            # A transaction that was not flagged opened no case: its model is not known, only the product's.
            for tally in (week.overall, *((week.models[model],) if outcome.model else ())):
                tally.processor_fraud += 1
                tally.caught += outcome.flagged
    return dict(sorted(weeks.items(), reverse=True))


def report(weeks: dict[str, Week]) -> dict[str, Any]:
    return {week: figures.as_dict() for week, figures in weeks.items()}


def percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def render(weeks: dict[str, Week]) -> str:
    """The figures as text, one block per week (what ``python -m tools.cases.quality`` prints)."""
    if not weeks:
        return "no decided cases or processor labels in the period"
    lines = []
    for week, figures in weeks.items():
        o = figures.overall
        lines.append(
            f"week of {week}: precision {percent(o.precision)} ({o.confirmed}/{o.decided} decided were fraud), "
            f"recall {percent(o.recall)} ({o.caught}/{o.processor_fraud} chargeback or dispute frauds flagged)"
        )
        for title, tallies in (("rules", figures.rules), ("models", figures.models)):
            for name, tally in sorted(tallies.items()):
                recall = f", recall {percent(tally.recall)}" if tally.processor_fraud else ""
                lines.append(
                    f"  {title[:-1]:<5} {name:<22} precision {percent(tally.precision):>8} "
                    f"({tally.confirmed}/{tally.decided}){recall}"
                )
    return "\n".join(lines)


# --- outcomes from cases and labels (the console and python -m tools.cases.quality) ----------------

PATTERN_MODEL = "pattern findings"  # pattern cases are not the model's: their own bucket


def case_outcome(case: Any, label: Any) -> Outcome | None:
    """A decided (or processor-labelled) case as an outcome: flagged, labelled by the transaction's effective
    label when it has one, else by the case's decision (a duplicate says nothing: None)."""
    from fraud.cases import LABELLED

    if label is None and case.status not in LABELLED:
        return None
    model = PATTERN_MODEL if case.kind == "pattern" else case.model_version
    return Outcome(
        week=week_of(case.created_at),
        flagged=True,
        rules=tuple(case.rule_codes),
        model=model or NO_MODEL,
        label=LABELLED[case.status] if label is None else label.label,
        processor=label is not None and label.source != "analyst",
    )


def gather(cases: Any, labels: Any, transactions: Any, *, since_ms: int) -> list[Outcome]:
    """Outcomes of the cases decided since ``since_ms`` and of the transactions a chargeback or dispute
    labelled since then: ``cases`` a ``fraud.cases.CaseStore``, ``labels`` a ``fraud.labels.LabelStore``,
    ``transactions`` a ``fraud.storage.TransactionStore`` (for the week of a transaction that opened no case)."""
    from fraud.labels import PROCESSOR_SOURCES, effective_labels

    effective = effective_labels(labels.all())
    outcomes: list[Outcome] = []
    seen: set[str] = set()
    for case in cases.decided_since(since_ms):
        outcome = case_outcome(case, effective.get(case.transaction_id) if case.transaction_id else None)
        seen.add(case.case_id)
        if outcome is not None:
            outcomes.append(outcome)
    processor = {tid: label for tid, label in effective.items() if label.source in PROCESSOR_SOURCES}
    with_case = cases.exists(f"txn-{tid}" for tid in processor)
    for tid, label in sorted(processor.items()):
        case_id = f"txn-{tid}"
        if case_id in seen:
            continue
        if case_id in with_case:
            case = cases.get(case_id, events=False)
            if case.created_at >= since_ms and (outcome := case_outcome(case, label)) is not None:
                outcomes.append(outcome)
            continue
        item = transactions.transaction(tid)
        scored_at = None if item is None else int(item.get("received_at") or item["timestamp"])
        if scored_at is not None and scored_at >= since_ms:
            outcomes.append(Outcome(week_of(scored_at), False, label=label.label, processor=True))
    return outcomes
