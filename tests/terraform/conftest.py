"""Plans of the root module, made once per configuration against a local moto server (no AWS account).

Each configuration (profile x stream consumer x VPC) is planned at most once per session, on first
use, through ``tools.deploy.tf.Stack``: the same driver ``make plan`` uses. Tests read the plan through
``Plan``, which sees planned values, values unknown until apply, IAM documents (read at plan time or
deferred) and the configuration, so each test can state a requirement in the words of the issue.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, in_ci, require
from tools._cli import provider_mirror
from tools.deploy import package, tfvars
from tools.deploy.tf import Stack
from tools.emulator.localaws import LocalAWS


@dataclass(frozen=True)
class Config:
    profile: str
    stream_consumer: str
    enable_vpc: bool
    training_emr: bool = False  # the optional EMR Serverless part of modules/training

    @property
    def suffix(self) -> str:
        # Short, valid, and distinct per configuration, so "every name ends with the suffix" means something.
        return f"t{self.profile}-{self.stream_consumer[:2]}-{'vpc' if self.enable_vpc else 'novpc'}"

    @property
    def id(self) -> str:
        return f"{self.profile}/{self.stream_consumer}/{'vpc' if self.enable_vpc else 'no-vpc'}" + (
            "/emr" if self.training_emr else ""
        )


PROD_ADDRESSES = {"alert_email": "fraud-team@example.com", "ops_email": "fraud-ops@example.com"}

CONFIGS = [
    Config("dev", "eventbridge", False),
    Config("dev", "direct", False),
    Config("prod", "eventbridge", True),
    Config("prod", "direct", True, training_emr=True),
]


@dataclass(frozen=True)
class Resource:
    address: str
    type: str
    values: dict[str, Any]
    unknown: dict[str, Any]

    def get(self, *path: str | int) -> Any:
        """The planned value at ``path`` (None when unset or unknown until apply)."""
        node: Any = self.values
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    def is_unknown(self, *path: str | int) -> bool:
        node: Any = self.unknown
        for key in path:
            try:
                node = node[key]
            except (KeyError, IndexError, TypeError):
                return False
        return node is True

    def is_set(self, *path: str | int) -> bool:
        """Known and not null, or computed from another resource (unknown until apply, so not null)."""
        return self.get(*path) not in (None, "", [], {}) or self.is_unknown(*path)


@dataclass(frozen=True)
class Statement:
    document: str
    sid: str
    actions: list[str]
    resources: list[str | None]  # None: an ARN known only after apply
    has_principals: bool

    @property
    def is_identity_statement(self) -> bool:
        """Part of a role's own policy (key, queue and trust policies name principals instead)."""
        return not self.has_principals


