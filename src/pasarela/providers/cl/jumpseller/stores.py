"""The `[[jumpseller.stores]]` entries of the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Store:
    code: str
    company_name: str
    hooks_token: str
    facto_mode: str
    facto_user: str
    facto_password: str
    facto_url: str | None
    default_document: int
    # Jumpseller API access (Configuración › API), for polling paid orders webhooks may have missed.
    api_login: str = ""
    api_token: str = ""
    api_url: str | None = None


def stores(settings: Any) -> dict[str, Store]:
    found: dict[str, Store] = {}
    for entry in (settings.section("jumpseller") or {}).get("stores", []):
        facto = entry.get("facto") or {}
        store = Store(
            code=str(entry.get("code", "")),
            company_name=str(entry.get("company_name", "")),
            hooks_token=str(entry.get("hooks_token", "")),
            facto_mode=str(facto.get("mode", "simulator")),
            facto_user=str(facto.get("user", "")),
            facto_password=str(facto.get("password", "")),
            facto_url=facto.get("url") or None,
            default_document=int(entry.get("default_document", 39)),
            api_login=str(entry.get("api_login", "")),
            api_token=str(entry.get("api_token", "")),
            api_url=entry.get("api_url") or None,
        )
        if store.code:
            found[store.code] = store
    return found


def store(settings: Any, code: str) -> Store | None:
    return stores(settings).get(code)
