"""billService requests (reference §2): WS-Security UsernameToken with PasswordText, the body in
http://service.sunat.gob.pe with unqualified children. Building and reading SOAP is `pasarela.core.soap`."""

from __future__ import annotations

from pasarela.core import soap

SERVICE_NS = "http://service.sunat.gob.pe"
CONTENT_TYPE = "text/xml; charset=UTF-8"  # the seed: any other content-type gets an HTTP 500


def request(
    operation: str, fields: list[tuple[str, str]], username: str, password: str, wrapper: str | None = None
) -> bytes:
    body = soap.call(SERVICE_NS, operation, fields, wrapper=wrapper, prefix="ser")
    return soap.envelope(body, header=soap.username_token(username, password), declaration=False)


def answer(operation: str, fields: list[tuple[str, str]], wrapper: str | None = None) -> bytes:
    """``<br:{operation}Response>`` as the OSE answers it (for the simulator)."""
    body = soap.call(SERVICE_NS, f"{operation}Response", fields, wrapper=wrapper, prefix="br")
    return soap.envelope(body, header=None, prefix="soap-env", declaration=False)
