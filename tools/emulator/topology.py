"""What was deployed, read back from the emulator: the account, the region and the functions.

Everything here comes from API calls against the moto endpoint (the same calls that describe a real
deployment) plus the Terraform outputs; only a function's zip bytes come from moto's in-process Lambda
backend, because ``GetFunction`` returns no downloadable location for them. Each integration
(``tools/emulator/integrations/``) reads its own part of the deployment the same way. Nothing here
names a function, queue or rule of this project: a different Terraform configuration gives a
different topology and runs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    arn: str
    handler: str
    runtime: str
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    code: bytes = field(repr=False)
    reserved_concurrency: int | None = None


@dataclass(frozen=True)
class Topology:
    region: str
    account: str
    outputs: dict[str, Any]
    functions: dict[str, FunctionSpec]  # by deployed name

    def function(self, name_or_arn: str) -> FunctionSpec:
        """The function for a deployed name, a function key (e.g. ``notify-team``) or an ARN."""
        name = function_name(name_or_arn)
        if name in self.functions:
            return self.functions[name]
        by_key = self.outputs.get("function_names", {})
        if name in by_key and by_key[name] in self.functions:
            return self.functions[by_key[name]]
        raise KeyError(f"no deployed function named {name_or_arn!r}; deployed: {sorted(self.functions)}")


def function_name(name_or_arn: str) -> str:
    """``arn:aws:lambda:r:a:function:NAME[:qualifier]`` -> ``NAME``; a plain name is returned as is."""
    if name_or_arn.startswith("arn:"):
        return name_or_arn.split(":")[6]
    return name_or_arn


def filters(criteria: dict[str, Any] | None) -> tuple[str, ...]:
    return tuple(f["Pattern"] for f in (criteria or {}).get("Filters", []) if f.get("Pattern"))


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
    if client.can_paginate(operation):
        return [item for page in client.get_paginator(operation).paginate(**kwargs) for item in page[key]]
    return getattr(client, operation)(**kwargs)[key]


def _zip_bytes(account: str, region: str, name: str) -> bytes:
    """The deployed package, from moto's in-process Lambda backend (GetFunction gives no usable URL)."""
    from moto.awslambda.models import lambda_backends

    return lambda_backends[account][region].get_function(name).code_bytes


def read_functions(session: boto3.Session, account: str, region: str, names: list[str]) -> dict[str, FunctionSpec]:
    lam = session.client("lambda")
    functions = {}
    for name in names:
        config = lam.get_function_configuration(FunctionName=name)
        concurrency = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        functions[name] = FunctionSpec(
            name=name,
            arn=config["FunctionArn"],
            handler=config["Handler"],
            runtime=config.get("Runtime", ""),
            timeout_s=int(config.get("Timeout", 3)),
            memory_mb=int(config.get("MemorySize", 128)),
            environment=dict(config.get("Environment", {}).get("Variables", {})),
            code=_zip_bytes(account, region, name),
            reserved_concurrency=concurrency,
        )
    return functions


def read_topology(session: boto3.Session, outputs: dict[str, Any]) -> Topology:
    """Read the deployment described by Terraform ``outputs`` back from the emulator behind ``session``."""
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    names = sorted(outputs["function_names"].values())
    return Topology(
        region=region,
        account=account,
        outputs=outputs,
        functions=read_functions(session, account, region, names),
    )
