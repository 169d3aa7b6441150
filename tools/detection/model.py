"""Ship a model artifact to a deployed environment, shadow it, promote it, roll it back: no redeploy.

    make model ENV=dev FILE=build/my-model.json               # validate, upload, make it the live model
    make model ENV=dev FILE=build/my-model.json SHADOW=1      # ... as the shadow model (scored, logged, never alerted)
    python -m tools.detection.model --env dev promote          # the shadow model becomes live
    python -m tools.detection.model --env dev rollback         # the live model before the current one
    python -m tools.detection.model --env dev show             # the pointer, the objects, recent changes
    python -m tools.detection.model --env dev drop-shadow      # stop shadow scoring
    python -m tools.detection.model check FILE                 # validate only, no AWS
    python -m tools.detection.model bench [FILE] [--data PATH]  # cost per transaction (benchmark, no AWS)
    python -m tools.detection.model diff A B                   # the first fields where two artifacts differ

Where: the Terraform outputs ``model_bucket_name`` and ``model_parameter_name`` of ``--env``, or
``--bucket`` and ``--parameter-name``. An artifact is validated exactly as detect-fraud will load it
(``fraud.model.load``: format, trees, calibration, thresholds, and features and a feature spec that
``fraud.features`` computes) before anything is sent; then it is uploaded as ``models/<version>.json``
with the bucket's KMS key (the bucket is versioned), read back and compared by sha256, and only then
does the pointer document in the parameter change::

    {"live": REF | null, "shadow": REF | null}
    REF = {"key": "models/<version>.json", "sha256": "<hex sha256 of the object>", "version": "<version id>"}

``rollback`` takes the previous live model from the parameter's own history (the newest earlier
pointer whose live model differs from the current one; a second rollback undoes the first) and
checks that its object is still there with the same sha256. detect-fraud reads the pointer and the
object through its cache and checks the hash; a pointer to a missing or corrupt object never drops a
transaction (it keeps the last good model or scores with the rules alone, and counts ModelFallback).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fraud import model as fraud_model
from fraud import model_store
from tools._cli import ROOT, ToolError, progress, reading, run

DEFAULT_MODEL = ROOT / "models" / "default.json"
HISTORY_SHOWN = 10


def read_artifact(path: str | Path) -> tuple[bytes, fraud_model.Model]:
    """The file's bytes and the model they load into, or a ToolError saying what is wrong."""
    with reading(path):
        data = Path(path).read_bytes()
    try:
        return data, fraud_model.load(data)
    except fraud_model.ModelError as error:
        raise ToolError(f"{path}: {error}; nothing was uploaded") from None


def reference(model: fraud_model.Model) -> dict[str, str]:
    return {"key": f"models/{model.version}.json", "sha256": model.sha256, "version": model.version}


def parse_pointer(text: str, where: str = "the model parameter") -> dict[str, Any]:
    """A pointer document as dicts, checked exactly as detect-fraud checks it (``fraud.model_store``)."""
    try:
        pointer = model_store.parse_pointer(text)
    except model_store.PointerError as error:
        raise ToolError(f"{where}: {error}") from None
    return {slot: None if ref is None else dataclasses.asdict(ref) for slot, ref in vars(pointer).items()}


def _aws_error(action: str, error: Exception) -> ToolError:
    response = getattr(error, "response", None)
    detail = response.get("Error", {}).get("Message") or response.get("Error", {}).get("Code") if response else None
    return ToolError(f"{action}: {detail or error}")