class Plan:
    """One ``terraform show -json`` of a plan, with the lookups the tests need."""

    def __init__(self, config: Config, raw: dict[str, Any], seconds: float) -> None:
        self.config = config
        self.suffix = config.suffix
        self.raw = raw
        self.seconds = seconds
        self.variables = {name: item.get("value") for name, item in raw.get("variables", {}).items()}
        self.lint_summary = ""  # parliament's first line, set by the test that lints this plan
        self._resources = [
            Resource(c["address"], c["type"], c["change"]["after"] or {}, c["change"]["after_unknown"] or {})
            for c in raw.get("resource_changes", [])
            if c["mode"] == "managed" and "create" in c["change"]["actions"]
        ]

    def resources(self, type_: str | None = None) -> list[Resource]:
        return [r for r in self._resources if type_ is None or r.type == type_]

    def named(self, type_: str, name: str, attribute: str = "name") -> Resource:
        matches = [r for r in self.resources(type_) if r.get(attribute) == name]
        assert len(matches) == 1, f"expected one {type_} with {attribute} = {name!r}, found {len(matches)}"
        return matches[0]

    def alarms(self) -> dict[str, Resource]:
        return {r.get("alarm_name"): r for r in self.resources("aws_cloudwatch_metric_alarm")}

    def functions(self) -> dict[str, Resource]:
        return {
            r.get("function_name").rsplit(f"-{self.suffix}", 1)[0]: r for r in self.resources("aws_lambda_function")
        }

    def statements(self) -> list[Statement]:
        """Every statement of every IAM policy document: data sources read now or at apply, inline JSON."""
        documents: list[tuple[str, list[dict[str, Any]]]] = []
        for module in _modules(self.raw.get("prior_state", {}).get("values", {}).get("root_module", {})):
            for resource in module.get("resources", []):
                if resource["type"] == "aws_iam_policy_document":
                    documents.append((resource["address"], resource["values"].get("statement") or []))
        for change in self.raw.get("resource_changes", []):
            after = change["change"].get("after") or {}
            if change["mode"] == "data" and change["type"] == "aws_iam_policy_document":
                documents.append((change["address"], after.get("statement") or []))
        statements = [
            Statement(
                document=address,
                sid=s.get("sid") or "",
                actions=list(s.get("actions") or []),
                resources=list(s.get("resources") or []),
                has_principals=bool(s.get("principals")),
            )
            for address, raw in documents
            for s in raw
        ]
        for resource in self._resources:  # policies written as JSON (jsonencode) rather than documents
            for attribute in ("policy", "inline_policy"):
                text = resource.get(attribute)
                if isinstance(text, str) and text.strip().startswith("{"):
                    statements.extend(_json_statements(resource.address, json.loads(text)))
        return statements

    def module_expression(self, resource: Resource, attribute: str) -> dict[str, Any]:
        """The configuration expression of ``attribute`` of ``resource`` (its references, or a constant)."""
        module, config = self._config_for(resource.address)
        for candidate in module.get("resources", []):
            if candidate["address"] == config:
                return candidate.get("expressions", {}).get(attribute, {})
        raise AssertionError(f"no configuration for {resource.address}")

    def resolve_module_variable(self, resource: Resource, name: str) -> Any:
        """The value a module variable gets from the root, when the root passes a variable or a constant."""
        parts = _module_path(resource.address)
        assert len(parts) == 1, f"{resource.address}: only one module level is resolved"
        call = self.raw["configuration"]["root_module"]["module_calls"][parts[0]]
        expression = call.get("expressions", {}).get(name, {})
        if "constant_value" in expression:
            return expression["constant_value"]
        references = [r for r in expression.get("references", []) if r.startswith("var.")]
        assert references, f"module {parts[0]} gets {name} from {expression}, not from a root variable"
        return self.variables[references[0].removeprefix("var.")]

    def _config_for(self, address: str) -> tuple[dict[str, Any], str]:
        module = self.raw["configuration"]["root_module"]
        for name in _module_path(address):
            module = module["module_calls"][name]["module"]
        local = MODULE_PREFIX.sub("", address)
        return module, re.sub(r"\[[^\]]*\]$", "", local)


MODULE_PREFIX = re.compile(r"^(?:module\.[\w-]+(?:\[[^\]]*\])?\.)+")


def _module_path(address: str) -> list[str]:
    """``module.a["k"].module.b.aws_x.y`` -> ``["a", "b"]``."""
    prefix = MODULE_PREFIX.match(address)
    return re.findall(r"module\.([\w-]+)", prefix.group(0)) if prefix else []


