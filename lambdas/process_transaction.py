"""``POST /transactions`` (API Gateway REST proxy): validate a transaction and store it exactly once.

201 for a new transaction, the same 201 for an exact retry (same id, same body, even at the same
moment), 409 for the same id with a different body, 400/413 naming the bad fields for bad input
(nothing is written, no value is echoed). DynamoDB faults propagate: API Gateway answers 5xx and the
client retries, which is safe.
"""

from __future__ import annotations

import base64
import functools
import json
import time
from dataclasses import dataclass, field
from typing import Any

import handler_kit as kit
from aws_lambda_powertools.logging import correlation_paths

from fraud.storage import PutOutcome, TransactionStore
from fraud.validation import ValidationFailed, body_hash, validate_transaction

JSON_HEADERS = {"Content-Type": "application/json"}
CONFLICT_MESSAGE = "transaction_id already used with a different body"


@dataclass(frozen=True)
class Settings:
    table_name: str
    time_bucket_shards: int = field(default=4, metadata={"min": 1})
    transaction_retention_days: int | None = field(default=None, metadata={"min": 1})


@functools.cache
def transaction_store() -> TransactionStore:
    """Created on first use (not at import) from the function's environment."""
    settings = kit.load_settings(Settings)
    return TransactionStore(
        kit.client("dynamodb"),
        settings.table_name,
        time_bucket_shards=settings.time_bucket_shards,
        retention_days=settings.transaction_retention_days,
    )


@kit.entry_point(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    try:
        transaction = validate_transaction(_request_body(event), now_ms=now_ms)
    except ValidationFailed as failure:
        kit.logger.info("Transaction rejected", extra={"status": failure.status_code, "errors": failure.errors})
        kit.count("Rejected")
        return _response(failure.status_code, {"message": "Invalid transaction", "errors": failure.errors})

    result = transaction_store().put_transaction(transaction, body_hash=body_hash(transaction), received_at=now_ms)
    transaction_id = transaction["transaction_id"]
    kit.logger.info("Transaction stored", extra={"transaction_id": transaction_id, "outcome": result.outcome.value})
    kit.count(result.outcome.value.capitalize())
    if result.outcome is PutOutcome.CONFLICT:
        return _response(409, {"message": CONFLICT_MESSAGE})
    return _response(201, {"transaction_id": transaction_id, "status": "accepted", "received_at": result.received_at})


def _request_body(event: dict[str, Any]) -> str | bytes | None:
    """The request body; a base64 body (``isBase64Encoded``) is decoded to bytes for validation."""
    body = event.get("body")
    if body is None or not event.get("isBase64Encoded"):
        return body
    try:
        return base64.b64decode(body, validate=True)
    except ValueError as error:  # binascii.Error, or a plain ValueError for a non-ASCII body
        raise ValidationFailed([{"field": "body", "message": f"not valid base64: {error}"}]) from None


def _response(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": JSON_HEADERS, "body": json.dumps(body)}
