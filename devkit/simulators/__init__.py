"""Simulated SIS sources fed by the synthetic district generator (tests, demo, benchmark)."""
