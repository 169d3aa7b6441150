"""The handlers must run on the Powertools layer Terraform attaches, not only on the newest release."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from aws_lambda_powertools.utilities import batch


class LayerBatchProcessor(batch.BatchProcessor):
    """BatchProcessor as the pinned layer (AWSLambdaPowertoolsPythonV3 version 27) defines it: no
    ``logger`` argument, which only newer releases accept."""

    def __init__(self, event_type: batch.EventType, model: Any = None, raise_on_entire_batch_failure: bool = True):
        super().__init__(event_type, model=model, raise_on_entire_batch_failure=raise_on_entire_batch_failure)


def test_notify_team_imports_with_the_layers_batch_processor():
    module = importlib.import_module("notify_team")
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(batch, "BatchProcessor", LayerBatchProcessor)
            reloaded = importlib.reload(module)  # a TypeError here: the function fails every invocation
        assert isinstance(reloaded.processor, LayerBatchProcessor)
    finally:
        importlib.reload(module)  # the module as the other tests know it (the function environment is set)


def test_detect_fraud_builds_the_layers_batch_processor():
    """detect-fraud builds its processor on the first stream batch (the Pipe route never needs one)."""
    module = importlib.import_module("detect_fraud")
    module.batch_processor.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(batch, "BatchProcessor", LayerBatchProcessor)
            assert isinstance(module.batch_processor(), LayerBatchProcessor)
    finally:
        module.batch_processor.cache_clear()
