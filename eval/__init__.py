"""Offline evaluation: the simulated-clock driver, metrics, look-ahead sweeps and plots."""
