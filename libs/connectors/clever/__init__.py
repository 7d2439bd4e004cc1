"""Clever Data API v3.0: district-app token, paged top-level lists, events for incremental syncs."""
