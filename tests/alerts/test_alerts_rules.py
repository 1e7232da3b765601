"""Alerts against the real ledger, a real SMTP server and a webhook receiver that checks signatures:
one per cause, grouped per rule per window, resolved when the cause clears, never a secret (acceptance 4
for the certificate: once, not once per day)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alerts_testkit import Receiver, smtp_server, webhook_receiver
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from pasarela.alerts import engine as alerts
from pasarela.alerts.models import Alert, AlertDelivery, AlertMessage
from pasarela.alerts.views import list_alerts
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job
from pasarela.runtime import Runtime
from pasarela.schedule import engine as schedule
from pasarela.worker import Worker


@pytest.fixture
def channels(rt: Runtime) -> Iterator[tuple[Runtime, list[Any], Receiver]]:
    with smtp_server() as (port, inbox), webhook_receiver(rt.settings.get("alerts.webhook_secret")) as receiver:
        rt.settings.raw["smtp"].update({"host": "127.0.0.1", "port": port})
        rt.settings.raw["alerts"].update({"email_to": ["ops@empresa.cl", "jefe@empresa.cl"],
                                          "webhook_url": receiver.url})
        yield rt, inbox, receiver


def _deliver_all(rt: Runtime) -> None:
    worker = Worker(rt, kinds=["alerts.deliver"])
    while worker.run_once():
        pass


def _document(rt: Runtime, state: str, reason: str) -> int:
    with rt.db.transaction() as session:
        doc, _ = service.create_document(session, idempotency_key=f"test:{reason}", country="CL", provider="facto",
                                         kind="tax_document", data={}, state=state, reason=reason)
        return doc.id


def _move(rt: Runtime, doc_id: int, state: str) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        service.transition(session, doc, state, "corregido")


def _no_secret_anywhere(rt: Runtime, inbox: list[Any], receiver: Receiver) -> None:
    texts = [m["Subject"] + m.get_content() for m in inbox] + [json.dumps(b, ensure_ascii=False)
                                                                for b in receiver.verified]
    with rt.db.transaction() as session:
        texts += [m.subject + m.body + json.dumps(m.payload) for m in session.scalars(select(AlertMessage))]
    secrets = rt.settings.secrets()
    assert len(secrets) >= 8
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_a_document_needing_attention_is_told_once_with_its_link_then_resolved(channels: Any) -> None:
    rt, inbox, receiver = channels
    password = rt.settings.get("jumpseller.stores")[0]["facto"]["password"]
    doc_id = _document(rt, "needs_attention", f"Facto rechazó la clave {password}: RUT del receptor inválido")
    t0 = datetime.now(UTC)
    first = alerts.evaluate(rt, t0)
    assert len(first.opened) == 1 and len(first.messages) == 1
    assert alerts.evaluate(rt, t0 + timedelta(minutes=10)).opened == []  # the same cause never twice
    _deliver_all(rt)
    assert len(inbox) == 1 and len(receiver.verified) == 1 and receiver.refused == []
    mail = inbox[0]
    assert mail["To"] == "ops@empresa.cl, jefe@empresa.cl" and "requieren atención" in mail["Subject"]
    assert f"{rt.settings.public_url}/documents/{doc_id}" in mail.get_content()
    assert "requiere atención" in mail.get_content() and "RUT del receptor inválido" in mail.get_content()
    hook = receiver.verified[0]
    assert hook["type"] == "alert.opened" and hook["alerts"][0]["link"].endswith(f"/documents/{doc_id}")

    _move(rt, doc_id, "issued")
    resolved = alerts.evaluate(rt, t0 + timedelta(minutes=20))
    assert len(resolved.resolved) == 1 and len(resolved.messages) == 1
    _deliver_all(rt)
    assert len(inbox) == 2 and "resuelto" in inbox[1]["Subject"] and receiver.verified[1]["type"] == "alert.resolved"
    listed = list_alerts(rt)
    assert listed["open"] == 0 and listed["items"][0]["state_label"] == "resuelta"
    _no_secret_anywhere(rt, inbox, receiver)


def test_alerts_of_one_rule_are_grouped_per_window(channels: Any) -> None:
    rt, inbox, receiver = channels
    t0 = datetime.now(UTC)
    _document(rt, "failed", "reintentos agotados: uno")
    alerts.evaluate(rt, t0)
    _document(rt, "in_doubt", "sin respuesta: dos")
    _document(rt, "needs_attention", "dato malo: tres")
    held = alerts.evaluate(rt, t0 + timedelta(minutes=2))  # inside the 5-minute window: wait
    assert len(held.opened) == 2 and held.messages == []
    grouped = alerts.evaluate(rt, t0 + timedelta(minutes=6))
    assert len(grouped.messages) == 1
    _deliver_all(rt)
    assert len(inbox) == 2 and "2 alerta(s)" in inbox[1]["Subject"]
    body = inbox[1].get_content()
    assert "dos" in body and "tres" in body and "uno" not in body
    assert len(receiver.verified[1]["alerts"]) == 2


def _certificate(path: Path, days: int) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "EMPRESA DEMO S.A.C.")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=340))
            .not_valid_after(now + timedelta(days=days, hours=1)).sign(key, hashes.SHA256()))
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.write_bytes(pem + cert.public_bytes(serialization.Encoding.PEM))


def test_a_certificate_expiring_in_20_days_is_told_once_not_every_day(channels: Any, tmp_path: Path) -> None:
    rt, inbox, receiver = channels
    _certificate(tmp_path / "firma.pem", 20)
    rt.settings.raw["pe"]["certificate_path"] = str(tmp_path / "firma.pem")
    t0 = datetime.now(UTC)
    for day in range(3):  # the daily check, three days running
        run = schedule.run_now(rt, "certificates")
        assert run["state"] == "found" and "vence en 20 día(s)" in run["found"][0]["text"]
        alerts.evaluate(rt, t0 + timedelta(days=day))
        _deliver_all(rt)
    assert len(inbox) == 1 and "Certificado por vencer" in inbox[0]["Subject"]
    assert "certificado de firma de Perú (RUC 20000000001) vence en 20 día(s)" in inbox[0].get_content()
    assert len(receiver.verified) == 1
    with rt.db.transaction() as session:
        assert len(session.scalars(select(Alert).where(Alert.rule == "certificate_expiry")).all()) == 1

    _certificate(tmp_path / "firma.pem", 6)  # a week later: the 7-day tier is a new notice, the old one goes
    from pasarela.providers.pe.bizlinks import config as pe_config

    pe_config._cached.clear()
    schedule.run_now(rt, "certificates")
    alerts.evaluate(rt, t0 + timedelta(days=14))
    _deliver_all(rt)
    tightened = inbox[1].get_content()
    assert len(inbox) == 2 and "vence en 6 día(s)" in tightened and "Resuelto" not in tightened
    _certificate(tmp_path / "firma.pem", 400)  # renewed: resolved
    schedule.run_now(rt, "certificates")
    alerts.evaluate(rt, t0 + timedelta(days=20))
    _deliver_all(rt)
    assert len(inbox) == 3 and "resuelto" in inbox[2]["Subject"]


def test_a_failing_channel_is_retried_and_every_attempt_logged(rt: Runtime) -> None:
    from conftest import free_port

    rt.settings.raw["alerts"]["webhook_url"] = f"http://127.0.0.1:{free_port()}/nadie"
    _document(rt, "failed", "reintentos agotados")
    alerts.evaluate(rt)
    worker = Worker(rt, kinds=["alerts.deliver"])
    assert worker.run_once()
    with rt.db.transaction() as session:
        log = session.scalars(select(AlertDelivery)).all()
        assert [(d.channel, d.ok, d.status) for d in log] == [("webhook", 0, "fallido")]
        assert "ConnectError" in log[0].error
        job = session.scalar(select(Job).where(Job.kind == "alerts.deliver"))
        assert job is not None and job.state == "pending" and job.attempts == 1  # waits its backoff


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pasarela", *args], capture_output=True, text=True, timeout=120)


def test_alerts_test_reaches_every_channel_and_alerts_list_shows_state(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _cli("alerts", "test").returncode == 1  # no channel configured: says so
    with smtp_server() as (port, inbox), webhook_receiver(rt.settings.get("alerts.webhook_secret")) as receiver:
        for key, value in {"SMTP__HOST": "127.0.0.1", "SMTP__PORT": str(port), "ALERTS__EMAIL_TO": "ops@empresa.pe",
                           "ALERTS__WEBHOOK_URL": receiver.url}.items():
            monkeypatch.setenv(f"PASARELA_{key}", value)
        sent = _cli("alerts", "test")
        assert sent.returncode == 0, sent.stdout + sent.stderr
        assert "enviada por email" in sent.stdout and "enviada por webhook" in sent.stdout
        assert len(inbox) == 1 and inbox[0]["Subject"] == "[pasarela] prueba de alertas"
        assert receiver.verified[0]["type"] == "alert.test" and receiver.refused == []
    _document(rt, "in_doubt", "sin respuesta de Facto")
    alerts.evaluate(rt)
    listed = _cli("alerts", "list")
    assert "abierta" in listed.stdout and "Documentos que requieren" in listed.stdout
    as_json = json.loads(_cli("alerts", "list", "--json").stdout)
    assert as_json["open"] == 1 and "sin respuesta de Facto" in as_json["items"][0]["text"]
    assert "enviado" in _cli("alerts", "deliveries").stdout


def test_a_boleta_unsummarised_after_5_days_and_a_mysuite_request_stuck_72_hours(rt: Runtime) -> None:
    from pasarela.providers.mx.mysuite.models import SatRequest

    six_days_ago = (datetime.now(UTC) - timedelta(days=6)).date().isoformat()
    with rt.db.transaction() as session:
        doc, _ = service.create_document(
            session, idempotency_key="pe:test:B001-7", country="PE", provider="bizlinks", kind="pe-03",
            data={"doc_id": "B001-7", "issue_date": six_days_ago, "input": {"series": "B001"}}, state="issued")
        boleta_id = doc.id
        session.add(SatRequest(rfc="EKU9003173C9", servicio="CFDIS", direccion="EMISOR", tipo="CFDI",
                               fecha_inicial="2026-01-01 00:00:00", fecha_final="2026-01-31 23:59:59",
                               state="in_progress", created_at=datetime.now(UTC) - timedelta(hours=80)))
    run = schedule.run_now(rt, "pe_summary_warning")
    text = run["found"][0]["text"]
    assert run["state"] == "found" and "B001-7" in text and "plazo de SUNAT" in text
    alerts.evaluate(rt)
    listed = {a["rule"]: a for a in list_alerts(rt)["items"]}
    assert listed["summary_deadline"]["link"].endswith(f"/documents/{boleta_id}")
    assert "lleva más de 72 h" in listed["mysuite_stuck"]["text"]
    assert set(listed) == {"summary_deadline", "mysuite_stuck"}


def _calls(rt: Runtime, provider: str, statuses: list[int | None]) -> None:
    with rt.db.transaction() as session:
        for status in statuses:
            service.record_call(session, {"provider": provider, "operation": "emitirDocumento", "url": "http://x",
                                          "http_status": status, "outcome": "retry" if status is None else "",
                                          "error": "ConnectError" if status is None else ""})


def test_a_provider_failing_opens_once_and_clears_only_when_it_answers_again(rt: Runtime) -> None:
    _calls(rt, "facto", [503, None, 503])
    _calls(rt, "bizlinks", [200, 200, 503, 200])  # 25 %: under the threshold
    assert len(alerts.evaluate(rt).opened) == 1
    assert "facto no responde: 3 de 3" in list_alerts(rt)["items"][0]["text"]
    _calls(rt, "facto", [200])  # one answer is not yet a recovery
    assert alerts.evaluate(rt).resolved == []
    _calls(rt, "facto", [200])
    assert len(alerts.evaluate(rt).resolved) == 1 and list_alerts(rt)["open"] == 0
