"""Scoring: the per-request predictor, the model store, request models, batch scoring."""
