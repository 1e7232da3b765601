"""The Cooplan client against the simulator over real HTTP on loopback: every service, the envelope
turned into typed results and errors, the token cached and renewed, both header spellings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from cooplan_testkit import inspect, make_client, running_simulator, sim_post

from pasarela.core.errors import MaybeSent
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan.client import TokenCache
from pasarela.providers.bo.cooplan.config import SIM_CODSEGURIDAD, SIM_PWD
from pasarela.providers.bo.cooplan.errors import CooplanAuthError, CooplanRefused
from pasarela.providers.bo.cooplan.mapping import bolivia_date


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[str]:
    with running_simulator(tmp_path) as url:
        yield url


def test_find_member_and_debts_typed(sim: str) -> None:
    client = make_client(sim)
    [member] = client.buscar_cliente("345")
    assert member.nombre == "Rivas La Fuente Valentin" and member.factura == "4294633" and member.estado == 1
    debts = client.consultar_deuda("345")
    assert [(d.periodo, d.factura, d.monto) for d in debts] == [
        ("202110", "4294633", Decimal("136.76")),
        ("202111", "4325535", Decimal("136.78")),
    ]
    assert client.consultar_deuda("518") == []  # a member with nothing pending


def test_wire_shapes_are_the_seeds(sim: str) -> None:
    token = sim_post(
        sim,
        A.TOKEN_PATH.lstrip("/"),
        {"CodSeguridad": SIM_CODSEGURIDAD, "Login": "pasarela.demo", "Pwd": SIM_PWD},
    )["values"]
    headers = {"authorization": f"Bearer {token}"}
    debts = httpx.post(f"{sim}/api/consultardeuda", json={"Contrato": "345"}, headers=headers).json()
    assert set(debts) == {"error", "status", "message", "messageMostrar", "messageSistema", "values"}
    assert isinstance(debts["values"][0]["montoTotal"], str) and isinstance(debts["values"][0]["factura"], int)
    paid = httpx.post(
        f"{sim}/api/realizarpago",
        headers=headers,
        json={
            "IdFactura": 4294633,
            "Periodo": "202110",
            "Contrato": "345",
            "Monto": 136.76,
            "IdAsociado": "316",
        },
    ).json()
    assert paid["error"] == 0 and paid["status"] == 1 and paid["message"] == "Transaccion realizada con exito"
    assert isinstance(paid["values"]["IdCobranza"], str)
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}:\d{2}", paid["values"]["FechaPagoEmpresa"])
    reversed_ = httpx.post(
        f"{sim}/api/revertirpago",
        headers=headers,
        json={"IdFactura": 4294633, "IdCobranza": int(paid["values"]["IdCobranza"])},
    ).json()
    assert reversed_["values"] == 1


@pytest.mark.parametrize("header", ["autorizacion", "authorization", "Authorization"])
def test_either_header_spelling_is_accepted(sim: str, header: str) -> None:
    token = sim_post(sim, "api/token", {"CodSeguridad": SIM_CODSEGURIDAD, "Login": "pasarela.demo", "Pwd": SIM_PWD})
    response = httpx.post(
        f"{sim}/api/buscarcliente", json={"Contrato": "345"}, headers={header: f"Bearer {token['values']}"}
    )
    assert response.status_code == 200 and response.json()["error"] == 0


def test_no_token_is_refused_with_the_envelope(sim: str) -> None:
    response = httpx.post(f"{sim}/api/consultardeuda", json={"Contrato": "345"})
    assert response.status_code == 401 and response.json()["error"] != 0


def test_pay_print_report_reverse_and_never_twice(sim: str) -> None:
    client = make_client(sim)
    debt = client.consultar_deuda("315")[0]
    cobro = client.realizar_pago("315", debt)
    assert cobro.id_cobranza.isdigit() and cobro.fecha_pago.tzinfo is not None
    assert [d.periodo for d in client.consultar_deuda("315")] == ["202111"]  # paid debt gone

    with pytest.raises(CooplanRefused) as second:
        client.realizar_pago("315", debt)
    assert "ya fue pagada" in second.value.message and second.value.show_to_cashier
    assert second.value.outcome == "rejected"

    assert "exito" in client.imprimir_factura(debt.factura, cobro.id_cobranza)
    report = client.reporte_cobranzas(bolivia_date(cobro.fecha_pago))
    assert report.has_rows and [r.id_cobranza for r in report.rows] == [cobro.id_cobranza]
    assert report.rows[0].monto == Decimal("145.70")

    assert "xito" in client.revertir_pago(debt.factura, cobro.id_cobranza)
    assert [d.periodo for d in client.consultar_deuda("315")] == ["202110", "202111"]  # restored
    with pytest.raises(CooplanRefused, match="ya fue revertida"):
        client.revertir_pago(debt.factura, cobro.id_cobranza)
    with pytest.raises(CooplanRefused, match="revertida"):
        client.imprimir_factura(debt.factura, cobro.id_cobranza)
    assert inspect(sim)["stats"]["payments"] == 1


def test_unknown_contract_and_invoice_are_error_envelopes(sim: str) -> None:
    client = make_client(sim)
    with pytest.raises(CooplanRefused) as err:
        client.consultar_deuda("999")
    assert "No existe el contrato 999" in err.value.message and err.value.details["messageMostrar"] == 1
    with pytest.raises(CooplanRefused, match="No existe la cobranza"):
        client.imprimir_factura("4294633", "1")
    with pytest.raises(CooplanRefused, match="AAAA-MM-DD"):
        client._call("reportecobranzas", {"Fecha": "05/11/2021"})


def test_simulator_refuses_a_wrong_amount_and_a_wrong_period(sim: str) -> None:
    client = make_client(sim)
    debt = client.consultar_deuda("345")[0]
    from dataclasses import replace

    with pytest.raises(CooplanRefused, match="no coincide"):
        client.realizar_pago("345", replace(debt, monto=Decimal("100.00")))
    with pytest.raises(CooplanRefused, match="corresponde al periodo"):
        client.realizar_pago("345", replace(debt, periodo="202111"))


def test_token_cached_then_renewed_when_refused(sim: str) -> None:
    tokens = TokenCache()
    client = make_client(sim, tokens=tokens)
    client.consultar_deuda("345")
    client.buscar_cliente("345")
    assert tokens.logins == 1
    sim_post(sim, "_expire_tokens")
    assert len(client.consultar_deuda("345")) == 2  # nobody notices
    assert tokens.logins == 2
    stats = inspect(sim)["stats"]
    assert stats["tokens_issued"] == 2 and stats["requests_refused_token"] == 1


def test_token_lifetime_of_the_simulator(tmp_path: Path) -> None:
    with running_simulator(tmp_path, token_lifetime_seconds=0) as sim:
        tokens = TokenCache()
        client = make_client(sim, tokens=tokens)
        # every token is born expired: one renewal, then a clear error instead of a loop
        with pytest.raises(CooplanAuthError, match="recién emitido"):
            client.consultar_deuda("345")
        assert tokens.logins == 2


def test_wrong_credentials_are_an_auth_error(sim: str) -> None:
    with pytest.raises(CooplanAuthError, match="no emitió el token: Credenciales incorrectas"):
        make_client(sim, pwd="wrong-password").consultar_deuda("345")


def test_dropped_payment_response_is_maybe_sent(sim: str) -> None:
    client = make_client(sim)
    debt = client.consultar_deuda("402")[0]
    sim_post(sim, "_drop", {"operation": "realizarpago"})
    with pytest.raises(MaybeSent):
        client.realizar_pago("402", debt)
    assert len(inspect(sim)["collections"]) == 1  # it was committed nonetheless


def test_seed_shaped_report_has_no_rows(tmp_path: Path) -> None:
    with running_simulator(tmp_path, report="seed") as sim:
        report = make_client(sim).reporte_cobranzas("2021-11-05")
        assert not report.has_rows and report.message == "Transacción realizada con éxito"


def test_secrets_and_token_never_in_the_audit(sim: str) -> None:
    audit: list[dict[str, Any]] = []
    client = make_client(sim, audit)
    debt = client.consultar_deuda("345")[0]
    cobro = client.realizar_pago("345", debt)
    client.revertir_pago(debt.factura, cobro.id_cobranza)
    token = next(iter(client.tokens._tokens.values())).value
    text = repr(audit)
    assert audit and "token" in [r["operation"] for r in audit]
    for secret in (token, SIM_PWD, SIM_CODSEGURIDAD):
        assert secret not in text
