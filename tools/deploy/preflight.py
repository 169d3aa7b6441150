"""What would make a deploy of one environment fail, found before anything is created.

Reads the account (STS, Lambda account settings and the functions' current reservations, API Gateway
account settings and IAM, EC2 availability zones, the Powertools layer parameter, Service Quotas)
and the environment's rendered variables (``build/<suffix>/terraform.tfvars.json``), then says in
plain words what would fail and how to fix it. ``make deploy`` runs it before the plan and stops on a
failure; ``make preflight ENV=<suffix>`` runs it alone (``LOCAL=1``: against the embedded emulator).

    python -m tools.deploy.preflight --env prod [--local]

Exit status 1 when something would fail. A check that cannot run (no permission to read a setting,
an endpoint that does not implement the call) is reported and does not fail the run.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools._cli import BUILD, ToolError, function_catalog, run, validate_suffix

LAMBDA_CONCURRENCY_QUOTA = ("lambda", "L-B99A9384", "Concurrent executions")
# Lambda keeps this much of the account's concurrency unreserved (less on accounts whose limit is lower).
UNRESERVED_MINIMUM = 100
EXCLUDED_ZONE_IDS = ("use1-az3",)  # the network module's default excluded_zone_ids
BOOTSTRAP_COMMAND = "make bootstrap"

OK, NOTE, FIX, FAIL, UNKNOWN = "ok", "note", "fix", "FAIL", "unchecked"


@dataclass(frozen=True)
class Result:
    level: str  # ok, note (worth knowing), fix (make deploy fixes it first), FAIL, unchecked
    topic: str
    message: str
    remedy: str = ""


@dataclass
class Settings:
    """What the environment's variables file asks for."""

    suffix: str
    profile: str
    region: str
    required: tuple[str, ...]
    reservations: dict[str, int]  # function key -> reserved concurrency (only the reserved ones)
    enable_vpc: bool
    alert_email: str | None
    ops_email: str | None
    powertools_release: str | None
    runtime: str
    architecture: str

    @property
    def powertools_parameter(self) -> str | None:
        if self.powertools_release is None:
            return None
        return f"/aws/service/powertools/python/{self.architecture}/{self.runtime}/{self.powertools_release}"

    @classmethod
    def from_var_file(cls, path: Path) -> Settings:
        from tools.deploy import tfvars

        try:
            variables = json.loads(path.read_text())
        except FileNotFoundError:
            suffix = path.parent.name
            raise ToolError(f"{path} is missing: run `make tfvars ENV={suffix}` first") from None
        profile = variables.get("tags", {}).get("Profile", tfvars.DEFAULT_PROFILE)
        required = tuple(tfvars.load_profile(profile).get("required_variables", []))
        return cls(
            suffix=variables["suffix"],
            profile=profile,
            region=variables.get("region", "us-east-1"),
            required=required,
            reservations={
                key: int(spec["reserved_concurrency"])
                for key, spec in (variables.get("functions") or {}).items()
                if spec.get("reserved_concurrency") is not None
            },
            enable_vpc=bool(variables.get("enable_vpc", False)),
            alert_email=variables.get("alert_email"),
            ops_email=variables.get("ops_email"),
            powertools_release=variables.get("powertools_release"),
            runtime=variables.get("runtime", "python3.11"),
            architecture=variables.get("architecture", "arm64"),
        )


@dataclass
class Facts:
    """What the account says. A ``*_error`` holds why a fact could not be read."""

    account: str | None = None
    caller: str | None = None
    identity_error: str | None = None
    concurrency_limit: int | None = None
    unreserved: int | None = None
    lambda_error: str | None = None
    current_reservations: dict[str, int] = field(default_factory=dict)  # this environment's, already applied
    pending_quota_request: float | None = None
    apigateway_role: str | None = None
    apigateway_role_exists: bool | None = None
    apigateway_error: str | None = None
    zones: list[dict[str, str]] = field(default_factory=list)
    zones_error: str | None = None
    powertools_layer: str | None = None
    powertools_error: str | None = None
    powertools_missing: bool = False


# --- reading the account -----------------------------------------------------------------------


def _error(error: Exception) -> str:
    response = getattr(error, "response", {})
    code = response.get("Error", {}).get("Code")
    if code == "404" and "<" in str(response.get("Error", {}).get("Message", "")):
        operation = getattr(error, "operation_name", "this call")
        return f"the endpoint does not implement {operation} (HTTP 404)"
    text = str(error).splitlines()[0]
    return f"{code}: {text}" if code and code not in text else text


def _is_missing(error: Exception, *codes: str) -> bool:
    return getattr(error, "response", {}).get("Error", {}).get("Code") in codes


