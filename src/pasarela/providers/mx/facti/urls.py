"""Facti API base URLs per mode (seed 001)."""

from pasarela.core.endpoints import Endpoints

ENDPOINTS = Endpoints(
    provider="facti",
    test="http://api.sandbox.facti.mx",  # plain HTTP, as the seed documents it
    production="https://api.facti.mx",
)
