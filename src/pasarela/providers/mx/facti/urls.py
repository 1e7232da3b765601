"""Facti's documented base URLs (seed 001). Simulator mode uses the gateway's own /sim/facti."""

from __future__ import annotations

from typing import Any

BASE_URLS = {
    "test": "http://api.sandbox.facti.mx",  # plain HTTP, as the seed documents it
    "production": "https://api.facti.mx",
}
MODES = ("simulator", "test", "production")


def base_url(settings: Any, mode: str) -> str:
    if mode == "simulator":
        return settings.simulator_url("facti")
    if mode not in BASE_URLS:
        raise ValueError(f"mx.facti.mode debe ser uno de {', '.join(MODES)} (no {mode!r})")
    return BASE_URLS[mode]
