"""Experiment orchestration: typed config, MLflow tracking, one entry module per DVC stage, CLI.

Only the CLI (``experiments.cli``) is an entry point; nothing imports this package from
``features``, ``models`` or ``serving``.
"""
