"""The policy gate: checkov over ``modules/`` and ``terraform/``, parliament over the IAM policies of a plan.

checkov pins its own boto3 and a fork of python-hcl2 that clash with the project's packages, so it
and parliament live in ``.venv-policy``, created on first use from the ``policy`` extra of
pyproject.toml. Both run offline (no update check, no policy download).

- checkov: every skip must be an inline ``#checkov:skip=<ID>:<reason>`` next to its resource: the
  summary lists each one with its reason, a skip without a reason fails the gate, and
  ``.checkov.yaml`` may not skip checks.
- parliament lints every statement of every ``aws_iam_policy_document`` of a plan (``--plan
  build/<suffix>/plan.json``; ``make deploy`` lints the plan it is about to apply, the terraform test
  session every configuration it plans). A finding fails the gate unless the statement carries a
  justification in the Terraform source: a comment ``# parliament:skip=<ISSUE>: <reason>`` on the lines
  just above the statement's ``sid``, like a checkov skip. ARNs known only after apply are taken to be
  of the type each action requires (and unknown condition values to be ARNs); everything else
  (actions, resource types of known ARNs, actions that take only ``*``, conditions) is checked as
  written. Trust policies (``sts:AssumeRole`` for a service) are not IAM permission policies and are
  left to the plan assertions in tests/terraform.

    python -m tools.deploy.policy [--report build/policy/checkov.json] [--plan build/dev/plan.json ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools._cli import BUILD, ROOT, ToolError, progress, run

VENV = ROOT / ".venv-policy"
CONFIG = ROOT / ".checkov.yaml"
SCANNED_DIRS = ("modules", "terraform")
SCANNED_ROOTS = tuple(ROOT / directory for directory in SCANNED_DIRS)
OFFLINE_ENV = {"CKV_SKIP_PACKAGE_UPDATE_CHECK": "true", "BC_SKIP_MAPPING": "TRUE"}
NO_REASON = {"", "no comment provided"}  # what checkov records for `#checkov:skip=ID` without a reason


@dataclass(frozen=True)
class Check:
    check_id: str
    name: str
    resource: str
    file: str
    lines: tuple[int, int]
    guideline: str | None = None
    reason: str | None = None

    @property
    def location(self) -> str:
        start, end = self.lines
        return f"{self.file}:{start}" if start == end else f"{self.file}:{start}-{end}"


@dataclass
class Report:
    passed: list[Check] = field(default_factory=list)
    failed: list[Check] = field(default_factory=list)
    skipped: list[Check] = field(default_factory=list)
    parsing_errors: list[str] = field(default_factory=list)

    @property
    def unexplained_skips(self) -> list[Check]:
        return [check for check in self.skipped if (check.reason or "").strip().lower() in NO_REASON]

    @property
    def ok(self) -> bool:
        return not (self.failed or self.parsing_errors or self.unexplained_skips)


def policy_pins(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The requirements of the ``policy`` extra (checkov's pin lives in one place: pyproject.toml)."""
    extras = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]
    if not extras.get("policy"):
        raise ToolError(f"{pyproject} has no `policy` extra to install checkov from")
    return list(extras["policy"])


def ensure_venv(pins: Sequence[str]) -> Path:
    """The checkov executable of ``.venv-policy``, creating or updating the venv when its pins changed."""
    marker = VENV / ".installed"
    checkov = VENV / "bin" / "checkov"
    wanted = "\n".join(pins) + "\n"
    if checkov.is_file() and marker.is_file() and marker.read_text() == wanted:
        return checkov
    progress(f"installing {', '.join(pins)} into {VENV.name} (first use only; takes a minute or two)")
    if not (VENV / "bin" / "python").is_file():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    command = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--progress-bar", "off", *pins]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as pip:
        assert pip.stdout is not None and pip.stderr is not None
        resolved = 0
        for line in pip.stdout:  # pip's own milestones, condensed to a few lines
            if line.startswith("Collecting"):
                resolved += 1
                if resolved % 20 == 0:
                    progress(f"  {resolved} packages resolved ...")
            elif line.startswith("Installing collected packages"):
                progress(f"  installing {resolved} packages ...")
            elif line.startswith("Successfully installed"):
                progress("  installed")
        errors = pip.stderr.read()
    if pip.returncode != 0:
        tail = "\n".join(errors.strip().splitlines()[-15:])
        raise ToolError(f"pip could not install {', '.join(pins)} into {VENV}:\n{tail}\n(is PyPI reachable?)")
    marker.write_text(wanted)
    return checkov


