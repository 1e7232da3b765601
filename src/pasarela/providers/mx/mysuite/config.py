"""``[mx.mysuite]`` configuration with working simulator defaults for every missing key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from pasarela.core.config_model import Section, secret, setting

PACKAGE_FIEL = Path(__file__).parent / "fiel"
TEST_FIEL_PASSWORD = "12345678a"  # SAT's published test FIEL (fiel/README.md)
TEST_RFC = "EKU9003173C9"


class MySuiteConfig(Section):
    """México: descarga masiva del SAT por MYSuite."""

    mode: Literal["simulator", "test", "production"] = setting("simulator", "simulator | test | production")
    # MYSuite account: the Requestor/User GUID and user name MYSuite hands out on contracting.
    requestor: str = setting("0c320b03-d4f1-47bc-a5f3-2ee8b1b1b5d1", "Requestor (GUID) de tu cuenta MYSuite.")
    user: str = setting("0c320b03-d4f1-47bc-a5f3-2ee8b1b1b5d1", "User (GUID) de tu cuenta MYSuite.")
    username: str = setting("", "Vacío: MX.<rfc>.<user>")
    rfc: str = setting(TEST_RFC, "RFC de la empresa.")
    fiel_cer_path: str = setting("", "e.firma (FIEL). Vacío: la FIEL de prueba del SAT incluida (solo simulador).")
    fiel_key_path: str = setting("")
    fiel_password: str = secret("")
    timeout: float = setting(90.0, "Segundos de espera por respuesta (el SAT es lento).", gt=0)
    poll_initial_seconds: float = setting(60.0, "Espera entre consultas de estado (se duplica)…", gt=0)
    poll_max_seconds: float = setting(3600.0, "…hasta este máximo.", gt=0)
    split: Literal["month", "year", "none"] = setting("month", "CFDI por solicitud: month | year | none")
    ingest_processes: int = setting(0, hidden=True, ge=0)  # 0: one per core
    ingest_batch_size: int = setting(10_000, hidden=True, ge=1)  # CFDI per committed (fsync'd) batch
    sim_accept_seconds: float = setting(2.0, "Simulador: Aceptada (1) hasta entonces…", ge=0)
    sim_finish_seconds: float = setting(5.0, "…En proceso (2) hasta entonces, luego Terminada (3).", ge=0)
    sim_poll_seconds: float = setting(1.0, "Simulador: espera entre consultas.", gt=0)
    sim_docs_per_month: int = setting(20, "Simulador: CFDI por mes.", ge=0)
    sim_package_size: int = setting(200, "Simulador: CFDI por paquete.", ge=1)
    # Fault injection for crash tests only: "download" or "ingest:<batches>" exits the process there.
    fault_crash_at: str = setting("", hidden=True)

    @field_validator("rfc")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    @property
    def account_name(self) -> str:
        """The UserName MYSuite expects: configured, or MX.<rfc>.<user>."""
        return str(self["username"] or f"MX.{self.rfc}.{self['user']}")

    def fiel_paths(self) -> tuple[Path, Path]:
        cer = self["fiel_cer_path"] or PACKAGE_FIEL / f"{TEST_RFC}.cer"
        key = self["fiel_key_path"] or PACKAGE_FIEL / f"{TEST_RFC}.key"
        return Path(cer), Path(key)

    @property
    def fiel_passphrase(self) -> str:
        """The FIEL key's password: configured, or the published one of the bundled test FIEL."""
        if self["fiel_password"]:
            return str(self["fiel_password"])
        return TEST_FIEL_PASSWORD if not self.fiel_key_path else ""

    @property
    def poll_initial(self) -> float:
        return float(self["sim_poll_seconds"] if self.mode == "simulator" else self["poll_initial_seconds"])


def load(settings: Any) -> MySuiteConfig:
    config = settings.provider_config("mysuite")
    assert isinstance(config, MySuiteConfig)
    return config
