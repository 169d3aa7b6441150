"""Build every Lambda deployment zip (lambdas/functions.json), byte for byte reproducibly.

Each ``build/dist/<key>.zip`` holds the function's handler module and ``handler_kit.py`` (the glue every
handler shares) at the root, and the shared ``fraud/`` package (docs/contracts.md); a function's catalog entry
may add directories of ``lambdas/`` (``files``, e.g. the console's templates) and third-party packages the
Lambda runtime lacks (``vendor``: the pure-Python files of the installed distribution, of exactly the version
pinned in pyproject.toml's ``lambda`` extra, with its licence; compiled speedups are left out, so one zip runs on
arm64 and in the local cloud alike). Entries are sorted
and carry a fixed timestamp (1980-01-01), fixed permissions (0644) and fixed compression, so identical
sources give identical bytes and Terraform's
``filebase64sha256`` changes only when a source really changed (entries are stored uncompressed, so
the bytes do not depend on the machine's zlib either). A zip is rewritten only when its bytes
differ from the file on disk, so its mtime also tracks real changes.

    python -m tools.deploy.package [--src lambdas] [--out build/dist]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools._cli import DIST, PYPROJECT, ROOT, ToolError, function_catalog, function_modules, run

# Function key (Terraform map key and zip name) -> handler module, from lambdas/functions.json.
FUNCTIONS = function_modules()
VENDORED_FILES = (".py", "py.typed")  # what a vendored package contributes (no compiled extension, no C source)
PACKAGE = "fraud"
KIT = "handler_kit.py"  # zipped beside every handler module
# Files the handlers load at runtime; a zip without them would deploy and then fail on first invoke.
REQUIRED_PACKAGE_FILES = ("__init__.py", "transaction.schema.json", "rules.default.json")

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip entry can carry
FILE_MODE = 0o100644  # regular file, rw-r--r--
# Stored, not deflated: deflate output depends on the zlib build (zlib, zlib-ng, Apple's), so a laptop
# and CI could disagree on the bytes and redeploy unchanged code. The zips stay around 100 KB.
COMPRESSION = zipfile.ZIP_STORED
SKIPPED_DIRS = {"__pycache__"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}


@dataclass(frozen=True)
class Artifact:
    key: str
    path: Path
    size: int
    sha256: str
    changed: bool

    @property
    def base64_sha256(self) -> str:
        """The hash as Terraform's ``filebase64sha256`` (and Lambda's ``source_code_hash``) shows it."""
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()


def package_files(src: Path) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every file of the shared package, sorted by archive name."""
    package_dir = src / PACKAGE
    if not package_dir.is_dir():
        raise ToolError(f"the shared package {package_dir} is missing: every function zip needs it")
    missing = [name for name in REQUIRED_PACKAGE_FILES if not (package_dir / name).is_file()]
    if missing:
        raise ToolError(f"{package_dir} is missing {', '.join(missing)}")
    files = []
    for dirpath, dirnames, filenames in os.walk(package_dir):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")]
        for name in filenames:
            path = Path(dirpath) / name
            if name.startswith(".") or path.suffix in SKIPPED_SUFFIXES:
                continue
            files.append((path.relative_to(src).as_posix(), path))
    return sorted(files)


def directory_files(src: Path, name: str) -> list[tuple[str, Path]]:
    """``(archive name, path)`` of every file under ``lambdas/<name>/`` (a function's ``files``)."""
    root = src / name
    if not root.is_dir():
        raise ToolError(f"{root} is missing: lambdas/functions.json lists it in a function's files")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS and not d.startswith(".")]
        for file in filenames:
            path = Path(dirpath) / file
            if not file.startswith(".") and path.suffix not in SKIPPED_SUFFIXES:
                found.append((path.relative_to(src).as_posix(), path))
    return sorted(found)


