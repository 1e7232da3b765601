"""MYSuite endpoints per mode (mexico.md §2.2 [O/P]); simulator mode uses the mounted simulator."""

from pasarela.core.endpoints import Endpoints
from pasarela.providers.mx.mysuite.transactions import ASMX_PATH

ENDPOINTS = Endpoints(
    provider="mysuite",
    test="https://www.mysuitetest.com" + ASMX_PATH,
    production="https://www.mysuitecfdi.com" + ASMX_PATH,
    simulator_path=ASMX_PATH,
)
