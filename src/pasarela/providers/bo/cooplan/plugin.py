from __future__ import annotations

from typing import Any

from pasarela.plugins import ProviderPlugin
from pasarela.providers.bo.cooplan import flow
from pasarela.providers.bo.cooplan.api import router
from pasarela.providers.bo.cooplan.cli import setup
from pasarela.providers.bo.cooplan.urls import ENDPOINTS


def _simulator(settings: Any) -> Any:
    from pasarela.providers.bo.cooplan.simulator import create_app

    return create_app(settings)


def _hint(rt: Any) -> str:
    from pasarela.providers.bo.cooplan.config import CooplanConfig

    conf = CooplanConfig.from_settings(rt.settings)
    if conf.mode != "simulator":
        return f"Cooplan ({conf.mode}): {conf.url}"
    return "Cooplan (simulador): prueba `pasarela bo debts 345` y `pasarela bo pay 345 --periodo 202110`"


PLUGIN = ProviderPlugin(
    name="cooplan",
    country="BO",
    config=("bo.cooplan", "pasarela.providers.bo.cooplan.config:CooplanConfig"),
    endpoints=ENDPOINTS,
    simulator=_simulator,
    routers=[router],
    cli_setup=setup,
    startup_hint=_hint,
    job_handlers=flow.JOB_HANDLERS,
    submit_job=None,  # a payment is never re-sent by `documents retry`: the cashier pays again
    submitters={flow.KIND_PAYMENT: flow.PAYMENT, flow.KIND_REVERSAL: flow.REVERSAL},
    resolve=flow.resolve,
)
