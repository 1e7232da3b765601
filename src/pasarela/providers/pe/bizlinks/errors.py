"""Bizlinks/SUNAT errors as outcomes (reference §4 and §11.2)."""

from __future__ import annotations

from pasarela.core.errors import ProviderError
from pasarela.core.outcomes import Outcome
from pasarela.providers.pe.ubl import codes


class BizlinksFault(ProviderError):
    """A SOAP fault (or an error CDR) carrying a SUNAT code. The outcome follows the code range."""

    def __init__(self, code: int | None, message: str):
        self.sunat_code = code
        text = f"{code:04d} - {message}" if code is not None else message
        super().__init__(text, provider_code=f"{code:04d}" if code is not None else None)
        self.outcome = outcome_of_fault(code)

    @property
    def already_registered(self) -> bool:
        return self.sunat_code in codes.ALREADY_REGISTERED


def outcome_of_fault(code: int | None) -> Outcome:
    if code is None:
        return Outcome.IN_DOUBT
    if code in codes.SERVICE_UNAVAILABLE:
        return Outcome.RETRY
    cls = codes.classify(code)
    if cls == codes.CodeClass.REJECTED:
        return Outcome.REJECTED
    if cls in (codes.CodeClass.ACCEPTED, codes.CodeClass.OBSERVED):
        return Outcome.IN_DOUBT  # a fault with an "accepted" code (4000: ya presentado) → look it up
    return Outcome.NEEDS_ATTENTION