def check_config(config: Path = CONFIG) -> None:
    settings = config.read_text().splitlines() if config.is_file() else []
    if any(line.split("#")[0].strip().startswith(("skip-check", "soft-fail")) for line in settings):
        raise ToolError(
            f"{config.name} skips checks or soft-fails: move each skip inline, next to its resource, with its reason"
        )


def _documents(text: str) -> list[dict]:
    """checkov prints one JSON document per scanned directory (or one list); accept every shape."""
    decoder, documents, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        document, index = decoder.raw_decode(text, index)
        documents.extend(document if isinstance(document, list) else [document])
    return documents


def parse_report(text: str, root: Path = ROOT) -> Report:
    """Passed, failed and skipped checks of a checkov JSON report, each counted once.

    checkov repeats checks across its documents (the root's run reports each module instance again); a
    check is one (check id, file, lines): one place in the code.
    """
    report, seen = Report(), set()
    buckets = {"passed_checks": report.passed, "failed_checks": report.failed, "skipped_checks": report.skipped}
    for document in _documents(text):
        results = document.get("results", {})
        report.parsing_errors.extend(e for e in results.get("parsing_errors", []) if e not in report.parsing_errors)
        for bucket, checks in buckets.items():
            for raw in results.get(bucket, []):
                path = Path(raw.get("file_abs_path") or raw["file_path"])
                file = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
                lines = tuple(raw.get("file_line_range") or (0, 0))
                # One check at one place of the code, however many module instances or runs report it.
                key = (bucket, raw["check_id"], file, lines)
                if key in seen:
                    continue
                seen.add(key)
                checks.append(
                    Check(
                        check_id=raw["check_id"],
                        name=raw.get("check_name") or "",
                        resource=raw["resource"],
                        file=file,
                        lines=(lines[0], lines[-1]),
                        guideline=raw.get("guideline"),
                        reason=(raw.get("check_result") or {}).get("suppress_comment"),
                    )
                )
    return report


def format_report(report: Report) -> str:
    lines = [f"checkov: {len(report.passed)} passed, {len(report.failed)} failed, {len(report.skipped)} skipped"]
    if report.skipped:
        lines.append("skipped (inline, with the reason next to the resource):")
        for check in sorted(report.skipped, key=lambda c: (c.file, c.lines, c.check_id)):
            lines.append(f"  {check.check_id:<12} {check.resource}  {check.location}")
            lines.append(f"      {check.reason or '(no reason given: add one after the check id)'}")
    if report.failed:
        lines.append("failed:")
        for check in sorted(report.failed, key=lambda c: (c.file, c.lines, c.check_id)):
            lines.append(f"  {check.check_id:<12} {check.resource}  {check.location}")
            lines.append(f"      {check.name}")
            lines.append(f"      guideline: {check.guideline or 'not available offline; see the check name above'}")
    for error in report.parsing_errors:
        lines.append(f"parsing error: {error}")
    if report.unexplained_skips:
        lines.append(f"{len(report.unexplained_skips)} skip(s) without a reason: write #checkov:skip=<ID>:<why>")
    lines.append("policy gate: " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)


