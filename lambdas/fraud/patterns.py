"""Cross-transaction patterns over one analysis window (the analyze-patterns job).

Single transactions cannot show these: a card tested with many small amounts, a merchant far above
its usual volume, one device or IP used by many users, one user on many cards or in many countries.
``PatternAnalyzer`` consumes the window's items one by one (as the paginated index query returns
them) and keeps, per entity, a counter or a set capped just above its threshold: memory is bounded by
the number of distinct entities, never by the number of items per entity, so 100,000 items fit easily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fraud.config import EngineConfig

FINDING_TYPES = (
    "CARD_TESTING",
    "MERCHANT_SPIKE",
    "SHARED_DEVICE",
    "SHARED_IP",
    "USER_MANY_CARDS",
    "USER_MANY_COUNTRIES",
)


@dataclass(frozen=True)
class Finding:
    type: str  # one of FINDING_TYPES
    entity: str  # the card, merchant, device, IP or user the finding is about
    score: int  # 0-100
    explanation: str
    details: dict = field(default_factory=dict, hash=False)


def finding_score(value: float, threshold: float) -> int:
    """60 at the threshold, growing with the excess, 100 at 5/3 of it."""
    return max(0, min(100, round(60 * value / threshold)))


class _CappedSets:
    """entity -> set of distinct values, each set capped at ``cap`` members (enough to say "at least")."""

    __slots__ = ("cap", "sets")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.sets: dict[str, set[str]] = {}

    def add(self, entity: str, value: str) -> None:
        members = self.sets.get(entity)
        if members is None:
            self.sets[entity] = {value}
        elif len(members) < self.cap:
            members.add(value)

    def at_least(self, minimum: int) -> list[tuple[str, set[str]]]:
        return sorted((e, m) for e, m in self.sets.items() if len(m) >= minimum)


class PatternAnalyzer:
    """Feed it the items of one window with ``add``; read ``findings`` at the end."""

    SAMPLE = 10  # identifiers listed in a finding's details

    def __init__(self, config: EngineConfig) -> None:
        self.cfg = cfg = config.patterns
        self.items = 0
        self._small_by_card: dict[str, list] = {}  # card -> [count, cents]
        self._merchants: dict[str, int] = {}
        # Caps: enough members to report "at least N" and a short sample.
        self._device_users = _CappedSets(max(cfg.shared_device_min_users, self.SAMPLE))
        self._ip_users = _CappedSets(max(cfg.shared_ip_min_users, self.SAMPLE))
        self._user_cards = _CappedSets(max(cfg.user_min_cards, self.SAMPLE))
        self._user_countries = _CappedSets(max(cfg.user_min_countries, self.SAMPLE))

    def add(self, item: dict) -> None:
        """One transaction item from the time-bucket index (numbers may be Decimal)."""
        self.items += 1
        user = item.get("user_id")
        card = item.get("card_id")
        merchant = item.get("merchant_id")
        if merchant is not None:
            self._merchants[merchant] = self._merchants.get(merchant, 0) + 1
        amount = item.get("amount")
        if amount is not None and float(amount) <= self.cfg.card_testing_max_amount:
            key = card if card is not None else f"user:{user}"
            small = self._small_by_card.get(key)
            if small is None:
                self._small_by_card[key] = [1, round(float(amount) * 100)]
            else:
                small[0] += 1
                small[1] += round(float(amount) * 100)
        if user is None:
            return
        if item.get("device_id") is not None:
            self._device_users.add(item["device_id"], user)
        if item.get("ip_address") is not None:
            self._ip_users.add(item["ip_address"], user)
        if card is not None:
            self._user_cards.add(user, card)
        if item.get("country") is not None:
            self._user_countries.add(user, item["country"])

    def merchant_counts(self) -> dict[str, int]:
        """Transactions per merchant in this window (the next runs' baseline)."""
        return dict(self._merchants)

    def findings(self, merchant_baseline: dict[str, float]) -> list[Finding]:
        """Every finding of the window, strongest first.

        ``merchant_baseline``: each merchant's mean count per window over recent windows. Empty means
        no baseline yet (first runs): merchant spikes are not judged then. A merchant missing from a
        non-empty baseline had no transactions recently, so its baseline is 0.
        """
        cfg = self.cfg
        found: list[Finding] = []
        for card, (count, cents) in sorted(self._small_by_card.items()):
            if count >= cfg.card_testing_min_count:
                found.append(
                    Finding(
                        "CARD_TESTING",
                        card,
                        finding_score(count, cfg.card_testing_min_count),
                        f"{count} transactions of at most {cfg.card_testing_max_amount:.2f} on one card in the window",
                        {"count": count, "total": f"{cents / 100:.2f}"},
                    )
                )
        if merchant_baseline:
            for merchant, count in sorted(self._merchants.items()):
                baseline = float(merchant_baseline.get(merchant, 0.0))
                limit = max(cfg.merchant_spike_factor * baseline, cfg.merchant_spike_min_count)
                if count >= limit:
                    found.append(
                        Finding(
                            "MERCHANT_SPIKE",
                            merchant,
                            finding_score(count, limit),
                            f"{count} transactions in the window, "
                            + (
                                f"{count / baseline:.1f}x its recent average of {baseline:.1f} per window"
                                if baseline > 0
                                else "none in recent windows"
                            ),
                            {"count": count, "baseline": round(baseline, 2)},
                        )
                    )
        found += self._shared(
            self._device_users,
            "SHARED_DEVICE",
            cfg.shared_device_min_users,
            lambda n: f"one device used by {n} users in the window",
            "users",
        )
        found += self._shared(
            self._ip_users,
            "SHARED_IP",
            cfg.shared_ip_min_users,
            lambda n: f"one IP address used by {n} users in the window",
            "users",
        )
        found += self._shared(
            self._user_cards,
            "USER_MANY_CARDS",
            cfg.user_min_cards,
            lambda n: f"one user on {n} different cards in the window",
            "cards",
        )
        found += self._shared(
            self._user_countries,
            "USER_MANY_COUNTRIES",
            cfg.user_min_countries,
            lambda n: f"one user in {n} different countries in the window",
            "countries",
        )
        found.sort(key=lambda f: (-f.score, f.type, f.entity))
        return found

    def _shared(
        self, sets: _CappedSets, kind: str, minimum: int, explain: Callable[[str], str], key: str
    ) -> list[Finding]:
        out = []
        for entity, members in sets.at_least(minimum):
            n = len(members)
            shown = f"at least {n}" if n >= sets.cap else str(n)
            out.append(
                Finding(
                    kind,
                    entity,
                    finding_score(n, minimum),
                    explain(shown),
                    {"distinct": n, "capped": n >= sets.cap, key: sorted(members)[: self.SAMPLE]},
                )
            )
        return out