def _modules(module: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield module
    for child in module.get("child_modules", []):
        yield from _modules(child)


def _json_statements(address: str, document: dict[str, Any]) -> list[Statement]:
    def as_list(value: Any) -> list[Any]:
        return value if isinstance(value, list) else [] if value is None else [value]

    return [
        Statement(
            document=address,
            sid=s.get("Sid", ""),
            actions=as_list(s.get("Action")),
            resources=as_list(s.get("Resource")),
            has_principals="Principal" in s,
        )
        for s in as_list(document.get("Statement"))
    ]


class Planner:
    """Plans each configuration once, on first use, and remembers the plan and how long it took.

    A configuration that fails to plan fails once: its error is kept and raised again for every test
    that needs it, rather than planning again for each. (Plans run one at a time: on this machine's
    two cores, side by side was no faster.)
    """

    def __init__(self, build_dir: Path, artifacts: Path, env: dict[str, str]) -> None:
        self.build_dir, self.artifacts, self.env = build_dir, artifacts, env
        self.plans: dict[Config, Plan] = {}
        self.errors: dict[Config, Exception] = {}

    def plan(self, config: Config) -> Plan:
        if config in self.errors:
            raise self.errors[config]
        if config not in self.plans:
            try:
                self.plans[config] = self._plan(config)
            except Exception as error:
                self.errors[config] = error
                raise
        return self.plans[config]

    def _plan(self, config: Config) -> Plan:
        stack = Stack(config.suffix, env=self.env, build_dir=self.build_dir)
        stack.dir.mkdir(parents=True, exist_ok=True)
        overrides = {
            "stream_consumer": config.stream_consumer,
            "enable_vpc": config.enable_vpc,
            "enable_training_emr": config.training_emr,
        }
        # A prod deploy needs both addresses (the preflight refuses it otherwise): plan it as deployed.
        overrides.update(PROD_ADDRESSES if config.profile == "prod" else {})
        _, text = tfvars.render(config.suffix, config.profile, overrides, self.artifacts)
        stack.var_file.write_text(text)
        stack.init()
        started = time.monotonic()
        stack.plan()
        return Plan(config, json.loads(stack.plan_json.read_text()), time.monotonic() - started)


@pytest.fixture(scope="session")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The zips, packaged from lambdas/ exactly as `make package` does."""
    out = tmp_path_factory.mktemp("dist")
    package.build(ROOT / "lambdas", out)
    return out


@pytest.fixture(scope="session")
def planner(terraform_bin: str, artifacts: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Planner]:
    # Off CI, init falls back to the registry; CI has no internet, so it must have the mirror.
    require(
        provider_mirror() is not None or not in_ci(),
        "no provider mirror: set TF_PLUGIN_DIR to a directory holding registry.terraform.io/hashicorp/aws",
    )
    with LocalAWS() as aws:
        planner = Planner(tmp_path_factory.mktemp("build"), artifacts, aws.env())
        yield planner
    _report(planner)


def _report(planner: Planner) -> None:
    """Resource counts and plan times, kept next to the build outputs for the issue's measurements."""
    summary = {
        config.id: {
            "resources": len(plan.resources()),
            "plan_seconds": round(plan.seconds, 1),
            **({"parliament": plan.lint_summary} if plan.lint_summary else {}),
        }
        for config, plan in planner.plans.items()
    }
    out = ROOT / "build" / "terraform-tests" / "plans.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    MEASUREMENTS.update(summary)


MEASUREMENTS: dict[str, dict[str, Any]] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if MEASUREMENTS:
        terminalreporter.section("terraform plans")
        for config, numbers in MEASUREMENTS.items():
            terminalreporter.line(
                f"{config:<24} {numbers['resources']:>4} resources  plan {numbers['plan_seconds']:>5} s"
                + (f"  {numbers['parliament']}" if numbers.get("parliament") else "")
            )


def _plan_fixture(configs: list[Config]):
    @pytest.fixture(scope="module", params=configs, ids=[c.id for c in configs])
    def fixture(request: pytest.FixtureRequest, planner: Planner) -> Plan:
        return planner.plan(request.param)

    return fixture


any_plan = _plan_fixture(CONFIGS)
dev_plan = _plan_fixture([c for c in CONFIGS if c.profile == "dev"])
prod_plan = _plan_fixture([c for c in CONFIGS if c.profile == "prod"])
eventbridge_plan = _plan_fixture([c for c in CONFIGS if c.stream_consumer == "eventbridge"])
direct_plan = _plan_fixture([c for c in CONFIGS if c.stream_consumer == "direct"])
vpc_plan = _plan_fixture([c for c in CONFIGS if c.enable_vpc])
no_vpc_plan = _plan_fixture([c for c in CONFIGS if not c.enable_vpc])
emr_plan = _plan_fixture([c for c in CONFIGS if c.training_emr])
no_emr_plan = _plan_fixture([c for c in CONFIGS if not c.training_emr])
