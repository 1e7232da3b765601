"""The [pe] section: the issuer, its series and certificate, and the Bizlinks account (README "Perú")."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Literal

from pasarela.core.config_model import Section, secret, setting
from pasarela.core.errors import ConfigError
from pasarela.providers.pe.bizlinks.urls import ENDPOINTS
from pasarela.providers.pe.ubl.builder import Issuer
from pasarela.providers.pe.ubl.signing import Credential, generate_test_credential, load_credential

Mode = Literal["simulator", "test", "production"]
_credential_lock = threading.Lock()


class PeConfig(Section):
    """Perú: Bizlinks OSE (facturas, boletas y notas UBL 2.1)."""

    ruc: str = setting("20000000001", "RUC del emisor.", pattern=r"^\d{11}$")
    name: str = setting("EMPRESA DEMO S.A.C.", "Razón social del emisor.", min_length=1)
    trade_name: str = setting("", "Nombre comercial (opcional).")
    address: str = setting("AV. JOSÉ PARDO 123", "Dirección fiscal.")
    ubigeo: str = setting("150122", "Ubigeo de la dirección fiscal.", pattern=r"^\d{6}$")
    district: str = setting("MIRAFLORES")
    province: str = setting("LIMA")
    department: str = setting("LIMA")
    establishment: str = setting("0000", "Código de local anexo (AddressTypeCode).", pattern=r"^\d{4}$")
    factura_series: str = setting("F001", "Serie de facturas.", pattern=r"^F[A-Z0-9]{3}$")
    boleta_series: str = setting("B001", "Serie de boletas.", pattern=r"^B[A-Z0-9]{3}$")
    certificate_path: str = setting(
        "", "PKCS#12 (.pfx/.p12) o PEM con llave y certificado. Vacío: uno de prueba autofirmado en $PASARELA_HOME/pe/"
    )
    certificate_password: str = secret("")
    mode: Mode = setting("simulator", "simulator | test | production")
    user: str = setting("", "Vacío: <RUC>BIZLINKS (seed). Clave de pruebas: TESTBIZLINKS")
    password: str = secret("TESTBIZLINKS")
    poll_seconds: float = setting(2.0, "Primera espera (s) al consultar tickets y documentos en duda.", gt=0)
    email_documents: bool = setting(True, "Enviar el PDF y el XML al correo del cliente (requiere [smtp]).")

    @property
    def username(self) -> str:
        return str(self["user"] or f"{self.ruc}BIZLINKS")  # seed §4.1: RUC + "BIZLINKS"

    @property
    def home(self) -> Path:
        return Path(self.settings.home)

    @property
    def url(self) -> str:
        return ENDPOINTS.url(self.mode, self.settings, key="pe.mode")

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
            raise ConfigError("es obligatorio en modo production", "pe.certificate_path")
        path = self.home / "pe" / f"certificado-prueba-{self.ruc}.pem"
        with _credential_lock:
            if path.exists():
                return load_credential(path, None)
            return generate_test_credential(path, self.ruc, str(self["name"]))


def pe_config(settings: Any) -> PeConfig:
    config = settings.provider_config("bizlinks")
    assert isinstance(config, PeConfig)
    return config


_cached: dict[tuple[str, str, str], Credential] = {}


def cached_credential(config: PeConfig) -> Credential:
    key = (str(config.home), config.ruc, str(config["certificate_path"]))
    if key not in _cached:
        _cached[key] = config.credential()
    return _cached[key]
