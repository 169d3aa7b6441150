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

from fraud.alerts import entity_hash, finding_claim_id, pattern_alert
from fraud.patterns import PatternAnalyzer
from fraud.storage import MINUTE_MS, merchant_baseline

if TYPE_CHECKING:
    from fraud.config import EngineConfig

MERCHANT_TOP_N = 1000  # merchants kept in each run's stored counts
BASELINE_MINUTES = 60  # how far back the merchant baseline looks for earlier runs' counts


def merchant_key(hash_key: bytes, merchant_id: str) -> str:
    """The key of a merchant in the stored counts: a keyed hash of 24 characters, whatever the id.

    A merchant id may be 128 characters of up to 4 bytes each (512 bytes): 1,000 of them would not fit
    DynamoDB's 400 KB item; 1,000 keys of 24 bytes and their counts take under 50 KB.
    """
    return entity_hash(hash_key, "merchant", merchant_id)


def key_id(hash_key: bytes) -> str:
    """Names the hash key without revealing it (a keyed hash of a constant): runs keyed with another
    key (before a rotation) are stored under other ids and never compared with this run's."""
    return entity_hash(hash_key, "merchant-counts")[:8]


class PatternState(Protocol):
    """What a run keeps between runs (``fraud.storage.StateStore``)."""

    def load_merchant_counts(self, window_ends_ms: Iterable[int], *, key_id: str) -> list[dict[str, int]]: ...

    def save_merchant_counts(
        self, window_end_ms: int, counts: dict[str, int], *, top_n: int, expiration: int, key_id: str
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
    clock_ms: Callable[[], int],
    send: Callable[[dict[str, Any]], bool],
    hash_key: bytes,
    environment: str,
    pending_seconds: int,
) -> WindowRun:
    """Analyse the items received in ``[start_ms, end_ms)`` and alert on each new finding.

    ``clock_ms`` is read for each claim (and each alert's ``created_at``), after the window has been
    read: a claim's expiry is compared with the time it is made, not with the start of a long run.
    """
    run = WindowRun(start_ms, end_ms)
    analyzer = PatternAnalyzer(config)
    for item in items:
        analyzer.add(item)
        run.items_read += 1

    counts = analyzer.merchant_counts()
    keys = {merchant: merchant_key(hash_key, merchant) for merchant in counts}
    keyed_counts = {keys[merchant]: count for merchant, count in counts.items()}
    counts_key = key_id(hash_key)
    earlier_runs = state.load_merchant_counts(
        range(end_ms - BASELINE_MINUTES * MINUTE_MS, end_ms, MINUTE_MS), key_id=counts_key
    )
    keyed_baseline = merchant_baseline(earlier_runs, keyed_counts, top_n=MERCHANT_TOP_N)
    baseline = {merchant: keyed_baseline[key] for merchant, key in keys.items()} if keyed_baseline else {}
    state.save_merchant_counts(
        end_ms,
        keyed_counts,
        top_n=MERCHANT_TOP_N,
        expiration=end_ms // 1000 + BASELINE_MINUTES * 60 + 3600,
        key_id=counts_key,
    )

    findings = analyzer.findings(baseline)
    run.findings = len(findings)
    for finding in findings:
        now_ms = clock_ms()
        now = now_ms // 1000
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
        now = clock_ms() // 1000  # the send may have taken a while: the suppression runs from now
        state.claim_finding(
            claim_id, alert_id=alert_id, now=now, expiration=now + config.patterns.suppression_ms // 1000, sent=True
        )
        run.outcomes.append((alert_id, finding.type, "sent" if sent_now else "already_sent"))
    return run
