"""Bizlinks OSE billService endpoints (seed 004 §4.1, §5.1)."""

from pasarela.core.endpoints import Endpoints

SERVICE_PATH = "/ol-ti-itcpe/billService"
ENDPOINTS = Endpoints(
    provider="bizlinks",
    test="https://osetesting.bizlinks.com.pe" + SERVICE_PATH,
    production="https://ose.bizlinks.com.pe" + SERVICE_PATH,
    simulator_path=SERVICE_PATH,
)
