"""Validate and normalise a transaction request body against ``transaction.schema.json``.

The schema file is the one definition of a transaction (API Gateway uses it as the request model).
Here every property is validated with its own compiled sub-schema so that the caller learns about
*every* bad field at once (a compiled fastjsonschema validator stops at the first error); ``required``
and ``additionalProperties`` are checked from the same file. A few rules the schema cannot express
are checked in code: ``multipleOf`` (on exact decimals for amounts), timestamps in the future, control
characters, real IP address syntax, and card numbers: every string value and every key of the body, at
any depth, goes through ``fraud.card_numbers`` and a field holding a card number is refused.

Nothing the client sent is echoed: messages name the field and the rule, never the value; an unknown
key is named only when it is short printable ASCII (otherwise a placeholder), and the error list is
capped at ``MAX_ERRORS`` entries.
"""

from __future__ import annotations

import decimal
import functools
import hashlib
import json
import pathlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fraud.card_numbers import contains_card_number

SCHEMA_PATH: pathlib.Path = pathlib.Path(__file__).resolve().with_name("transaction.schema.json")

MAX_FUTURE_MS = 5 * 60 * 1000
"""How far in the future a timestamp may be (clock skew between client and server)."""

_CENTS = Decimal("0.01")
_MIN_DEGREES = Decimal("1E-100")  # a smaller non-zero coordinate is noise, and DynamoDB stores >= 1E-130
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.:@$-]{1,40}")

MAX_ERRORS = 20
"""Errors listed in one response (and its log line); the rest are counted in a last entry."""

CARD_NUMBER_MESSAGE = "holds a card number: never send card numbers, send the card token"


class ValidationFailed(Exception):
    """The body is not a valid transaction. ``errors`` has one entry per bad field."""

    def __init__(self, errors: list[dict], status_code: int = 400) -> None:
        self.errors = errors
        self.status_code = status_code
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@functools.cache
def schema() -> dict:
    """The transaction schema (parsed once)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@functools.cache
def _validator(path: tuple[str, ...]) -> Callable[[Any], Any]:
    """The compiled validator of one property (``("location", "lat")``), compiled on first use."""
    import fastjsonschema  # bundled by the Powertools layer; imported lazily to keep import cheap

    definition = _definition(path)
    sub = {k: v for k, v in definition.items() if k not in ("multipleOf", "properties", "required")}
    if "properties" in definition:  # an object: its members are validated one by one
        sub.pop("additionalProperties", None)
    sub["$schema"] = schema()["$schema"]
    return fastjsonschema.compile(sub)


def _definition(path: tuple[str, ...]) -> dict:
    definition = schema()
    for name in path:
        definition = definition["properties"][name]
    return definition


def _describe(exc: Any, definition: dict) -> str:
    """A readable message for a fastjsonschema error; it names the rule, never the value."""
    rule, value = exc.rule, exc.rule_definition
    if rule == "type":
        return f"must be of type {value}"
    if rule == "minimum":
        return f"must be greater than {value}" if definition.get("exclusiveMinimum") else f"must be at least {value}"
    if rule == "maximum":
        return f"must be at most {value}"
    if rule == "minLength":
        return f"must be at least {value} characters long"
    if rule == "maxLength":
        return f"must be at most {value} characters long"
    if rule == "pattern":
        return f"must match pattern {value}"
    if rule == "enum":
        return "must be one of: " + ", ".join(map(str, value))
    if rule == "not":
        return "must not be a card number; send the card token"
    return f"is not valid (schema rule {rule!r})"


def _field_name(prefix: str, name: str, position: int) -> str:
    """How an error names a member: the key itself when it is short printable ASCII, else its position.

    Known property names always qualify; an unknown key is named only when it is safe to echo (a key
    holding a card number never reaches here)."""
    if _SAFE_NAME.fullmatch(name):
        return prefix + name
    return f"{prefix}<key #{position + 1}>" if name else f'{prefix}""'


def _holds_card_number(value: Any) -> bool:
    """True when a string anywhere in ``value`` (keys of nested objects included) holds a card number."""
    if isinstance(value, str):
        return contains_card_number(value)
    if isinstance(value, dict):
        return any(contains_card_number(key) or _holds_card_number(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_card_number(item) for item in value)
    return False


def _object_errors(path: tuple[str, ...], data: dict, now_ms: int) -> list[dict]:
    """Every error of an object: missing members, card numbers, unknown members, then each member."""
    definition = _definition(path)
    properties = definition["properties"]
    prefix = "".join(f"{p}." for p in path)
    errors = [{"field": prefix + name, "message": "is required"} for name in definition["required"] if name not in data]
    for position, (name, value) in enumerate(data.items()):
        if contains_card_number(name):
            where = ".".join(path) or "body"
            errors.append({"field": where, "message": f"the name of member #{position + 1} {CARD_NUMBER_MESSAGE}"})
        elif _holds_card_number(value):
            errors.append({"field": _field_name(prefix, name, position), "message": CARD_NUMBER_MESSAGE})
        elif name not in properties:
            errors.append({"field": _field_name(prefix, name, position), "message": "unknown field"})
        else:
            errors += _value_errors((*path, name), value, now_ms)
    return errors


def _value_errors(path: tuple[str, ...], value: Any, now_ms: int) -> list[dict]:
    import fastjsonschema

    field = ".".join(path)
    definition = _definition(path)
    try:
        _validator(path)(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        return [{"field": field, "message": _describe(exc, definition)}]
    except (TypeError, ArithmeticError):  # e.g. a number the schema cannot compare
        return [{"field": field, "message": "must be a finite number"}]
    if "properties" in definition:
        return _object_errors(path, value, now_ms)
    multiple = definition.get("multipleOf")
    if multiple is not None and definition.get("type") == "integer" and value % multiple:
        return [{"field": field, "message": f"must be a multiple of {multiple}"}]
    message = _extra_error(path[-1], value, now_ms)
    return [{"field": field, "message": message}] if message else []


def _extra_error(name: str, value: Any, now_ms: int) -> str | None:
    """Checks the schema cannot express; ``value`` already passed its sub-schema."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            return "must not contain control characters"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must be valid Unicode text"
    if name == "amount":
        try:
            if Decimal(value) % _CENTS != 0:
                return "must have at most 2 decimal places"
        except decimal.InvalidOperation:
            return "must have at most 2 decimal places"
    elif name in ("lat", "lon") and value != 0 and abs(Decimal(value)) < _MIN_DEGREES:
        # DynamoDB cannot store a number this small (the write would fail: a 500, not a 400).
        return f"must be 0 or at least {_MIN_DEGREES} in magnitude"
    elif name == "timestamp" and value > now_ms + MAX_FUTURE_MS:
        return "must not be more than 5 minutes in the future"
    elif name == "ip_address":
        import ipaddress  # only for bodies with an address: keeps the import of this module cheap

        try:
            ipaddress.ip_address(value)
        except ValueError:
            return "must be a valid IPv4 or IPv6 address"
    return None


