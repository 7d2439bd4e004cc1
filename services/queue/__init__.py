"""Dramatiq on Redis: the broker every process shares, its fair consumer, and sending."""
