"""Embedded Postgres and Redis for a machine that has neither (demo, local tests)."""
