"""Provider plug-ins: each provider package exposes ``PLUGIN`` in its ``plugin`` module and is
listed once in ``PLUGIN_MODULES``. The server, the worker and the CLI discover everything here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from pasarela.core.endpoints import Endpoints

if TYPE_CHECKING:
    import typer
    from fastapi import APIRouter

    from pasarela.flow import Submitter
    from pasarela.ledger.models import Document, Job
    from pasarela.runtime import Runtime

PLUGIN_MODULES = [
    "pasarela.providers.cl.facto.plugin",
    "pasarela.providers.cl.jumpseller.plugin",
    "pasarela.providers.pe.bizlinks.plugin",
    "pasarela.providers.mx.facti.plugin",
    "pasarela.providers.mx.mysuite.plugin",
    "pasarela.providers.bo.cooplan.plugin",
]

JobHandler = Callable[["Runtime", "Job"], None]


@dataclass
class ProviderPlugin:
    """What a provider brings: every provider fills the same fields (None where it has nothing)."""

    name: str
    country: str
    # Its configuration section: (dotted path in pasarela.toml, "module:Model" of a core.config_model.Section).
    # Validated by `pasarela config check` and at start; read with `settings.provider_config(name)`.
    config: tuple[str, str] | None = None
    # Where it lives per mode (core.endpoints.Endpoints, from its urls.py).
    endpoints: Endpoints | None = None
    # ASGI app mounted at /sim/<name> when simulators are enabled.
    simulator: Callable[[Any], Any] | None = None
    # Routers added to the gateway app: factory(runtime) -> APIRouter.
    routers: list[Callable[[Runtime], APIRouter]] = field(default_factory=list)
    # Adds commands to the CLI: cli_setup(group) where group("mx", "payments") returns the typer
    # group for `pasarela mx payments …`, creating it on first use. Several plug-ins share "mx".
    cli_setup: Callable[[Callable[..., typer.Typer]], None] | None = None
    # `pasarela simulate <name>` commands: name -> typer command function.
    simulate_commands: dict[str, Callable[..., Any]] = field(default_factory=dict)
    # Printed by `pasarela serve` at start: hint(runtime) -> text (e.g. how to send a test order).
    startup_hint: Callable[[Runtime], str] | None = None
    job_handlers: dict[str, JobHandler] = field(default_factory=dict)
    # The job kind that (re)submits a document of this provider, used by `documents retry`.
    submit_job: str | None = None
    # How each document kind is submitted (key: Document.kind, "*" for every kind): `documents resolve`
    # runs the same in-transaction follow-ups (Submitter.on_issued) as a normal issue. A zero-argument
    # callable returning that dict keeps the provider's flow module unimported until it is needed.
    submitters: dict[str, Submitter] | Callable[[], dict[str, Submitter]] = field(default_factory=dict)
    # Called by `documents resolve`: (runtime, document id, request dict) -> message.
    resolve: Callable[[Runtime, int, dict[str, Any]], str] | None = None
    # Called after an operator corrected data: (runtime, document) -> error text or "" if fine.
    validate_overrides: Callable[[Runtime, Document], str] | None = None

    def submitter_for(self, kind: str) -> Submitter | None:
        table = self.submitters() if callable(self.submitters) else self.submitters
        return table.get(kind) or table.get("*")


@cache
def plugins() -> tuple[ProviderPlugin, ...]:
    found = []
    for module_name in PLUGIN_MODULES:
        module = importlib.import_module(module_name)
        found.append(module.PLUGIN)
    return tuple(found)


def plugin_for(provider: str) -> ProviderPlugin:
    for plugin in plugins():
        if plugin.name == provider:
            return plugin
    raise KeyError(f"no provider plug-in named {provider!r}")


def plugin_with_config(provider: str) -> ProviderPlugin:
    plugin = plugin_for(provider)
    if plugin.config is None:
        raise KeyError(f"el proveedor {provider} no declara configuración propia")
    return plugin


def job_handlers() -> dict[str, JobHandler]:
    handlers: dict[str, JobHandler] = {}
    for plugin in plugins():
        handlers.update(plugin.job_handlers)
    return handlers
