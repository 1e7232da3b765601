"""The outcome model every provider call is reduced to (DESIGN.md, "Outcome of a provider call")."""

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


class ProviderError(Exception):
    """Base of every error a provider client raises. ``message`` is safe to show and store."""

    outcome: Outcome = Outcome.IN_DOUBT

    def __init__(self, message: str, *, code: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}

    def to_result(self) -> CallResult:
        return CallResult(self.outcome, reason=self.message, details={"error_code": self.code, **self.details})


class SurelyNotSent(ProviderError):
    """The provider surely did not act (connection refused, DNS, 429/503 before processing)."""

    outcome = Outcome.RETRY


class MaybeSent(ProviderError):
    """The request may have reached the provider (read timeout, reset, 5xx after sending)."""

    outcome = Outcome.IN_DOUBT


class ProviderRejected(ProviderError):
    """The provider said no for good; the data must change and a new document be made."""

    outcome = Outcome.REJECTED


class NeedsAttention(ProviderError):
    """A person must act: fix the data, fix credentials, or finish something in the provider's portal."""

    outcome = Outcome.NEEDS_ATTENTION


class InvalidInput(ValueError):
    """Our own validation failed before any call. ``field`` names what to fix."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
