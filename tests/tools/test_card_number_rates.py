"""The card-number detector's measurement (python -m tools.detection.card_number_rates)."""

from __future__ import annotations

import json
import random
import re

import pytest

from fraud.card_numbers import MIN_DIGITS, NETWORKS, issued, luhn_valid, prefix_range
from tools.detection import card_number_rates as rates

VISA = next(network for network in NETWORKS if network.name == "Visa")


@pytest.mark.parametrize("network", NETWORKS, ids=lambda network: network.name)
def test_generated_card_numbers_are_the_networks_own(network):
    rng = random.Random(1)
    for _ in range(200):
        number = rates.card_number(network, rng)
        assert number.isdigit() and luhn_valid(number) and issued(number)
        assert len(number) in network.lengths and len(number) >= MIN_DIGITS
        assert any(
            low <= int(number[: len(prefix.partition("-")[0])]) <= high
            for prefix in network.prefixes
            for low, high in [prefix_range(prefix)]
        )


def test_numbers_are_written_as_cards_show_them():
    assert rates.grouped("378282246310005") == ["3782", "822463", "10005"]
    assert rates.grouped("30569309025904") == ["3056", "930902", "5904"]
    assert rates.grouped("4000000000000000006") == ["4000", "0000", "0000", "0000", "006"]


def test_generated_identifiers_have_their_formats():
    rng = random.Random(2)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", rates.ulid(rng))
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", rates.uuid4(rng))
    assert re.fullmatch(r"1-[0-9a-f]{8}-[0-9a-f]{24}", rates.trace_id(rng))
    assert re.fullmatch(r"[a-z]+_[0-9A-Za-z]{14}|[a-z]+_[0-9A-Za-z]{24}", rates.prefixed_id(rng))


def test_the_same_seed_gives_the_same_strings_and_rates():
    kinds = rates.IDENTIFIERS[:3] + rates.CARD_NUMBERS[:3]
    first = [kind.generate(random.Random(f"7:{kind.name}")) for kind in kinds]
    assert first == [kind.generate(random.Random(f"7:{kind.name}")) for kind in kinds]
    assert rates.measure(kinds, 50, 7, cards=False) == rates.measure(kinds, 50, 7, cards=False)


def test_rates_count_what_the_detector_gets_wrong():
    [identifiers] = rates.measure([rates.Kind("UUID v4", rates.uuid4)], 200, 7, cards=False)
    [cards] = rates.measure([rates.Kind("Visa", rates.forms_of(VISA))], 200, 7, cards=True)
    [shapes] = rates.measure([rates.Kind("all Visa", lambda rng: rates.card_number(VISA, rng))], 50, 7, cards=False)
    assert identifiers["wrong"] == 0 and cards["wrong"] == 0
    assert shapes["wrong"] == 50 and shapes["rate"] == 1.0  # flagged: every one of them is card-shaped
    assert 0 < identifiers["upper_95"] < 0.02


def test_the_report_lists_every_kind_and_prints_no_card_number(capsys):
    assert rates.main(["--n", "20", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    kinds = [kind.name for kinds, _, _ in rates.SECTIONS.values() for kind in kinds]
    assert all(name in out for name in kinds)
    assert not re.search(r"\d{13}", out)
    assert rates.main(["--n", "5", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == set(rates.SECTIONS) and all(row["n"] == 5 for rows in result.values() for row in rows)


def test_a_bad_count_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        rates.main(["--n", "0"])
    assert "--n must be at least 1" in capsys.readouterr().err
