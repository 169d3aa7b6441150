"""Detection quality: simulate labeled traffic, backtest, train the model, ship rules and models.

Every tool here runs the Lambda's own engine (the ``fraud`` package in lambdas/), importable once this
package is.
"""

import sys

from tools._cli import LAMBDAS

sys.path.insert(0, str(LAMBDAS))
