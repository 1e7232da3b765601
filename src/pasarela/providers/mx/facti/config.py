"""`[mx.facti]` configuration with working simulator defaults for every missing key."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pasarela.providers.mx.facti.urls import base_url

# Simulator-mode defaults: the simulator accepts exactly these credentials unless configured.
DEFAULTS: dict[str, Any] = {
    "mode": "simulator",
    "client_id": "simfacti0client0id00000000000001",
    "api_key": "simfacti0api0key0000000000000001",
    "company_id": 1,
    "from_rfc": "EKU9003173C9",
    "ipn_password": "ipn-simulador-pasarela",
    "erp_forward_url": "",
    "erp_forward_secret": "",
    "erp_forward_attempts": 8,
    "strict_rfc_check_digit": True,
    "timeout": 30.0,
    # Simulator only: where it sends IPNs (empty: this gateway's /webhooks/facti/ipn) and the
    # seconds to wait between delivery attempts (Facti's real policy is not published).
    "simulator_ipn_url": "",
    "simulator_ipn_retry_delays": [1, 2, 5, 10, 30],
}

DEFAULT_TOML = """[mx.facti]
# simulator | test (http://api.sandbox.facti.mx) | production (https://api.facti.mx)
mode = "simulator"
# From https://www.facti.mx/api/keys (the same pair works in sandbox and production).
client_id = "simfacti0client0id00000000000001"
api_key = "simfacti0api0key0000000000000001"
# Your company at Facti (company_id for searches, CLABEs, deletes) and its RFC (from_rfc).
company_id = 1
from_rfc = "EKU9003173C9"
# The IPN password configured at Facti for the company, in clear; Facti sends its MD5.
ipn_password = "ipn-simulador-pasarela"
# Optional: forward every payment notice to your ERP, signed with HMAC-SHA256.
erp_forward_url = ""
erp_forward_secret = ""
erp_forward_attempts = 8
# Reject RFCs whose check digit fails (the generic XAXX010101000/XEXX010101000 always pass).
strict_rfc_check_digit = true
"""


@dataclass(frozen=True)
class FactiSettings:
    mode: str
    base_url: str
    client_id: str
    api_key: str
    company_id: int
    from_rfc: str
    ipn_password: str
    erp_forward_url: str
    erp_forward_secret: str
    erp_forward_attempts: int
    strict_rfc_check_digit: bool
    timeout: float
    simulator_ipn_url: str
    simulator_ipn_retry_delays: tuple[float, ...]

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self.ipn_password, self.erp_forward_secret) if s]


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _delays(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        value = [v for v in value.split(",") if v.strip()]
    return tuple(float(v) for v in value)


def facti_settings(settings: Any) -> FactiSettings:
    raw = {**DEFAULTS, **{k: v for k, v in (settings.section("mx.facti") or {}).items() if v is not None}}
    mode = str(raw["mode"])
    public_ipn = f"{settings.public_url}/webhooks/facti/ipn"
    return FactiSettings(
        mode=mode,
        base_url=base_url(settings, mode),
        client_id=str(raw["client_id"]),
        api_key=str(raw["api_key"]),
        company_id=int(raw["company_id"]),
        from_rfc=str(raw["from_rfc"]).upper(),
        ipn_password=str(raw["ipn_password"]),
        erp_forward_url=str(raw["erp_forward_url"] or ""),
        erp_forward_secret=str(raw["erp_forward_secret"] or ""),
        erp_forward_attempts=int(raw["erp_forward_attempts"]),
        strict_rfc_check_digit=_bool(raw["strict_rfc_check_digit"]),
        timeout=float(raw["timeout"]),
        simulator_ipn_url=str(raw["simulator_ipn_url"] or public_ipn),
        simulator_ipn_retry_delays=_delays(raw["simulator_ipn_retry_delays"]),
    )
