"""Model families: one module per family (config, estimator, search space)."""
