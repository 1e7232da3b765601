"""`[mx.facti]`: the Facti account, the IPN password and the optional ERP forward."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from pasarela.core.config_model import Section, secret, setting
from pasarela.providers.mx.facti.urls import ENDPOINTS


class FactiSettings(Section):
    """México: cobros Facti (solicitudes de pago, CLABE STP, IPN)."""

    mode: Literal["simulator", "test", "production"] = setting(
        "simulator", "simulator | test (http://api.sandbox.facti.mx) | production (https://api.facti.mx)"
    )
    client_id: str = setting(
        "simfacti0client0id00000000000001",
        "De https://www.facti.mx/api/keys (el mismo par sirve en sandbox y producción).",
    )
    # The simulator accepts exactly these credentials unless configured.
    api_key: str = secret("simfacti0api0key0000000000000001", generate="hex16")
    company_id: int = setting(1, "Tu empresa en Facti (company_id de búsquedas, CLABE, eliminaciones)…", ge=1)
    from_rfc: str = setting("EKU9003173C9", "…y su RFC (from_rfc).")
    ipn_password: str = secret(
        "ipn-simulador-pasarela",
        "La clave IPN configurada en Facti, en claro; Facti envía su MD5.",
        generate="urlsafe12",
    )
    erp_forward_url: str = setting("", "Opcional: reenvía cada aviso de pago a tu ERP, firmado con HMAC-SHA256.")
    erp_forward_secret: str = secret("")
    erp_forward_attempts: int = setting(8, "", ge=1)
    strict_rfc_check_digit: bool = setting(
        True, "Rechaza RFC con dígito verificador incorrecto (los genéricos XAXX010101000/XEXX010101000 siempre pasan)."
    )
    timeout: float = setting(30.0, hidden=True, gt=0)
    # Simulator only: where it sends IPNs (empty: this gateway's /webhooks/facti/ipn) and the seconds
    # between delivery attempts (Facti's real policy is not published).
    simulator_ipn_url: str = setting("", hidden=True)
    simulator_ipn_retry_delays: tuple[float, ...] = Field((1, 2, 5, 10, 30), json_schema_extra={"hidden": True})

    @field_validator("from_rfc")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @field_validator("simulator_ipn_retry_delays", mode="before")
    @classmethod
    def _delays(cls, value: Any) -> Any:
        return [v for v in value.split(",") if v.strip()] if isinstance(value, str) else value

    @property
    def base_url(self) -> str:
        return ENDPOINTS.url(self.mode, self.settings, key="mx.facti.mode")

    @property
    def ipn_url(self) -> str:
        """Where the simulator delivers IPNs."""
        return self.simulator_ipn_url or f"{self.settings.public_url}/webhooks/facti/ipn"

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.api_key, self.ipn_password, self.erp_forward_secret) if s]


def facti_settings(settings: Any) -> FactiSettings:
    config = settings.provider_config("facti")
    assert isinstance(config, FactiSettings)
    return config
