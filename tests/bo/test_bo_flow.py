"""Ledger flow against the simulator (loopback), on SQLite and PostgreSQL: one payment per debt,
ambiguous answers resolved through consultardeuda / reportecobranzas, reversals never twice."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cooplan_testkit import gateway_simulator, inspect, sim_post
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from pasarela.api.errors import status_of
from pasarela.core.errors import PasarelaError
from pasarela.core.outcomes import State
from pasarela.ledger.models import Document, Event, Job, ProviderCall
from pasarela.providers.bo.cooplan import flow, report
from pasarela.providers.bo.cooplan.client import PROCESS_TOKENS, client_for
from pasarela.providers.bo.cooplan.config import SIM_CODSEGURIDAD, SIM_PWD
from pasarela.providers.bo.cooplan.mapping import find_debt, parse_fecha_pago
from pasarela.runtime import Runtime


@pytest.fixture
def sim(rt: Runtime) -> Iterator[str]:
    with gateway_simulator(rt.settings) as url:
        yield url


def _docs(rt: Runtime, kind: str = flow.KIND_PAYMENT) -> list[Document]:
    with rt.db.transaction() as session:
        query = select(Document).where(Document.kind == kind).options(selectinload(Document.transitions))
        return list(session.scalars(query.order_by(Document.id)))


def _calls(rt: Runtime, operation: str) -> list[ProviderCall]:
    with rt.db.transaction() as session:
        return list(session.scalars(select(ProviderCall).where(ProviderCall.operation == operation)))


def test_pay_records_a_paid_document(rt: Runtime, sim: str) -> None:
    paid = flow.pay(rt, "345", "202110", cajero="caja-a")
    assert paid["estado"] == flow.PAID and paid["monto"] == "136.76" and paid["cajero"] == "caja-a"
    assert paid["id_cobranza"] == next(iter(inspect(sim)["collections"]))
    [doc] = _docs(rt)
    assert doc.idempotency_key == "cooplan:pago:345:4294633:202110"
    assert [t.to_state for t in doc.transitions] == ["received", "submitting", "issued", "paid"]
    with rt.db.transaction() as session:  # the recovery job is there, later, in case this process had died
        job = session.scalar(select(Job).where(Job.document_id == doc.id))
        assert job is not None and job.kind == flow.JOB_PAYMENT_RECOVERY and job.state == "pending"


def test_wrong_amount_is_refused_before_paying_and_recorded(rt: Runtime, sim: str) -> None:
    with pytest.raises(PasarelaError) as err:
        flow.pay(rt, "345", "202110", monto="100")
    assert status_of(err.value) == 422 and "no coincide" in err.value.message and "136.76" in err.value.message
    assert _calls(rt, "realizarpago") == [] and _docs(rt) == []
    with rt.db.transaction() as session:
        [event] = session.scalars(select(Event).where(Event.source == "cooplan"))
        assert event.status == "rejected" and "no coincide" in event.reason
    assert inspect(sim)["stats"]["payments"] == 0


def test_bad_input_is_a_clear_error_not_a_crash(rt: Runtime, sim: str) -> None:
    for contrato, periodo, expected in [
        ("345", "2021-10", "AAAAMM"),
        ("999", "202110", "No existe el contrato"),
        ("345", "202001", "no tiene deuda pendiente del periodo 202001"),
    ]:
        with pytest.raises(PasarelaError, match=expected):
            flow.pay(rt, contrato, periodo)
    with rt.db.transaction() as session:
        reasons = [e.reason for e in session.scalars(select(Event).where(Event.status == "rejected"))]
    assert len(reasons) == 3 and "No existe el contrato 999" in reasons[1]  # every refusal is recorded


def test_same_payment_twice_is_one_payment(rt: Runtime, sim: str) -> None:
    first = flow.pay(rt, "345", "202110")
    with pytest.raises(PasarelaError) as err:
        flow.pay(rt, "345", "202110")
    assert status_of(err.value) == 409
    assert "ya fue pagada" in err.value.message and str(first["id"]) in err.value.message
    assert len(inspect(sim)["collections"]) == 1 and len(_docs(rt)) == 1


def test_dropped_response_after_commit_adopts_the_collection(rt: Runtime, sim: str) -> None:
    sim_post(sim, "_drop", {"operation": "realizarpago"})
    paid = flow.pay(rt, "315", "202110")
    [collection] = inspect(sim)["collections"].values()
    assert paid["estado"] == flow.PAID and paid["id_cobranza"] == collection["IdCobranza"]
    assert paid["resuelto_por"] == "reportecobranzas"
    assert len(_calls(rt, "realizarpago")) == 1  # never re-sent
    assert [t.to_state for t in _docs(rt)[0].transitions][-3:] == ["in_doubt", "issued", "paid"]


def test_dropped_response_without_report_rows_waits_for_the_cashier(rt: Runtime) -> None:
    rt.settings.raw.setdefault("bo", {}).setdefault("cooplan", {})["simulator"] = {"report": "seed"}
    with gateway_simulator(rt.settings) as sim:
        sim_post(sim, "_drop", {"operation": "realizarpago"})
        doubtful = flow.pay(rt, "315", "202110")
        assert doubtful["estado"] == State.IN_DOUBT and "confirme con Cooplan" in doubtful["motivo"]
        with pytest.raises(PasarelaError, match="in_doubt"):  # nobody pays it again meanwhile
            flow.pay(rt, "315", "202110")
        [collection] = inspect(sim)["collections"].values()
        flow.resolve(rt, doubtful["id"], {"action": "issued", "provider_ref": collection["IdCobranza"]})
        assert flow.payment_view(rt, doubtful["id"])["estado"] == flow.PAID
        assert len(_calls(rt, "realizarpago")) == 1


def test_unprocessed_failure_is_looked_up_then_sent_once_more(rt: Runtime, sim: str) -> None:
    debt = find_debt(client_for(rt).consultar_deuda("402"), "202109")
    assert debt is not None
    doc_id, created = flow._open_payment(rt, "402", debt, "caja-a")
    # A 502 from a proxy before Cooplan processed it: the client cannot read it as "not processed".
    httpx.post(f"{sim}/_faults", json={"error_next": 1, "error_status": 502})
    flow._send_inline(rt, doc_id, flow.PAYMENT)
    assert flow.payment_view(rt, doc_id)["estado"] == flow.PAID
    assert len(_calls(rt, "realizarpago")) == 2 and len(inspect(sim)["collections"]) == 1
    assert _calls(rt, "consultardeuda")  # looked up before re-sending


def test_a_503_before_processing_is_surely_not_sent_and_the_debt_stays_payable(rt: Runtime, sim: str) -> None:
    debt = find_debt(client_for(rt).consultar_deuda("402"), "202109")
    assert debt is not None
    doc_id, _ = flow._open_payment(rt, "402", debt, "caja-a")
    httpx.post(f"{sim}/_faults", json={"error_next": 1})  # 503 + Retry-After: refused at the door
    flow._send_inline(rt, doc_id, flow.PAYMENT)
    refused = flow.payment_view(rt, doc_id)
    assert refused["estado"] == State.FAILED and "no procesado" in refused["motivo"]
    assert len(_calls(rt, "realizarpago")) == 1 and inspect(sim)["collections"] == {}
    assert flow.pay(rt, "402", "202109")["estado"] == flow.PAID  # the cashier simply collects again
    assert len(inspect(sim)["collections"]) == 1


def test_two_cashiers_paying_the_same_debt_at_once(rt: Runtime, sim: str) -> None:
    httpx.post(f"{sim}/_faults", json={"latency_ms": 150})
    outcomes: dict[str, Any] = {}

    def cashier(name: str) -> None:
        try:
            outcomes[name] = flow.pay(rt, "402", "202110", cajero=name)
        except PasarelaError as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=cashier, args=(n,)) for n in ("caja-a", "caja-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    paid = [v for v in outcomes.values() if isinstance(v, dict)]
    refused = [v for v in outcomes.values() if isinstance(v, PasarelaError)]
    assert len(paid) == 1 and paid[0]["estado"] == flow.PAID and len(refused) == 1
    assert status_of(refused[0]) == 409 and (
        "pagando esta deuda" in refused[0].message or "ya fue pagada" in refused[0].message
    )
    assert len(inspect(sim)["collections"]) == 1 and len(_docs(rt)) == 1


def test_reverse_restores_the_debt_never_twice_and_allows_paying_again(rt: Runtime, sim: str) -> None:
    paid = flow.pay(rt, "345", "202111")
    sim_post(sim, "_drop", {"operation": "revertirpago"})  # even with its answer lost
    done = flow.reverse(rt, paid["id"], cajero="caja-b")
    assert done["reversal"]["estado"] == flow.REVERSED and done["payment"]["estado"] == flow.REVERSED
    with pytest.raises(PasarelaError, match="no se revierte dos veces"):
        flow.reverse(rt, paid["id"])
    assert len(_calls(rt, "revertirpago")) == 1 and inspect(sim)["stats"]["reversals"] == 1
    again = flow.pay(rt, "345", "202111")  # the restored debt can be paid again: a new document
    assert again["estado"] == flow.PAID and again["id"] != paid["id"]
    assert _docs(rt)[-1].idempotency_key.endswith(":2")


def test_recovery_job_settles_what_a_dead_process_left(rt: Runtime, sim: str) -> None:
    client = client_for(rt)
    sent, unsent = client.consultar_deuda("402")[:2]
    sent_id, _ = flow._open_payment(rt, "402", sent, "caja-a")
    client.realizar_pago("402", sent)  # the process died right after sending this one
    unsent_id, _ = flow._open_payment(rt, "402", unsent, "caja-a")  # …and before sending this one
    handler = flow.JOB_HANDLERS[flow.JOB_PAYMENT_RECOVERY]
    for doc_id in (sent_id, unsent_id):
        handler(rt, Job(kind=flow.JOB_PAYMENT_RECOVERY, document_id=doc_id, attempts=1))
    assert flow.payment_view(rt, sent_id)["estado"] == flow.PAID
    assert flow.payment_view(rt, unsent_id)["estado"] == State.FAILED
    assert inspect(sim)["stats"]["payments"] == 1  # the worker never sends a payment itself


def test_print_and_daily_report_per_cashier(rt: Runtime, sim: str, tmp_path: Any) -> None:
    a = flow.pay(rt, "345", "202110", cajero="caja-a")
    b = flow.pay(rt, "315", "202110", cajero="caja-b")
    flow.pay(rt, "315", "202111", cajero="caja-b")
    flow.reverse(rt, b["id"], cajero="caja-b")
    printed = report.print_payment(rt, a["id"])
    assert printed["impresion"]["respuesta"].startswith("Transacción")
    with pytest.raises(PasarelaError, match="solo se imprime"):
        report.print_payment(rt, b["id"])
    day = parse_fecha_pago(a["fecha_pago"]).date()
    data = report.report_with_provider(rt, day)
    by_cashier = {c["cajero"]: c for c in data["por_cajero"]}
    assert by_cashier["caja-a"] == {
        "cajero": "caja-a",
        "pagos": 1,
        "cobrado": "136.76",
        "reversiones": 0,
        "revertido": "0.00",
        "neto": "136.76",
    }
    assert by_cashier["caja-b"]["pagos"] == 2 and by_cashier["caja-b"]["revertido"] == "145.70"
    assert data["totales"]["neto"] == str(Decimal("136.76") + Decimal("98.40"))
    assert data["cooplan"]["disponible"] and data["cooplan"]["solo_en_ledger"] == []
    csv_text = report.report_csv(data).decode()
    assert "total_cajero" in csv_text and "caja-b" in csv_text and "-145.70" in csv_text
    pdf = tmp_path / "r.pdf"
    pdf.write_bytes(report.report_pdf(data, data["cooplan"]))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "caja-a" in text and "235.16" in text


def test_no_secret_reaches_the_ledger(rt: Runtime, sim: str) -> None:
    flow.pay(rt, "345", "202110")
    sim_post(sim, "_expire_tokens")
    flow.pay(rt, "345", "202111")
    tokens = [t.value for k, t in PROCESS_TOKENS._tokens.items() if k[0] == sim]
    assert tokens
    with rt.db.transaction() as session:
        rows = [(c.url, c.request_body, c.response_body, c.error) for c in session.scalars(select(ProviderCall))]
        rows += [(d.reason, repr(d.data), repr(d.result)) for d in session.scalars(select(Document))]
        rows += [(e.reason, repr(e.body)) for e in session.scalars(select(Event))]
    text = repr(rows)
    for secret in (*tokens, SIM_PWD, SIM_CODSEGURIDAD):
        assert secret not in text
