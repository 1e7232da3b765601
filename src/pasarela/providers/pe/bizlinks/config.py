"""The [pe] section with working simulator defaults (README "Perú")."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pasarela.providers.pe.bizlinks.urls import SERVICE_PATH, URLS
from pasarela.providers.pe.ubl.builder import Issuer
from pasarela.providers.pe.ubl.signing import Credential, generate_test_credential, load_credential

DEFAULTS: dict[str, Any] = {
    "ruc": "20000000001",
    "name": "EMPRESA DEMO S.A.C.",
    "trade_name": "",
    "address": "AV. JOSÉ PARDO 123",
    "ubigeo": "150122",
    "district": "MIRAFLORES",
    "province": "LIMA",
    "department": "LIMA",
    "establishment": "0000",
    "factura_series": "F001",
    "boleta_series": "B001",
    "certificate_path": "",
    "certificate_password": "",
    "mode": "simulator",
    "user": "",
    "password": "TESTBIZLINKS",
    "poll_seconds": 2.0,
    "email_documents": True,
}
_credential_lock = threading.Lock()


@dataclass
class PeConfig:
    raw: dict[str, Any]
    home: Path
    simulator_base: str

    def __getitem__(self, key: str) -> Any:
        value = self.raw.get(key)
        return DEFAULTS[key] if value in (None, "") and key in DEFAULTS else value

    @property
    def ruc(self) -> str:
        return str(self["ruc"])

    @property
    def mode(self) -> str:
        return str(self["mode"])

    @property
    def username(self) -> str:
        return str(self["user"] or f"{self.ruc}BIZLINKS")  # seed §4.1: RUC + "BIZLINKS"

    @property
    def password(self) -> str:
        return str(self["password"])

    @property
    def url(self) -> str:
        if self.mode == "simulator":
            return self.simulator_base + SERVICE_PATH
        if self.mode not in URLS:
            raise ValueError(f"[pe] mode {self.mode!r} inválido: simulator | test | production")
        return URLS[self.mode]

    @property
    def issuer(self) -> Issuer:
        return Issuer(
            ruc=self.ruc,
            name=str(self["name"]),
            trade_name=str(self["trade_name"]),
            address=str(self["address"]),
            ubigeo=str(self["ubigeo"]),
            district=str(self["district"]),
            province=str(self["province"]),
            department=str(self["department"]),
            establishment=str(self["establishment"]),
        )

    def credential(self) -> Credential:
        """The configured certificate; without one (simulator/test), a generated self-signed one."""
        configured = str(self["certificate_path"])
        if configured:
            return load_credential(Path(configured).expanduser(), str(self["certificate_password"]) or None)
        if self.mode == "production":
            raise ValueError("[pe] certificate_path es obligatorio en modo production")
        path = self.home / "pe" / f"certificado-prueba-{self.ruc}.pem"
        with _credential_lock:
            if path.exists():
                return load_credential(path, None)
            return generate_test_credential(path, self.ruc, str(self["name"]))


def pe_config(settings: Any) -> PeConfig:
    return PeConfig(
        raw=dict(settings.section("pe") or {}),
        home=Path(settings.home),
        simulator_base=settings.simulator_url("bizlinks"),
    )


_cached: dict[tuple[str, str, str], Credential] = {}


def cached_credential(config: PeConfig) -> Credential:
    key = (str(config.home), config.ruc, str(config["certificate_path"]))
    if key not in _cached:
        _cached[key] = config.credential()
    return _cached[key]
