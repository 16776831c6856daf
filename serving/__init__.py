"""Scoring service for the promoted model (FastAPI). Not built yet: see the serving issue."""
