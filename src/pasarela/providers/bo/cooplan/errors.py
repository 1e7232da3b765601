"""Cooplan's typed errors, on top of the core outcome classes."""

from __future__ import annotations

from typing import Any

from pasarela.core.errors import MaybeSent, NeedsAttention, ProviderRejected


class CooplanRefused(ProviderRejected):
    """The envelope said no (error != 0 or status != 1). Carries Cooplan's own messages.

    ``show_to_cashier`` is ``messageMostrar == 1``: ``message`` was written for the person at the
    counter; otherwise it is technical and we show a generic text with it.
    """

    def __init__(self, operation: str, envelope: dict[str, Any], http_status: int | None = None):
        self.operation = operation
        self.provider_message = str(envelope.get("message") or "").strip()
        self.system_message = str(envelope.get("messageSistema") or "").strip()
        self.show_to_cashier = str(envelope.get("messageMostrar", "0")).strip() == "1"
        self.error_code = str(envelope.get("error", ""))
        self.http_status = http_status
        text = self.provider_message or self.system_message or "sin mensaje"
        prefix = "Cooplan" if self.show_to_cashier else f"Cooplan rechazó {operation}"
        super().__init__(
            f"{prefix}: {text}",
            provider_code=f"cooplan:{self.error_code}",
            details={
                "operation": operation,
                "message": self.provider_message,
                "messageSistema": self.system_message,
                "messageMostrar": int(self.show_to_cashier),
            },
        )


class CooplanAuthError(NeedsAttention):
    """The token service refused our credentials, or a fresh token was refused again."""


class CooplanBadResponse(MaybeSent):
    """An answer that is not the documented envelope (HTML error page, cut JSON, 5xx): the request
    reached Cooplan and we cannot tell what it did."""


class TokenRefused(Exception):
    """Internal: a service answered 401/403; the client renews the token and retries once."""
