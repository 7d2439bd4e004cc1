"""All tables of the service. Importing this package registers them on `Base.metadata`."""

from libs.db.models.audit import AuditLog
from libs.db.models.base import Base
from libs.db.models.providers import SisProvider
from libs.db.models.roster import Class, Enrollment, School, SisEntityLink, Term, User
from libs.db.models.runs import SisChangeLedger, SisSyncError, SisSyncRun, SisSyncRunStep
from libs.db.models.staging import HELD_TABLES, STAGING_TABLES
from libs.db.models.webhooks import SisWebhook, SisWebhookDelivery, SisWebhookOutbox
from libs.enums import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    LOAD_ORDER,
    EntityType,
    ProviderType,
    SyncMode,
    SyncStatus,
    SyncTrigger,
)

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "HELD_TABLES",
    "LOAD_ORDER",
    "STAGING_TABLES",
    "AuditLog",
    "Base",
    "Class",
    "Enrollment",
    "EntityType",
    "ProviderType",
    "School",
    "SisChangeLedger",
    "SisEntityLink",
    "SisProvider",
    "SisSyncError",
    "SisSyncRun",
    "SisSyncRunStep",
    "SisWebhook",
    "SisWebhookDelivery",
    "SisWebhookOutbox",
    "SyncMode",
    "SyncStatus",
    "SyncTrigger",
    "Term",
    "User",
]
