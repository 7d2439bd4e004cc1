"""What the extract steps of a run say about each entity type's feed, taken together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from libs.connectors.base import FeedMode
from libs.enums import EntityType
from libs.etl import steps


@dataclass
class Feed:
    entity: EntityType
    mode: FeedMode = FeedMode.ABSENT
    complete: bool = True
    messages: list[str] = field(default_factory=list)
    # DELTA enrollments: classes whose rosters the feed lists completely
    complete_classes: set[str] | None = None
    extracted: int = 0
    errors: int = 0

    @property
    def supplied(self) -> bool:
        return self.mode is not FeedMode.ABSENT


def outcome_detail(outcome: Any) -> dict[str, Any]:
    """How an EntityOutcome is kept in a step's detail JSON."""
    return {
        "mode": outcome.mode.value,
        "complete": outcome.complete,
        "message": outcome.message,
        "completeClasses": sorted(outcome.complete_classes) if outcome.complete_classes is not None else None,
    }


def collect(conn: Connection, run_id: uuid.UUID | str) -> dict[EntityType, Feed]:
    feeds = {entity: Feed(entity) for entity in EntityType}
    for row in steps.extract_steps(conn, run_id):
        detail = row["detail"] or {}
        done = row["status"] == "done"
        for name, outcome in (detail.get("outcomes") or {}).items():
            feed = feeds[EntityType(name)]
            mode = FeedMode(outcome["mode"])
            # partitions of one entity normally agree; if not, the most cautious reading wins
            if feed.mode is FeedMode.ABSENT or mode is FeedMode.DELTA:
                feed.mode = mode
            if not outcome.get("complete", True) or not done:
                feed.complete = False
            if outcome.get("message"):
                feed.messages.append(str(outcome["message"]))
            classes = outcome.get("completeClasses")
            if classes is not None:
                feed.complete_classes = (feed.complete_classes or set()) | set(classes)
        for name, count in (detail.get("counts") or {}).items():
            feeds[EntityType(name)].extracted += int(count)
        for name, count in (detail.get("errors") or {}).items():
            if name in _NAMES:
                feeds[EntityType(name)].errors += int(count)
    return feeds


_NAMES = {e.value for e in EntityType}
