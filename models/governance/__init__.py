"""Governance: the promotion gate."""
