"""The `[[jumpseller.stores]]` entries of the configuration: each store, its hooks token, its Jumpseller
API access and its Facto account."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from pasarela.core.config_model import Section, secret, setting
from pasarela.providers.cl.facto.config import FactoAccount


class Store(Section):
    """Una tienda Jumpseller."""

    code: str = setting("demo", "Código de la tienda en la URL del webhook.", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    company_name: str = setting("Comercial Demo SpA", "Razón social que aparece en los documentos.")
    hooks_token: str = secret(
        "", "El hooks token de la tienda (Jumpseller › Configuración › Notificaciones).", generate="hex16"
    )
    default_document: int = setting(39, "Documento cuando el pedido no pide otro: 39 boleta electrónica (33 factura).")
    api_login: str = setting(
        "demo",
        "API de Jumpseller (Configuración › API: login y auth token), para que `pasarela cl reconcile`\n"
        "encuentre pedidos pagados cuyo webhook no llegó (Jumpseller pausa un hook tras 8 fallos).",
    )
    api_token: str = secret("", generate="hex16")
    api_url: str = setting("", hidden=True)
    facto: FactoAccount = Field(default_factory=FactoAccount)

    @field_validator("default_document")
    @classmethod
    def _document_type(cls, value: int) -> int:
        if value not in (33, 34, 39, 41):
            raise ValueError("debe ser 33, 34, 39 o 41")
        return value

    @property
    def facto_mode(self) -> str:
        return self.facto.mode

    @property
    def facto_user(self) -> str:
        return self.facto.user

    @property
    def facto_password(self) -> str:
        return self.facto.password

    @property
    def facto_url(self) -> str | None:
        return self.facto.url or None


class JumpsellerSection(Section):
    """Chile: tiendas Jumpseller y sus cuentas Facto."""

    stores: list[Store] = Field(default_factory=lambda: [Store()])

    @field_validator("stores")
    @classmethod
    def _unique_codes(cls, value: list[Store]) -> list[Store]:
        codes = [s.code for s in value]
        repeated = sorted({c for c in codes if codes.count(c) > 1})
        if repeated:
            raise ValueError(f"código de tienda repetido: {', '.join(repeated)}")
        return value


def stores(settings: Any) -> dict[str, Store]:
    section = settings.provider_config("jumpseller")
    assert isinstance(section, JumpsellerSection)
    return {s.code: s for s in section.stores}


def store(settings: Any, code: str) -> Store | None:
    return stores(settings).get(code)
