"""The checkov gate over ``modules/`` and ``terraform/``: fails on any failed check.

checkov pins its own boto3 and a fork of python-hcl2 that clash with the project's packages, so it
lives in ``.venv-policy``, created on first use from the ``policy`` extra of pyproject.toml. It runs
offline (no update check, no policy download). Every skip must be an inline
``#checkov:skip=<ID>:<reason>`` next to its resource: the summary lists each one with its reason, a
skip without a reason fails the gate, and ``.checkov.yaml`` may not skip checks.

    python -m tools.deploy.policy [--report build/policy/checkov.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tools._cli import BUILD, ROOT, ToolError, progress, run

VENV = ROOT / ".venv-policy"
CONFIG = ROOT / ".checkov.yaml"
SCANNED_DIRS = ("modules", "terraform")
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

    With several ``-d`` directories checkov repeats checks across its documents; a check is one
    (check id, resource, file, lines).
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
                key = (bucket, raw["check_id"], raw["resource"], file, lines)
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
    command = [str(checkov), "--config-file", str(CONFIG)] if CONFIG.is_file() else [str(checkov)]
    for directory in directories:
        command += ["-d", directory]
    command += ["--framework", "terraform", "-o", "json", "--skip-download"]
    progress(f"checkov over {', '.join(d + '/' for d in directories)}")
    result = subprocess.run(command, cwd=ROOT, env={**os.environ, **OFFLINE_ENV}, capture_output=True, text=True)
    if result.returncode not in (0, 1) or not result.stdout.strip():
        tail = "\n".join(result.stderr.strip().splitlines()[-15:])
        raise ToolError(f"checkov did not run (exit {result.returncode}):\n{tail}")
    return result.stdout


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.policy", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--report", type=Path, default=BUILD / "policy" / "checkov.json", help="where to keep checkov's JSON report"
    )
    args = parser.parse_args(argv)
    check_config()
    directories = [d for d in SCANNED_DIRS if any((ROOT / d).rglob("*.tf"))]
    if not directories:
        raise ToolError(f"no Terraform files under {' or '.join(SCANNED_DIRS)}/ to check")
    output = run_checkov(ensure_venv(policy_pins()), directories)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(output)
    report = parse_report(output)
    print(format_report(report))
    return 0 if report.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
