"""The model contract: the MLflow pyfunc that wraps a calibrated pipeline and its policy."""
