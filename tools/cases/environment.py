"""An environment's fraud-team tables, from its Terraform outputs, and the AWS session to reach them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tools._cli import ToolError

NEEDED = ("cases_table_name", "labels_table_name", "lists_table_name", "table_name")


@dataclass(frozen=True)
class Tables:
    cases: str
    labels: str
    lists: str
    transactions: str


def tables(outputs: dict[str, Any], suffix: str) -> Tables:
    missing = [name for name in NEEDED if not outputs.get(name)]
    if missing:
        raise ToolError(
            f"environment {suffix} has no output {', '.join(missing)}: deploy it first (make deploy ENV={suffix})"
        )
    return Tables(
        outputs["cases_table_name"], outputs["labels_table_name"], outputs["lists_table_name"], outputs["table_name"]
    )


def open_environment(suffix: str) -> tuple[Tables, Any]:
    """The tables of environment ``suffix`` and a DynamoDB client (the default AWS credentials and region of
    its outputs; ``AWS_ENDPOINT_URL`` reaches the local emulator)."""
    import boto3

    from tools.deploy.tf import Stack  # needs terraform: only these paths pay for it

    outputs = Stack(suffix).outputs()
    found = tables(outputs, suffix)
    return found, boto3.Session(region_name=outputs.get("region")).client("dynamodb")


def caller(session_client: Any) -> str:
    """Who is running the tool, for the ``by`` of what it writes: ``cli:<the caller's ARN tail>``."""
    import boto3

    try:
        arn = boto3.client("sts", region_name=session_client.meta.region_name).get_caller_identity()["Arn"]
    except Exception:  # no STS (some emulators), no permission: the tool still says it was the CLI
        return "cli"
    return f"cli:{arn.rsplit('/', 1)[-1]}"