@dataclass
class ModelStore:
    """The environment's model bucket and pointer parameter."""

    bucket: str
    parameter: str
    s3: Any
    ssm: Any

    # -- the pointer ---------------------------------------------------------------------------

    def pointer(self) -> dict[str, Any]:
        try:
            value = self.ssm.get_parameter(Name=self.parameter)["Parameter"]["Value"]
        except Exception as error:  # botocore's ClientError and BotoCoreError
            if getattr(error, "response", {}).get("Error", {}).get("Code") == "ParameterNotFound":
                raise ToolError(
                    f"parameter {self.parameter} does not exist: deploy the environment first (make deploy)"
                ) from None
            raise _aws_error(f"could not read {self.parameter}", error) from None
        return parse_pointer(value, self.parameter)

    def set_pointer(self, pointer: dict[str, Any]) -> int:
        value = json.dumps(pointer, sort_keys=True, separators=(",", ":"))
        try:
            answer = self.ssm.put_parameter(
                Name=self.parameter, Value=value, Type="String", Overwrite=True, Tier="Intelligent-Tiering"
            )
        except Exception as error:
            raise _aws_error(f"could not put {self.parameter}", error) from None
        return answer["Version"]

    def history(self) -> list[tuple[int, str, dict[str, Any] | None]]:
        """(parameter version, modified date, pointer or None when unreadable), oldest first."""
        entries, token = [], None
        try:
            while True:
                page = self.ssm.get_parameter_history(
                    Name=self.parameter, **({"NextToken": token} if token else {}), MaxResults=50
                )
                for entry in page["Parameters"]:
                    try:
                        pointer = parse_pointer(entry["Value"])
                    except ToolError:
                        pointer = None
                    entries.append((entry["Version"], str(entry.get("LastModifiedDate", "")), pointer))
                token = page.get("NextToken")
                if not token:
                    break
        except Exception as error:
            raise _aws_error(f"could not read the history of {self.parameter}", error) from None
        return sorted(entries, key=lambda entry: entry[0])

    # -- the objects ---------------------------------------------------------------------------

    def kms_key(self) -> str:
        """The bucket's default KMS key: objects are put with it explicitly (``aws:kms`` without a key
        id would mean the AWS-managed key, not the environment's)."""
        try:
            rules = self.s3.get_bucket_encryption(Bucket=self.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        except Exception as error:
            code = getattr(error, "response", {}).get("Error", {}).get("Code")
            if code != "ServerSideEncryptionConfigurationNotFoundError":
                raise _aws_error(f"could not read the encryption of bucket {self.bucket}", error) from None
            rules = []
        for rule in rules:
            default = rule.get("ApplyServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") in ("aws:kms", "aws:kms:dsse") and default.get("KMSMasterKeyID"):
                return default["KMSMasterKeyID"]
        raise ToolError(f"bucket {self.bucket} has no default KMS key: it is not the environment's model bucket")

    def fetch(self, ref: dict[str, str]) -> bytes:
        """The object of ``ref``, checked against its sha256."""
        try:
            data = self.s3.get_object(Bucket=self.bucket, Key=ref["key"])["Body"].read()
        except Exception as error:
            raise _aws_error(f"could not read s3://{self.bucket}/{ref['key']}", error) from None
        digest = hashlib.sha256(data).hexdigest()
        if digest != ref["sha256"]:
            raise ToolError(f"s3://{self.bucket}/{ref['key']} has sha256 {digest}, the pointer says {ref['sha256']}")
        return data

    def upload(self, data: bytes, model: fraud_model.Model) -> dict[str, str]:
        ref = reference(model)
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=ref["key"],
                Body=data,
                ContentType="application/json",
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=self.kms_key(),
                Metadata={"sha256": model.sha256, "version": model.version},
            )
        except ToolError:
            raise
        except Exception as error:
            raise _aws_error(f"could not upload s3://{self.bucket}/{ref['key']}", error) from None
        self.fetch(ref)  # read back: the pointer never names an object that is not there intact
        return ref


# -- commands ------------------------------------------------------------------------------------


def push(store: ModelStore, path: str | Path, *, shadow: bool = False) -> dict[str, Any]:
    data, model = read_artifact(path)
    pointer = store.pointer()
    ref = store.upload(data, model)
    slot = "shadow" if shadow else "live"
    pointer = {**pointer, slot: ref}
    version = store.set_pointer(pointer)
    progress(f"{ref['key']} uploaded; {store.parameter} version {version}: {slot} = {model.version}")
    return pointer


