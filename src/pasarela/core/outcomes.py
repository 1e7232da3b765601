"""The outcome model every provider call is reduced to (DESIGN.md, "Outcome of a provider call").
The errors that carry an outcome live in `pasarela.core.errors`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SUBMITTING = "submitting"
    ISSUED = "issued"
    NEEDS_ATTENTION = "needs_attention"
    REJECTED = "rejected"
    IN_DOUBT = "in_doubt"
    FAILED = "failed"
    SKIPPED = "skipped"


# States in which no worker will touch the document again without a person asking.
SETTLED_STATES = {
    State.ISSUED,
    State.NEEDS_ATTENTION,
    State.REJECTED,
    State.IN_DOUBT,
    State.FAILED,
    State.SKIPPED,
}


class Outcome(StrEnum):
    ISSUED = "issued"
    REJECTED = "rejected"
    NEEDS_ATTENTION = "needs_attention"
    RETRY = "retry"
    IN_DOUBT = "in_doubt"
    SKIPPED = "skipped"


@dataclass
class CallResult:
    """What a provider call meant for the document. ``details`` is merged into document.result."""

    outcome: Outcome
    reason: str = ""
    provider_ref: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    retry_after: float | None = None