def capped(errors: list[dict], limit: int = MAX_ERRORS) -> list[dict]:
    """At most ``limit`` errors; when there are more, the last entry says how many were left out."""
    if len(errors) <= limit:
        return errors
    left_out = len(errors) - (limit - 1)
    return [*errors[: limit - 1], {"field": "body", "message": f"{left_out} more errors not listed"}]


def _reject_constant(token: str) -> Any:
    raise ValueError(f"{token} is not valid JSON")


def _parse(body: str | bytes | None, max_body_bytes: int) -> Any:
    if body is None or body == "" or body == b"":
        raise ValidationFailed([{"field": "body", "message": "request body is required"}])
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else bytes(body)
    if len(raw) > max_body_bytes:
        raise ValidationFailed(
            [{"field": "body", "message": f"must be at most {max_body_bytes} bytes, got {len(raw)}"}], 413
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed([{"field": "body", "message": "must be UTF-8 encoded JSON"}]) from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        reason = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ValidationFailed([{"field": "body", "message": f"malformed JSON: {reason}"}]) from None


def _normalise(data: dict) -> dict:
    txn = dict(data)
    txn["amount"] = Decimal(data["amount"]).quantize(_CENTS)
    txn["currency"] = data["currency"].upper()
    txn["timestamp"] = int(data["timestamp"])
    if "country" in data:
        txn["country"] = data["country"].upper()
    if "location" in data:
        # normalize() so 40.70 and 40.7 are the same location (and the same body hash).
        txn["location"] = {k: _plain(Decimal(data["location"][k])) for k in ("lat", "lon")}
    return txn


def _plain(value: Decimal) -> Decimal:
    value = value.normalize()
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value


def validate_transaction(body: str | bytes | None, *, now_ms: int, max_body_bytes: int = 16_384) -> dict:
    """Parse and validate a request body; return the normalised transaction.

    Raises ``ValidationFailed`` (and nothing else) listing every bad field (at most ``MAX_ERRORS``
    entries): ``status_code`` is 413 for an oversize body and 400 otherwise.
    """
    data = _parse(body, max_body_bytes)
    if not isinstance(data, dict):
        raise ValidationFailed([{"field": "body", "message": "must be a JSON object"}])
    errors = _object_errors((), data, now_ms)
    if errors:
        raise ValidationFailed(capped(errors))
    return _normalise(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def canonical_json(txn: dict) -> str:
    """Sorted keys, no whitespace, Decimals as their string (``912.40``)."""
    return json.dumps(txn, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def body_hash(txn: dict) -> str:
    """sha256 hex digest of the canonical JSON of a normalised transaction."""
    return hashlib.sha256(canonical_json(txn).encode("utf-8")).hexdigest()
