"""Portfolio: batch scoring runs as history, early-warning alerts."""
