"""One customer: what would improve the tier, the customer risk report's data."""
