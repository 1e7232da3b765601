"""The five acceptance points end to end: the real `pasarela serve` with the Cooplan simulator
mounted, driven through the CLI and /api/bo/…, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from pasarela.ledger.models import Document, ProviderCall
from pasarela.providers.bo.cooplan import assumptions as A


def _sim(server: Any) -> str:
    return f"{server.url}/sim/cooplan"


def _inspect(server: Any) -> dict[str, Any]:
    return httpx.get(f"{_sim(server)}/_inspect", timeout=10).json()


def _count(rt: Any, model: Any, *where: Any) -> int:
    with rt.db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def cli(*args: str, input: str | None = None) -> Any:
    """`pasarela …` in this process (same env as the server: the test's PASARELA_HOME and database);
    a subprocess per command costs seconds of imports on a loaded machine."""
    from typer.testing import CliRunner

    from pasarela.cli.common import runtime
    from pasarela.cli.main import app

    runtime.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args), input=input, env={"COLUMNS": "200"})
    finally:
        runtime().db.dispose()
        runtime.cache_clear()
    result.out = " ".join(result.stdout.split())
    result.err = " ".join(result.stderr.split())
    return result


def _ok(result: Any) -> Any:
    assert result.exit_code == 0, result.stdout + result.stderr
    return result


def test_1_readme_flow_from_the_cli(server: Any, tmp_path: Path) -> None:
    entry = server.cli("bo", "client", "345")  # the real entry point once, as a subprocess
    assert entry.returncode == 0 and "Rivas La Fuente" in entry.stdout
    debts = json.loads(_ok(cli("bo", "debts", "345", "--json")).stdout)
    assert [d["periodo"] for d in debts["deudas"]] == ["202110", "202111"] and debts["total"] == "273.54"

    cancelled = cli("bo", "pay", "345", "--periodo", "202110", input="n\n")
    assert cancelled.exit_code != 0 and "no se cobró" in cancelled.err
    assert _inspect(server)["stats"]["payments"] == 0

    paid = _ok(cli("bo", "pay", "345", "--periodo", "202110", "--cajero", "caja-1", input="y\n"))
    assert "¿Cobrar Bs 136.76" in paid.out and "IdCobranza" in paid.out and "paid" in paid.out
    [collection] = _inspect(server)["collections"].values()
    assert collection["IdCobranza"] in paid.out
    payment_id = server.api().get("/api/documents", params={"provider": "cooplan"}).json()["items"][0]["id"]

    pdf = tmp_path / "comprobante.pdf"
    printed = _ok(cli("bo", "print", str(payment_id), "--pdf", str(pdf)))
    assert "Transacción realizada" in printed.out and pdf.read_bytes().startswith(b"%PDF")

    day = datetime.now(A.BOLIVIA_TZ).date().isoformat()
    csv_path, pdf_path = tmp_path / "cobranzas.csv", tmp_path / "cobranzas.pdf"
    report = _ok(cli("bo", "report", "--date", day, "--csv", str(csv_path), "--pdf", str(pdf_path)))
    assert "caja-1" in report.out and "136.76" in report.out and "reportecobranzas: 1 fila" in report.out
    assert "caja-1" in csv_path.read_text() and pdf_path.read_bytes().startswith(b"%PDF")

    reversed_ = _ok(cli("bo", "reverse", str(payment_id), input="y\n"))
    assert "reversed" in reversed_.out
    again = cli("bo", "reverse", str(payment_id), "--yes")
    assert again.exit_code != 0 and "no se revierte dos veces" in again.err
    assert "202110" in [d["periodo"] for d in server.api().get("/api/bo/debts/345").json()["deudas"]]


def test_2_same_payment_twice_and_a_dropped_response_are_one_payment_each(server: Any, rt: Any) -> None:
    api = server.api()
    first = api.post("/api/bo/payments", json={"contrato": "345", "periodo": "202110"})
    assert first.status_code == 201 and first.json()["estado"] == "paid"
    second = api.post("/api/bo/payments", json={"contrato": "345", "periodo": "202110"})
    assert second.status_code == 409 and "ya fue pagada" in second.json()["error"]["message"]

    httpx.post(f"{_sim(server)}/_drop", json={"operation": "realizarpago"})
    dropped = api.post("/api/bo/payments", json={"contrato": "315", "periodo": "202110"})
    assert dropped.status_code == 201 and dropped.json()["estado"] == "paid"
    assert dropped.json()["resuelto_por"] == "reportecobranzas"

    collections = _inspect(server)["collections"]
    assert sorted(c["Contrato"] for c in collections.values()) == ["315", "345"]
    assert _count(rt, Document, Document.provider == "cooplan") == 2
    assert _count(rt, ProviderCall, ProviderCall.operation == "realizarpago") == 2  # nothing re-sent


def test_3_two_cashiers_paying_the_same_debt_at_once(server: Any, rt: Any) -> None:
    httpx.post(f"{_sim(server)}/_faults", json={"latency_ms": 200})
    answers: dict[str, httpx.Response] = {}

    def cashier(name: str) -> None:
        with server.api() as api:
            answers[name] = api.post("/api/bo/payments", json={"contrato": "402", "periodo": "202109", "cajero": name})

    threads = [threading.Thread(target=cashier, args=(name,)) for name in ("caja-1", "caja-2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(r.status_code for r in answers.values())
    assert codes == [201, 409], {k: v.text for k, v in answers.items()}
    refused = next(r for r in answers.values() if r.status_code == 409).json()["error"]["message"]
    assert "pagando esta deuda" in refused or "ya fue pagada" in refused
    assert "no se cobró de nuevo" in refused
    assert len(_inspect(server)["collections"]) == 1
    assert _count(rt, Document, Document.provider == "cooplan") == 1


def test_4_expired_token_mid_session_is_renewed_unnoticed(server: Any) -> None:
    api = server.api()
    assert api.get("/api/bo/debts/345").status_code == 200
    assert _inspect(server)["stats"]["tokens_issued"] == 1
    httpx.post(f"{_sim(server)}/_expire_tokens")
    paid = api.post("/api/bo/payments", json={"contrato": "345", "periodo": "202110"})
    assert paid.status_code == 201 and paid.json()["estado"] == "paid"
    stats = _inspect(server)["stats"]
    assert stats["tokens_issued"] == 2 and stats["requests_refused_token"] == 1 and stats["payments"] == 1

    # the rest of the cashier's session over /api/bo, on the renewed token
    payment_id = paid.json()["id"]
    printed = api.post(f"/api/bo/payments/{payment_id}/print").json()
    assert printed["impresion"]["respuesta"].startswith("Transacción")
    assert api.get(printed["comprobante"]).content.startswith(b"%PDF")
    day = datetime.now(A.BOLIVIA_TZ).date().isoformat()
    csv_text = api.get("/api/bo/report", params={"date": day, "format": "csv"}).text
    assert "4294633" in csv_text and "total_dia" in csv_text
    assert api.get("/api/bo/report", params={"date": day, "format": "pdf"}).content.startswith(b"%PDF")
    assert api.post(f"/api/bo/payments/{payment_id}/reverse", json={"cajero": "caja-2"}).status_code == 200
    twice = api.post(f"/api/bo/payments/{payment_id}/reverse")
    assert twice.status_code == 409 and "no se revierte dos veces" in twice.json()["error"]["message"]
    assert _inspect(server)["stats"]["tokens_issued"] == 2


def test_5_amount_not_matching_the_debt_is_refused_before_paying(server: Any, rt: Any) -> None:
    api = server.api()
    refused = api.post("/api/bo/payments", json={"contrato": "345", "periodo": "202110", "monto": "130.00"})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "el monto Bs 130.00 no coincide con la deuda del periodo 202110 (factura 4294633): "
        "Bs 136.76; Cooplan no admite pagos parciales ni excedentes"
    )
    refused_cli = cli("bo", "pay", "345", "--periodo", "202110", "--monto", "999", "--yes")
    assert refused_cli.exit_code != 0 and "no coincide con la deuda" in refused_cli.err
    assert _count(rt, ProviderCall, ProviderCall.operation == "realizarpago") == 0
    assert _count(rt, Document, Document.provider == "cooplan") == 0
    assert _inspect(server)["stats"]["payments"] == 0
    # bad input elsewhere is a clear 4xx in Spanish, never a 500; and the API wants its token
    assert api.get("/api/bo/debts/999").status_code == 422
    assert api.get("/api/bo/report", params={"date": "05/11/2021"}).status_code == 422
    assert httpx.get(f"{server.url}/api/bo/debts/345").status_code == 401
