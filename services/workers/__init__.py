"""Dramatiq workers: the broker and the thin actors of a run's phases."""
