"""CLI command modules, one per area; each registers its commands on ``experiments.cli.app``."""
