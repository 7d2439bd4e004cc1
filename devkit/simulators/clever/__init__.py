"""A Clever Data API v3.0 simulator over a generated district (tests, demo, benchmark)."""
