"""Cooplan base URLs per mode, from seed 003 ("Consideraciones Iniciales")."""

from __future__ import annotations

from typing import Any

# The seed gives the same host for both; the live one as plain http, probably a typo [U].
URLS = {
    "test": "https://servicioscooplan.pagofacil.com.bo",
    "production": "http://servicioscooplan.pagofacil.com.bo",
}
MODES = ("simulator", "test", "production")


def base_url(settings: Any, mode: str, override: str = "") -> str:
    if override:
        return override.rstrip("/")
    if mode == "simulator":
        return settings.simulator_url("cooplan")
    if mode not in URLS:
        raise ValueError(f"modo Cooplan desconocido {mode!r}; use uno de: {', '.join(MODES)}")
    return URLS[mode]
