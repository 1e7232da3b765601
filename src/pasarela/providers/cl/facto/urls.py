"""Facto's endpoints per mode (reference/chile.md §2.1). Simulator mode uses the gateway's /sim/facto."""

from __future__ import annotations

from typing import Any

PRODUCTION = "https://conexion.facto.cl/documento.php"
# Facto has no separate test host: the documented test setup is the demo account on the same endpoint.
TEST = "https://conexion.facto.cl/documento.php"
URLS = {"production": PRODUCTION, "test": TEST}


def endpoint(mode: str, settings: Any, override: str | None = None) -> str:
    if override:
        return override
    if mode == "simulator":
        return f"{settings.simulator_url('facto')}/documento.php"
    if mode not in URLS:
        raise ValueError(f"modo Facto desconocido: {mode!r} (simulator, test o production)")
    return URLS[mode]