def promote(store: ModelStore) -> dict[str, Any]:
    pointer = store.pointer()
    shadow = pointer["shadow"]
    if shadow is None:
        raise ToolError("there is no shadow model to promote")
    store.fetch(shadow)
    pointer = {"live": shadow, "shadow": None}
    version = store.set_pointer(pointer)
    progress(f"{store.parameter} version {version}: live = {shadow['version']} (was the shadow), no shadow")
    return pointer


def drop_shadow(store: ModelStore) -> dict[str, Any]:
    pointer = store.pointer()
    if pointer["shadow"] is None:
        raise ToolError("there is no shadow model")
    pointer = {**pointer, "shadow": None}
    version = store.set_pointer(pointer)
    progress(f"{store.parameter} version {version}: no shadow model")
    return pointer


def previous_live(history: list[tuple[int, str, dict[str, Any] | None]], current: Any) -> dict[str, str] | None:
    """The live model of the newest pointer in ``history`` (oldest first) whose live model is not
    ``current``; None when there is none."""
    for _, _, pointer in reversed(history):
        if pointer is not None and pointer["live"] is not None and pointer["live"] != current:
            return pointer["live"]
    return None


def rollback(store: ModelStore) -> dict[str, Any]:
    pointer = store.pointer()
    target = previous_live(store.history(), pointer["live"])
    if target is None:
        raise ToolError(f"{store.parameter} has no earlier live model in its history to roll back to")
    fraud_model.load(store.fetch(target))  # still there, intact, and loadable by this code
    pointer = {**pointer, "live": target}
    version = store.set_pointer(pointer)
    progress(f"{store.parameter} version {version}: live = {target['version']} (rolled back)")
    return pointer


def show(store: ModelStore) -> str:
    pointer = store.pointer()
    lines = [f"{store.parameter} (bucket {store.bucket}):"]
    for slot in ("live", "shadow"):
        ref = pointer[slot]
        if ref is None:
            lines.append(f"  {slot}: none")
            continue
        try:
            model = fraud_model.load(store.fetch(ref), ref["sha256"])
            state = (
                f"{len(model.trees)} trees, review >= {model.review_threshold:g}, alert >= {model.alert_threshold:g}"
            )
        except (ToolError, fraud_model.ModelError) as error:
            state = f"NOT USABLE: {error}"
        lines.append(f"  {slot}: {ref['version']} ({ref['key']}, sha256 {ref['sha256'][:12]}): {state}")
    lines.append("  recent changes (parameter version, date, live, shadow):")
    for version, date, entry in store.history()[-HISTORY_SHOWN:]:
        if entry is None:
            lines.append(f"    {version}  {date}  (not a pointer document)")
            continue
        live, shadow = (entry[slot]["version"] if entry[slot] else "-" for slot in ("live", "shadow"))
        lines.append(f"    {version}  {date}  {live}  {shadow}")
    return "\n".join(lines)


# -- benchmark -----------------------------------------------------------------------------------


