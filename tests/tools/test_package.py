"""Deployment zips: reproducible bytes, exactly the handler, the handler kit and the fraud package (and a function's
declared files and vendored packages), clear failures."""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from pathlib import Path

import pytest

from tools._cli import ToolError, function_catalog
from tools.deploy import package
from tools.deploy.package import FUNCTIONS

FRAUD_FILES = {
    "fraud/__init__.py": "",
    "fraud/engine.py": "def score(transaction):\n    return 0\n",
    "fraud/rules.default.json": '{"weights": {}}\n',
    "fraud/transaction.schema.json": '{"type": "object"}\n',
    "fraud/rules/__init__.py": "RULES = []\n",
}
KIT = "handler_kit.py"
CONSOLE_FILES = {"console_web/__init__.py": "", "console_web/templates/base.html": "<!doctype html>\n"}
EXTRAS = {key: set(spec.get("files", [])) | set(spec.get("vendor", [])) for key, spec in function_catalog().items()}


@pytest.fixture
def sources(tmp_path: Path) -> Path:
    """A lambdas/ tree with every handler, the fraud package and the clutter a checkout collects."""
    src = tmp_path / "lambdas"
    for module in FUNCTIONS.values():
        (src / f"{module}.py").parent.mkdir(parents=True, exist_ok=True)
        (src / f"{module}.py").write_text(f"def handler(event, context):\n    return {module!r}\n")
    for name, text in FRAUD_FILES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    for name, text in CONSOLE_FILES.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text)
    (src / "console_web" / "__pycache__").mkdir()
    (src / "console_web" / "__pycache__" / "views.cpython-311.pyc").write_bytes(b"\x00compiled")
    (src / KIT).write_text("logger = None\n")
    (src / "fraud" / "__pycache__").mkdir()
    (src / "fraud" / "__pycache__" / "engine.cpython-311.pyc").write_bytes(b"\x00compiled")
    (src / "fraud" / "engine.pyc").write_bytes(b"\x00compiled")
    (src / "fraud" / ".DS_Store").write_bytes(b"finder")
    (src / "tests_helper.py").write_text("not part of any function\n")
    return src


def build(src: Path, out: Path) -> dict[str, bytes]:
    package.build(src, out)
    return {key: (out / f"{key}.zip").read_bytes() for key in FUNCTIONS}


def test_identical_sources_give_byte_identical_zips_whatever_the_file_times_and_modes(sources, tmp_path):
    first = build(sources, tmp_path / "one")
    for path in sources.rglob("*.py"):
        os.utime(path, (2_000_000_000, 2_000_000_000))
    (sources / "fraud" / "engine.py").chmod(0o755)
    second = build(sources, tmp_path / "two")
    assert first == second


def test_each_zip_holds_its_handler_and_the_kit_at_the_root_and_the_fraud_package_only(sources, tmp_path):
    build(sources, tmp_path / "dist")
    for key, module in FUNCTIONS.items():
        if EXTRAS[key]:
            continue  # the console's: the next test
        with zipfile.ZipFile(tmp_path / "dist" / f"{key}.zip") as archive:
            names = archive.namelist()
            assert archive.read(KIT) == (sources / KIT).read_bytes()
        assert names == sorted([f"{module}.py", KIT, *FRAUD_FILES]), key


def test_the_console_zip_adds_its_templates_and_pure_python_jinja2_and_markupsafe_with_their_licences(
    sources, tmp_path
):
    assert EXTRAS["console"] == {"console_web", "jinja2", "markupsafe"}
    build(sources, tmp_path / "dist")
    with zipfile.ZipFile(tmp_path / "dist" / "console.zip") as archive:
        names = archive.namelist()
    own = [n for n in names if not n.startswith(("jinja2", "markupsafe"))]
    assert own == sorted(["console.py", KIT, *FRAUD_FILES, *CONSOLE_FILES])  # no __pycache__
    assert {"jinja2/__init__.py", "jinja2/sandbox.py", "markupsafe/__init__.py", "markupsafe/_native.py"} <= set(names)
    assert {"jinja2-3.1.6.dist-info/licenses/LICENSE.txt", "markupsafe-3.0.4.dist-info/licenses/LICENSE.txt"} <= set(
        names
    )
    assert not [n for n in names if n.endswith((".so", ".pyd", ".c", ".pyc"))]  # one zip for arm64 and the local cloud
    assert not [n for n in names if ".dist-info/" in n and "/licenses/" not in n]


