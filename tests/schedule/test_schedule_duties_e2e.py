"""Duties against the real server and simulators, run as an operator would (`schedule run`): each calls
the operation the CLI already has, records what it found, and its findings become alerts at once."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from conftest import LiveServer, free_port

PAYMENT = {"serie": "T", "folio": 9101, "to_client_name": "Cliente Prueba", "to_email": "cliente@prueba.mx",
           "to_rfc": "XAXX010101000", "total_amount": "242.83"}


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sync_finds_the_payment_whose_ipn_never_came_and_the_day_close_matches(server_factory: LiveServer) -> None:
    lost_ipn = f"http://127.0.0.1:{free_port()}/nadie"  # Facti's IPN goes nowhere
    live = server_factory.start(PASARELA_MX__FACTI__SIMULATOR_IPN_URL=lost_ipn)
    with live.api() as api:
        response = api.post("/api/mx/payments", params={"wait": 15}, json=PAYMENT)
        created = response.json()
    assert created.get("state") == "issued", response.text
    paid = httpx.post(f"{live.url}/sim/facti/_pay", json={"id": created["provider_ref"]}, timeout=10).json()
    assert paid["result"] == 1

    out = live.cli("schedule", "run", "mx_payments_sync", "--json")
    run: dict[str, Any] = json.loads(out.stdout)
    assert run["state"] == "found", run
    assert run["found"][0]["document_id"] == created["id"]
    assert "sólo la sincronización lo encontró" in run["found"][0]["text"]
    assert run["found"][0]["link"] == f"{live.url}/documents/{created['id']}"
    alerts = json.loads(live.cli("alerts", "list", "--json").stdout)["items"]
    assert [a["rule"] for a in alerts] == ["duty_found"] and created["provider_ref"] in alerts[0]["text"]
    again = json.loads(live.cli("schedule", "run", "mx_payments_sync", "--json").stdout)
    assert again["state"] == "ok" and again["found"] == []  # known now: nothing new to tell
    assert json.loads(live.cli("alerts", "list", "--json").stdout)["open"] == 0

    close = json.loads(live.cli("schedule", "run", "bo_day_close", "--json").stdout)
    assert close["state"] == "ok" and "cuadra con Cooplan" in close["summary"], close
    history = json.loads(live.cli("schedule", "runs", "mx_payments_sync", "--json").stdout)
    assert [r["state"] for r in history] == ["ok", "found"] and all(r["trigger"] == "manual" for r in history)
