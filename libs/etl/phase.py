"""What a phase is: its name, where its messages go, what its body is given and gives back.

The table that puts the phases in order is `libs/etl/pipeline.py`; the bodies live in one
module each (`plan`, `extract`, `stage`, `load`, `deactivate`, `finalize`) and use only this.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from libs.connectors.base import Connector
from libs.enums import SyncStatus
from libs.etl.context import EtlContext
from libs.etl.providers import RunProvider, connector_for


class Phase(StrEnum):
    """The phases of a run, in order. The value is the run's `phase` and the step's name (a
    phase in parts adds `:<part>`: `extract:<connector step>`, `load:<entity>`)."""

    PLAN = "plan"
    EXTRACT = "extract"
    STAGE = "stage"
    LOAD = "load"
    DEACTIVATE = "deactivate"
    # an undo run's only work: take back what another run applied (libs/etl/undo.py)
    UNDO = "undo"
    FINALIZE = "finalize"

    @property
    def actor(self) -> str:
        return f"sis.{self.value}"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    def step(self, part: str | None = None) -> str:
        return self.value if part is None else f"{self.value}:{part}"

    def owns(self, step: str) -> bool:
        """Whether a step (or a run position) belongs to this phase."""
        return step == self.value or step.startswith(f"{self.value}:")

    @classmethod
    def of(cls, step: str) -> tuple[Phase, str | None]:
        """`load:user` -> (LOAD, "user"); `stage` -> (STAGE, None)."""
        name, _, part = step.partition(":")
        return cls(name), part or None


# the run's `phase` once it has ended
DONE = "done"


class Queue(StrEnum):
    CONTROL = "sis.control"
    EXTRACT = "sis.extract"
    LOAD = "sis.load"


# actors that are not phases: a run's admission, its cancel, and the end of a phase that kept failing
START_SYNC = "sis.start_sync"
CANCEL_SYNC = "sis.cancel_sync"
PHASE_FAILED = "sis.phase_failed"


@dataclass(frozen=True)
class Next:
    """A message to send once the transaction that called for it has committed."""

    actor: str
    queue: Queue
    args: tuple[str, ...]
    # the step keeps a CPU busy (parsing a file): a worker process takes one such message at a
    # time and leaves the next to another process (services/queue/consumer.py)
    cpu_bound: bool = False


def start_sync(run_id: uuid.UUID | str) -> Next:
    return Next(START_SYNC, Queue.CONTROL, (str(run_id),))


def cancel_sync(run_id: uuid.UUID | str) -> Next:
    return Next(CANCEL_SYNC, Queue.CONTROL, (str(run_id),))


class RunFailed(Exception):
    """The run cannot go on, for a reason the admin can act on (`message`); it ends FAILURE."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass
class StepDone:
    """What a phase body did: counted records and the step's detail (a model of `details.py`)."""

    records: int = 0
    detail: Any = None
    # the parts of the following phase, which runs them in parallel: (name, initial detail)
    fan_out: list[tuple[str, Any]] = field(default_factory=list)
    # the last phase: how the run ends
    status: SyncStatus | None = None
    message: str | None = None
    # the run stops HELD here, for these reasons, and resumes at the next phase when approved
    hold: list[str] = field(default_factory=list)


@dataclass
class Job:
    """One delivery of a phase message: the run's provider, the lease token, the part."""

    ctx: EtlContext
    provider: RunProvider
    token: str
    part: str | None = None
    # what the phase's `before` step prepared outside the transaction
    prepared: Any = None
    _config: dict[str, Any] | None = None
    _connector: Connector | None = None

    @property
    def run_id(self) -> uuid.UUID:
        return self.provider.run_id

    def open_config(self) -> None:
        self._config = self.provider.decrypt(self.ctx.cipher)

    def connector(self) -> Connector:
        """The run's connector, built once; only phases marked `needs_config` may ask for it."""
        if self._connector is None:
            if self._config is None:
                raise RuntimeError("this phase does not open the provider's config")
            self._connector = connector_for(self.ctx, self.provider, self._config)
        return self._connector

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None
