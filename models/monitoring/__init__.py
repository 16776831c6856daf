"""Monitoring: population stability (PSI), drift of data and performance, early-warning alerts."""
