from pasarela.plugins import ProviderPlugin
from pasarela.providers.cl.facto import flow, simulator
from pasarela.providers.cl.facto.urls import ENDPOINTS

PLUGIN = ProviderPlugin(
    name="facto",
    country="CL",
    endpoints=ENDPOINTS,
    simulator=lambda settings: simulator.create_app(settings),
    job_handlers={flow.ISSUE_JOB: flow.issue_job, flow.DOWNLOAD_JOB: flow.download_job},
    submit_job=flow.ISSUE_JOB,
    submitters={"*": flow.SUBMITTER},
    resolve=flow.resolve,
    validate_overrides=flow.validate_overrides,
)
