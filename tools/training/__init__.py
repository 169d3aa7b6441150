"""Training at scale: export the environment's table with its labels, compute the features on Spark with the
Lambda's own ``fraud.features``, train on the feature table, compare with the live model, ship as shadow.

docs/training-at-scale.md. The modules, from the bottom up: ``labels`` (the label contract), ``layout`` (where
an export, its labels and a feature table live), ``export`` (``make export``), ``job`` (the Spark job: imports
only pyspark, pandas and ``fraud``, so EMR Serverless runs it from a zip), ``features`` (``make features``: local
mode or EMR Serverless), ``fit`` (train on the feature table and report), ``local`` (the one-command local path),
``bench`` (the benchmark section ``python -m tools.bench training``).
"""

import sys
from pathlib import Path

# The domain package lives in lambdas/ (as on the Lambda runtime); on EMR Serverless it is at the top of the
# job's zip and this path does not exist, which is harmless.
_LAMBDAS = str(Path(__file__).resolve().parent.parent.parent / "lambdas")
if _LAMBDAS not in sys.path:
    sys.path.insert(0, _LAMBDAS)
