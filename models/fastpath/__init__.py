"""The serving fast path: a fitted pipeline compiled to lookups and arrays."""
