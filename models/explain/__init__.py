"""SHAP explanations in raw-column terms, and their plots."""
