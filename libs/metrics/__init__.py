"""Prometheus metrics (prometheus_client): what the processes count, and what a scrape reads.

`counters` holds the metric objects the workers count into as a run goes (phases, run outcomes,
records, source requests, webhook deliveries); `state` holds collectors that read Postgres and
Redis when scraped (runs by status, queue depths, the oldest waiting run, stale providers, lease
expiries). The API serves `state`; a worker pool serves both (services/workers/metrics.py).
No label names a district unless METRICS_TENANT_LABELS is on.
"""
