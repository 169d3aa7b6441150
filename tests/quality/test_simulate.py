"""The traffic simulator: reproducible, labeled, every scenario present, valid for the API, postable."""

from __future__ import annotations

import io
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from fraud.history import Item
from fraud.validation import ValidationFailed, validate_transaction
from tools.detection import simulate

SMALL = {"n_users": 60, "days": 20, "fraud_rate": 0.02}


def _jsonl(**kwargs) -> str:
    out = io.StringIO()
    simulate.write_jsonl(simulate.generate(**kwargs), out)
    return out.getvalue()


def test_same_seed_gives_the_same_bytes_and_another_seed_other_traffic():
    first = _jsonl(seed=11, **SMALL)
    assert first == _jsonl(seed=11, **SMALL)
    assert first != _jsonl(seed=12, **SMALL)


def test_cli_file_output_is_reproducible(tmp_path):
    paths = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    for path in paths:
        assert simulate.main(["--users", "30", "--days", "10", "--seed", "5", "--output", str(path)]) == 0
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_text().count("\n") > 100


def test_every_scenario_appears_and_is_labeled():
    transactions = list(simulate.generate(seed=3, **SMALL))
    by_scenario = Counter(txn["scenario"] for txn in transactions)
    assert set(by_scenario) == {"legit", *simulate.SCENARIOS}
    assert all(txn["is_fraud"] == (txn["scenario"] != "legit") for txn in transactions)
    fraud_share = sum(txn["is_fraud"] for txn in transactions) / len(transactions)
    assert 0.005 < fraud_share < 0.06


def test_stream_is_in_time_order_with_unique_ids_inside_the_period():
    start = simulate.parse_start("2025-03-01")
    transactions = list(simulate.generate(seed=1, start_ms=start, **SMALL))
    stamps = [txn["timestamp"] for txn in transactions]
    assert stamps == sorted(stamps)
    assert start <= stamps[0] and stamps[-1] < start + 20 * simulate.DAY_MS
    assert len({txn["transaction_id"] for txn in transactions}) == len(transactions)


def test_scenarios_carry_their_signature():
    transactions = list(simulate.generate(seed=8, **SMALL))
    testing = [txn for txn in transactions if txn["scenario"] == "card_testing"]
    assert testing and all(txn["amount"] < 5 for txn in testing)
    takeover = [txn for txn in transactions if txn["scenario"] == "account_takeover"]
    homes = {txn["user_id"]: txn["country"] for txn in transactions if txn["scenario"] == "legit"}
    assert takeover and all(txn["country"] != homes[txn["user_id"]] for txn in takeover)
    spree = [txn for txn in transactions if txn["scenario"] == "stolen_card_spree"]
    assert spree and all(txn["local_hour"] < 6 or txn["local_hour"] >= 22 for txn in spree[:1])


def test_every_api_body_passes_the_api_validation():
    for txn in simulate.generate(seed=2, **SMALL):
        body = json.dumps(simulate.api_body(txn))
        try:
            validate_transaction(body, now_ms=txn["timestamp"])
        except ValidationFailed as error:  # pragma: no cover - the assertion message is the point
            pytest.fail(f"{txn['transaction_id']}: {error}")


def test_posted_transactions_carry_the_cardholders_offset_so_the_engine_sees_the_local_hour():
    offsets: dict = {}
    for txn in simulate.generate(seed=3, **SMALL):
        body = simulate.api_body(txn)
        assert "local_hour" not in body and "utc_offset_minutes" in body
        assert offsets.setdefault(txn["user_id"], body["utc_offset_minutes"]) == body["utc_offset_minutes"]
        assert Item(body).hour == txn["local_hour"]  # what the deployed engine scores
    assert len(set(offsets.values())) > 1


def test_posting_ends_now_so_no_timestamp_is_in_the_future():
    end = 1_800_000_000_000
    transactions = list(simulate.generate(seed=4, end_ms=end, **SMALL))
    assert max(txn["timestamp"] for txn in transactions) < end


def test_csv_output_has_the_header_and_one_row_per_transaction():
    out = io.StringIO()
    count = simulate.write_csv(simulate.generate(seed=6, n_users=5, days=3), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split(",") == list(simulate.CSV_COLUMNS)
    assert len(lines) == count + 1


class _Api(BaseHTTPRequestHandler):
    """201 for an amount under 100, 400 otherwise; records what it received."""

    received: list = []

    def do_POST(self):  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append((self.headers.get("x-api-key"), body))
        status = 201 if body["amount"] < 100 else 400
        payload = json.dumps({"status": status}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def local_api():
    _Api.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/transactions"
    server.shutdown()
    server.server_close()


def test_post_sends_api_bodies_with_the_key_and_summarises_by_status(local_api):
    transactions = list(simulate.generate(seed=9, n_users=10, days=2, fraud_rate=0))
    summary = simulate.post(transactions, local_api, "secret", rate=1000, show_progress=False)
    small = sum(txn["amount"] < 100 for txn in transactions)
    assert 0 < small < len(transactions) == summary.sent
    assert (summary.accepted, summary.rejected, summary.failed) == (small, len(transactions) - small, 0)
    assert summary.by_status[201] == small
    keys = {key for key, _ in _Api.received}
    assert keys == {"secret"}
    assert not any(set(simulate.LABELS) & set(body) for _, body in _Api.received)


def test_post_counts_an_unreachable_api_as_failed():
    transactions = list(simulate.generate(seed=9, n_users=2, days=1, fraud_rate=0))[:2]
    summary = simulate.post(
        transactions, "http://127.0.0.1:9/transactions", None, rate=1000, timeout=2, show_progress=False
    )
    assert summary.failed == 2 and summary.by_status["error"] == 2
