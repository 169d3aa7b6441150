"""Alert messages: the structured alert on the alerts queue, and its email/SNS renderings.

Layout: docs/contracts.md ("Messages"). Card ids, device ids and IP addresses are masked in every
alert (only their last 4 characters are kept); anything else that looks like a card number is
replaced (``fraud.card_numbers``); amounts are strings with 2 decimals; nothing in an alert is a
Decimal, so ``json.dumps`` works on it as is. Alert ids are deterministic, so a transaction scored
twice produces the same alert id and duplicates can be suppressed downstream.

Pattern findings are identified by ``entity_hash``: HMAC-SHA256 under the environment's secret key
(the handler reads it from Parameter Store and passes the bytes in), so an id cannot be reversed by
trying every IP address or card token. An alert never carries a hash of an entity beside its masked
tail: the alert id hashes the entity together with the window, and the suppression id (the hash of the
entity alone) is kept in the state table only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import unicodedata
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from fraud.card_numbers import scrub

if TYPE_CHECKING:  # types only: importing the engine here would load it for notify-team too
    from fraud.engine import Assessment
    from fraud.patterns import Finding

MASKED_FIELDS = frozenset({"card_id", "device_id", "ip_address"})
"""Transaction fields that are masked in every alert."""

MASKED_ENTITIES = frozenset({"CARD_TESTING", "SHARED_DEVICE", "SHARED_IP"})
"""Finding types whose entity is a card, device or IP identifier."""

MASKED_DETAIL_KEYS = frozenset(
    {"card_id", "card_ids", "cards", "device_id", "device_ids", "ip_address", "ip_addresses"}
)

SUBJECT_MAX = 99  # SNS: "must be less than 100 characters"
_STARS = "********"
MIN_HASH_KEY_BYTES = 32


def mask(value: str | None, keep: int = 4) -> str | None:
    """``"tok_4111111111111111"`` -> ``"********1111"``: a fixed run of stars and the last ``keep``
    characters, and never more than half of a short value (its length is not revealed either)."""
    if value is None:
        return None
    value = str(value)
    shown = min(keep, len(value) // 2)
    return _STARS + (value[-shown:] if shown > 0 else "")


def entity_hash(key: bytes, *parts: str) -> str:
    """HMAC-SHA256 of ``parts`` under the environment's secret ``key``: 120 bits in lower-case base32.

    The one hash of identifiers in this product. Base32 (letters and the digits 2-7) keeps an id from
    holding a long run of digits, which the card-number scrubber would take for a card number.
    """
    if len(key) < MIN_HASH_KEY_BYTES:
        raise ValueError(f"the hash key must be at least {MIN_HASH_KEY_BYTES} bytes, got {len(key)}")
    message = "\x1f".join(parts).encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).digest()[:15]
    return base64.b32encode(digest).decode("ascii").lower()


def window_label(window_end_ms: int) -> str:
    """``20250115T1210Z``: the minute a pattern window ends, as it appears in alert ids."""
    return datetime.fromtimestamp(int(window_end_ms) / 1000, tz=UTC).strftime("%Y%m%dT%H%MZ")


def finding_claim_id(finding: Finding, key: bytes) -> str:
    """``finding#<type>#<entity hash>``: the state-table id that suppresses a persisting finding."""
    return f"finding#{finding.type}#{entity_hash(key, finding.type, finding.entity)}"


def pattern_alert_id(finding: Finding, window_end_ms: int, key: bytes) -> str:
    """``pattern-<type>-<window>-<hash of type, entity and window>``: the same for a retried run."""
    label = window_label(window_end_ms)
    return f"pattern-{finding.type}-{label}-{entity_hash(key, finding.type, finding.entity, label)}"


def _amount(value: Any) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


