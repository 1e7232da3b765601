"""`[bo.cooplan]` settings with working simulator defaults when keys are missing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pasarela.providers.bo.cooplan import urls

# Credentials the simulator accepts out of the box (not real: Cooplan issues the real ones).
SIM_CODSEGURIDAD = "SIM-CODSEG-0001"
SIM_LOGIN = "pasarela.demo"
SIM_PWD = "demo-cooplan-pwd"

DEFAULT_TOML = f'''[bo.cooplan]
# simulator | test | production
mode = "simulator"
# Leave empty to use the seed's URL for the mode (simulator: <public_url>/sim/cooplan).
base_url = ""
# Credentials issued by Cooplan to the merchant (seed 003 §1).
codseguridad = "{SIM_CODSEGURIDAD}"
login = "{SIM_LOGIN}"
pwd = "{SIM_PWD}"
# Name recorded as the cashier of every payment made from this installation (CLI --cajero overrides).
cajero = "caja-1"
# Renew the token after this many seconds even if not refused (0: keep it until refused).
token_max_age_seconds = 0
# The seed's production URL is plain http; refuse it unless you set this to true.
allow_plain_http = false

[bo.cooplan.simulator]
# How long a token issued by the simulator lives.
token_lifetime_seconds = 900
# reportecobranzas answer: "rows" (one row per collection) or "seed" (the seed's bare success string).
report = "rows"
codseguridad = "{SIM_CODSEGURIDAD}"
login = "{SIM_LOGIN}"
pwd = "{SIM_PWD}"
'''


def _get(section: Any, key: str, default: Any) -> Any:
    if not isinstance(section, dict):
        return default
    for name, value in section.items():
        if name.lower() == key.lower() and value is not None and value != "":
            return value
    return default


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@dataclass(frozen=True)
class CooplanConfig:
    mode: str
    base_url: str
    codseguridad: str
    login: str
    pwd: str
    cajero: str
    token_max_age_seconds: float
    allow_plain_http: bool

    @classmethod
    def from_settings(cls, settings: Any) -> CooplanConfig:
        section = settings.section("bo.cooplan")
        mode = str(_get(section, "mode", "simulator")).strip().lower()
        return cls(
            mode=mode,
            base_url=urls.base_url(settings, mode, str(_get(section, "base_url", ""))),
            codseguridad=str(_get(section, "codseguridad", SIM_CODSEGURIDAD)),
            login=str(_get(section, "login", SIM_LOGIN)),
            pwd=str(_get(section, "pwd", SIM_PWD)),
            cajero=str(_get(section, "cajero", "caja-1")),
            token_max_age_seconds=float(_get(section, "token_max_age_seconds", 0)),
            allow_plain_http=_bool(_get(section, "allow_plain_http", False)),
        )

    @property
    def secrets(self) -> list[str]:
        return [s for s in (self.codseguridad, self.login, self.pwd) if s]


@dataclass(frozen=True)
class SimulatorConfig:
    token_lifetime_seconds: float
    report: str
    codseguridad: str
    login: str
    pwd: str

    @classmethod
    def from_settings(cls, settings: Any) -> SimulatorConfig:
        section = settings.section("bo.cooplan.simulator") if settings is not None else {}
        return cls(
            token_lifetime_seconds=float(_get(section, "token_lifetime_seconds", 900)),
            report=str(_get(section, "report", "rows")).lower(),
            codseguridad=str(_get(section, "codseguridad", SIM_CODSEGURIDAD)),
            login=str(_get(section, "login", SIM_LOGIN)),
            pwd=str(_get(section, "pwd", SIM_PWD)),
        )
