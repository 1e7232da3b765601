"""The whole configuration file: the core sections declared here, each provider's declared by its
plug-in (`ProviderPlugin.config`). `problems` checks a parsed file against all of them; `default_text`
writes a new file from their defaults. A section added anywhere else must be registered in `CORE` (core)
or by its plug-in, or `pasarela config check` reports it as unknown."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import Field

from pasarela.core.config_model import Problem, Section, check, secret, setting, toml_text
from pasarela.schedule.config import AlertsSection, ScheduleSection


class ServerSection(Section):
    """Servidor HTTP: API, webhooks, consola y simuladores."""

    host: str = setting("127.0.0.1", "Interfaz en la que escucha `pasarela serve`.")
    port: int = setting(8000, "Puerto de `pasarela serve`.", ge=1, le=65535)
    api_token: str = secret(
        "", 'Token para /api/* (cabecera "Authorization: Bearer <api_token>").', generate="urlsafe24"
    )
    public_url: str = setting(
        "http://127.0.0.1:8000", "Dirección por la que los workers y los simuladores llegan a este servidor."
    )
    ingest_writer: Literal["process", "thread"] = setting("process", hidden=True)
    gil_switch_interval: float = setting(0.0005, hidden=True, gt=0)


class DatabaseSection(Section):
    """Ledger: SQLite embebido o PostgreSQL."""

    url: str = setting(
        "",
        "Vacío: el SQLite embebido en $PASARELA_HOME/ledger.db.\n"
        'PostgreSQL: "postgresql+psycopg://usuario:clave@host:5432/base".',
    )


class WorkerSection(Section):
    """Workers: quienes hablan con los proveedores."""

    threads: int = setting(2, "Hilos de trabajo dentro de `pasarela serve` (0: ninguno).", ge=0)
    lease_seconds: float = setting(60, "Tras este tiempo sin noticias, otro worker toma el trabajo.", gt=0)
    max_attempts: int = setting(8, "Reintentos (espera exponencial) antes de `fallido`.", ge=1)
    poll_interval: float = setting(0.2, "Segundos entre consultas cuando no hay trabajo.", gt=0)


class ArtifactsSection(Section):
    """Archivos guardados (XML, PDF, CDR, paquetes del SAT)."""

    dir: str = setting("", "Vacío: $PASARELA_HOME/artifacts")


class SimulatorsSection(Section):
    """Simuladores de los proveedores."""

    enabled: bool = setting(True, "Monta los simuladores en /sim/<proveedor>/ (necesarios en modo simulator).")
    persist: bool = setting(True, hidden=True)


class SmtpSection(Section):
    """Correo que envía pasarela misma (comprobantes, alertas)."""

    host: str = setting("", "Vacío: no se envía correo.")
    port: int = setting(25, "", ge=1, le=65535)
    from_: str = setting("pasarela@localhost", "", alias="from")
    user: str = setting("", hidden=True)
    password: str = secret("", hidden=True)


class ProviderHttpSection(Section):
    timeout: float | None = setting(None, gt=0)
    connect_timeout: float | None = setting(None, gt=0)


class HttpSection(Section):
    """Llamadas a proveedores."""

    timeout: float = setting(30.0, hidden=True, gt=0)
    connect_timeout: float = setting(5.0, hidden=True, gt=0)
    facto: ProviderHttpSection | None = setting(None, hidden=True)
    bizlinks: ProviderHttpSection | None = setting(None, hidden=True)
    facti: ProviderHttpSection | None = setting(None, hidden=True)
    mysuite: ProviderHttpSection | None = setting(None, hidden=True)
    cooplan: ProviderHttpSection | None = setting(None, hidden=True)
    jumpseller: ProviderHttpSection | None = setting(None, hidden=True)


class FactoAccountSection(Section):
    user: str
    password: str = secret()
    razon: str = ""


class FactoSimulatorSection(Section):
    """Test knobs of the Facto simulator (never written in a new file)."""

    accounts: list[FactoAccountSection] = Field(default_factory=list)
    folio_ranges: dict[str, list[int]] | None = None


# (dotted path, model, written in a new file?)
CORE: list[tuple[str, type[Section], bool]] = [
    ("server", ServerSection, True),
    ("database", DatabaseSection, True),
    ("worker", WorkerSection, True),
    ("artifacts", ArtifactsSection, True),
    ("simulators", SimulatorsSection, True),
    ("smtp", SmtpSection, True),
    ("schedule", ScheduleSection, True),
    ("alerts", AlertsSection, True),
    ("http", HttpSection, False),
    ("facto_simulator", FactoSimulatorSection, False),
]


def _load_model(reference: str | type[Section]) -> type[Section]:
    if isinstance(reference, str):
        module, _, name = reference.partition(":")
        model = getattr(importlib.import_module(module), name)
        assert isinstance(model, type) and issubclass(model, Section), reference
        return model
    return reference


def all_sections() -> Iterator[tuple[str, type[Section], bool]]:
    """Every declared section: the core ones, then each plug-in's in plug-in order."""
    from pasarela.plugins import plugins

    yield from CORE
    for plugin in plugins():
        if plugin.config is not None:
            yield plugin.config[0], _load_model(plugin.config[1]), True


def section_model(path: str) -> type[Section]:
    for found, model, _ in all_sections():
        if found == path:
            return model
    raise KeyError(path)


def _node(raw: dict[str, Any], path: str) -> tuple[bool, Any]:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _unknown(raw: dict[str, Any], paths: list[str], prefix: str = "") -> list[Problem]:
    problems = []
    for key, value in raw.items():
        here = f"{prefix}{key}"
        if here in paths:
            continue
        if any(p.startswith(here + ".") for p in paths) and isinstance(value, dict):
            problems.extend(_unknown(value, paths, here + "."))
        else:
            problems.append(Problem(here, "sección o clave desconocida"))
    return problems


def problems(raw: dict[str, Any]) -> list[Problem]:
    """Every problem of a parsed configuration, each with its key path (empty: the file is valid)."""
    declared = list(all_sections())
    found = _unknown(raw, [path for path, _, _ in declared])
    for path, model, _ in declared:
        present, node = _node(raw, path)
        if present:
            found.extend(check(path, model, node)[1])
    return found


def default_text() -> str:
    header = (
        "# Configuración de pasarela. Cada clave se puede sobrescribir con una variable de entorno:\n"
        "# PASARELA_<SECCIÓN>__<CLAVE>, p. ej. PASARELA_SERVER__API_TOKEN, PASARELA_DATABASE_URL.\n"
        "# `pasarela config check` valida este archivo.\n"
    )
    blocks = [toml_text(path, model) for path, model, written in all_sections() if written]
    return header + "\n" + "\n".join(blocks)
