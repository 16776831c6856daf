"""Estimator factory, the one model pipeline, training and evaluation metrics.

Pure code over frames, arrays and configuration: no files, MLflow or global random state.
"""
