"""Metrics on a hand-made example whose answers are worked out by hand."""

from __future__ import annotations

import pytest

from tools.detection.metrics import Confusion, ScoreHistogram, confusion

# 10 transactions: 4 fraud. Flagged: 3 of the fraud and 2 legitimate ones.
FLAGGED = [True, True, True, False, True, True, False, False, False, False]
LABELS = [True, True, True, True, False, False, False, False, False, False]


def test_confusion_counts_and_rates():
    counts = confusion(FLAGGED, LABELS)
    assert counts == Confusion(tp=3, fp=2, fn=1, tn=4)
    assert counts.transactions == 10 and counts.positives == 4
    assert counts.precision == pytest.approx(3 / 5)
    assert counts.recall == pytest.approx(3 / 4)
    assert counts.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)
    assert counts.false_positive_rate == pytest.approx(2 / 6)


def test_nothing_flagged_gives_zero_precision_not_an_error():
    counts = confusion([False] * 3, [True, False, False])
    assert (counts.precision, counts.recall, counts.f1) == (0.0, 0.0, 0.0)


def test_recall_at_one_percent_false_positive_rate():
    # 200 legitimate: 198 score 10, one 60, one 90. 10 fraud: 5 score 95, 3 score 70, 2 score 5.
    scores = [10] * 198 + [60, 90] + [95] * 5 + [70] * 3 + [5] * 2
    labels = [False] * 200 + [True] * 10
    histogram = ScoreHistogram.of(scores, labels)
    # Thresholds 11..60 flag two legitimate (1 %) and 8 fraud; 10 and below flag 99 % of them.
    recall, threshold = histogram.recall_at_fpr(0.01)
    assert recall == pytest.approx(0.8)
    assert threshold == 11
    # At 0.4 % even one legitimate (0.5 %) is too many: only scores above 90 may be flagged.
    assert histogram.recall_at_fpr(0.004) == (pytest.approx(0.5), 91)


def test_pr_curve_ends_where_everything_is_flagged():
    histogram = ScoreHistogram.of([0, 50, 100, 100], [False, True, True, False])
    curve = histogram.pr_curve()
    assert curve[0] == (0, pytest.approx(0.5), pytest.approx(1.0))
    assert curve[-1] == (100, pytest.approx(0.5), pytest.approx(0.5))
    assert histogram.at_threshold(50) == Confusion(tp=2, fp=1, fn=0, tn=1)


def test_scores_outside_the_scale_are_rejected():
    with pytest.raises(ValueError, match="outside 0..100"):
        ScoreHistogram.of([101], [True])
