"""MYSuite endpoints per mode (mexico.md §2.2 [O/P]); simulator mode uses the mounted simulator."""

from __future__ import annotations

from typing import Any

from pasarela.providers.mx.mysuite.transactions import ASMX_PATH

URLS = {
    "test": "https://www.mysuitetest.com" + ASMX_PATH,
    "production": "https://www.mysuitecfdi.com" + ASMX_PATH,
}


def service_url(settings: Any, mode: str) -> str:
    if mode == "simulator":
        return settings.simulator_url("mysuite") + ASMX_PATH
    if mode not in URLS:
        raise ValueError(f"modo MYSuite desconocido {mode!r}: simulator | test | production")
    return URLS[mode]
