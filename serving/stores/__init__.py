"""Stores: the audit trail and the portfolio store (scoring runs, alerts)."""