def gather(settings: Settings, session: Any) -> Facts:
    """Read the facts the checks need with ``session`` (a boto3 Session), one call each."""
    facts = Facts()

    def client(service: str) -> Any:
        return session.client(service, region_name=settings.region)

    try:
        identity = client("sts").get_caller_identity()
        facts.account, facts.caller = identity["Account"], identity["Arn"]
    except Exception as error:  # no credentials, expired token, no network: nothing else can be read
        facts.identity_error = _error(error)
        return facts

    lam = client("lambda")
    try:
        limits = lam.get_account_settings()["AccountLimit"]
        facts.concurrency_limit = int(limits["ConcurrentExecutions"])
        facts.unreserved = int(limits["UnreservedConcurrentExecutions"])
    except Exception as error:
        facts.lambda_error = _error(error)
    if facts.lambda_error is None:
        for key in settings.reservations:
            try:
                reserved = lam.get_function_concurrency(FunctionName=f"{key}-{settings.suffix}")
                if reserved.get("ReservedConcurrentExecutions") is not None:
                    facts.current_reservations[key] = int(reserved["ReservedConcurrentExecutions"])
            except Exception as error:
                if not _is_missing(error, "ResourceNotFoundException"):
                    facts.lambda_error = _error(error)
        service, code, _ = LAMBDA_CONCURRENCY_QUOTA
        try:
            quotas = client("service-quotas")
            history = quotas.list_requested_service_quota_change_history_by_quota(ServiceCode=service, QuotaCode=code)
            pending = [r for r in history.get("RequestedQuotas", []) if r.get("Status") in ("PENDING", "CASE_OPENED")]
            if pending:
                facts.pending_quota_request = max(r["DesiredValue"] for r in pending)
        except Exception:
            pass  # optional: the concurrency check stands on the Lambda account settings alone

    try:
        facts.apigateway_role = client("apigateway").get_account().get("cloudwatchRoleArn") or None
    except Exception as error:
        facts.apigateway_error = _error(error)
    if facts.apigateway_role:
        try:
            client("iam").get_role(RoleName=facts.apigateway_role.rsplit("/", 1)[-1])
            facts.apigateway_role_exists = True
        except Exception as error:
            if _is_missing(error, "NoSuchEntity"):
                facts.apigateway_role_exists = False
            else:
                facts.apigateway_error = f"cannot read the role it names ({_error(error)})"

    if settings.enable_vpc:
        try:
            zones = client("ec2").describe_availability_zones(
                Filters=[{"Name": "opt-in-status", "Values": ["opt-in-not-required"]}]
            )["AvailabilityZones"]
            facts.zones = [{"name": z["ZoneName"], "id": z["ZoneId"], "state": z["State"]} for z in zones]
        except Exception as error:
            facts.zones_error = _error(error)

    if settings.powertools_parameter:
        try:
            facts.powertools_layer = client("ssm").get_parameter(Name=settings.powertools_parameter)["Parameter"][
                "Value"
            ]
        except Exception as error:
            facts.powertools_missing = _is_missing(error, "ParameterNotFound")
            facts.powertools_error = _error(error)
    return facts


# --- the checks ----------------------------------------------------------------------------------


def check(settings: Settings, facts: Facts) -> list[Result]:
    if facts.identity_error:
        return [
            Result(
                FAIL,
                "credentials",
                f"cannot call AWS in {settings.region}: {facts.identity_error}",
                "set AWS_PROFILE (after `aws configure` or `aws sso login`) or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY; for the local emulator use LOCAL=1",
            )
        ]
    results = [Result(OK, "credentials", f"account {facts.account} as {facts.caller}, region {settings.region}")]
    results.append(_concurrency(settings, facts))
    results.append(_apigateway(facts))
    if settings.enable_vpc:
        results.append(_zones(settings, facts))
    results.extend(_addresses(settings))
    if settings.powertools_parameter:
        results.append(_powertools(settings, facts))
    return results


