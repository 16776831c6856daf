"""Data contract, validation, splitting and scikit-learn feature transformers.

Everything here is a pure function or a scikit-learn estimator: no files, no MLflow, no
environment, no global random state. Callers pass configuration sections and the seed.
"""
