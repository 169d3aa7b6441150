"""Detection metrics over scored, labeled transactions.

A transaction counts as flagged ("positive") when the engine's decision is ``alert``. Scores are the
engine's 0-100 integers; the precision-recall curve and the recall at a fixed false-positive rate come
from thresholds on that score.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True, slots=True)
class Confusion:
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def transactions(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def positives(self) -> int:
        """Labeled fraud (the ground truth), not flagged transactions."""
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        flagged = self.tp + self.fp
        return self.tp / flagged if flagged else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.positives if self.positives else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def false_positive_rate(self) -> float:
        negatives = self.fp + self.tn
        return self.fp / negatives if negatives else 0.0

    def as_dict(self) -> dict:
        return {
            "transactions": self.transactions,
            "positives": self.positives,
            **asdict(self),
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "false_positive_rate": round(self.false_positive_rate, 6),
        }


def confusion(flagged: Iterable[bool], labels: Iterable[bool]) -> Confusion:
    """Count the four outcomes of paired (flagged, is_fraud) values."""
    tp = fp = fn = tn = 0
    for predicted, actual in zip(flagged, labels, strict=True):
        if predicted:
            if actual:
                tp += 1
            else:
                fp += 1
        elif actual:
            fn += 1
        else:
            tn += 1
    return Confusion(tp, fp, fn, tn)


@dataclass(frozen=True, slots=True)
class ScoreHistogram:
    """How many fraud and legitimate transactions got each score 0..100."""

    fraud: tuple[int, ...]
    legit: tuple[int, ...]

    @classmethod
    def of(cls, scores: Sequence[int], labels: Sequence[bool]) -> ScoreHistogram:
        fraud, legit = [0] * 101, [0] * 101
        for score, actual in zip(scores, labels, strict=True):
            if not 0 <= score <= 100:
                raise ValueError(f"score {score} is outside 0..100")
            (fraud if actual else legit)[score] += 1
        return cls(tuple(fraud), tuple(legit))

    def at_threshold(self, threshold: int) -> Confusion:
        """The confusion counts when every score >= ``threshold`` is flagged."""
        tp, fp = sum(self.fraud[threshold:]), sum(self.legit[threshold:])
        return Confusion(tp, fp, sum(self.fraud) - tp, sum(self.legit) - fp)

    def pr_curve(self) -> list[tuple[int, float, float]]:
        """(threshold, precision, recall) for every threshold that flags at least one transaction."""
        curve = []
        for threshold in range(101):
            counts = self.at_threshold(threshold)
            if counts.tp + counts.fp:
                curve.append((threshold, counts.precision, counts.recall))
        return curve

    def recall_at_fpr(self, max_fpr: float = 0.01) -> tuple[float, int | None]:
        """The best recall whose false-positive rate stays at or below ``max_fpr``, and its threshold.

        Scores are integers, so the achievable rates are steps: the answer is the lowest threshold whose
        rate does not exceed ``max_fpr`` (None and recall 0 when even a score of 100 exceeds it).
        """
        for threshold in range(101):
            counts = self.at_threshold(threshold)
            if counts.false_positive_rate <= max_fpr:
                return counts.recall, threshold
        return 0.0, None
