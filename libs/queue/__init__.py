"""The message catalogue of a run and the one helper that sends messages (after commit)."""
