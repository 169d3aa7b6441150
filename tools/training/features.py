"""``make features ENV=<suffix>``: the feature table of the environment's newest export, on Spark.

    python -m tools.training.features --env dev                     # local mode (local[2]) on build/dev/exports
    python -m tools.training.features --env dev --master 'local[*]' --chunk-rows 50000
    python -m tools.training.features --env dev --emr               # EMR Serverless (enable_training_emr)
    python -m tools.training.features --export build/x/exports/NAME --output build/x/features/NAME   # any export

Local mode reads the local copy ``make export`` keeps (``build/<suffix>/exports/``: the newest full export and the
incremental ones after it) and writes ``build/<suffix>/features/<export name>/`` (Parquet, ``summary.json``
beside it). Spark's console progress bar shows each stage. Needs Java 17 or 21 (``JAVA_HOME`` or ``java`` on
``PATH``); the workers run this virtualenv's Python (``PYSPARK_PYTHON``), which has pandas, pyarrow and ``fraud``.

With ``--emr`` the job runs on the environment's EMR Serverless application as its job role: the job code
(``tools/training/job.py`` and a zip of ``fraud/`` and the modules it imports) goes to ``s3://<exports
bucket>/jobs/<export name>/``, the job reads ``exports/<name>/`` and writes ``features/<name>/`` in the same
bucket, and this tool follows the run (state and time, every few seconds) until it ends; Ctrl-C cancels it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tools._cli import BUILD, LAMBDAS, ROOT, ToolError, progress, run, validate_suffix
from tools.training import layout

DEFAULT_MASTER = "local[2]"
JOB_MODULES = (
    "tools/__init__.py",
    "tools/training/__init__.py",
    "tools/training/labels.py",
    "tools/training/layout.py",
)
TERMINAL_STATES = ("SUCCESS", "FAILED", "CANCELLED")


# -- local mode ----------------------------------------------------------------------------------------------


def java_missing() -> str | None:
    """Why Spark cannot start here (no Java), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and Path(home, "bin", "java").exists():
        return None
    if shutil.which("java"):
        return None
    return "Java 17 or 21 is needed for Spark (install a JRE, e.g. openjdk-17-jre-headless, or set JAVA_HOME)"


def spark_session(master: str = DEFAULT_MASTER, *, shuffle_partitions: int = 8, driver_memory: str = "4g") -> Any:
    """A Spark session in local mode whose Python workers run this interpreter (``PYSPARK_PYTHON``)."""
    missing = java_missing()
    if missing:
        raise ToolError(missing)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(LAMBDAS), str(ROOT), os.environ.get("PYTHONPATH")]))
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master(master)
        .appName("fraud-training-features")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.driver.memory", driver_memory)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    return session


