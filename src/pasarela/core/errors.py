"""Every error pasarela raises on purpose has one root, so each face (API, CLI, console) can turn it
into an answer in one place, and a worker knows whether doing the same thing again is safe.

    PasarelaError                  .message is safe to show a person and to store (Spanish, no secrets)
     ├── UserError                 the request itself is wrong: repeating it unchanged fails again
     │    ├── InvalidInput         a value is wrong or missing; .field names it
     │    ├── NotFound             what was asked for does not exist
     │    ├── Conflict             its state does not allow this, or it was already done
     │    └── Forbidden            the user's role does not allow this
     ├── ConfigError               the configuration is wrong; .key names the key path
     ├── UnreadableData            bytes from outside (a file, a package, an answer) cannot be read safely
     └── ProviderError             a provider call went wrong; .outcome says what it means for a document
          ├── SurelyNotSent        nothing reached the provider: safe to retry (.retry_safe)
          ├── MaybeSent            the provider may have acted: never resend blind
          ├── ProviderRejected     the provider said no for good; the data must change
          └── NeedsAttention       a person must fix data or credentials, or finish at the provider

Domain code raises these and carries no HTTP status: `pasarela.api.errors` maps classes to statuses,
`pasarela.cli.common.guard` to one Spanish line and an exit code. ``code`` is the machine value an
API client can branch on (``{"error": {"code", "message", "field"?}}``).
"""

from __future__ import annotations

from typing import Any

from pasarela.core.outcomes import Outcome


class PasarelaError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            out["field"] = self.field
        return out


class UserError(PasarelaError):
    code = "bad_request"


class InvalidInput(UserError):
    """Our own validation failed before any call. ``field`` names what to fix."""

    code = "invalid_input"

    def __init__(self, message: str, field: str | None = None, *, code: str | None = None):
        super().__init__(message, field=field, code=code)


class NotFound(UserError):
    code = "not_found"


class Conflict(UserError):
    code = "conflict"


class Forbidden(UserError):
    code = "forbidden"


class ConfigError(PasarelaError):
    """A configuration key is wrong. ``key`` is its dotted path (``pe.mode``)."""

    code = "config_error"

    def __init__(self, message: str, key: str = ""):
        super().__init__(f"{key}: {message}" if key else message, field=key or None)
        self.key = key


class UnreadableData(PasarelaError):
    code = "unreadable_data"


class ProviderError(PasarelaError):
    """Base of every error a provider client raises. ``provider_code`` is the provider's own code."""

    code = "provider_error"
    outcome: Outcome = Outcome.IN_DOUBT
    retry_safe = False

    def __init__(
        self,
        message: str,
        *,
        provider_code: str | None = None,
        details: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(message)
        self.provider_code = provider_code
        self.details = details or {}
        self.retry_after = retry_after

    def to_result(self) -> Any:
        from pasarela.core.outcomes import CallResult

        return CallResult(
            self.outcome,
            reason=self.message,
            details={"error_code": self.provider_code, **self.details},
            retry_after=self.retry_after,
        )


class SurelyNotSent(ProviderError):
    """The provider surely did not act (connection refused, DNS, 429/503 before processing)."""

    code = "provider_unavailable"
    outcome = Outcome.RETRY
    retry_safe = True


class MaybeSent(ProviderError):
    """The request may have reached the provider (read timeout, reset, 5xx after sending)."""

    code = "provider_in_doubt"
    outcome = Outcome.IN_DOUBT


class ProviderRejected(ProviderError):
    """The provider said no for good; the data must change and a new document be made."""

    code = "provider_rejected"
    outcome = Outcome.REJECTED


class NeedsAttention(ProviderError):
    """A person must act: fix the data, fix credentials, or finish something in the provider's portal."""

    code = "needs_attention"
    outcome = Outcome.NEEDS_ATTENTION
