"""Acceptance 2 and 3 against the real server, its workers and simulators, a real SMTP server and a
webhook receiver that verifies every signature. Real time: about 2 and 8 minutes, asleep meanwhile."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from alerts_testkit import Receiver, alert_env, only_duties, smtp_server, webhook_receiver
from sqlalchemy import select

from conftest import LiveServer, wait_until
from pasarela.alerts.models import AlertMessage
from pasarela.ledger.models import Document

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _state(live: LiveServer, order_id: int) -> str | None:
    with live.rt.db.transaction() as session:
        doc = session.scalar(select(Document).where(Document.source_ref == f"demo:{order_id}"))
        return doc.state if doc else None


def _texts(inbox: list[Any], receiver: Receiver) -> list[str]:
    return [m["Subject"] + "\n" + m.get_content() for m in inbox] + [json.dumps(b, ensure_ascii=False)
                                                                      for b in receiver.verified]


def _no_secret(live: LiveServer, inbox: list[Any], receiver: Receiver) -> None:
    secrets = live.rt.settings.secrets()
    for text in _texts(inbox, receiver):
        for secret in secrets:
            assert secret not in text


@pytest.fixture
def sinks(rt: Any) -> Any:
    with smtp_server() as (port, inbox), webhook_receiver(rt.settings.get("alerts.webhook_secret")) as receiver:
        yield port, inbox, receiver


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_paused_webhook_is_issued_by_the_sweep_and_an_alert_says_so(server_factory: LiveServer, sinks: Any) -> None:
    port, inbox, receiver = sinks
    env = {**only_duties({"cl_reconcile": "* * * * *", "alerts_evaluate": "* * * * *"}), **alert_env(port, receiver)}
    live = server_factory.start(**env)
    out = live.cli("simulate", "jumpseller-order", "--order-id", "7701", "--hook-paused")
    assert out.returncode == 0 and "sin webhook" in out.stdout, out.stderr
    paid_at = time.monotonic()
    wait_until(lambda: _state(live, 7701) == "issued", timeout=90, interval=1, message="the swept order issued")
    assert time.monotonic() - paid_at < 75  # within one reconcile cadence (a minute) and its issue
    wait_until(lambda: inbox and receiver.verified, timeout=150, interval=1, message="the sweep's alert")
    mail = inbox[0]
    assert "Hallazgos de las tareas programadas" in mail["Subject"]
    assert "demo:7701 sin documento: encontrado por la conciliación" in mail.get_content()
    assert "/documents/" in mail.get_content()
    assert receiver.verified[0]["rule"] == "duty_found" and receiver.refused == []
    with live.api() as api:
        duties = {d["name"]: d for d in api.get("/api/schedule").json()["items"]}
        assert duties["cl_reconcile"]["last_run"]["state"] in ("found", "ok") and duties["cl_reconcile"]["next_run"]
        assert duties["pe_summary"]["enabled"] is False
        runs = api.get("/api/schedule/cl_reconcile/runs").json()["items"]
        assert any(r["found"] and "7701" in r["found"][0]["text"] for r in runs)
        alerts = api.get("/api/alerts").json()
        assert any("7701" in a["text"] for a in alerts["items"])
        assert api.get("/api/alerts", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert api.post("/api/schedule/nope/run").status_code == 404
    _no_secret(live, inbox, receiver)


def _doc_id(live: LiveServer, order_id: int) -> int:
    with live.rt.db.transaction() as session:
        doc = session.scalar(select(Document).where(Document.source_ref == f"demo:{order_id}"))
        assert doc is not None
        return doc.id


def _provider_mail(inbox: list[Any]) -> list[Any]:
    return [m for m in inbox if "Proveedor con fallas" in m["Subject"]]


def _provider_hooks(receiver: Receiver) -> list[dict[str, Any]]:
    return [b for b in receiver.verified if b["rule"] == "provider_failures"]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
def test_facto_unreachable_for_5_minutes_one_grouped_alert_then_resolved(
    server_factory: LiveServer, sinks: Any
) -> None:
    port, inbox, receiver = sinks
    env = {**only_duties({"alerts_evaluate": "* * * * *"}), **alert_env(port, receiver)}
    live = server_factory.start(**env)
    faults = f"{live.url}/sim/facto/_faults"
    assert httpx.post(faults, json={"error_rate": 1}).status_code == 200
    down_at = time.monotonic()
    time.sleep(75)  # a minute into the outage, two paid orders arrive; every call to Facto fails
    for order_id in (8801, 8802):
        assert live.cli("simulate", "jumpseller-order", "--order-id", str(order_id), "--wait", "0").returncode == 0
    wait_until(lambda: _provider_mail(inbox) and _provider_hooks(receiver), timeout=150, interval=1,
               message="the provider alert")
    assert "facto no responde" in _provider_mail(inbox)[0].get_content()
    time.sleep(max(0.0, down_at + 300 - time.monotonic()))
    assert httpx.delete(faults).status_code == 200  # Facto is back after 5 minutes
    for order_id in (8801, 8802):
        if _state(live, order_id) == "failed":  # Facto's Retry-After: 1 spent the retries: an operator retries
            assert live.cli("documents", "retry", str(_doc_id(live, order_id))).returncode == 0
    wait_until(lambda: _state(live, 8801) == _state(live, 8802) == "issued", timeout=300, interval=1,
               message="both orders issued once Facto is back")
    wait_until(lambda: len(_provider_mail(inbox)) >= 2 and len(_provider_hooks(receiver)) >= 2, timeout=420,
               interval=2, message="the resolved message")
    time.sleep(5)
    mails, hooks = _provider_mail(inbox), _provider_hooks(receiver)
    assert len(mails) == 2 and len(hooks) == 2, [m["Subject"] for m in inbox]  # one alert, one "resuelto"
    assert "1 alerta(s)" in mails[0]["Subject"] and mails[1]["Subject"].startswith("[pasarela] resuelto:")
    assert [b["type"] for b in hooks] == ["alert.opened", "alert.resolved"] and receiver.refused == []
    with live.rt.db.transaction() as session:
        kinds = [m.kind for m in session.scalars(select(AlertMessage).where(AlertMessage.rule == "provider_failures")
                                                 .order_by(AlertMessage.id))]
    assert kinds == ["open", "resolved"]
    _no_secret(live, inbox, receiver)
