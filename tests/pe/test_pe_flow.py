"""End to end against the real server and the Bizlinks simulator over loopback (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree
from sqlalchemy import select

from pasarela.core.outcomes import Outcome
from pasarela.ledger.models import Document, Event, ProviderCall
from pasarela.providers.pe.bizlinks import flow, mapping
from pasarela.providers.pe.bizlinks.client import BizlinksClient
from pasarela.providers.pe.bizlinks.config import pe_config
from pasarela.providers.pe.bizlinks.errors import BizlinksFault
from pasarela.providers.pe.bizlinks.ledger import create_document
from pasarela.providers.pe.ubl.cdr import zip_one
from pasarela.providers.pe.ubl.signing import sign
from pasarela.runtime import Runtime

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "pe"
SETTLED = {"issued", "rejected", "needs_attention", "failed", "voided"}


@pytest.fixture
def pe_server(server_factory: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv("PASARELA_PE__POLL_SECONDS", "0.2")
    server_factory.start()
    yield server_factory


def _sim(server: Any) -> str:
    return f"{server.url}/sim/bizlinks"


def _state(rt: Runtime, doc_id: int) -> Document:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        session.expunge(doc)
        return doc


def _wait(rt: Runtime, doc_id: int, states: set[str] = SETTLED, timeout: float = 30) -> Document:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        doc = _state(rt, doc_id)
        if doc.state in states:
            return doc
        time.sleep(0.1)
    raise AssertionError(f"documento {doc_id} quedó en {_state(rt, doc_id).state}: {_state(rt, doc_id).reason}")


def _poll(fn: Any, timeout: float = 20) -> Any:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_readme_flow_issue_void_summary(pe_server: Any, rt: Runtime, tmp_path: Path) -> None:
    """Acceptance 1 and 5: CLI issue of the shipped factura and boleta, PDF with QR, void by RA and RC."""
    results = {}
    for name in ("factura", "boleta"):
        out = pe_server.cli("pe", "issue", str(EXAMPLES / f"{name}.json"), "--json", "--timeout", "40")
        assert out.returncode == 0, out.stderr + out.stdout
        row = json.loads(out.stdout)[0]
        assert row["state"] == "issued", row
        results[name] = row
    factura = _state(rt, results["factura"]["id"])
    assert factura.provider_ref == "F001-1" and factura.result["cdr_code"] == "0"
    assert (
        factura.result["totals"]["payable"] == "3733.62"
    )  # 3100.10 gravadas + 75 exoneradas + 558.02 IGV + 0.50 ICBPER
    with pe_server.api() as api:

        def artifact_names() -> set[str]:
            return {a["name"] for a in api.get(f"/api/documents/{factura.id}").json()["artifacts"]}

        # the PDF is rendered right after `issued` is committed (on_issued)
        names = _poll(lambda: (lambda n: n if "20000000001-01-F001-1.pdf" in n else None)(artifact_names()))
        assert {
            "20000000001-01-F001-1.xml",
            "20000000001-01-F001-1.zip",
            "R-20000000001-01-F001-1.xml",
            "20000000001-01-F001-1.pdf",
        } <= names
        pdf = api.get(f"/api/pe/documents/{results['boleta']['id']}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    pdf_path = tmp_path / "boleta.pdf"
    pdf_path.write_bytes(pdf.content)
    text = subprocess.run(["pdftotext", str(pdf_path), "-"], capture_output=True, text=True, check=True).stdout
    assert "B001-1" in text and "SON:" in text and "CON" in text
    images = subprocess.run(["pdfimages", "-list", str(pdf_path)], capture_output=True, text=True, check=True).stdout
    assert len(images.strip().splitlines()) == 3  # header, rule, one image: the QR
    subprocess.run(["pdftoppm", "-png", "-r", "50", str(pdf_path), str(tmp_path / "page")], check=True)
    assert list(tmp_path.glob("page*.png"))

    httpx.post(f"{_sim(pe_server)}/_settings", json={"ticket_delay_seconds": 0.8})
    out = pe_server.cli("pe", "void", str(factura.id), "--reason", "ERROR EN PRECIO", "--json", "--timeout", "60")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "issued"
    assert _state(rt, factura.id).state == "voided"
    boleta = _state(rt, results["boleta"]["id"])
    out = pe_server.cli("pe", "summary", "--date", boleta.data["issue_date"], "--json", "--timeout", "60")
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["state"] == "issued" and summary["provider_ref"].startswith("RC-")
    assert _state(rt, boleta.id).result["summary"] == summary["provider_ref"]
    inspect = httpx.get(f"{_sim(pe_server)}/_inspect").json()
    assert inspect["documents"]["20000000001-01-F001-1"]["status"] == "voided"
    assert (
        inspect["counters"]["getStatus"] >= 3
    )  # at least one 98 per ticket with a 0.8 s ticket delay and 0.2 s first poll
    # secrets never leave: the Bizlinks password is not in the audit nor the API output
    with rt.db.transaction() as session:
        bodies = [c.request_body + c.response_body for c in session.scalars(select(ProviderCall))]
    assert bodies and not any("TESTBIZLINKS" in b for b in bodies)


def test_dropped_response_is_adopted_and_bad_input_recorded(pe_server: Any, rt: Runtime) -> None:
    """Acceptance 4b: the response to sendBill is lost; getStatusCdr adopts the CDR, nothing is sent twice."""
    httpx.post(f"{_sim(pe_server)}/_faults", json={"drop_next": 1})
    with pe_server.api() as api:
        created = api.post("/api/pe/documents", json=json.loads((EXAMPLES / "factura.json").read_text()))
        assert created.status_code == 202, created.text
        doc = _wait(rt, created.json()["document_id"])
        assert doc.state == "issued", doc.reason
        assert doc.result["adopted_cdr"] is True
        inspect = httpx.get(f"{_sim(pe_server)}/_inspect").json()
        assert inspect["counters"]["sendBill"] == 1 and inspect["counters"]["getStatusCdr"] >= 1
        history = api.get(f"/api/documents/{doc.id}").json()["history"]
        assert "in_doubt" in [h["to"] for h in history]

        bad = api.post(
            "/api/pe/documents",
            json={
                "type": "01",
                "series": "B001",
                "customer": {"doc_type": "1", "doc_number": "123", "name": "X"},
                "lines": [],
            },
        )
        assert bad.status_code == 422
        message = bad.json()["error"]["message"]
        assert "serie" in message or "DNI" in message or "lines" in message
        assert "Traceback" not in bad.text
    with rt.db.transaction() as session:
        events = list(session.scalars(select(Event).where(Event.status == "rejected")))
    assert events and events[-1].reason


def test_wrong_totals_rejected_and_1033_adopted(
    server_factory: Any, rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Acceptance 4: the simulator recomputes totals (2519 → rejected); a resend after a lost answer
    (1033 registrado previamente) adopts the registered CDR."""
    # No in-process workers: the test registers the document at the OSE first, then lets a worker send it.
    monkeypatch.setenv("PASARELA_PE__POLL_SECONDS", "0.2")
    pe_server = server_factory.start(workers=0)
    config = pe_config(rt.settings)
    created = create_document(rt, config, json.loads((EXAMPLES / "boleta.json").read_text()))
    assert created.ok
    doc = _state(rt, created.document_id)
    # Send a copy with a wrong PayableAmount (re-signed, so only the totals are wrong) under the same number.
    signed = mapping.signed_document(config, doc.data)
    root = etree.fromstring(signed.xml)
    sig = root.find(".//{http://www.w3.org/2000/09/xmldsig#}Signature")
    sig.getparent().remove(sig)
    root.find(".//{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}PayableAmount").text = "999.00"
    xml, _ = sign(root, mapping.cached_credential(config))
    http = rt.provider_http("bizlinks", extra_secrets=[config.password])
    client = BizlinksClient(http, f"{_sim(pe_server)}/ol-ti-itcpe/billService", config.username, config.password)
    cdr = client.send_bill(f"{signed.name}.zip", zip_one(signed.name, xml))
    assert cdr.code == 2519
    result = flow.result_from_cdr(rt, doc, cdr, signed.digest)
    assert result.outcome == Outcome.REJECTED and "2519" in result.reason and "importe total" in result.reason

    # 1033: the correct document was registered by someone (a lost answer); our worker's send gets 1033 and adopts.
    created2 = create_document(rt, config, json.loads((EXAMPLES / "boleta.json").read_text()))
    doc2 = _state(rt, created2.document_id)
    good = mapping.signed_document(config, doc2.data)
    client.send_bill(f"{good.name}.zip", good.zip)
    with pytest.raises(BizlinksFault) as fault:
        client.send_bill(f"{good.name}.zip", good.zip)
    assert fault.value.sunat_code == 1033
    pe_server.start_worker(threads=1)
    adopted = _wait(rt, doc2.id)
    assert adopted.state == "issued" and adopted.result["adopted_cdr"] is True
    # wrong credentials and a Password without Type are refused the way Bizlinks does
    bad = BizlinksClient(http, client.url, config.username, "wrong-password")
    with pytest.raises(BizlinksFault) as wrong:
        bad.get_status("123")
    assert wrong.value.sunat_code == 102 and wrong.value.outcome == Outcome.NEEDS_ATTENTION
    no_type = httpx.post(
        client.url,
        headers={"Content-Type": "text/xml"},
        content=(
            '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:w="http://docs.oasis-open.org/wss/2004/01/'
            'oasis-200401-wss-wssecurity-secext-1.0.xsd"><s:Header><w:Security><w:UsernameToken><w:Username>20000000001BIZLINKS'
            "</w:Username><w:Password>TESTBIZLINKS</w:Password></w:UsernameToken></w:Security></s:Header><s:Body>"
            '<ser:getStatus xmlns:ser="http://service.sunat.gob.pe"><ticket>1</ticket></ser:getStatus></s:Body></s:Envelope>'
        ),
    )
    assert no_type.status_code == 500 and "BSP:R4201" in no_type.text
    assert httpx.post(client.url, headers={"Content-Type": "application/soap+xml"}, content=b"<x/>").status_code == 500
    http.close()


def test_correlatives_have_no_gaps_under_concurrency(rt: Runtime) -> None:
    config = pe_config(rt.settings)
    sample = json.loads((EXAMPLES / "boleta.json").read_text())
    numbers: list[str] = []
    errors: list[BaseException] = []

    def issue(i: int) -> None:
        try:
            created = create_document(rt, config, {**sample, "external_id": f"order-{i % 12}"})
            numbers.append(created.doc_id if not created.duplicate else "dup")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    issued = sorted(int(n.split("-")[1]) for n in numbers if n != "dup")
    assert issued == list(range(1, 13))  # 12 distinct orders → B001-1…12, duplicates reuse theirs
    assert numbers.count("dup") == 4
