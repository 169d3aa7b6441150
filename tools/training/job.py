"""The feature job: one row per exported transaction, the features the Lambda computes, the rules' verdict and
the transaction's label, written as a Parquet table.

    python -m tools.training.features --env dev              # the usual way (local mode, or --emr)
    spark-submit tools/training/job.py --export DIR --labels FILE --output DIR   # what EMR Serverless runs

Every user's transactions are replayed in the order the live path sees them (``fraud.history.Item.order_key``:
timestamp, received_at, transaction_id) through ``fraud.history.InMemoryHistoryStore``, and each one gets
``fraud.features.extract(item, history, spec)`` and ``fraud.engine.Engine(config).assess(item, history)``, exactly
as ``tools.detection.train`` and the backtest replay and as detect-fraud scores it (the same functions, imported,
not copied), with ``groupBy(group).applyInPandas``: a group is a bucket of whole users (a hash of the user id,
about ``bucket_rows`` transactions: the per-group cost of ``applyInPandas`` is tens of milliseconds, a small user's
replay far less) or one chunk of a large user.

Skew: a history only ever holds a user's newest ``history.max_items`` transactions (the rules document's cap, the
one detect-fraud's query uses), so a user with more than ``chunk_rows`` transactions is cut into chunks of
``chunk_rows`` in that order, each replayed after the ``max_items`` transactions before it (replayed for their
history only, not written). A chunk's features are then exactly those of one replay of the whole history, and no
group holds more than ``chunk_rows + max_items`` rows whatever one user does. The job reports its largest groups.

Imports: pyspark, pandas and ``fraud`` (``lambdas/fraud``) and ``tools.training.labels``/``layout`` (standard
library), so the zip ``tools.training.features`` builds for EMR Serverless carries everything it needs.
"""

from __future__ import annotations

import argparse
import gc
import glob
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from fraud.config import EngineConfig, load_config
from fraud.engine import Engine
from fraud.features import CATEGORICAL, FEATURE_NAMES, extract
from fraud.history import InMemoryHistoryStore, Item
from tools.training import labels as label_contract
from tools.training.layout import DATA_GLOB

CHUNK_ROWS = 100_000
BUCKET_ROWS = 20_000
LARGEST_GROUPS = 10
# The attributes of a stored transaction that fraud.history.Item reads, with their DynamoDB types (location is
# a map of lat/lon numbers). Numbers stay strings until Item converts them, as it converts the Decimals of a
# stream image: float("12.5") and float(Decimal("12.5")) are the same double.
ITEM_ATTRIBUTES = {
    "transaction_id": "S",
    "user_id": "S",
    "timestamp": "N",
    "received_at": "N",
    "amount": "N",
    "merchant_category": "S",
    "merchant_id": "S",
    "local_hour": "N",
    "utc_offset_minutes": "N",
    "country": "S",
    "device_id": "S",
}
OPTIONAL_ATTRIBUTES = tuple(name for name in ITEM_ATTRIBUTES if name not in ("transaction_id", "user_id", "timestamp"))
KEY_COLUMNS = ("transaction_id", "user_id", "timestamp", "received_at")
RULE_COLUMNS = ("rules_score", "rules_reasons")
LABEL_COLUMNS = {"label": "string", "label_source": "string", "label_at": "long"}


def feature_schema() -> str:
    """The Spark schema (DDL) of what the replay returns per transaction."""
    columns = ["transaction_id string", "user_id string", "timestamp long", "received_at long"]
    columns += [f"{name} {'string' if name in CATEGORICAL else 'double'}" for name in FEATURE_NAMES]
    columns += ["rules_score int", "rules_reasons string"]
    return ", ".join(columns)


# -- the replay (runs in the Python workers) -----------------------------------------------------------------

_ENGINES: dict[str | None, tuple[EngineConfig, Engine]] = {}


def _engine(document: str | None) -> tuple[EngineConfig, Engine]:
    """The configuration and rules-only engine of ``document``, built once per worker process."""
    found = _ENGINES.get(document)
    if found is None:
        config = load_config(document)
        found = _ENGINES[document] = (config, Engine(config))
    return found


