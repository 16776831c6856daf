"""The MLflow Model Registry: model references, registration, promotion, history, reproduction."""