def _concurrency(settings: Settings, facts: Facts) -> Result:
    topic = "Lambda concurrency"
    wanted = sum(settings.reservations.values())
    if facts.lambda_error:
        level = UNKNOWN if wanted else NOTE
        return Result(
            level,
            topic,
            f"could not read the account's Lambda limits ({facts.lambda_error}); "
            + (f"{settings.profile} reserves {wanted} concurrent executions" if wanted else "no function reserves any"),
            "allow lambda:GetAccountSettings and lambda:GetFunctionConcurrency to check it" if wanted else "",
        )
    assert facts.concurrency_limit is not None and facts.unreserved is not None
    limit = facts.concurrency_limit
    minimum = min(UNRESERVED_MINIMUM, limit)
    already = sum(facts.current_reservations.values())
    others = limit - facts.unreserved - already  # what other functions of the account reserve
    left = facts.unreserved + already - wanted
    if not wanted:
        return Result(OK, topic, f"no function reserves concurrency; the account's limit is {limit}")
    if left >= minimum:
        return Result(
            OK,
            topic,
            f"{settings.profile} reserves {wanted} ({_per_function(settings.reservations)}); the account's limit is "
            f"{limit}, leaving {left} unreserved (Lambda keeps at least {minimum})",
        )
    needed = others + wanted + UNRESERVED_MINIMUM
    per_function = max(0, math.floor((facts.unreserved + already - minimum) / len(settings.reservations)))
    service, code, name = LAMBDA_CONCURRENCY_QUOTA
    pending = (
        f" A request for {facts.pending_quota_request:.0f} is pending."
        if facts.pending_quota_request is not None
        else ""
    )
    example = next(iter(settings.reservations))
    make = f"make tfvars ENV={settings.suffix} SET=functions.{example}.reserved_concurrency"
    smaller = (
        f"at most {per_function} per function (`{make}={per_function}`, and so on for each function), or none "
        f"(`{make}=null`)"
        if per_function >= 1
        else f"none: leave the functions unreserved (`{make}=null`, and so on for each function)"
    )
    return Result(
        FAIL,
        topic,
        f"{settings.profile} reserves {wanted} concurrent executions ({_per_function(settings.reservations)}), "
        f"but the account's limit is {limit} with {facts.unreserved} unreserved"
        + (f" ({others} reserved by other functions)" if others > 0 else "")
        + f", and Lambda keeps at least {minimum} unreserved: the apply would stop half-way with "
        f'"decreases account\'s UnreservedConcurrentExecution below its minimum value of [{minimum}]".{pending}',
        f'request a higher Lambda quota "{name}" (Service Quotas, service {service}, quota code {code}) of at '
        f"least {needed}: `aws service-quotas request-service-quota-increase --service-code {service} "
        f"--quota-code {code} --desired-value {needed} --region {settings.region}`; or reserve less in this "
        f"environment: {smaller}",
    )


def _per_function(reservations: Mapping[str, int]) -> str:
    values = set(reservations.values())
    if len(values) == 1 and len(reservations) > 1:
        return f"{len(reservations)} x {values.pop()}"
    return ", ".join(f"{key} {value}" for key, value in reservations.items())


def _apigateway(facts: Facts) -> Result:
    topic = "API Gateway logging role"
    if facts.apigateway_error:
        return Result(
            UNKNOWN,
            topic,
            f"could not read the account's API Gateway settings ({facts.apigateway_error})",
            f"allow apigateway:GET on the account and iam:GetRole; `{BOOTSTRAP_COMMAND}` sets the role if needed",
        )
    if facts.apigateway_role and facts.apigateway_role_exists:
        return Result(OK, topic, f"the account's API Gateway settings name {facts.apigateway_role}")
    if facts.apigateway_role:
        problem = f"the account's API Gateway settings name {facts.apigateway_role}, which no longer exists"
    else:
        problem = "the account's API Gateway settings name no CloudWatch Logs role"
    return Result(
        FIX,
        topic,
        f"{problem}: the stage's logging would be refused (\"CloudWatch Logs role ARN must be set in account "
        'settings to enable logging")',
        f"make deploy applies the account bootstrap (terraform/bootstrap) first; `{BOOTSTRAP_COMMAND}` does it alone",
    )


def _zones(settings: Settings, facts: Facts) -> Result:
    topic = "availability zones"
    if facts.zones_error:
        return Result(
            UNKNOWN, topic, f"could not list the zones ({facts.zones_error})", "allow ec2:DescribeAvailabilityZones"
        )
    usable = [z for z in facts.zones if z["state"] == "available" and z["id"] not in EXCLUDED_ZONE_IDS]
    excluded = [z["id"] for z in facts.zones if z["id"] in EXCLUDED_ZONE_IDS]
    note = f" ({', '.join(excluded)} excluded: it lacks capacity for services the functions need)" if excluded else ""
    if len(usable) < 2:
        return Result(
            FAIL,
            topic,
            f"{settings.region} has {len(usable)} usable zone(s){note}; the private subnets need two",
            "deploy to another region (--set region=...) or run without a VPC (--no-vpc)",
        )
    chosen = ", ".join(f"{z['id']} ({z['name']} in this account)" for z in usable[:2])
    return Result(OK, topic, f"the private subnets go to {chosen}{note}")


