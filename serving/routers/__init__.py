"""One router per resource: score, explain, model, health, admin, metrics."""
