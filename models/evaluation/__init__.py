"""Evaluation: discrimination and calibration metrics, calibration tests, tables, plots."""