def run_checkov(checkov: Path, directories: Sequence[str]) -> str:
    """checkov's JSON reports, one run per directory.

    One run per directory: given several ``-d``, checkov 3.3 reports the module calls of the root
    but none of the root's own resources (terraform/*.tf went unchecked that way).
    """
    outputs = []
    for directory in directories:
        command = [str(checkov), "--config-file", str(CONFIG)] if CONFIG.is_file() else [str(checkov)]
        command += ["-d", directory, "--framework", "terraform", "-o", "json", "--skip-download"]
        progress(f"checkov over {directory}/")
        result = subprocess.run(command, cwd=ROOT, env={**os.environ, **OFFLINE_ENV}, capture_output=True, text=True)
        if result.returncode not in (0, 1) or not result.stdout.strip():
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            raise ToolError(f"checkov did not run on {directory}/ (exit {result.returncode}):\n{tail}")
        outputs.append(result.stdout)
    return "\n".join(outputs)


# --- parliament: the IAM policy documents of a plan ---------------------------------------------

SKIP_MARKER = re.compile(r"#\s*parliament:skip=([A-Z_]+)\s*:\s*(.*\S)?\s*$")
SID_LINE = re.compile(r'^\s*sid\s*=\s*"([A-Za-z0-9]+)"')
# Lines that may stand between a justification and the sid it is for.
BLOCK_OPENER = re.compile(r'^\s*(statement\s*\{|\{|content\s*\{|dynamic\s+"statement"\s*\{)\s*$')
PLACEHOLDER_REGION, PLACEHOLDER_ACCOUNT = "us-east-1", "123456789012"
# A condition value Terraform knows only after apply is an ARN in every statement of this project.
PLACEHOLDER_CONDITION_VALUE = f"arn:aws:planned:{PLACEHOLDER_REGION}:{PLACEHOLDER_ACCOUNT}:planned"
TRUST_ACTIONS = re.compile(
    r"^sts:(AssumeRole|AssumeRoleWithWebIdentity|AssumeRoleWithSAML|TagSession|SetSourceIdentity)$"
)

# Runs inside .venv-policy: reads the statements as JSON on stdin, prints parliament's findings.
LINT_SCRIPT = r"""
import json, re, sys
import parliament
from parliament.statement import get_privilege_info, get_arn_format

def placeholders(actions):
    # An ARN of each resource type the actions require, for the ARNs Terraform knows only after apply.
    arns = []
    for action in actions:
        service, _, name = action.partition(":")
        try:
            info = get_privilege_info(service, name)
        except Exception:
            continue  # an unknown action: parliament reports it
        for resource in info["resource_types"]:
            if resource["resource_type"].endswith("*"):
                parts = get_arn_format(resource["resource_type"], info["service_resources"]).split(":", 5)
                parts[1] = "aws"
                for index, value in ((3, REGION), (4, ACCOUNT)):
                    if len(parts) > index and parts[index] == "*":
                        parts[index] = value
                arns.append(":".join(parts).replace("*", "planned"))
    return arns

out = []
for item in json.load(sys.stdin):
    statement = item["statement"]
    if item["unknown_resources"]:
        known = [r for r in statement.get("Resource", []) if r is not None]
        actions = statement.get("Action", [])
        actions = actions if isinstance(actions, list) else [actions]
        statement["Resource"] = known + [a for a in placeholders(actions) if a not in known]
        if len(statement["Resource"]) == 1:
            statement["Resource"] = statement["Resource"][0]
    policy = parliament.analyze_policy_string(json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    for finding in policy.findings:
        finding = parliament.enhance_finding(finding)
        out.append({"document": item["document"], "sid": item["sid"], "issue": finding.issue,
                    "title": finding.title, "detail": str(finding.detail)})
print(json.dumps(out))
""".replace("REGION", repr(PLACEHOLDER_REGION)).replace("ACCOUNT", repr(PLACEHOLDER_ACCOUNT))


@dataclass(frozen=True)
class Finding:
    document: str
    sid: str
    issue: str
    title: str
    detail: str
    reason: str | None = None  # the justification in the Terraform source, when there is one


@dataclass
class LintReport:
    statements: int = 0
    documents: int = 0
    trust_statements: int = 0
    findings: list[Finding] = field(default_factory=list)
    justified: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings


