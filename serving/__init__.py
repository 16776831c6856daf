"""Scoring service for the promoted model: ``serving.app.create_app(settings)`` (FastAPI).

Imports only ``models`` and ``features`` (never ``experiments``); nothing happens at import.
"""
