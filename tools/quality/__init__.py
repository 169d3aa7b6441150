"""Detection quality: labeled data readers, metrics and the backtest report.

``tools.simulate`` and ``tools.backtest`` are the entry points; this package holds the parts they share
and that tests exercise on their own.
"""
