"""From PD to a decision: score, rating grade, risk tier, strategy, reason codes."""
