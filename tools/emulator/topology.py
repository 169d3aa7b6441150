"""What was deployed, read back from the emulator: the single source the local runtime runs.

Everything here comes from API calls against the moto endpoint (the same calls that describe a real
deployment) plus the Terraform outputs; only a function's zip bytes come from moto's in-process Lambda
backend, because ``GetFunction`` returns no downloadable location for them. Nothing here names a
function, queue or rule of this project: a different Terraform configuration gives a different
topology and runs the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3

# Lambda's documented defaults for asynchronous invocation when no event invoke config exists.
DEFAULT_ASYNC_RETRIES = 2
DEFAULT_MAX_EVENT_AGE_S = 6 * 3600


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
    async_retries: int = DEFAULT_ASYNC_RETRIES
    max_event_age_s: int = DEFAULT_MAX_EVENT_AGE_S
    on_failure: str | None = None  # destination ARN for failed asynchronous invocations
    on_success: str | None = None


@dataclass(frozen=True)
class EventSourceMapping:
    """A Lambda event source mapping on a DynamoDB stream or an SQS queue."""

    uuid: str
    source_arn: str
    function_arn: str
    enabled: bool
    batch_size: int
    batching_window_s: int
    filters: tuple[str, ...]  # event patterns (JSON); a record passes if any matches
    report_item_failures: bool
    bisect_on_error: bool
    max_retries: int  # -1: until the record expires (streams)
    max_record_age_s: int  # -1: no limit
    on_failure: str | None
    starting_position: str | None

    @property
    def service(self) -> str:
        return self.source_arn.split(":")[2]


@dataclass(frozen=True)
class Pipe:
    """An EventBridge Pipe from a DynamoDB stream to an event bus. Putting an event on a local bus
    does not fail, so the pipe's retries and dead-letter queue are read but never used."""

    name: str
    source_arn: str
    target_arn: str
    running: bool
    batch_size: int
    filters: tuple[str, ...]
    starting_position: str
    detail_type: str | None
    source: str | None
    max_retries: int
    on_failure: str | None


@dataclass(frozen=True)
class RuleTarget:
    """A rule target. Delivery to a Lambda target is an asynchronous invocation that is accepted at
    once, so EventBridge's own retry policy and dead-letter queue never come into play locally."""

    arn: str
    input: str | None
    max_retries: int
    max_event_age_s: int
    dead_letter_arn: str | None


@dataclass(frozen=True)
class Rule:
    name: str
    bus: str
    pattern: str | None
    schedule: str | None
    enabled: bool
    targets: tuple[RuleTarget, ...]


@dataclass(frozen=True)
class Schedule:
    """An EventBridge Scheduler schedule (or a scheduled EventBridge rule, normalised to this)."""

    name: str
    expression: str
    target_arn: str
    input: str | None
    enabled: bool
    scheduled_event: bool  # True for a rule: the target gets the "Scheduled Event" envelope


@dataclass(frozen=True)
class Route:
    resource_id: str
    path: str  # resource path template, e.g. /transactions
    method: str
    api_key_required: bool
    validate_body: bool
    request_schema: dict[str, Any] | None
    integration_type: str
    function_arn: str | None


@dataclass(frozen=True)
class UsagePlan:
    id: str
    name: str
    rate: float | None
    burst: int | None
    quota_limit: int | None
    quota_period: str | None
    key_ids: tuple[str, ...]


@dataclass(frozen=True)
class RestApi:
    id: str
    name: str
    stage: str
    routes: tuple[Route, ...]
    stage_rate: float | None
    stage_burst: int | None
    api_keys: dict[str, str]  # key value -> key id (enabled keys of this stage's usage plans)
    usage_plans: tuple[UsagePlan, ...]
    gateway_responses: dict[str, dict[str, Any]]  # responseType -> {statusCode, responseTemplates}


@dataclass(frozen=True)
class Topology:
    region: str
    account: str
    outputs: dict[str, Any]
    functions: dict[str, FunctionSpec]  # by deployed name
    mappings: tuple[EventSourceMapping, ...]
    pipes: tuple[Pipe, ...]
    rules: tuple[Rule, ...]
    schedules: tuple[Schedule, ...]
    api: RestApi | None

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


def _filters(criteria: dict[str, Any] | None) -> tuple[str, ...]:
    return tuple(f["Pattern"] for f in (criteria or {}).get("Filters", []) if f.get("Pattern"))


