"""MYSuite bulk download of the SAT's CFDI into the CFDI store (Mexico)."""

from pasarela.plugins import ProviderPlugin
from pasarela.providers.mx.cfdi import models as _cfdi_models  # noqa: F401  (tables on Base)
from pasarela.providers.mx.mysuite import models as _models  # noqa: F401
from pasarela.providers.mx.mysuite.api import cfdi_router, requests_router
from pasarela.providers.mx.mysuite.cli import setup
from pasarela.providers.mx.mysuite.flow import SUBMITTER, follow_job, register_job
from pasarela.providers.mx.mysuite.planner import JOB_FOLLOW, JOB_REGISTER
from pasarela.providers.mx.mysuite.urls import ENDPOINTS


def _simulator(settings):  # type: ignore[no-untyped-def]
    from pasarela.providers.mx.mysuite.simulator import create_app

    return create_app(settings)


def _hint(rt) -> str:  # type: ignore[no-untyped-def]
    from pasarela.providers.mx.mysuite.config import load

    conf = load(rt.settings)
    return (f"MYSuite ({conf.mode}, RFC {conf.rfc}): pasarela mx download --issued --xml "
            "--from 2024-01-01 --to 2024-12-31")


PLUGIN = ProviderPlugin(
    name="mysuite",
    country="MX",
    config=("mx.mysuite", "pasarela.providers.mx.mysuite.config:MySuiteConfig"),
    endpoints=ENDPOINTS,
    simulator=_simulator,
    routers=[cfdi_router, requests_router],
    cli_setup=setup,
    startup_hint=_hint,
    job_handlers={JOB_REGISTER: register_job, JOB_FOLLOW: follow_job},
    submit_job=JOB_REGISTER,
    submitters={"sat_request": SUBMITTER},
)
