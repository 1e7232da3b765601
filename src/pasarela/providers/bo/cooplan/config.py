"""`[bo.cooplan]` settings with working simulator defaults when keys are missing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from pasarela.core.config_model import Section, secret, setting
from pasarela.providers.bo.cooplan.urls import ENDPOINTS

# Credentials the simulator accepts out of the box (not real: Cooplan issues the real ones).
SIM_CODSEGURIDAD = "SIM-CODSEG-0001"
SIM_LOGIN = "pasarela.demo"
SIM_PWD = "demo-cooplan-pwd"


class CooplanSimulatorSection(Section):
    """El simulador de Cooplan (modo simulator)."""

    token_lifetime_seconds: float = setting(900, "Vida de un token emitido por el simulador.", ge=0)
    report: Literal["rows", "seed"] = setting(
        "rows", 'Respuesta de reportecobranzas: "rows" (una fila por cobranza) o "seed" (el texto de éxito del seed).'
    )
    codseguridad: str = secret(SIM_CODSEGURIDAD)
    login: str = setting(SIM_LOGIN)
    pwd: str = secret(SIM_PWD)

    @field_validator("report", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value


class CooplanConfig(Section):
    """Bolivia: punto de cobranza Cooplan por PagoFácil."""

    mode: Literal["simulator", "test", "production"] = setting("simulator", "simulator | test | production")
    base_url: str = setting("", "Vacío: la URL del seed para el modo (simulator: <public_url>/sim/cooplan).")
    codseguridad: str = secret(SIM_CODSEGURIDAD, "Credenciales que Cooplan entrega al comercio (seed 003 §1).")
    login: str = setting(SIM_LOGIN)
    pwd: str = secret(SIM_PWD)
    cajero: str = setting(
        "caja-1", "Cajero registrado en cada cobro de esta instalación (la opción --cajero lo cambia).", min_length=1
    )
    token_max_age_seconds: float = setting(
        0, "Renueva el token tras estos segundos aunque no sea rechazado (0: hasta que lo rechacen).", ge=0
    )
    allow_plain_http: bool = setting(False, "La URL de producción del seed es http simple; recházala salvo true.")
    simulator: CooplanSimulatorSection = Field(default_factory=CooplanSimulatorSection)

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def url(self) -> str:
        """The base URL to call: ``base_url`` if set, else the seed's for the mode."""
        if self.settings is None:  # built by hand (tests): the base_url given is the one
            return self.base_url.rstrip("/")
        return ENDPOINTS.url(self.mode, self.settings, self.base_url, key="bo.cooplan.mode")

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.codseguridad, self.login, self.pwd) if s]

    @classmethod
    def from_settings(cls, settings: Any) -> CooplanConfig:
        config = settings.provider_config("cooplan")
        assert isinstance(config, CooplanConfig)
        return config


def simulator_config(settings: Any) -> CooplanSimulatorSection:
    if settings is None:
        return CooplanSimulatorSection()
    return CooplanConfig.from_settings(settings).simulator
