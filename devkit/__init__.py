"""The dev kit: simulators of the SIS sources, the synthetic district generator, embedded
Postgres and Redis, and the demo. Used by `sis-sync demo|generate|simulate`, `make bench` and
the tests; not shipped in the production wheel."""
