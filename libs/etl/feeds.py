"""What the extract steps of a run say about each entity type's feed, taken together."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import Connection

from libs.connectors.base import EntityOutcome, FeedMode
from libs.enums import EntityType
from libs.etl import steps
from libs.etl.details import ExtractDetail, FeedOutcome
from libs.etl.phase import Phase


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


def outcome_detail(outcome: EntityOutcome) -> FeedOutcome:
    """How an EntityOutcome is kept in a step's detail."""
    return FeedOutcome(
        mode=outcome.mode.value,
        complete=outcome.complete,
        message=outcome.message,
        complete_classes=sorted(outcome.complete_classes) if outcome.complete_classes is not None else None,
    )


def collect(conn: Connection, run_id: uuid.UUID | str) -> dict[EntityType, Feed]:
    feeds = {entity: Feed(entity) for entity in EntityType}
    for row in steps.parts(conn, run_id, Phase.EXTRACT.value):
        detail = ExtractDetail.model_validate(row["detail"] or {})
        done = row["status"] == "done"
        for entity, outcome in detail.outcomes.items():
            feed = feeds[entity]
            mode = FeedMode(outcome.mode)
            # partitions of one entity normally agree; if not, the most cautious reading wins
            if feed.mode is FeedMode.ABSENT or mode is FeedMode.DELTA:
                feed.mode = mode
            if not outcome.complete or not done:
                feed.complete = False
            if outcome.message:
                feed.messages.append(outcome.message)
            if outcome.complete_classes is not None:
                feed.complete_classes = (feed.complete_classes or set()) | set(outcome.complete_classes)
        for entity, count in detail.counts.items():
            feeds[entity].extracted += count
        for name, count in detail.errors.items():
            if name in _NAMES:
                feeds[EntityType(name)].errors += count
    return feeds


_NAMES = {e.value for e in EntityType}
