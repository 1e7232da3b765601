"""The outbox (`pasarela.flow`): every follow-up of an outcome is a job committed with it, so a worker
SIGKILLed right after a document is recorded issued loses nothing, and a second run does nothing twice.

Each test runs the submission in a worker restricted to the submit job (`pasarela worker --only …`), kills
it once the document is issued (its follow-up cannot have run: that worker does not take it), then starts
an ordinary worker and counts what reached the other side: downloads, mails at a real SMTP server,
forwards at a real HTTP receiver.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from conftest import LiveServer, free_port, wait_until
from pasarela.ledger.models import Artifact, Document, Job, ProviderCall
from pasarela.providers.cl.jumpseller.sender import build_order, send, signed_headers
from pasarela.providers.cl.jumpseller.stores import store

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture
def smtp_inbox() -> Iterator[tuple[int, list[Any]]]:
    from aiosmtpd.controller import Controller

    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port, received
    controller.stop()


def _one(server: LiveServer, query: Any) -> Any:
    with server.rt.db.transaction() as session:
        found = session.scalar(query)
        if found is not None and hasattr(found, "__table__"):
            session.expunge(found)
        return found


def _count(server: LiveServer, query: Any) -> int:
    with server.rt.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _jobs(server: LiveServer, doc_id: int, kind: str) -> list[tuple[str, int]]:
    with server.rt.db.transaction() as session:
        rows = session.execute(select(Job.state, Job.attempts).where(Job.document_id == doc_id, Job.kind == kind))
        return [(str(state), int(attempts)) for state, attempts in rows]


def _issue_then_kill(server: LiveServer, submit_kind: str, doc_id_of: Any, issued: str = "issued") -> int:
    """Run submissions only, wait for the issue, SIGKILL that worker; return the document id."""
    submitter = server.start_worker(threads=1, only=(submit_kind,))
    doc_id = wait_until(doc_id_of, timeout=30, message="document created")
    wait_until(lambda: _state(server, doc_id) == issued, timeout=30, message=f"document {issued}")
    server.kill(submitter)
    return int(doc_id)


def _state(server: LiveServer, doc_id: int) -> str | None:
    doc = _one(server, select(Document).where(Document.id == doc_id))
    return doc.state if doc else None


def _deliver_order(server: LiveServer, order_id: int) -> None:
    shop = store(server.rt.settings, "demo")
    assert shop is not None
    body = json.dumps(build_order(order_id)).encode()
    [(status, _)] = send(f"{server.url}/webhooks/jumpseller/demo", body, signed_headers(body, "demo", shop.hooks_token))
    assert status == 200


def _facto_downloads(server: LiveServer, doc_id: int) -> int:
    query = select(ProviderCall.id).where(ProviderCall.document_id == doc_id, ProviderCall.operation == "descarga")
    return _count(server, query)


def _artifacts(server: LiveServer, doc_id: int) -> set[str]:
    with server.rt.db.transaction() as session:
        return set(session.scalars(select(Artifact.name).where(Artifact.document_id == doc_id)))


def test_facto_files_are_fetched_once_after_a_kill_between_issue_and_download(server_factory: LiveServer) -> None:
    server = server_factory.start(workers=0)
    _deliver_order(server, 7001)
    by_order = select(Document.id).where(Document.source_ref == "demo:7001")
    doc_id = _issue_then_kill(server, "facto.issue", lambda: _one(server, by_order))
    assert _artifacts(server, doc_id) == set() and _jobs(server, doc_id, "facto.download") == [("pending", 0)]

    server.start_worker(threads=2)
    wanted = {"documento.xml", "documento.pdf", "documento-cedible.pdf", "timbre.png"}
    wait_until(lambda: _artifacts(server, doc_id) == wanted, timeout=30, message="Facto's four files stored")
    server.stop()  # and once more: a second worker run fetches nothing again
    server.start(workers=2)
    time.sleep(1.5)
    assert _facto_downloads(server, doc_id) == 4
    assert _jobs(server, doc_id, "facto.download") == [("done", 1)]


def test_facto_resolved_by_hand_with_its_links_fetches_the_files_once(server_factory: LiveServer) -> None:
    server = server_factory.start(workers=2)
    httpx.post(f"{server.url}/sim/facto/_faults", json={"drop_next": 1})
    _deliver_order(server, 7002)
    by_order = select(Document.id).where(Document.source_ref == "demo:7002")
    doc_id = int(wait_until(lambda: _one(server, by_order), timeout=15))
    wait_until(lambda: _state(server, doc_id) == "in_doubt", timeout=15, message="in doubt after the drop")
    server.stop()
    server.start(workers=0)  # nobody works while the person decides: the follow-up waits in the ledger
    # What the operator sees in Facto's portal: the document and its links.
    [seen] = [
        d
        for d in httpx.get(f"{server.url}/sim/facto/_inspect").json()["documents"]
        if d["identificador_externo_doc"] == "7002"
    ]
    links = {key: f"{server.url}/sim/facto{path}" for key, path in seen["enlaces"].items()}
    args = [arg for key, url in links.items() for arg in ("--link", f"{key}={url}")]
    resolved = server.cli("documents", "resolve", str(doc_id), "--folio", str(seen["folio"]), *args)
    assert resolved.returncode == 0, resolved.stderr
    assert _jobs(server, doc_id, "facto.download") == [("pending", 0)]

    server.start_worker(threads=2)
    wait_until(lambda: len(_artifacts(server, doc_id)) == 4, timeout=30, message="files fetched after resolve")
    time.sleep(1.0)
    assert _facto_downloads(server, doc_id) == 4
    history = server.cli("documents", "show", str(doc_id), "--json")
    assert '"actor": "operator"' in history.stdout


def test_bizlinks_mail_is_sent_once_after_a_kill_between_issue_and_delivery(
    server_factory: LiveServer, smtp_inbox: tuple[int, list[Any]]
) -> None:
    port, inbox = smtp_inbox
    smtp = {"PASARELA_SMTP__HOST": "127.0.0.1", "PASARELA_SMTP__PORT": str(port)}
    server = server_factory.start(workers=0, **smtp)
    factura = json.loads((ROOT / "examples" / "pe" / "factura.json").read_text())
    factura["customer"]["email"] = "compras@cliente.pe"
    with server.api() as api:
        created = api.post("/api/pe/documents", json=factura)
    assert created.status_code in (200, 201, 202, 207), created.text
    doc_id = _issue_then_kill(
        server, "pe.bizlinks.send", lambda: _one(server, select(Document.id).where(Document.provider == "bizlinks"))
    )
    assert inbox == [] and _jobs(server, doc_id, "pe.bizlinks.deliver") == [("pending", 0)]

    server.start_worker(threads=2, **smtp)
    wait_until(lambda: len(inbox) == 1, timeout=30, message="one mail at the SMTP server")
    wait_until(lambda: _jobs(server, doc_id, "pe.bizlinks.deliver") == [("done", 1)], timeout=10)
    # Run the follow-up again (as a lease take-over would): no second mail.
    with server.rt.db.transaction() as session:
        session.add(Job(kind="pe.bizlinks.deliver", document_id=doc_id))
    wait_until(
        lambda: (
            len(_jobs(server, doc_id, "pe.bizlinks.deliver")) == 2
            and all(s == "done" for s, _ in _jobs(server, doc_id, "pe.bizlinks.deliver"))
        ),
        timeout=15,
    )
    assert len(inbox) == 1 and inbox[0].rcpt_tos == ["compras@cliente.pe"]
    assert any(name.endswith(".pdf") for name in _artifacts(server, doc_id))


class _Receiver(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        _Receiver.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_facti_follow_ups_run_once_after_kills(server_factory: LiveServer) -> None:
    erp = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=erp.serve_forever, daemon=True).start()
    _Receiver.bodies = []
    try:
        server = server_factory.start(
            workers=0, PASARELA_MX__FACTI__ERP_FORWARD_URL=f"http://127.0.0.1:{erp.server_port}/pagos"
        )
        request = {
            "serie": "T",
            "folio": "901",
            "to_client_name": "Cliente",
            "to_email": "c@prueba.mx",
            "to_rfc": "XAXX010101000",
            "total_amount": "100.00",
        }
        with server.api() as api:
            assert api.post("/api/mx/payments", json=request).status_code in (200, 201)
        by_kind = select(Document.id).where(Document.kind == "payment_request")
        doc_id = _issue_then_kill(server, "facti.submit", lambda: _one(server, by_kind))
        assert _jobs(server, doc_id, "facti.after_issue") == [("pending", 0)]

        # Paid at Facti while no worker takes forwards: the IPN commits "paid" with its forward job.
        ref = _one(server, select(Document.provider_ref).where(Document.id == doc_id))
        assert httpx.post(f"{server.url}/sim/facti/_pay", json={"id": ref}).json()["result"] == 1
        wait_until(lambda: _state(server, doc_id) == "paid", timeout=15, message="paid by the IPN")
        assert _Receiver.bodies == []

        server.start_worker(threads=2)
        wait_until(lambda: len(_Receiver.bodies) == 1, timeout=30, message="one forward to the ERP")
        wait_until(lambda: _jobs(server, doc_id, "facti.after_issue") == [("done", 1)], timeout=10)
        time.sleep(1.0)
        assert len(_Receiver.bodies) == 1
        assert json.loads(_Receiver.bodies[0])["document_id"] == doc_id
        assert hashlib.sha256(_Receiver.bodies[0]).hexdigest()  # a real body, not an empty call
    finally:
        erp.shutdown()
