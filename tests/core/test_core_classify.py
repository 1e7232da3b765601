"""Issue 11, acceptance 1: one place (`core.transport.classify`) turns statuses and exceptions into outcomes,
and every client obeys it — 429 and 503 (with and without Retry-After) are retried and never in doubt; a read
timeout after sending is in doubt. Each of the six clients sends one real request to a loopback server that
answers the way the test asks."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from pasarela.core.errors import MaybeSent, SurelyNotSent
from pasarela.core.outcomes import Outcome
from pasarela.core.transport import ProviderHTTP, classify, retry_after
from pasarela.providers.bo.cooplan.client import CooplanClient, TokenCache
from pasarela.providers.bo.cooplan.config import CooplanConfig
from pasarela.providers.cl.facto.client import FactoClient
from pasarela.providers.cl.facto.mapping import build_document
from pasarela.providers.cl.jumpseller.client import JumpsellerClient
from pasarela.providers.cl.jumpseller.order import Order
from pasarela.providers.cl.jumpseller.sender import build_order
from pasarela.providers.mx.facti.client import FactiClient
from pasarela.providers.mx.mysuite.client import Fiel, MySuiteClient
from pasarela.providers.mx.mysuite.config import PACKAGE_FIEL, TEST_FIEL_PASSWORD
from pasarela.providers.pe.bizlinks.client import BizlinksClient


class Behaviour:
    """What the server does with the next request that is not Cooplan's token service."""

    status = 200
    retry_after: str | None = None
    delay = 0.0


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/api/token"):  # Cooplan's token service always answers
            self._send(200, json.dumps({"error": 0, "status": 1, "values": "token-de-prueba"}).encode())
            return
        time.sleep(Behaviour.delay)
        self._send(Behaviour.status, b"busy")

    do_GET = do_POST  # noqa: N815

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        if Behaviour.retry_after is not None and status != 200:
            self.send_header("Retry-After", Behaviour.retry_after)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:  # the client gave up first (the timeout case)
            pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _http(rows: list[dict[str, Any]]) -> ProviderHTTP:
    return ProviderHTTP("prueba", timeout=0.4, connect_timeout=0.4, audit=rows.append)


def _facto(url: str, http: ProviderHTTP) -> Any:
    order = Order.model_validate(build_order(1)["order"])
    return FactoClient(http, f"{url}/documento.php", "1.111.111-4/prueba", "k" * 32).emitir_documento(
        build_document(order)
    )


def _jumpseller(url: str, http: ProviderHTTP) -> Any:
    return JumpsellerClient(http, url, "demo", "token").orders_page("paid", 1)


def _facti(url: str, http: ProviderHTTP) -> Any:
    return FactiClient(http, url, "client", "key").new_request({"serie": "T", "total_amount": "1.00"})


def _mysuite(url: str, http: ProviderHTTP) -> Any:
    fiel = Fiel.from_files(PACKAGE_FIEL / "EKU9003173C9.cer", PACKAGE_FIEL / "EKU9003173C9.key", TEST_FIEL_PASSWORD)
    client = MySuiteClient(
        f"{url}/asmx", requestor="r", user="u", username="n", rfc="EKU9003173C9", fiel=fiel, http=lambda secrets: http
    )
    return client.register("EMITIDOS", "CFDI", "RFC", "2024-01-01 00:00:00", "2024-01-31 23:59:59")


def _bizlinks(url: str, http: ProviderHTTP) -> Any:
    return BizlinksClient(http, f"{url}/billService", "20000000001BIZLINKS", "clave").send_bill("a.zip", b"PK")


def _cooplan(url: str, http: ProviderHTTP) -> Any:
    config = CooplanConfig(mode="simulator", base_url=url, cajero="caja")
    return CooplanClient(config, http, TokenCache()).buscar_cliente("345")


CLIENTS: dict[str, Callable[[str, ProviderHTTP], Any]] = {
    "facto": _facto,
    "jumpseller": _jumpseller,
    "facti": _facti,
    "mysuite": _mysuite,
    "bizlinks": _bizlinks,
    "cooplan": _cooplan,
}


@pytest.fixture
def behaviour() -> Iterator[type[Behaviour]]:
    yield Behaviour
    Behaviour.status, Behaviour.retry_after, Behaviour.delay = 200, None, 0.0


@pytest.mark.parametrize("provider", list(CLIENTS))
@pytest.mark.parametrize(
    ("status", "header", "wait"), [(429, None, None), (503, None, None), (503, "7", 7.0), (429, "120", 120.0)]
)
def test_refused_at_the_door_is_retried_never_in_doubt(
    base_url: str, behaviour: type[Behaviour], provider: str, status: int, header: str | None, wait: float | None
) -> None:
    behaviour.status, behaviour.retry_after = status, header
    rows: list[dict[str, Any]] = []
    with pytest.raises(SurelyNotSent) as raised:
        CLIENTS[provider](base_url, _http(rows))
    assert raised.value.outcome == Outcome.RETRY and raised.value.retry_safe
    assert raised.value.retry_after == wait
    assert raised.value.to_result().retry_after == wait
    assert rows[-1]["http_status"] == status and rows[-1]["outcome"] == "retry"


@pytest.mark.parametrize("provider", list(CLIENTS))
def test_a_read_timeout_after_sending_is_in_doubt(base_url: str, behaviour: type[Behaviour], provider: str) -> None:
    behaviour.delay = 1.0
    rows: list[dict[str, Any]] = []
    with pytest.raises(MaybeSent) as raised:
        CLIENTS[provider](base_url, _http(rows))
    assert raised.value.outcome == Outcome.IN_DOUBT and not raised.value.retry_safe
    assert rows[-1]["outcome"] == "in_doubt" and "ReadTimeout" in rows[-1]["error"]


def test_classify_is_the_one_table() -> None:
    request = httpx.Request("POST", "http://x")
    assert isinstance(classify(httpx.ConnectError("x"), "p"), SurelyNotSent)
    assert isinstance(classify(httpx.ReadTimeout("x"), "p"), MaybeSent)
    assert isinstance(classify(httpx.ReadTimeout("x"), "p", idempotent=True), SurelyNotSent)
    assert isinstance(classify(httpx.Response(502, request=request), "p"), MaybeSent)
    assert classify(httpx.Response(404, request=request), "p") is None
    assert classify(httpx.Response(200, request=request), "p") is None
    dated = httpx.Response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, request=request)
    assert retry_after(dated) == 0.0  # a date in the past: retry now


def test_the_one_place_is_the_only_place() -> None:
    """No client maps a status to an outcome by itself any more."""
    src = Path(__file__).resolve().parents[2] / "src" / "pasarela"
    offenders = [
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if path.name != "transport.py"
        and "simulator" not in path.name
        and any(
            marker in path.read_text()
            for marker in ("status_code in (429", "status_code >= 500", "status_code == 503", "status_code == 429")
        )
    ]
    assert offenders == []
