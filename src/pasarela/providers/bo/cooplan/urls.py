"""Cooplan base URLs per mode, from seed 003 ("Consideraciones Iniciales")."""

from pasarela.core.endpoints import Endpoints

# The seed gives the same host for both; the live one as plain http, probably a typo [U].
ENDPOINTS = Endpoints(
    provider="cooplan",
    test="https://servicioscooplan.pagofacil.com.bo",
    production="http://servicioscooplan.pagofacil.com.bo",
)