def test_a_vendored_package_must_be_pinned_and_installed_at_its_pin(monkeypatch):
    monkeypatch.setattr(package, "pinned_versions", lambda: {"jinja2": "0.0.1"})
    with pytest.raises(ToolError, match="pins 0.0.1"):
        package.vendored_files("jinja2")
    monkeypatch.setattr(package, "pinned_versions", lambda: {})
    with pytest.raises(ToolError, match="not pinned"):
        package.vendored_files("jinja2")


def test_entries_carry_a_fixed_timestamp_permissions_and_compression(sources, tmp_path):
    build(sources, tmp_path / "dist")
    with zipfile.ZipFile(tmp_path / "dist" / "detect-fraud.zip") as archive:
        for info in archive.infolist():
            assert info.date_time == (1980, 1, 1, 0, 0, 0)
            assert info.external_attr >> 16 == 0o100644
            assert info.compress_type == zipfile.ZIP_STORED
        assert archive.read("detect_fraud.py") == (sources / "detect_fraud.py").read_bytes()


def test_a_changed_handler_changes_only_its_own_zip(sources, tmp_path):
    before = build(sources, tmp_path / "dist")
    (sources / "notify_team.py").write_text("def handler(event, context):\n    return 'changed'\n")
    after = build(sources, tmp_path / "dist")
    assert {key for key in FUNCTIONS if before[key] != after[key]} == {"notify-team"}


def test_a_changed_fraud_module_changes_every_zip_because_each_carries_the_package(sources, tmp_path):
    before = build(sources, tmp_path / "dist")
    (sources / "fraud" / "engine.py").write_text("def score(transaction):\n    return 100\n")
    after = build(sources, tmp_path / "dist")
    assert all(before[key] != after[key] for key in FUNCTIONS)


def test_a_changed_kit_changes_every_zip(sources, tmp_path):
    before = build(sources, tmp_path / "dist")
    (sources / KIT).write_text("logger = 'changed'\n")
    after = build(sources, tmp_path / "dist")
    assert all(before[key] != after[key] for key in FUNCTIONS)


def test_unchanged_zips_are_not_rewritten(sources, tmp_path):
    out = tmp_path / "dist"
    package.build(sources, out)
    os.utime(out / "detect-fraud.zip", (1_000_000_000, 1_000_000_000))
    artifacts = package.build(sources, out)
    assert not any(artifact.changed for artifact in artifacts)
    assert (out / "detect-fraud.zip").stat().st_mtime == 1_000_000_000


def test_prints_each_zip_size_and_hash_as_terraform_shows_it(sources, tmp_path, capsys):
    out = tmp_path / "dist"
    assert package.main(["--src", str(sources), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    for key in FUNCTIONS:
        content = (out / f"{key}.zip").read_bytes()
        line = next(line for line in printed.splitlines() if line.startswith(f"{key}.zip"))
        assert f"{len(content)} bytes" in line
        assert hashlib.sha256(content).hexdigest() in line
        assert base64.b64encode(hashlib.sha256(content).digest()).decode() in line


def test_a_missing_handler_fails_with_a_message_naming_it(sources, tmp_path, capsys):
    (sources / "analyze_patterns.py").unlink()
    assert package.main(["--src", str(sources), "--out", str(tmp_path / "dist")]) == 1
    error = capsys.readouterr().err
    assert "analyze_patterns.py" in error and "Traceback" not in error
    assert not (tmp_path / "dist").exists()


@pytest.mark.parametrize(
    "missing", ["fraud", "fraud/transaction.schema.json", "fraud/rules.default.json", "handler_kit.py"]
)
def test_a_missing_kit_fraud_package_or_data_file_fails_with_a_message(sources, tmp_path, capsys, missing):
    target = sources / missing
    if target.is_dir():
        for path in sorted(target.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        target.rmdir()
    else:
        target.unlink()
    assert package.main(["--src", str(sources), "--out", str(tmp_path / "dist")]) == 1
    assert Path(missing).name in capsys.readouterr().err