def local_chain(suffix: str, build: Path = BUILD) -> list[Path]:
    """The local exports a feature table reads (``layout.chain``), or a ToolError that says what to run."""
    root = layout.local_exports(build, suffix)
    names = [p.name for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
    chosen = layout.chain(names)
    if not chosen:
        raise ToolError(f"no full export under {root}: run `make export ENV={suffix}` first")
    return [root / name for name in chosen]


def run_local(
    exports: Sequence[Path],
    output: Path,
    *,
    rules_document: str | None = None,
    chunk_rows: int = 100_000,
    master: str = DEFAULT_MASTER,
    spark: Any = None,
) -> dict[str, Any]:
    """The feature job in local mode: ``output`` (Parquet) and ``output/../<name>.summary.json``."""
    from tools.training import job

    labels = exports[-1] / layout.LABELS_FILE
    if spark is None:
        from pyspark.sql import SparkSession

        spark = SparkSession.getActiveSession()  # a caller's session (a test's) is used and left running
        own = spark is None
    else:
        own = False
    session = spark_session(master) if own else spark
    try:
        summary = job.run_job(
            session,
            [str(path) for path in exports],
            str(output),
            labels_path=str(labels) if labels.is_file() else None,
            rules_document=rules_document,
            chunk_rows=chunk_rows,
        )
    except ValueError as error:
        raise ToolError(str(error)) from None
    finally:
        if own:
            session.stop()
    summary["master"] = master
    summary_path(output).write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return summary


def summary_path(output: Path) -> Path:
    return output.with_name(f"{output.name}.summary.json")


def report(summary: dict[str, Any]) -> str:
    lines = [
        f"feature table {summary['output']}: {summary['rows']:,} transactions of {summary['users']:,} users"
        f" in {summary['seconds']:.0f} s ({summary['rows'] / max(summary['seconds'], 1e-9):,.0f}/s)",
        f"{summary['buckets']:,} buckets of whole users (the largest {summary['largest_bucket_rows']:,} transactions);"
        f" a user over {summary['chunk_rows']:,} transactions is replayed in chunks, each after the"
        f" {summary['max_items']} before it. The largest users:",
    ]
    for group in summary["largest_groups"]:
        lines.append(
            f"  {group['user_id']:<32} {group['transactions']:>10,} transactions  {group['chunks']:>4} chunk(s)"
        )
    return "\n".join(lines)


# -- EMR Serverless ------------------------------------------------------------------------------------------


def job_zip() -> bytes:
    """``fraud/`` and the modules the job imports, with fixed times and modes (the same code, the same bytes)."""
    files = sorted((LAMBDAS / "fraud").rglob("*"))
    entries = [
        (f"fraud/{p.relative_to(LAMBDAS / 'fraud')}", p) for p in files if p.is_file() and "__pycache__" not in p.parts
    ]
    entries += [(name, ROOT / name) for name in JOB_MODULES]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def submit_emr(
    session: Any,
    outputs: dict[str, Any],
    name: str,
    *,
    rules_document: str | None = None,
    chunk_rows: int = 100_000,
    exports: Sequence[str] | None = None,
    spark_conf: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Upload the job code and start the feature job of export ``name`` on EMR Serverless; returns the run's ids
    and where it writes."""
    application = outputs.get("training_emr_application_id")
    role = outputs.get("training_job_role_arn")
    bucket = outputs.get("exports_bucket_name")
    if not application or not role:
        raise ToolError("the environment has no EMR Serverless application: deploy it with enable_training_emr = true")
    if not bucket:
        raise ToolError("the environment has no exports bucket output: deploy it with this version first")
    s3 = session.client("s3")
    base = f"s3://{bucket}"
    code = f"{layout.JOBS}/{name}"
    uploads = {f"{code}/job.py": (ROOT / "tools" / "training" / "job.py").read_bytes(), f"{code}/job.zip": job_zip()}
    if rules_document is not None:
        uploads[f"{code}/rules.json"] = rules_document.encode()
    for key, body in uploads.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms")
    names = exports or [name]
    arguments = [item for export in names for item in ("--export", f"{base}/{layout.EXPORTS}/{export}")]
    arguments += ["--labels", f"{base}/{layout.EXPORTS}/{names[-1]}/{layout.LABELS_FILE}"]
    arguments += ["--output", f"{base}/{layout.FEATURES}/{name}", "--chunk-rows", str(chunk_rows)]
    if rules_document is not None:
        arguments += ["--rules", f"{base}/{code}/rules.json"]
    conf = {"spark.submit.pyFiles": f"{base}/{code}/job.zip", **(spark_conf or {})}
    started = session.client("emr-serverless").start_job_run(
        applicationId=application,
        executionRoleArn=role,
        name=f"features-{name}",
        jobDriver={
            "sparkSubmit": {
                "entryPoint": f"{base}/{code}/job.py",
                "entryPointArguments": arguments,
                "sparkSubmitParameters": " ".join(f"--conf {k}={v}" for k, v in sorted(conf.items())),
            }
        },
    )
    return {
        "application_id": application,
        "job_run_id": started["jobRunId"],
        "output": f"{base}/{layout.FEATURES}/{name}",
    }


def follow_emr(
    session: Any,
    application_id: str,
    job_run_id: str,
    *,
    interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Poll the job run until it ends, one progress line per state change or every ``interval`` seconds; Ctrl-C
    cancels the run. Returns the final job run."""
    client = session.client("emr-serverless")
    began, last = clock(), None
    try:
        while True:
            job_run = client.get_job_run(applicationId=application_id, jobRunId=job_run_id)["jobRun"]
            state = job_run["state"]
            if state != last or state not in TERMINAL_STATES:
                detail = f": {job_run['stateDetails']}" if job_run.get("stateDetails") else ""
                progress(f"  job run {job_run_id}: {state}{detail} ({clock() - began:.0f} s)")
                last = state
            if state in TERMINAL_STATES:
                return job_run
            sleep(interval)
    except KeyboardInterrupt:
        client.cancel_job_run(applicationId=application_id, jobRunId=job_run_id)
        progress(f"  cancelled job run {job_run_id}")
        raise


# -- command line --------------------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.training.features",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", help="environment suffix: its exports (local copy, or the bucket with --emr)")
    parser.add_argument("--export", action="append", type=Path, help="an export directory (instead of --env; repeat)")
    parser.add_argument("--output", type=Path, help="the feature table's directory (default build/<env>/features/NAME)")
    parser.add_argument("--rules", type=Path, help="a rules document (its features and history sections)")
    parser.add_argument("--chunk-rows", type=int, default=100_000, help="largest group per user (default 100,000)")
    parser.add_argument("--master", default=DEFAULT_MASTER, help=f"Spark master in local mode ({DEFAULT_MASTER})")
    parser.add_argument("--emr", action="store_true", help="run on the environment's EMR Serverless application")
    parser.add_argument("--name", help="with --emr: the export's name (default: the newest of the local copy)")
    parser.add_argument(
        "--conf",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="with --emr: a Spark setting of the run (repeat), e.g. spark.archives=s3://.../venv.tar.gz#environment",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    document = None
    if args.rules:
        try:
            document = args.rules.read_text(encoding="utf-8")
        except OSError as error:
            raise ToolError(f"cannot read the rules document {args.rules}: {error.strerror}") from None
    if args.emr:
        if not args.env:
            raise ToolError("--emr needs --env (the environment's application, role and bucket)")
        from tools.deploy.tf import Stack
        from tools.training.export import aws_session, refuse_local

        suffix = validate_suffix(args.env)
        refuse_local(suffix)
        chain = [p.name for p in local_chain(suffix)] if not args.name else [args.name]
        conf = dict(item.split("=", 1) for item in args.conf if "=" in item)
        if len(conf) != len(args.conf):
            raise ToolError("--conf takes KEY=VALUE")
        session = aws_session()
        started = submit_emr(
            session,
            Stack(suffix).outputs(),
            chain[-1],
            rules_document=document,
            chunk_rows=args.chunk_rows,
            exports=chain,
            spark_conf=conf,
        )
        progress(f"started job run {started['job_run_id']} on {started['application_id']}: writes {started['output']}")
        final = follow_emr(session, started["application_id"], started["job_run_id"])
        print(json.dumps({**started, "state": final["state"]}, sort_keys=True))
        return 0 if final["state"] == "SUCCESS" else 1
    if args.export:
        exports, output = args.export, args.output
        if output is None:
            raise ToolError("--export needs --output")
    elif args.env:
        suffix = validate_suffix(args.env)
        exports = local_chain(suffix)
        output = args.output or layout.local_features(BUILD, suffix, exports[-1].name)
    else:
        raise ToolError("give --env SUFFIX (or --export DIR --output DIR)")
    progress(f"feature job in Spark {args.master} over {', '.join(str(p) for p in exports)}")
    summary = run_local(exports, output, rules_document=document, chunk_rows=args.chunk_rows, master=args.master)
    print(report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
