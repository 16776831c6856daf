"""Optuna tuning: studies, the objective, their storage and MLflow records."""