def _plain(value: Any) -> Any:
    """JSON-safe copy: Decimals become int or float, containers are copied, card numbers in strings
    are replaced (data stored before the front door refused them must not reach an alert either)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {scrub(str(k)): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    return value


def masked_transaction(txn: dict) -> dict:
    """A transaction as an alert shows it: card, device and IP masked, the amount with 2 decimals, card numbers
    replaced everywhere (the console shows the user's recent transactions this way)."""
    return _masked_transaction(txn)


def _masked_transaction(txn: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in txn.items():
        if key in MASKED_FIELDS:
            out[key] = mask(value)
        elif key == "amount":
            out[key] = _amount(value)
        else:
            out[key] = _plain(value)
    return out


def _masked_details(details: dict) -> dict:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if key in MASKED_DETAIL_KEYS:
            out[key] = [mask(v) for v in value] if isinstance(value, (list, tuple, set, frozenset)) else mask(value)
        else:
            out[key] = _plain(value)
    return out


def transaction_alert(txn: dict, assessment: Assessment, *, environment: str, now_ms: int) -> dict:
    """The alert for one suspicious transaction (``kind = "transaction"``)."""
    return {
        "alert_id": f"txn-{scrub(str(txn['transaction_id']))}",
        "kind": "transaction",
        "created_at": int(now_ms),
        "environment": environment,
        **_plain(assessment.to_dict()),
        "transaction": _masked_transaction(txn),
    }


def pattern_alert(finding: Finding, *, window_end_ms: int, environment: str, now_ms: int, hash_key: bytes) -> dict:
    """The alert for one pattern finding (``kind = "pattern"``), ``alert_id`` from ``pattern_alert_id``."""
    entity = mask(finding.entity) if finding.type in MASKED_ENTITIES else _plain(finding.entity)
    return {
        "alert_id": pattern_alert_id(finding, window_end_ms, hash_key),
        "kind": "pattern",
        "created_at": int(now_ms),
        "environment": environment,
        "score": int(finding.score),
        "decision": "alert",
        "reasons": [{"code": finding.type, "score": int(finding.score), "explanation": scrub(finding.explanation)}],
        "finding": {
            "type": finding.type,
            "entity": entity,
            "window_end": int(window_end_ms),
            "details": _masked_details(finding.details),
        },
    }


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def email_subject(alert: dict) -> str:
    """One line of fewer than 100 characters (SNS limit).

    E.g. ``[dev] ALERT 87/100: 912.40 USD at m_123 (user u_42)``.
    """
    head = f"[{alert['environment']}] {alert['decision'].upper()} {alert['score']}/100"
    if alert["kind"] == "transaction":
        txn = alert["transaction"]
        text = (
            f"{head}: {txn['amount']} {txn.get('currency', '')} at {txn.get('merchant_id')} (user {txn.get('user_id')})"
        )
    else:
        finding = alert["finding"]
        text = f"{head}: {finding['type']} {finding['entity']}"
    return _truncate(" ".join(ascii_fold(text).split()), SUBJECT_MAX)


def ascii_fold(text: str) -> str:
    """Printable ASCII only: accents dropped (``Zürich`` -> ``Zurich``), other letters and symbols
    become ``?``, control characters and line breaks a space. SNS accepts only ASCII in a subject
    (and no line breaks): any other character fails the publish on every redelivery, and the schema
    allows any Unicode in merchant and user ids."""
    decomposed = unicodedata.normalize("NFKD", text)
    out = []
    for ch in decomposed:
        if " " <= ch <= "~":
            out.append(ch)
        elif unicodedata.combining(ch):
            continue
        elif ch.isspace() or not ch.isprintable():
            out.append(" ")
        else:
            out.append("?")
    return "".join(out)


def _when(ms: Any) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def case_url(console_url: str | None, alert: dict) -> str | None:
    """The console page of the alert's case (its id is the alert id), or None without a console."""
    if not console_url:
        return None
    return f"{console_url.rstrip('/')}/cases/{alert['alert_id']}"


def email_body(alert: dict, case_link: str | None = None) -> str:
    """Readable text: what happened, the score, each reason, masked identifiers, what to do next, and the link
    to the alert's case in the fraud console (``case_link``) when there is one."""
    lines = []
    if case_link:
        lines += [f"Case: {case_link}", ""]
    if alert["kind"] == "transaction":
        txn = alert["transaction"]
        lines += [
            f"Suspicious transaction: {alert['decision'].upper()}, score {alert['score']}/100",
            "",
            f"Alert id     {alert['alert_id']}",
            f"Transaction  {txn.get('transaction_id')}",
            f"User         {txn.get('user_id')}",
            f"Amount       {txn.get('amount')} {txn.get('currency', '')}",
            f"Merchant     {txn.get('merchant_id')} ({txn.get('merchant_category')})",
        ]
        if "timestamp" in txn:
            lines.append(f"Time         {_when(txn['timestamp'])}")
        for key, label in (
            ("card_id", "Card"),
            ("device_id", "Device"),
            ("ip_address", "IP address"),
            ("country", "Country"),
            ("channel", "Channel"),
        ):
            if txn.get(key) is not None:
                lines.append(f"{label:<12} {txn[key]}")
        next_steps = [
            "Review the transaction and the user's recent activity.",
            "If it is fraud: block the card token and contact the customer.",
            "If it is legitimate: no action; the alert id is " + alert["alert_id"] + ".",
        ]
    else:
        finding = alert["finding"]
        lines += [
            f"Pattern found: {finding['type']}, score {alert['score']}/100",
            "",
            f"Alert id     {alert['alert_id']}",
            f"Entity       {finding['entity']}",
            f"Window end   {_when(finding['window_end'])}",
        ]
        for key, value in finding["details"].items():
            lines.append(f"{key:<12} {value}")
        next_steps = [
            "Look at the transactions of this entity in the window.",
            "Block the entity if the activity is not legitimate.",
            "This finding is not re-sent while it persists (suppression window).",
        ]
    drivers = alert.get("drivers") or []
    if drivers:
        lines += ["", "Why the model scored it this high:"]
        lines += [f"  - {driver['explanation']}" for driver in drivers]
    lines += ["", "Rules that fired:" if alert["kind"] == "transaction" else "Reasons:"]
    lines += [f"  - {r['code']} (+{r['score']}): {r['explanation']}" for r in alert["reasons"]] or ["  (none)"]
    if alert.get("forced_by"):
        lines.append(f"  The decision was raised to {alert['decision']} by the rule {alert['forced_by']}.")
    if alert["kind"] == "transaction":
        model = alert.get("model_version")
        lines += [
            "",
            f"Scored by {'model ' + model if model else 'the rules alone'}, rules {alert.get('rules_version')}.",
        ]
    lines += ["", "Next steps:"] + [f"  {i}. {step}" for i, step in enumerate(next_steps, 1)]
    lines += [
        "",
        f"Alert {alert['alert_id']} ({alert['environment']}), created {_when(alert['created_at'])}.",
        "Identifiers are masked; "
        + (
            f"the case holds the full record: {case_link}"
            if case_link
            else "see the fraud console for the full record."
        )
        + " Delivery is at least once:",
        "an e-mail with an alert id you have already seen is a duplicate of that alert.",
    ]
    return "\n".join(lines) + "\n"


def sns_message(alert: dict, case_link: str | None = None) -> str:
    """The ``Message`` for ``sns.publish(MessageStructure="json")``: the structured alert for
    ``default`` and ``sqs`` subscribers, readable text for ``email`` (with the case's link when there is one)."""
    structured = json.dumps(alert, sort_keys=True, separators=(",", ":"))
    return json.dumps({"default": structured, "sqs": structured, "email": email_body(alert, case_link)})
