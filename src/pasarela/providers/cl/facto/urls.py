"""Facto's endpoints per mode (reference/chile.md §2.1). Simulator mode uses the gateway's /sim/facto."""

from pasarela.core.endpoints import Endpoints

# Facto has no separate test host: the documented test setup is the demo account on the same endpoint.
ENDPOINTS = Endpoints(
    provider="facto",
    test="https://conexion.facto.cl/documento.php",
    production="https://conexion.facto.cl/documento.php",
    simulator_path="/documento.php",
)
