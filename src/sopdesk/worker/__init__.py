"""Timer and outbox loops: claim due rows, apply engine decisions, retry, dead-letter."""
