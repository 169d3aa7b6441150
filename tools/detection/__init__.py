"""Detection quality: simulate labeled traffic, backtest, train the model, ship rules and models."""