def benchmark(
    path: str | Path = DEFAULT_MODEL, *, users: int = 500, days: float = 30, data: str | Path | None = None
) -> dict:
    """What the model costs, per CPU (``time.process_time``: one core), on simulated traffic.

    ``load_ms``: validating and compiling the artifact. Per transaction, in microseconds: ``vector``,
    ``raw_score`` (the trees), ``score`` (both plus the calibration), ``contributions`` (only computed for
    suspicious transactions). Throughput of the whole engine (history, features, rules and the model,
    then record) against the rules alone, measured in the same run, and their ratio. With ``data`` (a
    labeled file), the backtest's loop end to end with the model: reading and parsing the file, then
    the replay, in transactions per CPU second."""
    import time

    from fraud.config import load_config
    from fraud.engine import Engine
    from fraud.features import extract
    from fraud.history import InMemoryHistoryStore, Item
    from tools.detection.backtest import no_gc
    from tools.detection.simulate import generate

    raw_bytes = Path(path).read_bytes()
    began = time.process_time()
    model = fraud_model.load(raw_bytes)
    load_ms = (time.process_time() - began) * 1000
    config = load_config(None)
    items = []
    for txn in generate(users, days, seed=7):
        txn.pop("is_fraud")
        txn.pop("scenario")
        items.append(Item(txn))
    store = InMemoryHistoryStore(config)
    features = []
    for item in items:
        features.append(extract(item, store.history_for(item), model.feature_spec))
        store.record(item)
    vectors = [model.vector(f) for f in features]

    def per_row(function, inputs) -> float:
        began = time.process_time()
        for value in inputs:
            function(value)
        return round((time.process_time() - began) / len(inputs) * 1e6, 2)

    def replay(engine: Engine, records) -> float:
        store = InMemoryHistoryStore(config)
        history_for, remember, assess = store.history_for, store.record, engine.assess
        with no_gc():
            began = time.process_time()
            for item in records:
                assess(item, history_for(item))
                remember(item)
            return time.process_time() - began

    result: dict[str, Any] = {
        "model": model.version,
        "trees": len(model.trees),
        "transactions": len(items),
        "load_ms": round(load_ms, 1),
        "vector_us": per_row(model.vector, features),
        "raw_score_us": per_row(model.raw_score, vectors),
        "score_us": per_row(model.score, features),
        "contributions_us": per_row(model.contributions, features[:2000]),
    }
    rules_cpu = replay(Engine(config), items)
    model_cpu = replay(Engine(config, model), items)
    result["engine_rules_tx_per_cpu_s"] = round(len(items) / rules_cpu)
    result["engine_model_tx_per_cpu_s"] = round(len(items) / model_cpu)
    result["engine_model_cost_ratio"] = round(model_cpu / rules_cpu, 3)
    if data is not None:
        from tools.detection import readers

        began = time.process_time()
        with no_gc():
            records = [item for item, _, _ in readers.read_items(data)]
        parse_cpu = time.process_time() - began
        loop_cpu = replay(Engine(config, model), records)
        result["backtest_transactions"] = len(records)
        result["backtest_end_to_end_tx_per_cpu_s"] = round(len(records) / (parse_cpu + loop_cpu))
        result["backtest_engine_tx_per_cpu_s"] = round(len(records) / loop_cpu)
    return result


def differences(expected: Any, actual: Any, limit: int = 5, path: str = "$") -> list[str]:
    """The first ``limit`` places where two parsed JSON documents differ, as ``path: expected -> actual`` lines
    (values shortened), in document order; [] when they are equal. Cheap however large the documents."""
    found: list[str] = []

    def short(value: Any) -> str:
        text = json.dumps(value, sort_keys=True)
        return text if len(text) <= 80 else text[:77] + "..."

    def walk(a: Any, b: Any, where: str) -> None:
        if len(found) >= limit or a == b:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(a.keys() | b.keys()):
                if key not in b:
                    found.append(f"{where}.{key}: {short(a[key])} -> (missing)")
                elif key not in a:
                    found.append(f"{where}.{key}: (missing) -> {short(b[key])}")
                else:
                    walk(a[key], b[key], f"{where}.{key}")
                if len(found) >= limit:
                    return
        elif isinstance(a, list) and isinstance(b, list):
            for i, (x, y) in enumerate(zip(a, b, strict=False)):
                walk(x, y, f"{where}[{i}]")
                if len(found) >= limit:
                    return
            if len(a) != len(b) and len(found) < limit:
                found.append(f"{where}: {len(a)} entries -> {len(b)} entries")
        else:
            found.append(f"{where}: {short(a)} -> {short(b)}")

    walk(expected, actual, path)
    return found


