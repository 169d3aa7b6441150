"""The backtest's markdown report and its precision-recall curve (PNG, matplotlib's Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tools.detection.backtest import Result


def plot_pr_curve(result: Result, path: Path) -> None:
    """Precision against recall over every score threshold, the alert threshold marked."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    curve = result.histogram.pr_curve()
    figure, axes = plt.subplots(figsize=(6.4, 4.8), dpi=100)
    try:
        axes.plot([r for _, _, r in curve], [p for _, p, _ in curve], drawstyle="steps-post", label="score threshold")
        alert = result.at_alert
        axes.scatter(
            [alert.recall],
            [alert.precision],
            color="tab:red",
            zorder=3,
            label=f"alert band (score >= {result.alert_threshold:g})",
        )
        axes.set_xlabel("recall")
        axes.set_ylabel("precision")
        axes.set_xlim(0, 1.02)
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
        axes.set_title(f"Precision-recall: {result.source}", fontsize=10)
        axes.legend(loc="lower left")
        figure.tight_layout()
        figure.savefig(path, metadata={"Software": None})
    finally:
        plt.close(figure)


def _pct(value: float) -> str:
    return f"{100 * value:.1f} %"


def render_markdown(result: Result, png_name: str | None) -> str:
    counts = result.at_alert
    summary = result.summary()
    lines = [
        f"# Backtest: {result.source}",
        "",
        f"{counts.transactions:,} transactions ({counts.positives:,} fraud) replayed in time order through the "
        f"engine with the in-memory history store; configuration: {result.config_name}.",
        f"A transaction counts as flagged when its decision is `alert` (score >= {result.alert_threshold:g}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| precision | {counts.precision:.3f} |",
        f"| recall | {counts.recall:.3f} |",
        f"| F1 | {counts.f1:.3f} |",
        f"| false-positive rate | {100 * counts.false_positive_rate:.3f} % |",
        f"| recall at 1 % false-positive rate | {summary['recall_at_1pct_fpr']:.3f}"
        f" (score >= {summary['threshold_at_1pct_fpr']}) |",
        f"| review band (score >= {result.review_threshold:g}) | {result.reviewed:,} transactions |",
        "",
        "| | flagged | not flagged |",
        "|---|---|---|",
        f"| fraud | {counts.tp:,} (tp) | {counts.fn:,} (fn) |",
        f"| legitimate | {counts.fp:,} (fp) | {counts.tn:,} (tn) |",
        "",
    ]
    if png_name:
        lines += [f"![precision-recall curve]({png_name})", ""]
    lines += [
        "## Rules",
        "",
        "How often each rule fired, how many of those transactions were fraud (precision of the hits) and "
        "the share of all fraud it fired on.",
        "",
        "| rule | hits | fraud hits | precision | share of fraud |",
        "|---|---|---|---|---|",
    ]
    for code, row in result.per_rule().items():
        lines.append(
            f"| `{code}` | {row['hits']:,} | {row['fraud_hits']:,} | {row['precision']:.3f} "
            f"| {_pct(row['fraud_share'])} |"
        )
    scenarios = result.per_scenario()
    if scenarios:
        lines += [
            "",
            "## Scenarios",
            "",
            "Share of each scenario's transactions that were flagged (recall for fraud scenarios, the "
            "false-positive rate for `legit`).",
            "",
            "| scenario | transactions | flagged | share flagged |",
            "|---|---|---|---|",
        ]
        for name, row in scenarios.items():
            lines.append(f"| `{name}` | {row['transactions']:,} | {row['flagged']:,} | {_pct(row['flagged_share'])} |")
    speed = result.timing
    lines += [
        "",
        "## Throughput",
        "",
        f"Reading and parsing the file: {speed['parse_cpu_seconds']:.2f} s CPU; engine loop (history, rules, "
        f"record): {speed['engine_cpu_seconds']:.2f} s CPU = {speed['engine_tx_per_cpu_s']:,.0f} transactions per "
        f"CPU second; end to end {speed['end_to_end_tx_per_cpu_s']:,.0f} per CPU second (one core). Wall clock: "
        f"engine {speed['engine_tx_per_s']:,.0f}/s, end to end {speed['end_to_end_tx_per_s']:,.0f}/s.",
        "",
    ]
    return "\n".join(lines)


def write_report(result: Result, path: Path) -> Path:
    """Write the markdown report and, beside it, ``<stem>-pr.png``; returns the report's path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    png = path.with_name(f"{path.stem}-pr.png")
    plot_pr_curve(result, png)
    path.write_text(render_markdown(result, png.name), encoding="utf-8")
    return path