def pinned_versions(pyproject: Path = PYPROJECT) -> dict[str, str]:
    """``name -> version`` of every ``name==version`` pin of the ``lambda`` extra (lower-case names)."""
    import re
    import tomllib

    extras = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    pins = {}
    for requirement in extras.get("lambda", []):
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?==([0-9][0-9A-Za-z.]*)", requirement.strip())
        if match:
            pins[match.group(1).lower()] = match.group(3)
    return pins


def vendored_files(distribution: str) -> list[tuple[str, Path]]:
    """The pure-Python files and the licence of an installed distribution, checked against its pin."""
    from importlib import metadata

    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        raise ToolError(
            f"{distribution} is not installed: run `make venv` (it is vendored into a function zip)"
        ) from None
    pin = pinned_versions().get(distribution.lower())
    if pin is None:
        raise ToolError(
            f"{distribution} is vendored into a function zip but not pinned (==) in pyproject's lambda extra"
        )
    if dist.version != pin:
        raise ToolError(f"{distribution} {dist.version} is installed, the lambda extra pins {pin}: run `make venv`")
    found = []
    for file in dist.files or []:
        name = str(file)
        licence = ".dist-info/licenses/" in name or name.endswith((".dist-info/LICENSE", ".dist-info/LICENSE.txt"))
        if "__pycache__" in name or not (licence or (name.endswith(VENDORED_FILES) and ".dist-info/" not in name)):
            continue
        found.append((name, Path(str(dist.locate_file(file)))))
    if not any(name.endswith(".py") for name, _ in found):
        raise ToolError(f"{distribution} has no Python files to vendor")
    return sorted(found)


def extras(src: Path, key: str) -> list[tuple[str, Path]]:
    """What a function's catalog entry adds to its zip: its ``files`` directories and ``vendor`` packages."""
    spec = function_catalog()[key]
    added = [entry for name in spec.get("files", []) for entry in directory_files(src, name)]
    added += [entry for name in spec.get("vendor", []) for entry in vendored_files(name)]
    return added


def zip_bytes(entries: Sequence[tuple[str, Path]]) -> bytes:
    """A zip of ``entries`` whose bytes depend only on the names and contents given."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.create_system = 3  # Unix, so external_attr carries the permissions on every OS
            info.external_attr = FILE_MODE << 16
            info.compress_type = COMPRESSION
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def write_if_changed(path: Path, content: bytes) -> bool:
    """Write ``content`` atomically unless ``path`` already holds exactly it; True when written."""
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_bytes(content)
    os.replace(partial, path)
    return True


def build(src: Path, out: Path) -> list[Artifact]:
    """Build every function's zip from the sources in ``src`` into ``out``."""
    missing = [f"{module}.py" for module in FUNCTIONS.values() if not (src / f"{module}.py").is_file()]
    if missing:
        raise ToolError(f"handler module(s) missing in {src}: {', '.join(missing)}")
    if not (src / KIT).is_file():
        raise ToolError(f"{src / KIT} is missing: every handler imports it")
    shared = [(KIT, src / KIT), *package_files(src)]
    artifacts = []
    for key, module in FUNCTIONS.items():
        handler = (f"{module}.py", src / f"{module}.py")
        content = zip_bytes([handler, *shared, *extras(src, key)])
        path = out / f"{key}.zip"
        changed = write_if_changed(path, content)
        artifacts.append(Artifact(key, path, len(content), hashlib.sha256(content).hexdigest(), changed))
    return artifacts


def _main(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy.package", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--src", type=Path, default=ROOT / "lambdas", help="handler modules and fraud/ (default: lambdas)"
    )
    parser.add_argument("--out", type=Path, default=DIST, help="where the zips go (default: build/dist)")
    args = parser.parse_args(argv)
    artifacts = build(args.src.resolve(), args.out.resolve())
    for artifact in artifacts:
        state = "written" if artifact.changed else "unchanged"
        print(
            f"{artifact.key + '.zip':<26} {artifact.size:>8} bytes  {state:<9}  "
            f"sha256 {artifact.sha256}  base64 {artifact.base64_sha256}"
        )
    print(f"{len(artifacts)} zips in {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run(_main, argv)


if __name__ == "__main__":
    raise SystemExit(main())
