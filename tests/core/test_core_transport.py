"""ProviderHTTP over real loopback sockets: what 'surely not sent' and 'may have been sent' look like."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pasarela.core.errors import MaybeSent, SurelyNotSent
from pasarela.core.transport import ProviderHTTP

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        return None

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path == "/reset":
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = PNG if self.path == "/png" else b"<ok>secret-key-1234</ok>"
        self.send_response(200)
        self.send_header("content-type", "image/png" if self.path == "/png" else "text/xml")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _http(rows: list[dict]) -> ProviderHTTP:
    return ProviderHTTP("test", timeout=0.5, connect_timeout=0.5, secrets=["secret-key-1234"], audit=rows.append)


def test_refused_connection_is_surely_not_sent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rows: list[dict] = []
    with pytest.raises(SurelyNotSent):
        _http(rows).request("op", "POST", f"http://127.0.0.1:{port}/x", content=b"a")
    assert rows[0]["outcome"] == "retry"


def test_timeout_and_reset_after_sending_may_have_been_sent(base_url: str):
    rows: list[dict] = []
    with pytest.raises(MaybeSent):
        _http(rows).request("op", "POST", f"{base_url}/slow", content=b"a")
    with pytest.raises(MaybeSent):
        _http(rows).request("op", "POST", f"{base_url}/reset", content=b"a")
    assert [r["outcome"] for r in rows] == ["in_doubt", "in_doubt"]


def test_audit_redacts_secrets_and_summarises_binary_bodies(base_url: str):
    rows: list[dict] = []
    http = _http(rows)
    assert http.request("op", "POST", f"{base_url}/xml", content=b"api_key=secret-key-1234").status_code == 200
    assert http.request("op", "POST", f"{base_url}/png", content=b"x").content == PNG
    assert "secret-key-1234" not in rows[0]["request_body"] + rows[0]["response_body"]
    assert (
        rows[1]["response_body"].startswith(f"<{len(PNG)} bytes image/png") and "\x00" not in rows[1]["response_body"]
    )
