"""Where alert messages go: e-mail through [smtp], and an outbound webhook signed like Svix /
Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``), so a receiver can check it came from us and is fresh. Every attempt is logged."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import time
from email.message import EmailMessage
from typing import Any

import httpx

from pasarela.alerts.models import AlertDelivery, AlertMessage
from pasarela.flow import RetryJob
from pasarela.ledger import service
from pasarela.ledger.models import Job
from pasarela.runtime import Runtime


class DeliveryFailed(Exception):
    pass


def secret_bytes(secret: str) -> bytes:
    """A ``whsec_``-prefixed secret is base64 (as Svix hands them out); any other is used as text."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode("utf-8")


def webhook_signature(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _email(rt: Runtime, message: AlertMessage) -> str:
    recipients = _recipients(rt)
    mail = EmailMessage()
    # One id per message: a retried delivery is the same mail to the reader.
    mail["Message-ID"] = f"<pasarela-alerta-{message.id}@pasarela>"
    mail["From"] = str(rt.settings.get("smtp.from", "pasarela@localhost"))
    mail["To"] = ", ".join(recipients)
    mail["Subject"] = message.subject
    mail.set_content(message.body)
    host, port = str(rt.settings.get("smtp.host")), int(rt.settings.get("smtp.port", 25))
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            user = str(rt.settings.get("smtp.user", ""))
            if user:
                smtp.login(user, str(rt.settings.get("smtp.password", "")))
            smtp.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {host}:{port}: {type(exc).__name__}: {exc}") from None
    return ", ".join(recipients)


def _recipients(rt: Runtime) -> list[str]:
    from pasarela.alerts.engine import email_recipients

    return email_recipients(rt)


def _webhook(rt: Runtime, message: AlertMessage) -> str:
    url = str(rt.settings.get("alerts.webhook_url"))
    secret = str(rt.settings.get("alerts.webhook_secret", ""))
    body = json.dumps({"id": f"msg_{message.id}", **message.payload}, ensure_ascii=False).encode("utf-8")
    message_id, timestamp = f"msg_{message.id}", str(int(time.time()))
    headers = {"content-type": "application/json", "webhook-id": message_id, "webhook-timestamp": timestamp,
               "user-agent": "pasarela-alertas/1"}
    if secret:
        headers["webhook-signature"] = webhook_signature(secret, message_id, timestamp, body)
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"webhook: {type(exc).__name__}: {exc}") from None
    if response.status_code >= 300:
        raise DeliveryFailed(f"webhook respondió HTTP {response.status_code}")
    return url


SENDERS = {"email": _email, "webhook": _webhook}


def deliver(rt: Runtime, message_id: int, channel: str, attempt: int = 1) -> dict[str, Any]:
    """Hand one message to one channel now and log the attempt; raises DeliveryFailed on failure."""
    with rt.db.transaction() as session:
        message = session.get(AlertMessage, message_id)
        assert message is not None
        session.expunge(message)
    error, target = "", ""
    try:
        target = SENDERS[channel](rt, message)
    except DeliveryFailed as exc:
        error = rt.redactor.text(str(exc))
    with rt.db.transaction() as session:
        session.add(AlertDelivery(message_id=message_id, channel=channel, target=rt.redactor.text(target),
                                  attempt=attempt, ok=int(not error), status="enviado" if not error else "fallido",
                                  error=error))
    if error:
        raise DeliveryFailed(error)
    return {"channel": channel, "target": target, "ok": True}


def deliver_job(rt: Runtime, job: Job) -> None:
    """The outbox job of one message to one channel: retried with backoff until it is taken."""
    try:
        deliver(rt, int(job.payload["message_id"]), str(job.payload["channel"]), job.attempts)
    except DeliveryFailed as exc:
        raise RetryJob(str(exc), min(service.backoff_seconds(job.attempts, base=3.0), 1800.0)) from None
