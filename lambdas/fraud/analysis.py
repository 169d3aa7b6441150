"""One run of the pattern analysis (the analyze-patterns job), free of Lambda and of AWS clients.

``analyze_window`` streams the window's items into a ``PatternAnalyzer``, judges merchant spikes
against earlier runs' counts, and alerts on each finding at most once while it persists:

1. a short claim (``sent = False``, until ``now + pending_seconds``) reserves the finding, so two
   overlapping runs do not both alert on it;
2. the alert is sent through ``send`` (idempotent on the alert id: True when sent now, False when an
   earlier attempt of this run already sent it);
3. only then is the claim made suppressing (``sent = True``, until ``now + suppression``).

A send that fails releases the short claim and propagates: nothing suppresses a finding whose alert
was not sent, and the platform's retry of the run (the same window, the same alert ids) sends it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from fraud.alerts import finding_claim_id, pattern_alert
from fraud.patterns import PatternAnalyzer
from fraud.storage import MINUTE_MS, merchant_baseline

if TYPE_CHECKING:
    from fraud.config import EngineConfig

MERCHANT_TOP_N = 1000  # merchants kept in each run's stored counts
BASELINE_MINUTES = 60  # how far back the merchant baseline looks for earlier runs' counts


class PatternState(Protocol):
    """What a run keeps between runs (``fraud.storage.StateStore``)."""

    def load_merchant_counts(self, window_ends_ms: Iterable[int]) -> list[dict[str, int]]: ...

    def save_merchant_counts(
        self, window_end_ms: int, counts: dict[str, int], *, top_n: int, expiration: int
    ) -> dict[str, int]: ...

    def claim_finding(self, claim_id: str, *, alert_id: str, now: int, expiration: int, sent: bool) -> bool: ...

    def release_finding(self, claim_id: str, *, alert_id: str) -> None: ...


@dataclass
class WindowRun:
    """What one run did. ``outcomes``: (alert id, finding type, ``sent`` | ``already_sent`` | ``suppressed``)."""

    window_start: int
    window_end: int
    items_read: int = 0
    findings: int = 0
    outcomes: list[tuple[str, str, str]] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for _, _, o in self.outcomes if o == outcome)

    def summary(self) -> dict[str, Any]:
        """The handler's result and log line: ``alerts_sent`` counts only alerts sent by this attempt."""
        return {
            "window_start": self.window_start,
            "window_end": self.window_end,
            "items_read": self.items_read,
            "findings": self.findings,
            "alerts_sent": self.count("sent"),
            "already_sent": self.count("already_sent"),
            "suppressed": self.count("suppressed"),
        }


def analyze_window(
    items: Iterable[dict[str, Any]],
    state: PatternState,
    config: EngineConfig,
    *,
    start_ms: int,
    end_ms: int,
    now_ms: int,
    send: Callable[[dict[str, Any]], bool],
    hash_key: bytes,
    environment: str,
    pending_seconds: int,
) -> WindowRun:
    """Analyse the items received in ``[start_ms, end_ms)`` and alert on each new finding."""
    run = WindowRun(start_ms, end_ms)
    analyzer = PatternAnalyzer(config)
    for item in items:
        analyzer.add(item)
        run.items_read += 1

    counts = analyzer.merchant_counts()
    earlier_runs = state.load_merchant_counts(range(end_ms - BASELINE_MINUTES * MINUTE_MS, end_ms, MINUTE_MS))
    baseline = merchant_baseline(earlier_runs, counts, top_n=MERCHANT_TOP_N)
    state.save_merchant_counts(
        end_ms, counts, top_n=MERCHANT_TOP_N, expiration=end_ms // 1000 + BASELINE_MINUTES * 60 + 3600
    )

    findings = analyzer.findings(baseline)
    run.findings = len(findings)
    now = now_ms // 1000
    for finding in findings:
        alert = pattern_alert(finding, window_end_ms=end_ms, environment=environment, now_ms=now_ms, hash_key=hash_key)
        alert_id, claim_id = alert["alert_id"], finding_claim_id(finding, hash_key)
        if not state.claim_finding(claim_id, alert_id=alert_id, now=now, expiration=now + pending_seconds, sent=False):
            run.outcomes.append((alert_id, finding.type, "suppressed"))
            continue
        try:
            sent_now = send(alert)
        except BaseException:
            # Best effort: if the release fails too, the short claim expires by itself; the send's
            # error is the one to report.
            with contextlib.suppress(Exception):
                state.release_finding(claim_id, alert_id=alert_id)
            raise
        state.claim_finding(
            claim_id, alert_id=alert_id, now=now, expiration=now + config.patterns.suppression_ms // 1000, sent=True
        )
        run.outcomes.append((alert_id, finding.type, "sent" if sent_now else "already_sent"))
    return run
