"""Quality per week: precision of each rule and model from labelled flags, recall from processor labels."""

from __future__ import annotations

from fraud.cases import case_from_alert
from fraud.labels import Label
from fraud.quality import NO_MODEL, PATTERN_MODEL, Outcome, case_outcome, render, week_of, weekly
from tests.console.support import BASE_MS, PATTERN_ALERT, transaction_alert

WEEK = "2025-01-13"  # the Monday of BASE_MS's week


def test_weeks_start_on_monday_utc():
    assert week_of(BASE_MS) == WEEK
    assert week_of(BASE_MS - 2 * 86_400_000) == WEEK  # Monday itself
    assert week_of(BASE_MS - 3 * 86_400_000) == "2025-01-06"  # the Sunday before


def test_precision_per_rule_and_model_counts_labelled_flags_and_recall_counts_processor_frauds():
    weeks = weekly(
        [
            Outcome(WEEK, True, ("VELOCITY", "NEW_DEVICE"), "m1", "fraud"),
            Outcome(WEEK, True, ("VELOCITY",), "m1", "legitimate"),
            Outcome(WEEK, True, ("NEW_DEVICE",), "m2", "fraud", processor=True),  # a chargeback, flagged
            Outcome(WEEK, True, ("SPREE",), "m1", None),  # not decided yet: no precision either way
            Outcome(WEEK, False, (), None, "fraud", processor=True),  # a chargeback nobody flagged
            Outcome("2025-01-06", True, ("VELOCITY",), "m1", "fraud"),
        ]
    )
    assert list(weeks) == [WEEK, "2025-01-06"]  # newest first
    week = weeks[WEEK]
    assert (week.overall.decided, week.overall.confirmed) == (3, 2)
    assert (week.overall.processor_fraud, week.overall.caught, week.overall.recall) == (2, 1, 0.5)
    assert week.rules["VELOCITY"].precision == 0.5 and week.rules["NEW_DEVICE"].precision == 1.0
    assert "SPREE" not in week.rules
    assert week.models["m1"].precision == 0.5 and week.models["m2"].recall == 1.0
    assert None not in week.models  # an unflagged transaction's model is not known: the product's recall only
    text = render(weeks)
    assert "week of 2025-01-13: precision 66.7 % (2/3 decided were fraud), recall 50.0 %" in text


def test_a_case_is_judged_by_its_transactions_effective_label_else_by_its_decision():
    case = case_from_alert(transaction_alert("t-1"), opened_at=BASE_MS)
    decided = case.__class__(**{**case.__dict__, "status": "legitimate"})
    assert case_outcome(decided, None).label == "legitimate"
    chargeback = Label("t-1", "fraud", "chargeback", "cb", BASE_MS)
    outcome = case_outcome(decided, chargeback)
    assert (outcome.label, outcome.processor, outcome.model, outcome.flagged) == ("fraud", True, "gbm-2025-01", True)
    duplicate = case.__class__(**{**case.__dict__, "status": "duplicate"})
    assert case_outcome(duplicate, None) is None
    pattern = case_from_alert(PATTERN_ALERT, opened_at=BASE_MS)
    fraud_pattern = pattern.__class__(**{**pattern.__dict__, "status": "fraud"})
    assert case_outcome(fraud_pattern, None).model == PATTERN_MODEL  # never counted as the model's
    rules_only = case.__class__(**{**decided.__dict__, "model_version": None})
    assert case_outcome(rules_only, None).model == NO_MODEL


def test_no_outcome_says_so():
    assert render({}) == "no decided cases or processor labels in the period"
