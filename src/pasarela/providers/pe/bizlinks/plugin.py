"""Bizlinks OSE (Perú) plug-in: UBL 2.1 documents signed and sent with billService."""

from __future__ import annotations

from typing import Any

from pasarela.plugins import ProviderPlugin
from pasarela.providers.pe.bizlinks.ledger import DELIVER_JOB, SEND_JOB
from pasarela.providers.pe.bizlinks.urls import ENDPOINTS


def _simulator(settings: Any) -> Any:
    from pasarela.providers.pe.bizlinks.simulator import create_app

    return create_app(settings)


def _router(rt: Any) -> Any:
    from pasarela.providers.pe.bizlinks.api import router

    return router(rt)


def _cli(group: Any) -> None:
    from pasarela.providers.pe.bizlinks.cli import setup

    setup(group)


def _handle(rt: Any, job: Any) -> None:
    from pasarela.providers.pe.bizlinks.flow import handle_job

    handle_job(rt, job)


def _deliver(rt: Any, job: Any) -> None:
    from pasarela.providers.pe.bizlinks.flow import deliver_job

    deliver_job(rt, job)


def _submitters() -> dict[str, Any]:
    from pasarela.providers.pe.bizlinks.flow import SUBMITTER

    return {f"pe-{kind}": SUBMITTER for kind in ("01", "03", "07", "08")}


def _resolve(rt: Any, doc_id: int, request: dict[str, Any]) -> str:
    from pasarela.operations import resolve_with_reference

    return resolve_with_reference(rt, doc_id, request, ref_label="serie-número")


def _hint(rt: Any) -> str:
    return "Perú: pasarela pe issue examples/pe/factura.json"


PLUGIN = ProviderPlugin(
    name="bizlinks",
    country="PE",
    config=("pe", "pasarela.providers.pe.bizlinks.config:PeConfig"),
    endpoints=ENDPOINTS,
    simulator=_simulator,
    routers=[_router],
    cli_setup=_cli,
    startup_hint=_hint,
    job_handlers={SEND_JOB: _handle, DELIVER_JOB: _deliver},
    submit_job=SEND_JOB,
    submitters=_submitters,
    resolve=_resolve,
)
