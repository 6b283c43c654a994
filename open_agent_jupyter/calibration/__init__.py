"""Calibration: run a task set through the local backend and fit the estimator to it."""
