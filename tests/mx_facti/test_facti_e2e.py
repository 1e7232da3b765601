"""The acceptance points end to end: the real `pasarela serve` (SQLite and PostgreSQL), the Facti
simulator mounted in it sending real IPNs, the CLI and the HTTP API."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from conftest import wait_until
from pasarela.ledger.models import Document, Event, ProviderCall, Transition

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mx" / "facti_request.json"
PAYMENT = {
    "serie": "T",
    "to_client_name": "Cliente Prueba",
    "to_email": "cliente@prueba.mx",
    "to_rfc": "XAXX010101000",
    "total_amount": "242.831",
}


def sim(server: Any, path: str, **kwargs: Any) -> Any:
    method = "POST" if "json" in kwargs else "GET"
    return httpx.request(method, f"{server.url}/sim/facti{path}", timeout=10, **kwargs).json()


def create(api: httpx.Client, **data: Any) -> dict[str, Any]:
    response = api.post("/api/mx/payments", params={"wait": 15}, json={**PAYMENT, **data})
    assert response.status_code in (200, 201), response.text
    return response.json()


def facti_conf(server: Any) -> dict[str, Any]:
    """The configuration the server runs with (the default config has random secrets)."""
    return server.rt.settings.section("mx.facti")


def ipn_form(payment_id: str, password: str) -> dict[str, str]:
    data = {
        "id": int(payment_id),
        "company_id": 1,
        "serie": "T",
        "folio": "1",
        "to_email": "cliente@prueba.mx",
        "total_amount": "242.84",
        "amount_received": "242.84",
        "confirmed_from": "stp",
        "confirmed_date": "2025-01-15 10:00:00",
        "payment_way_id": "1",
        "payment_way_alias": "STP Prepago",
    }
    return {
        "ipn_password": hashlib.md5(password.encode()).hexdigest(),
        "ipn_type": "1",
        "data": json.dumps(data),
    }


def test_readme_flow_request_clabe_mark_paid_ipn(server: Any) -> None:
    """Acceptance 1 (and 2's rounding): CLI request, STP reference + CLABE, mark paid, IPN → paid."""
    out = server.cli("mx", "payments", "request", "-f", str(EXAMPLE), "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["state"] == "issued" and doc["data"]["total_amount"] == "242.84"
    stp = next(r for r in doc["result"]["references"] if r["payment_type"] == "stp")
    assert stp["reference"] == doc["provider_ref"] and stp["clabe_valid"] is True
    assert sim(server, "/_inspect")["payments"][0]["total_amount"] == "242.84"  # sent as 242.84

    # The customer pays by STP transfer at the simulator; Facti then sends the IPN.
    assert sim(server, "/_pay", json={"id": doc["provider_ref"], "confirmed_from": "stp"})["result"] == 1

    def ledger_paid() -> bool:
        with server.rt.db.transaction() as session:
            return session.get(Document, doc["id"]).state == "paid"

    wait_until(ledger_paid, timeout=20, message="IPN to turn the request paid")
    listing = json.loads(server.cli("mx", "payments", "list", "--json").stdout)
    assert listing["items"][0]["state"] == "paid"
    log = sim(server, "/_inspect")["ipn_log"]
    assert log[-1]["http_status"] == 200 and log[-1]["url"].endswith("/webhooks/facti/ipn")
    with server.rt.db.transaction() as session:
        paid = session.get(Document, doc["id"])
        assert paid.result["amount_received"] == "242.84" and paid.result["confirmed_from"] == "stp"
        event = session.scalar(select(Event).where(Event.document_id == doc["id"], Event.source == "facti-ipn"))
        assert event.status == "accepted"
    with server.api() as api:
        deleted = api.delete(f"/api/mx/payments/{doc['id']}")
    assert deleted.status_code == 409 and "pagada" in deleted.json()["error"]["message"]


def test_validation_idempotency_and_dropped_response(server: Any) -> None:
    """Acceptance 2 and 3."""
    with server.api() as api:
        bad = api.post(
            "/api/mx/payments",
            json={**PAYMENT, "folios": ["1", "2"], "total_amounts": ["100", "100"], "total_amount": "150"},
        )
        assert bad.status_code == 422
        assert "no coincide con total_amount" in bad.json()["error"]["message"]
        assert sim(server, "/_inspect")["payments_count"] == 0  # never reached Facti

        first = create(api, folio="100", idempotency_key="pedido-100")
        again = create(api, folio="100", idempotency_key="pedido-100")
        by_folio = create(api, folio="101")
        by_folio_again = create(api, folio="101")
        assert first["id"] == again["id"] and again["created"] is False
        assert by_folio["id"] == by_folio_again["id"]

        httpx.post(f"{server.url}/sim/facti/_faults", json={"drop_next": 1})
        dropped = api.post("/api/mx/payments", json={**PAYMENT, "folio": "102"}).json()

        def settled_with_clabe() -> bool:
            shown = api.get(f"/api/mx/payments/{dropped['id']}").json()
            return shown["state"] == "issued" and bool(shown["clabe"])

        wait_until(settled_with_clabe, timeout=30, message="in-doubt request resolved through company_payments")
        resolved = api.get(f"/api/mx/payments/{dropped['id']}").json()
        assert resolved["result"]["found_by_lookup"] is True
        assert resolved["clabe"]  # fetched with stp_client_clabe after the lookup
        assert any(t["to"] == "in_doubt" for t in resolved["history"])

    folios = sorted(p["folio"] for p in sim(server, "/_inspect")["payments"])
    assert folios == ["100", "101", "102"]  # exactly one payment request each at Facti
    with server.rt.db.transaction() as session:
        rejected = session.scalars(select(Event).where(Event.source == "facti-api", Event.status == "rejected")).all()
        assert len(rejected) == 1 and "no coincide" in rejected[0].reason


def test_ipn_password_concurrency_unknown_payment_and_secrets(server: Any) -> None:
    IPN_PASSWORD = facti_conf(server)["ipn_password"]  # noqa: N806 - the configured secret
    API_KEY = facti_conf(server)["api_key"]  # noqa: N806
    """Acceptance 4: wrong password → 401 recorded; 20 concurrent deliveries → one state change."""
    with server.api() as api:
        doc = create(api, folio="200")
    ref = doc["provider_ref"]
    url = f"{server.url}/webhooks/facti/ipn"
    wrong = httpx.post(url, data=ipn_form(ref, password="adivinanza"))
    assert wrong.status_code == 401

    def deliver(_: int) -> int:
        return httpx.post(url, data=ipn_form(ref, IPN_PASSWORD), timeout=60).status_code

    with ThreadPoolExecutor(20) as pool:
        statuses = list(pool.map(deliver, range(20)))
    assert statuses == [200] * 20
    unknown = httpx.post(url, data=ipn_form("987654", IPN_PASSWORD))
    assert unknown.status_code == 200 and unknown.json()["status"] == "flagged"
    assert httpx.post(url, data=ipn_form("987654", IPN_PASSWORD)).json()["status"] == "duplicate"

    with server.rt.db.transaction() as session:
        to_paid = session.scalars(
            select(Transition).where(Transition.document_id == doc["id"], Transition.to_state == "paid")
        ).all()
        assert len(to_paid) == 1
        events = session.scalars(select(Event).where(Event.source == "facti-ipn")).all()
        by_status = {s: sum(1 for e in events if e.status == s) for s in {e.status for e in events}}
        assert by_status == {"rejected": 1, "accepted": 1, "duplicate": 20, "flagged": 1}
        wrong_event = next(e for e in events if e.status == "rejected")
        assert wrong_event.reason == "ipn_password incorrecto"
        flagged = session.scalar(select(Document).where(Document.kind == "unmatched_payment"))
        assert flagged.state == "needs_attention" and flagged.provider_ref == "987654"
        stored = b"".join(e.body or b"" for e in events).decode()
        calls = session.scalars(select(ProviderCall)).all()
        audit = " ".join(f"{c.url} {c.request_body} {c.response_body} {c.error}" for c in calls)
    md5 = hashlib.md5(IPN_PASSWORD.encode()).hexdigest()
    for secret in (API_KEY, IPN_PASSWORD, md5):
        assert secret not in stored and secret not in audit
        assert secret not in server.log_path.read_text()
    with server.api() as api:
        shown = api.get(f"/api/mx/payments/{doc['id']}", params={"remote": True, "calls": True}).text
        assert API_KEY not in shown and '"status":"0"' in shown
    _iterate_1000_payments(server)


def _iterate_1000_payments(server: Any) -> None:
    """Acceptance 5, through the API (every company_payments page); shares the server above."""
    seeded = sim(server, "/_seed_payments", json={"count": 1000})
    with server.api() as api:
        found = api.get("/api/mx/payments/remote", params={"limit": 5000, "since_id": seeded["first_id"]}).json()[
            "items"
        ]
        paid_only = api.get("/api/mx/payments/remote", params={"status": 1}).json()
    ids = [p["id"] for p in found]
    assert len(ids) == 1000 and set(ids) == set(range(seeded["first_id"], seeded["last_id"] + 1))
    assert paid_only["count"] == 0


class _ERP(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 1

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _ERP.received.append((dict(self.headers), body))
        status = 500 if len(_ERP.received) <= _ERP.fail_first else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_erp_forwarding_is_signed_and_retried(server_factory: Any) -> None:
    erp = HTTPServer(("127.0.0.1", 0), _ERP)
    threading.Thread(target=erp.serve_forever, daemon=True).start()
    secret = "secreto-erp-123456"
    try:
        server = server_factory.start(
            PASARELA_MX__FACTI__ERP_FORWARD_URL=f"http://127.0.0.1:{erp.server_port}/pagos",
            PASARELA_MX__FACTI__ERP_FORWARD_SECRET=secret,
        )
        with server.api() as api:
            doc = create(api, folio="300")
            assert api.post(f"/api/mx/payments/{doc['id']}/mark-paid").status_code == 200
        wait_until(lambda: len(_ERP.received) >= 2, timeout=30, message="ERP forward retried after a 500")
    finally:
        erp.shutdown()
    headers, body = _ERP.received[-1]
    expected = hmac.new(
        secret.encode(), headers["X-Pasarela-Timestamp"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert headers["X-Pasarela-Signature"] == f"sha256={expected}"
    payload = json.loads(body)
    assert payload["document_id"] == doc["id"] and payload["payment"]["amount_received"] == "242.84"
    assert secret not in body.decode()