def justifications(roots: Sequence[Path] = SCANNED_ROOTS) -> dict[str, dict[str, str]]:
    """``{sid: {issue: reason}}`` from the ``# parliament:skip=ISSUE: reason`` comments above each ``sid``.

    A justification without a reason is kept with an empty reason, so the gate can refuse it.
    """
    found: dict[str, dict[str, str]] = {}
    for root in roots:
        for path in sorted(root.rglob("*.tf")):
            pending: dict[str, str] = {}
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if marker := SKIP_MARKER.search(stripped) if stripped.startswith("#") else None:
                    pending[marker.group(1)] = (marker.group(2) or "").strip()
                elif sid := SID_LINE.match(line):
                    if pending:
                        found.setdefault(sid.group(1), {}).update(pending)
                    pending = {}
                elif stripped.startswith("#") or not stripped or BLOCK_OPENER.match(line):
                    continue
                else:
                    pending = {}
    return found


def _modules(module: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield module
    for child in module.get("child_modules", []):
        yield from _modules(child)


def _scalar_or_list(values: Sequence[Any]) -> Any:
    """IAM JSON as Terraform renders it: one value as a scalar, several as a list."""
    return values[0] if len(values) == 1 else list(values)


def _iam_statement(block: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """An ``aws_iam_policy_document`` statement block as IAM JSON, and whether an ARN is unknown yet."""
    statement: dict[str, Any] = {"Effect": block.get("effect") or "Allow"}
    if block.get("sid"):
        statement["Sid"] = block["sid"]
    for key, name in (("actions", "Action"), ("not_actions", "NotAction")):
        if block.get(key):
            statement[name] = _scalar_or_list(sorted(block[key]))
    resources = list(block.get("resources") or [])
    unknown = any(r is None for r in resources)
    if resources:
        statement["Resource"] = resources  # may hold None: the lint script fills those in
    principals: dict[str, list[str]] = {}
    for principal in block.get("principals") or []:
        principals.setdefault(principal["type"], []).extend(principal.get("identifiers") or [])
    if principals:
        statement["Principal"] = (
            "*" if principals == {"*": ["*"]} else {t: _scalar_or_list(sorted(ids)) for t, ids in principals.items()}
        )
    conditions: dict[str, dict[str, Any]] = {}
    for condition in block.get("condition") or []:
        values = [v if v is not None else PLACEHOLDER_CONDITION_VALUE for v in condition.get("values") or []]
        conditions.setdefault(condition["test"], {})[condition["variable"]] = _scalar_or_list(values)
    if conditions:
        statement["Condition"] = conditions
    return statement, unknown


def _policy_documents(plan: Mapping[str, Any]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """``(address, statement blocks)`` of every ``aws_iam_policy_document`` of a plan, by address."""
    documents: dict[str, list[Mapping[str, Any]]] = {}
    for module in _modules(plan.get("prior_state", {}).get("values", {}).get("root_module", {})):
        for resource in module.get("resources", []):
            if resource.get("type") == "aws_iam_policy_document":
                documents[resource["address"]] = resource.get("values", {}).get("statement") or []
    for change in plan.get("resource_changes", []):
        if change.get("mode") == "data" and change.get("type") == "aws_iam_policy_document":
            documents[change["address"]] = (change["change"].get("after") or {}).get("statement") or []
    return sorted(documents.items())


def plan_statements(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every statement of every ``aws_iam_policy_document`` in a ``terraform show -json`` plan.

    Documents read at plan time are in ``prior_state``; those that wait for an ARN are data changes.
    """
    items = []
    for address, blocks in _policy_documents(plan):
        for block in blocks:
            statement, unknown = _iam_statement(block)
            if is_trust_statement(block):
                continue
            items.append(
                {
                    "document": address,
                    "sid": block.get("sid") or "",
                    "statement": statement,
                    "unknown_resources": unknown,
                }
            )
    return items


def is_trust_statement(block: Mapping[str, Any]) -> bool:
    """A role's trust policy statement: only sts:AssumeRole-style actions, for principals, on no resource."""
    actions = block.get("actions") or []
    return bool(actions) and all(TRUST_ACTIONS.match(a) for a in actions) and not block.get("resources")


def trust_statement_count(plan: Mapping[str, Any]) -> int:
    return sum(1 for _, blocks in _policy_documents(plan) for block in blocks if is_trust_statement(block))


def run_parliament(python: Path, items: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    result = subprocess.run(
        [str(python), "-c", LINT_SCRIPT], input=json.dumps(list(items)), capture_output=True, text=True, cwd=ROOT
    )
    if result.returncode != 0:
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise ToolError(f"parliament did not run (exit {result.returncode}):\n{tail}")
    return json.loads(result.stdout)


def lint_plan(plan: Mapping[str, Any], python: Path | None = None) -> LintReport:
    """parliament's findings on a plan's policy documents, split into failures and justified ones."""
    items = plan_statements(plan)
    raw = run_parliament(python or ensure_venv(policy_pins()).parent / "python", items)
    report = classify(items, raw, justifications())
    report.trust_statements = trust_statement_count(plan)
    return report


def classify(
    items: Sequence[Mapping[str, Any]], raw: Sequence[Mapping[str, str]], justified_by: Mapping[str, Mapping[str, str]]
) -> LintReport:
    report = LintReport(statements=len(items), documents=len({item["document"] for item in items}))
    seen = set()
    for entry in raw:
        finding = Finding(**{k: entry[k] for k in ("document", "sid", "issue", "title", "detail")})
        if (key := (finding.document, finding.sid, finding.issue)) in seen:
            continue
        seen.add(key)
        reason = justified_by.get(finding.sid, {}).get(finding.issue)
        if reason:
            report.justified.append(Finding(**{**finding.__dict__, "reason": reason}))
        else:
            report.findings.append(finding)
    return report


def format_lint(report: LintReport, label: str = "plan") -> str:
    lines = [
        f"parliament ({label}): {report.statements} statements in {report.documents} policy documents, "
        f"{len(report.findings)} finding(s), {len(report.justified)} justified"
        + (
            f" ({report.trust_statements} trust-policy statements left to tests/terraform)"
            if report.trust_statements
            else ""
        )
    ]
    if report.justified:
        lines.append("justified (inline, above the statement's sid):")
        for f in sorted(report.justified, key=lambda f: (f.sid, f.issue, f.document)):
            lines.append(f"  {f.issue:<22} {f.sid:<34} {f.document}")
            lines.append(f"      {f.reason}")
    if report.findings:
        lines.append("findings (justify with `# parliament:skip=<ISSUE>: <reason>` above the sid, or fix):")
        for f in sorted(report.findings, key=lambda f: (f.document, f.sid, f.issue)):
            lines.append(f"  {f.issue:<22} {f.sid or '(no sid)':<34} {f.document}")
            lines.append(f"      {f.title} {f.detail}")
    lines.append("parliament gate: " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report", type=Path, default=BUILD / "policy" / "checkov.json", help="where to keep checkov's JSON report"
    )
    parser.add_argument(
        "--plan",
        dest="plans",
        type=Path,
        action="append",
        default=[],
        metavar="PLAN_JSON",
        help="also lint the IAM policies of this plan (terraform show -json, e.g. build/dev/plan.json) with parliament",
    )
    parser.add_argument("--no-checkov", action="store_true", help="skip checkov (only lint the plans)")
    args = parser.parse_args(argv)
    checkov = ensure_venv(policy_pins())
    ok = True
    if not args.no_checkov:
        check_config()
        directories = [d for d in SCANNED_DIRS if any((ROOT / d).rglob("*.tf"))]
        if not directories:
            raise ToolError(f"no Terraform files under {' or '.join(SCANNED_DIRS)}/ to check")
        output = run_checkov(checkov, directories)
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(output)
        report = parse_report(output)
        print(format_report(report))
        ok = report.ok
    for plan_file in args.plans:
        try:
            plan = json.loads(plan_file.read_text())
        except FileNotFoundError:
            raise ToolError(f"{plan_file} does not exist: run `make plan ENV=<suffix>` first") from None
        lint = lint_plan(plan, checkov.parent / "python")
        print(format_lint(lint, str(plan_file)))
        ok = ok and lint.ok
    return 0 if ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
