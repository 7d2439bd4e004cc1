"""The REST API's operations, one module per area. Importing a module declares its operations."""

from services.api.routes import connection, meta, providers, review, roster, runs, sync, undo, webhooks

__all__ = ["connection", "meta", "providers", "review", "roster", "runs", "sync", "undo", "webhooks"]