def _addresses(settings: Settings) -> list[Result]:
    results = []
    for name, topic, flag in (("alert_email", "fraud alerts", "ALERT_EMAIL"), ("ops_email", "ops alarms", "OPS_EMAIL")):
        value = getattr(settings, name)
        if value:
            results.append(Result(OK, f"{topic} address", f"{value} (confirm the subscription mail AWS sends)"))
        elif name in settings.required:
            results.append(
                Result(
                    FAIL,
                    f"{topic} address",
                    f"the {settings.profile} profile deploys only with an address for {topic}: none is set",
                    f"make deploy ENV={settings.suffix} {flag}=team@example.com (kept for later deploys)",
                )
            )
        else:
            results.append(
                Result(NOTE, f"{topic} address", f"none: {topic} reach no one", f"set one with {flag}=team@example.com")
            )
    return results


def _powertools(settings: Settings, facts: Facts) -> Result:
    topic = "Powertools layer"
    if facts.powertools_layer:
        return Result(
            OK,
            topic,
            f"{settings.powertools_release} for {settings.runtime}/{settings.architecture}: {facts.powertools_layer}",
        )
    if facts.powertools_missing:
        return Result(
            FAIL,
            topic,
            f"AWS publishes no Powertools {settings.powertools_release} layer for {settings.runtime} on "
            f"{settings.architecture} in {settings.region} ({settings.powertools_parameter} does not exist)",
            "choose another runtime or architecture (--set runtime=python3.12), or pin a release that has one "
            "(aws-lambda-powertools in pyproject.toml)",
        )
    return Result(
        UNKNOWN,
        topic,
        f"could not read {settings.powertools_parameter} ({facts.powertools_error})",
        "allow ssm:GetParameter",
    )


# --- report --------------------------------------------------------------------------------------


def format_results(settings: Settings, results: Sequence[Result], endpoint: str | None = None) -> str:
    where = f" at {endpoint}" if endpoint else ""
    lines = [f"preflight {settings.suffix} (profile {settings.profile}, {settings.region}{where})"]
    for result in results:
        lines.append(f"  {result.level:<9} {result.topic}: {result.message}")
        if result.remedy and result.level != OK:
            lines.append(f"  {'':<9} -> {result.remedy}")
    failures = [r for r in results if r.level == FAIL]
    if failures:
        lines.append(f"preflight: {len(failures)} problem(s) would make the deploy fail: fix the FAIL lines above")
    else:
        fixes = [r for r in results if r.level == FIX]
        lines.append("preflight: nothing would fail" + (" (make deploy fixes the 'fix' lines first)" if fixes else ""))
    return "\n".join(lines)


def failed(results: Sequence[Result]) -> bool:
    return any(r.level == FAIL for r in results)


def needs_bootstrap(results: Sequence[Result]) -> bool:
    return any(r.level == FIX and r.topic == "API Gateway logging role" for r in results)


class EndpointSession:
    """boto3 clients for the variables a Terraform run gets (``LocalAWS.env()``: endpoint and credentials)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        import boto3

        self._env = env
        self._session = boto3.Session(
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
        )

    def client(self, service: str, region_name: str) -> Any:
        return self._session.client(service, region_name=region_name, endpoint_url=self._env.get("AWS_ENDPOINT_URL"))


def preflight(
    suffix: str, env: Mapping[str, str] | None = None, build_dir: Path | None = None
) -> tuple[Settings, Facts, list[Result]]:
    """Read the variables of ``suffix`` and the account behind ``env`` (boto3's own configuration when None):
    the settings, what the account says (``Facts``) and the checks' results."""
    import boto3

    settings = Settings.from_var_file(Path(build_dir or BUILD) / validate_suffix(suffix) / "terraform.tfvars.json")
    unknown = set(settings.reservations) - set(function_catalog())
    if unknown:
        raise ToolError(f"functions {', '.join(sorted(unknown))} in the variables are not in lambdas/functions.json")
    session = EndpointSession(env) if env and env.get("AWS_ENDPOINT_URL") else boto3.Session()
    facts = gather(settings, session)
    return settings, facts, check(settings, facts)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.preflight", description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", required=True, metavar="SUFFIX", help="environment suffix (its tfvars must exist)")
    parser.add_argument("--local", action="store_true", help="check against the embedded emulator (moto)")
    args = parser.parse_args(argv)
    if args.local:
        from tools.emulator.localaws import LocalAWS

        with LocalAWS() as aws:
            settings, _, results = preflight(args.env, aws.env())
            print(format_results(settings, results, aws.endpoint))
    else:
        settings, _, results = preflight(args.env)
        print(format_results(settings, results))
    return 1 if failed(results) else 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
