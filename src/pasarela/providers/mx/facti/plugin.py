"""Mexico · Facti payments: payment requests, STP CLABEs, search, delete, mark paid, IPN."""

from pasarela.plugins import ProviderPlugin
from pasarela.providers.mx.facti import flow
from pasarela.providers.mx.facti.api import api_router, webhook_router
from pasarela.providers.mx.facti.cli import setup
from pasarela.providers.mx.facti.simulator import create_app
from pasarela.providers.mx.facti.urls import ENDPOINTS


def _hint(rt):  # type: ignore[no-untyped-def]
    conf = flow.settings_of(rt)
    return (
        f"facti ({conf.mode}): `pasarela mx payments request -f examples/mx/facti_request.json`; "
        f"IPN en {rt.settings.public_url}/webhooks/facti/ipn"
    )


PLUGIN = ProviderPlugin(
    name="facti",
    country="MX",
    config=("mx.facti", "pasarela.providers.mx.facti.config:FactiSettings"),
    endpoints=ENDPOINTS,
    simulator=create_app,
    routers=[api_router, webhook_router],
    cli_setup=setup,
    startup_hint=_hint,
    job_handlers={flow.SUBMIT_JOB: flow.handle_submit, flow.FORWARD_JOB: flow.handle_erp_forward,
                  flow.AFTER_ISSUE_JOB: flow.after_issue_job},
    submit_job=flow.SUBMIT_JOB,
    submitters={flow.KIND: flow.SUBMITTER},
    resolve=flow.resolve,
    validate_overrides=flow.validate_overrides,
)
