"""Shared inputs of the detection-quality tests: the labeled data in ../shared/data and small slices."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA, require

SPARKOV = SHARED_DATA / "sparkov_train_150cards.csv.gz"
KAGGLE_HEAD = SHARED_DATA / "kaggle_fraudTest_head2145.csv"


@pytest.fixture(scope="session")
def sparkov_file() -> Path:
    require(SPARKOV.is_file(), f"{SPARKOV} is missing (the shared labeled data sits beside the checkout)")
    return SPARKOV


@pytest.fixture(scope="session")
def kaggle_file() -> Path:
    require(KAGGLE_HEAD.is_file(), f"{KAGGLE_HEAD} is missing (the shared labeled data sits beside the checkout)")
    return KAGGLE_HEAD


@pytest.fixture(scope="session")
def sparkov_slice(sparkov_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The header and the first 5,000 rows of the Sparkov file, gzip-compressed like the original."""
    path = tmp_path_factory.mktemp("data") / "sparkov_slice.csv.gz"
    with (
        gzip.open(sparkov_file, "rt", encoding="utf-8", newline="") as source,
        gzip.open(path, "wt", encoding="utf-8", newline="") as target,
    ):
        target.writelines(itertools.islice(source, 5001))
    return path
