"""Facti's typed errors. Each carries Facti's own `msg` (Spanish) so the user sees what Facti said."""

from __future__ import annotations

from pasarela.core.errors import MaybeSent, NeedsAttention, ProviderRejected

# Facti does not publish its error vocabulary [NF]: these words in `msg` mean the credentials are
# wrong (a person must fix the configuration) rather than the request data.
AUTH_ERROR_HINTS = ("credencial", "api_key", "api key", "client_id", "autentica")


class FactiRejected(ProviderRejected):
    """Facti answered `{result: 0, msg}` for this request: the data must change."""


class FactiAuthError(NeedsAttention):
    """Facti refused the client_id/api_key."""


class FactiBadResponse(MaybeSent):
    """Facti's answer could not be read; the request may have been processed."""


def error_from_msg(operation: str, msg: str) -> FactiRejected | FactiAuthError:
    text = msg or "Facti respondió result=0 sin mensaje"
    message = f"Facti {operation}: {text}"
    if any(hint in text.lower() for hint in AUTH_ERROR_HINTS):
        return FactiAuthError(message, provider_code="auth", details={"facti_msg": text})
    return FactiRejected(message, provider_code="result_0", details={"facti_msg": text})