def transactions_of(frame: Any) -> list[dict[str, Any]]:
    """The rows of a group as the transaction dicts ``Item`` reads (absent attributes left out, as in a stream
    image; location as {"lat", "lon"})."""
    columns = {name: frame[name].tolist() for name in (*ITEM_ATTRIBUTES, "lat", "lon")}
    optional = [(name, columns[name]) for name in OPTIONAL_ATTRIBUTES]
    lats, lons = columns["lat"], columns["lon"]
    out = []
    for i, (tid, uid, ts) in enumerate(
        zip(columns["transaction_id"], columns["user_id"], columns["timestamp"], strict=True)
    ):
        txn: dict[str, Any] = {"transaction_id": tid, "user_id": uid, "timestamp": ts}
        for name, values in optional:
            value = values[i]
            if value is not None:
                txn[name] = value
        if lats[i] is not None and lons[i] is not None:
            txn["location"] = {"lat": lats[i], "lon": lons[i]}
        out.append(txn)
    return out


def replay_rows(transactions: Sequence[dict[str, Any]], emit: Sequence[bool], document: str | None) -> list[tuple]:
    """A group's transactions (whole users, or one user's chunk after its context; any order) through a fresh
    history store in ``order_key`` order (each user's own history): for each one with ``emit``, its key columns,
    features in ``FEATURE_NAMES`` order and the rules' score and reason codes."""
    config, engine = _engine(document)
    spec = config.features
    store = InMemoryHistoryStore(config)
    history_for, remember, assess = store.history_for, store.record, engine.assess
    pairs = sorted(zip((Item(t) for t in transactions), emit, strict=True), key=lambda pair: pair[0].order_key())
    rows = []
    enabled = gc.isenabled()
    gc.disable()  # no reference cycles here: the collector would only re-scan a growing heap
    try:
        for item, keep in pairs:
            history = history_for(item)
            if keep:
                features = extract(item, history, spec)
                assessment = assess(item, history)
                rows.append(
                    (
                        item.transaction_id,
                        item.user_id,
                        item.ts,
                        item.arrival,
                        *features.values(),
                        assessment.score,
                        ",".join(assessment.codes),
                    )
                )
            remember(item)
    finally:
        if enabled:
            gc.enable()
    return rows


def _replay_group(document: str | None) -> Any:
    import pandas as pd

    columns = [*KEY_COLUMNS, *FEATURE_NAMES, *RULE_COLUMNS]

    def replay(frame: Any) -> Any:
        rows = replay_rows(transactions_of(frame), frame["emit"].tolist(), document)
        out = pd.DataFrame.from_records(rows, columns=columns)
        out["received_at"] = out["received_at"].astype("Int64")
        return out

    return replay


# -- the job (runs in the driver) ----------------------------------------------------------------------------


def export_schema() -> Any:
    from pyspark.sql.types import StringType, StructField, StructType

    def typed(kind: str) -> StructType:
        return StructType([StructField(kind, StringType())])

    number_map = StructType([StructField("lat", typed("N")), StructField("lon", typed("N"))])
    image = StructType(
        [StructField(name, typed(kind)) for name, kind in ITEM_ATTRIBUTES.items()]
        + [StructField("kind", typed("S")), StructField("location", StructType([StructField("M", number_map)]))]
    )
    # A full export holds {"Item": ...}; an incremental one {"Keys": ..., "NewImage": ...}.
    return StructType([StructField("Item", image), StructField("NewImage", image)])


def data_files(exports: Sequence[str]) -> list[str]:
    """The data files of the exports: listed here for local directories, a glob for object stores (s3://)."""
    paths: list[str] = []
    for export in exports:
        pattern = f"{export.rstrip('/')}/{DATA_GLOB}"
        if "://" in export and not export.startswith("file://"):
            paths.append(pattern)
            continue
        found = sorted(glob.glob(pattern.removeprefix("file://")))
        if not found:
            raise ValueError(f"{export}: no data files ({DATA_GLOB}): is it an export directory?")
        paths.extend(found)
    return paths


