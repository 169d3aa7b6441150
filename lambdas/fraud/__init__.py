"""Fraud detection domain code shared by the Lambda handlers, the backtest and the tests.

Nothing here imports a Lambda runtime or creates AWS clients; modules are imported on demand
(``from fraud.engine import Engine``) so importing the package is cheap.
"""