def _paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[dict[str, Any]]:
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
        try:
            invoke_config = lam.get_function_event_invoke_config(FunctionName=name)
        except lam.exceptions.ResourceNotFoundException:
            invoke_config = {}
        destinations = invoke_config.get("DestinationConfig", {})
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
            async_retries=int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
            max_event_age_s=int(invoke_config.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_S)),
            on_failure=destinations.get("OnFailure", {}).get("Destination"),
            on_success=destinations.get("OnSuccess", {}).get("Destination"),
        )
    return functions


def read_mappings(session: boto3.Session) -> tuple[EventSourceMapping, ...]:
    lam = session.client("lambda")
    mappings = []
    for esm in _paginate(lam, "list_event_source_mappings", "EventSourceMappings"):
        mappings.append(
            EventSourceMapping(
                uuid=esm["UUID"],
                source_arn=esm["EventSourceArn"],
                function_arn=esm["FunctionArn"],
                enabled=esm.get("State", "Enabled") in ("Enabled", "Enabling", "Creating", "Updating"),
                batch_size=int(esm.get("BatchSize") or 10),
                batching_window_s=int(esm.get("MaximumBatchingWindowInSeconds") or 0),
                filters=_filters(esm.get("FilterCriteria")),
                report_item_failures="ReportBatchItemFailures" in (esm.get("FunctionResponseTypes") or []),
                bisect_on_error=bool(esm.get("BisectBatchOnFunctionError")),
                max_retries=int(esm["MaximumRetryAttempts"]) if esm.get("MaximumRetryAttempts") is not None else -1,
                max_record_age_s=int(esm["MaximumRecordAgeInSeconds"])
                if esm.get("MaximumRecordAgeInSeconds") is not None
                else -1,
                on_failure=((esm.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
                starting_position=esm.get("StartingPosition"),
            )
        )
    return tuple(mappings)


def read_pipes(session: boto3.Session) -> tuple[Pipe, ...]:
    client = session.client("pipes")
    pipes = []
    for summary in _paginate(client, "list_pipes", "Pipes"):
        pipe = client.describe_pipe(Name=summary["Name"])
        source = pipe.get("SourceParameters") or {}
        stream = source.get("DynamoDBStreamParameters") or {}
        bus = (pipe.get("TargetParameters") or {}).get("EventBridgeEventBusParameters") or {}
        pipes.append(
            Pipe(
                name=pipe["Name"],
                source_arn=pipe["Source"],
                target_arn=pipe["Target"],
                running=pipe.get("DesiredState", "RUNNING") == "RUNNING",
                batch_size=int(stream.get("BatchSize") or 1),
                filters=_filters(source.get("FilterCriteria")),
                starting_position=stream.get("StartingPosition") or "LATEST",
                detail_type=bus.get("DetailType"),
                source=bus.get("Source"),
                max_retries=int(stream.get("MaximumRetryAttempts", -1)),
                on_failure=((stream.get("DeadLetterConfig") or {}).get("Arn")),
            )
        )
    return tuple(pipes)


def read_rules(session: boto3.Session) -> tuple[Rule, ...]:
    events = session.client("events")
    rules = []
    for bus in _paginate(events, "list_event_buses", "EventBuses"):
        for rule in _paginate(events, "list_rules", "Rules", EventBusName=bus["Name"]):
            targets = _paginate(events, "list_targets_by_rule", "Targets", Rule=rule["Name"], EventBusName=bus["Name"])
            rules.append(
                Rule(
                    name=rule["Name"],
                    bus=bus["Name"],
                    pattern=rule.get("EventPattern"),
                    schedule=rule.get("ScheduleExpression"),
                    enabled=rule.get("State", "ENABLED") == "ENABLED",
                    targets=tuple(
                        RuleTarget(
                            arn=t["Arn"],
                            input=t.get("Input"),
                            max_retries=int((t.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
                            max_event_age_s=int((t.get("RetryPolicy") or {}).get("MaximumEventAgeInSeconds", 86400)),
                            dead_letter_arn=(t.get("DeadLetterConfig") or {}).get("Arn"),
                        )
                        for t in targets
                    ),
                )
            )
    return tuple(rules)


def read_schedules(session: boto3.Session, rules: tuple[Rule, ...]) -> tuple[Schedule, ...]:
    client = session.client("scheduler")
    schedules = []
    for summary in _paginate(client, "list_schedules", "Schedules"):
        schedule = client.get_schedule(Name=summary["Name"], GroupName=summary.get("GroupName", "default"))
        schedules.append(
            Schedule(
                name=schedule["Name"],
                expression=schedule["ScheduleExpression"],
                target_arn=schedule["Target"]["Arn"],
                input=schedule["Target"].get("Input"),
                enabled=schedule.get("State", "ENABLED") == "ENABLED",
                scheduled_event=False,
            )
        )
    for rule in rules:
        if rule.schedule:
            for target in rule.targets:
                schedules.append(
                    Schedule(
                        name=rule.name,
                        expression=rule.schedule,
                        target_arn=target.arn,
                        input=target.input,
                        enabled=rule.enabled,
                        scheduled_event=True,
                    )
                )
    return tuple(schedules)


def _lambda_arn_from_uri(uri: str) -> str | None:
    # arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION_ARN/invocations
    marker = "/functions/"
    if marker not in uri:
        return None
    return uri.split(marker, 1)[1].rsplit("/invocations", 1)[0]


def _throttle(settings: dict[str, Any] | None) -> tuple[float | None, int | None]:
    if not settings:
        return None, None
    rate = settings.get("throttlingRateLimit", settings.get("rateLimit"))
    burst = settings.get("throttlingBurstLimit", settings.get("burstLimit"))
    return (
        float(rate) if rate is not None and float(rate) >= 0 else None,
        int(burst) if burst is not None and int(burst) >= 0 else None,
    )


def read_api(session: boto3.Session, api_id: str, stage_name: str) -> RestApi:
    gw = session.client("apigateway")
    api = gw.get_rest_api(restApiId=api_id)
    validators = {v["id"]: v for v in _paginate(gw, "get_request_validators", "items", restApiId=api_id)}
    models = {m["name"]: m for m in _paginate(gw, "get_models", "items", restApiId=api_id)}
    routes = []
    for resource in _paginate(gw, "get_resources", "items", restApiId=api_id):
        for method_name in resource.get("resourceMethods") or {}:
            method = gw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod=method_name)
            integration = method.get("methodIntegration") or gw.get_integration(
                restApiId=api_id, resourceId=resource["id"], httpMethod=method_name
            )
            validator = validators.get(method.get("requestValidatorId") or "", {})
            model_name = (method.get("requestModels") or {}).get("application/json")
            schema = models[model_name].get("schema") if model_name in models else None
            routes.append(
                Route(
                    resource_id=resource["id"],
                    path=resource["path"],
                    method=method_name,
                    api_key_required=bool(method.get("apiKeyRequired")),
                    validate_body=bool(validator.get("validateRequestBody")),
                    request_schema=json.loads(schema) if isinstance(schema, str) else schema,
                    integration_type=integration.get("type", ""),
                    function_arn=_lambda_arn_from_uri(integration.get("uri", "")),
                )
            )
    stage = gw.get_stage(restApiId=api_id, stageName=stage_name)
    settings = stage.get("methodSettings") or {}
    stage_rate, stage_burst = _throttle(settings.get("*/*"))
    plans, keys = [], {}
    for plan in _paginate(gw, "get_usage_plans", "items"):
        if not any(s["apiId"] == api_id and s["stage"] == stage_name for s in plan.get("apiStages", [])):
            continue
        key_ids = tuple(k["id"] for k in _paginate(gw, "get_usage_plan_keys", "items", usagePlanId=plan["id"]))
        for key_id in key_ids:
            key = gw.get_api_key(apiKey=key_id, includeValue=True)
            if key.get("enabled", True):
                keys[key["value"]] = key_id
        rate, burst = _throttle(plan.get("throttle"))
        quota = plan.get("quota") or {}
        plans.append(
            UsagePlan(
                id=plan["id"],
                name=plan.get("name", ""),
                rate=rate,
                burst=burst,
                quota_limit=quota.get("limit"),
                quota_period=quota.get("period"),
                key_ids=key_ids,
            )
        )
    responses = {
        r["responseType"]: r
        for r in _paginate(gw, "get_gateway_responses", "items", restApiId=api_id)
        if not r.get("defaultResponse", False)
    }
    return RestApi(
        id=api_id,
        name=api.get("name", ""),
        stage=stage_name,
        routes=tuple(routes),
        stage_rate=stage_rate,
        stage_burst=stage_burst,
        api_keys=keys,
        usage_plans=tuple(plans),
        gateway_responses=responses,
    )


def read_topology(session: boto3.Session, outputs: dict[str, Any]) -> Topology:
    """Read the deployment described by Terraform ``outputs`` back from the emulator behind ``session``."""
    region = session.region_name
    account = session.client("sts").get_caller_identity()["Account"]
    names = sorted(outputs["function_names"].values())
    rules = read_rules(session)
    api_id = outputs.get("api_id")
    return Topology(
        region=region,
        account=account,
        outputs=outputs,
        functions=read_functions(session, account, region, names),
        mappings=read_mappings(session),
        pipes=read_pipes(session),
        rules=rules,
        schedules=read_schedules(session, rules),
        api=read_api(session, api_id, outputs["api_stage_name"]) if api_id else None,
    )
