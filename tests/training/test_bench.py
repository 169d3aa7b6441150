"""The pieces of the training benchmark that decide its numbers: the generated export (deterministic, the size
asked for), the process-tree monitor (CPU and memory of a child and its children), the projection's arithmetic.
The 5-million run itself is `python -m tools.bench training`, never in CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tools.training import bench, labels, layout


def test_the_generated_history_has_the_size_asked_for_and_the_same_bytes_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = bench.generate(12_000, tmp_path / "a")
    second = bench.generate(12_000, tmp_path / "b")
    assert first["transactions"] == second["transactions"] == 12_000
    files = [sorted(Path(g["export"]).glob(layout.DATA_GLOB)) for g in (first, second)]
    assert [p.read_bytes() for p in files[0]] == [p.read_bytes() for p in files[1]]
    chargebacks = labels.read_file(Path(first["export"]) / layout.LABELS_FILE)
    assert len(chargebacks) == first["fraud"] > 0 and {c["source"] for c in chargebacks} == {"chargeback"}
    assert bench.generate(12_000, tmp_path / "a") == first  # kept: generated once


def test_the_monitor_counts_the_cpu_and_memory_of_a_child_and_its_children() -> None:
    burn = "import subprocess, sys; subprocess.run([sys.executable, '-c', 'sum(i*i for i in range(12_000_000))'])"
    process = subprocess.Popen([sys.executable, "-c", burn])
    with bench.TreeMonitor(process.pid, interval=0.05) as monitor:
        process.wait()
    assert len(monitor.cpu) >= 2  # the child and its own child were seen
    assert monitor.cpu_seconds > 0 and monitor.peak_rss > 1_000_000


def test_the_projection_scales_the_measured_rate_to_a_year_at_the_prices() -> None:
    result = bench.projection(rate_per_cpu_s=10_000, per_day=5_000_000)
    vcpu_hours = 5_000_000 * 365 / 10_000 / 3600 * bench.OVERHEAD
    assert result["vcpu_hours"] == round(vcpu_hours)
    expected = vcpu_hours * bench.PRICES["vcpu_hour"] + vcpu_hours * 4 * bench.PRICES["gb_hour"]
    assert result["cost_usd"] == round(expected, 2)
