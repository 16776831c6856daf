"""One module per DVC stage. Each exposes ``run(...)`` with explicit paths, called by the CLI."""