def read_transactions(spark: Any, exports: Sequence[str]) -> Any:
    """The transactions of the exports (full, then incremental ones), one row each, attributes as strings."""
    from pyspark.sql import functions as F

    paths = data_files(exports)
    raw = spark.read.schema(export_schema()).json(paths)

    def attribute(*path: str) -> Any:
        return F.coalesce(F.col(".".join(("Item", *path))), F.col(".".join(("NewImage", *path))))

    rows = raw.select(
        *(attribute(name, kind).alias(name) for name, kind in ITEM_ATTRIBUTES.items()),
        attribute("location", "M", "lat", "N").alias("lat"),
        attribute("location", "M", "lon", "N").alias("lon"),
        attribute("kind", "S").alias("kind"),
    ).where((F.col("kind") == "transaction") & F.col("transaction_id").isNotNull())
    rows = rows.drop("kind")
    if len(exports) > 1:  # an item in a full export and in a later incremental one: transactions never change
        rows = rows.dropDuplicates(["transaction_id"])
    return rows


def effective_labels(spark: Any, path: str) -> Any:
    """transaction_id, label, label_source, label_at: the label that counts per transaction
    (``tools.training.labels``: sources in ``SOURCES`` order, then the newest ``at``, then fraud, then ``by``)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    raw = spark.read.schema("transaction_id string, label string, source string, by string, at long").json(path)
    source_rank = F.lit(len(label_contract.SOURCES))
    for index, source in reversed(list(enumerate(label_contract.SOURCES))):
        source_rank = F.when(F.col("source") == source, F.lit(index)).otherwise(source_rank)
    label_rank = F.when(F.col("label") == label_contract.LABELS[0], 0).otherwise(1)
    order = Window.partitionBy("transaction_id").orderBy(source_rank, F.desc("at"), label_rank, F.col("by"))
    return (
        raw.where(F.col("label").isin(*label_contract.LABELS) & F.col("source").isin(*label_contract.SOURCES))
        .withColumn("_rank", F.row_number().over(order))
        .where(F.col("_rank") == 1)
        .select("transaction_id", "label", F.col("source").alias("label_source"), F.col("at").alias("label_at"))
    )


def bucket_of(buckets: int) -> Any:
    """The group of a user who is not cut into chunks: one of ``buckets``, by a hash of the user id."""
    from pyspark.sql import functions as F

    return F.concat(F.lit("b"), F.pmod(F.xxhash64("user_id"), F.lit(buckets)).cast("string"))


def grouped(transactions: Any, counts: Any, chunk_rows: int, max_items: int, chunked: bool, buckets: int) -> Any:
    """The rows with ``group`` and ``emit``. A user with at most ``chunk_rows`` transactions goes whole into one of
    ``buckets`` groups (a hash of the user id: many users per group, as the per-group cost of ``applyInPandas``
    dwarfs a small user's replay); a larger user's rows are numbered in order and cut into chunks of their own,
    each with the ``max_items`` rows before it as context (``emit`` false)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    whole = transactions.withColumn("group", bucket_of(buckets)).withColumn("emit", F.lit(True))
    if not chunked:
        return whole
    heavy = F.broadcast(counts.where(F.col("count") > chunk_rows).select("user_id", F.col("count").alias("_rows")))
    light = whole.join(heavy, "user_id", "left_anti")
    order = Window.partitionBy("user_id").orderBy(
        F.col("timestamp").cast("long"), F.coalesce(F.col("received_at").cast("long"), F.lit(0)), "transaction_id"
    )
    numbered = transactions.join(heavy, "user_id").withColumn("_n", F.row_number().over(order) - 1)
    chunk = F.floor(F.col("_n") / chunk_rows).cast("int")

    def group_of(number: Any) -> Any:
        return F.concat(F.lit("u"), F.col("user_id"), F.lit("#"), number.cast("string"))

    own = numbered.withColumn("group", group_of(chunk)).withColumn("emit", F.lit(True))
    # The last max_items rows of every chunk but the user's last are the context of the next one.
    last_chunk = F.floor((F.col("_rows") - 1) / chunk_rows).cast("int")
    context = (
        numbered.where((F.col("_n") % chunk_rows >= chunk_rows - max_items) & (chunk < last_chunk))
        .withColumn("group", group_of(chunk + 1))
        .withColumn("emit", F.lit(False))
    )
    return light.unionByName(own.drop("_n", "_rows")).unionByName(context.drop("_n", "_rows"))


def run_job(
    spark: Any,
    exports: Sequence[str],
    output: str,
    *,
    labels_path: str | None = None,
    rules_document: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    bucket_rows: int = BUCKET_ROWS,
    largest: int = LARGEST_GROUPS,
) -> dict[str, Any]:
    """Read ``exports``, compute the feature table and write it to ``output`` (Parquet, overwritten); returns
    what it did (rows, users, the largest groups, seconds)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    began = time.monotonic()
    config = load_config(rules_document)  # a bad document fails here, in the driver, with its reason
    max_items = config.history_max_items
    if chunk_rows < max_items:
        raise ValueError(f"chunk_rows ({chunk_rows}) must be at least history.max_items ({max_items})")
    transactions = read_transactions(spark, exports).persist(StorageLevel.MEMORY_AND_DISK)
    counts = transactions.groupBy("user_id").count().persist(StorageLevel.MEMORY_AND_DISK)
    totals = counts.agg(F.sum("count").alias("rows"), F.count("*").alias("users"), F.max("count").alias("most")).first()
    phases = {"read_and_count": round(time.monotonic() - began, 1)}
    rows, users, most = int(totals["rows"] or 0), int(totals["users"] or 0), int(totals["most"] or 0)
    if not rows:
        raise ValueError(f"no transactions in {', '.join(exports)}")
    top = counts.orderBy(F.desc("count"), "user_id").limit(largest).collect()
    chunked = most > chunk_rows
    buckets = max(-(-rows // bucket_rows), 2 * spark.sparkContext.defaultParallelism)
    groups = grouped(transactions, counts, chunk_rows, max_items, chunked, buckets)
    light = counts.where(F.col("count") <= chunk_rows).groupBy(bucket_of(buckets).alias("group"))
    largest_bucket = light.agg(F.sum("count").alias("rows")).agg(F.max("rows")).first()[0]
    table = groups.groupBy("group").applyInPandas(_replay_group(rules_document), feature_schema())
    if labels_path is not None:
        table = table.join(effective_labels(spark, labels_path), "transaction_id", "left")
    else:
        table = table.select("*", *(F.lit(None).cast(kind).alias(name) for name, kind in LABEL_COLUMNS.items()))
    phases["plan_groups"] = round(time.monotonic() - began - sum(phases.values()), 1)
    table.write.mode("overwrite").parquet(output)
    phases["features_and_write"] = round(time.monotonic() - began - sum(phases.values()), 1)
    transactions.unpersist()
    counts.unpersist()
    return {
        "exports": list(exports),
        "output": output,
        "rows": rows,
        "users": users,
        "chunk_rows": chunk_rows,
        "buckets": buckets,
        "largest_bucket_rows": int(largest_bucket or 0),
        "max_items": max_items,
        "chunked_users": sum(1 for row in top if row["count"] > chunk_rows) if chunked else 0,
        "largest_groups": [
            {
                "user_id": row["user_id"],
                "transactions": int(row["count"]),
                "chunks": -(-int(row["count"]) // chunk_rows),
            }
            for row in top
        ],
        "feature_spec": config.features.to_document(),
        "rules_version": config.version,
        "seconds": round(time.monotonic() - began, 1),
        "phases_seconds": phases,
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="job.py", description="The feature job (Spark): export -> feature table.")
    parser.add_argument("--export", action="append", required=True, help="an export directory (repeat: full first)")
    parser.add_argument("--labels", help="labels/labels.jsonl.gz of the newest export")
    parser.add_argument("--output", required=True, help="where the Parquet feature table goes (overwritten)")
    parser.add_argument("--rules", help="a rules document (its features and history sections; default: built in)")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """The entry point EMR Serverless starts (``entryPoint`` job.py with the zip as ``--py-files``)."""
    from pyspark.sql import SparkSession

    args = _parser().parse_args(argv)
    spark = SparkSession.builder.appName("fraud-training-features").getOrCreate()
    document = spark.sparkContext.wholeTextFiles(args.rules).first()[1] if args.rules else None
    summary = run_job(
        spark, args.export, args.output, labels_path=args.labels, rules_document=document, chunk_rows=args.chunk_rows
    )
    text = json.dumps(summary, sort_keys=True)
    spark.sparkContext.parallelize([text], 1).saveAsTextFile(f"{args.output}/_summary")
    print(text)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
