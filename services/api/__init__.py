"""The HTTP service: REST API, District Admin UI, health endpoints."""