def same_artifact(expected: bytes, actual: bytes, limit: int = 5) -> str | None:
    """None when two artifacts have the same bytes, else a short message: both digests and the first
    ``limit`` differing fields (never a diff of the whole text)."""
    if expected == actual:
        return None
    lines = [
        f"the artifacts differ: sha256 {hashlib.sha256(expected).hexdigest()[:16]} ({len(expected):,} bytes) -> "
        f"{hashlib.sha256(actual).hexdigest()[:16]} ({len(actual):,} bytes)"
    ]
    try:
        found = differences(json.loads(expected), json.loads(actual), limit)
    except ValueError as error:
        return f"{lines[0]}; not both JSON ({error})"
    lines += found or ["(the same JSON, written differently: key order, spacing or number format)"]
    return "\n  ".join(lines)


def store_for(args: argparse.Namespace) -> ModelStore:
    bucket, parameter = args.bucket, args.parameter_name
    if args.env:
        from tools.deploy.tf import Stack  # needs terraform; only the --env path pays for it

        outputs = Stack(args.env).outputs()
        bucket = bucket or outputs.get("model_bucket_name")
        parameter = parameter or outputs.get("model_parameter_name")
    if not bucket or not parameter:
        raise ToolError(
            "say where the models go: --env SUFFIX (its outputs model_bucket_name and model_parameter_name) "
            "or --bucket NAME --parameter-name NAME"
        )
    import boto3

    return ModelStore(bucket, parameter, boto3.client("s3"), boto3.client("ssm"))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.detection.model",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--env", help="environment suffix (its Terraform outputs name the bucket and parameter)")
    parser.add_argument("--bucket", help="the model bucket (instead of --env)")
    parser.add_argument("--parameter-name", help="the model pointer parameter (instead of --env)")
    commands = parser.add_subparsers(dest="command", required=True)
    push_command = commands.add_parser("push", help="validate and upload an artifact, and point live (or shadow) at it")
    push_command.add_argument("file", help="the model artifact (JSON, from tools.detection.train)")
    push_command.add_argument("--shadow", action="store_true", help="set it as the shadow model, not live")
    check = commands.add_parser("check", help="validate an artifact as detect-fraud would, and stop")
    check.add_argument("file")
    commands.add_parser("promote", help="the shadow model becomes live")
    commands.add_parser("rollback", help="the previous live model becomes live again")
    commands.add_parser("drop-shadow", help="stop shadow scoring")
    commands.add_parser("show", help="the pointer, its objects and the recent changes")
    bench = commands.add_parser("bench", help="what scoring with an artifact costs per transaction (no AWS)")
    bench.add_argument("file", nargs="?", default=str(DEFAULT_MODEL), help="the artifact (default models/default.json)")
    bench.add_argument("--data", help="also time the backtest loop end to end with the model on this labeled file")
    diff = commands.add_parser("diff", help="the first fields where two artifacts differ (status 1 if they do)")
    diff.add_argument("expected", help="an artifact, e.g. models/default.json")
    diff.add_argument("actual", help="the artifact to compare with it")
    diff.add_argument("--limit", type=int, default=10, help="differences to show (default 10)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        _, model = read_artifact(args.file)
        print(
            f"{args.file}: valid model {model.version} ({len(model.trees)} trees, {len(model.feature_names)} features, "
            f"review >= {model.review_threshold:g}, alert >= {model.alert_threshold:g})"
        )
        return 0
    if args.command == "bench":
        print(json.dumps(benchmark(args.file, data=args.data), indent=2))
        return 0
    if args.command == "diff":
        contents = []
        for path in (args.expected, args.actual):
            with reading(path):
                contents.append(Path(path).read_bytes())
        message = same_artifact(contents[0], contents[1], args.limit)
        print(message or f"{args.expected} and {args.actual} are the same bytes")
        return 0 if message is None else 1
    if args.command == "push":
        read_artifact(args.file)  # validate before touching anything (or asking Terraform for outputs)
    store = store_for(args)
    if args.command == "show":
        print(show(store))
        return 0
    pointer = {
        "push": lambda: push(store, args.file, shadow=args.shadow),
        "promote": lambda: promote(store),
        "rollback": lambda: rollback(store),
        "drop-shadow": lambda: drop_shadow(store),
    }[args.command]()
    progress("detect-fraud picks the change up within its model cache time")
    print(json.dumps(pointer, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(run(main, None))
