"""Alerts: open one per new cause, never a second for the same cause, resolve it when the cause clears,
and send one message per rule per window (``group_minutes``) listing every alert it carries.

Messages are written with one delivery job per channel in the same transaction (the outbox); the
jobs retry with backoff and log every attempt (`channels.deliver_job`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from pasarela.alerts.models import Alert, AlertMessage, AlertRuleState
from pasarela.alerts.rules import RULES, Cause, Rule, rule_options
from pasarela.ledger import service
from pasarela.runtime import Runtime
from pasarela.schedule.jobs import DELIVER_JOB

DELIVERY_ATTEMPTS = 10


@dataclass
class EvaluationReport:
    opened: list[int] = field(default_factory=list)
    resolved: list[int] = field(default_factory=list)
    messages: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{len(self.opened)} alerta(s) nueva(s), {len(self.resolved)} resuelta(s), "
                f"{len(self.messages)} mensaje(s)")
        return text + (f"; errores: {'; '.join(self.errors)}" if self.errors else "")

    def as_dict(self) -> dict[str, Any]:
        return {"opened": self.opened, "resolved": self.resolved, "messages": self.messages, "errors": self.errors}


def channels(rt: Runtime) -> list[str]:
    """The configured channels: e-mail (needs [smtp] host and email_to) and the signed webhook."""
    found = []
    if email_recipients(rt) and rt.settings.get("smtp.host", ""):
        found.append("email")
    if rt.settings.get("alerts.webhook_url", ""):
        found.append("webhook")
    return found


def email_recipients(rt: Runtime) -> list[str]:
    value = rt.settings.get("alerts.email_to", "")
    items = value if isinstance(value, list) else str(value).replace(";", ",").split(",")
    return [str(v).strip() for v in items if str(v).strip()]


def evaluate(rt: Runtime, now: datetime | None = None, rules: list[str] | None = None) -> EvaluationReport:
    """Look at every rule (or these) once, sync its alerts with its causes, then send what is due."""
    now = now or datetime.now(UTC)
    report = EvaluationReport()
    chosen = [RULES[name] for name in rules] if rules is not None else list(RULES.values())
    for rule in chosen:
        enabled, options = rule_options(rt, rule)
        if not enabled:
            continue
        try:
            causes = rule.evaluate(rt, options)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not silence the others
            report.errors.append(f"{rule.name}: {type(exc).__name__}: {exc}")
            continue
        _sync(rt, rule, causes, now, report)
    if channels(rt):
        for rule in chosen:
            message_id = dispatch(rt, rule, now)
            if message_id is not None:
                report.messages.append(message_id)
    return report


def _sync(rt: Runtime, rule: Rule, causes: dict[str, Cause], now: datetime, report: EvaluationReport) -> None:
    redact = rt.redactor.text
    with rt.db.transaction() as session:
        current = {a.cause: a for a in session.scalars(
            select(Alert).where(Alert.rule == rule.name, Alert.state == "open")).all()}
        for key, cause in causes.items():
            if key in current:
                continue
            try:
                with session.begin_nested():
                    alert = Alert(rule=rule.name, cause=key[:255], open_key=f"{rule.name}|{key}"[:320],
                                  text=redact(cause.text), link=cause.link, details=rt.redactor.value(cause.details),
                                  opened_at=now)
                    session.add(alert)
                    session.flush()
                    report.opened.append(alert.id)
            except IntegrityError:
                continue  # opened by a concurrent evaluation: the same cause never twice
        bases = {_base(key) for key in causes}
        for key, alert in current.items():
            if key in causes:
                continue
            alert.state, alert.open_key, alert.resolved_at = "resolved", None, now
            superseded = _base(key) in bases  # e.g. a certificate now 7 days from expiry instead of 30
            notify = rule.notify_resolved and alert.notified_at is not None and not superseded
            alert.resolved_notice = "pending" if notify else "silent"
            report.resolved.append(alert.id)


def _base(cause: str) -> str:
    return cause.split("#", 1)[0]


def _rule_state(session: Session, rule: str) -> AlertRuleState:
    row = session.get(AlertRuleState, rule, with_for_update=True)
    if row is None:
        try:
            with session.begin_nested():
                session.add(AlertRuleState(rule=rule))
                session.flush()
        except IntegrityError:
            pass
        row = session.get(AlertRuleState, rule, with_for_update=True)
    assert row is not None
    return row


def dispatch(rt: Runtime, rule: Rule, now: datetime) -> int | None:
    """One message for everything of ``rule`` waiting to be told, unless one went out within the window."""
    window = timedelta(minutes=float(rt.settings.get("alerts.group_minutes", 5)))
    with rt.db.transaction() as session:
        state = _rule_state(session, rule.name)  # locked: a group goes out once
        last = state.last_message_at
        if last is not None and now - last < window:
            return None
        opened = session.scalars(select(Alert).where(
            Alert.rule == rule.name, Alert.state == "open", Alert.notified_at.is_(None)).order_by(Alert.id)).all()
        resolved = session.scalars(select(Alert).where(
            Alert.rule == rule.name, Alert.resolved_notice == "pending").order_by(Alert.id)).all()
        if not opened and not resolved:
            return None
        message = compose(rt, rule, list(opened), list(resolved))
        session.add(message)
        session.flush()
        for alert in opened:
            alert.notified_at = now
        for alert in resolved:
            alert.resolved_notice = "sent"
        state.last_message_at = now
        queue_deliveries(rt, session, message)
        return message.id


def queue_deliveries(rt: Runtime, session: Session, message: AlertMessage) -> None:
    for channel in channels(rt):
        service.enqueue(session, DELIVER_JOB, payload={"message_id": message.id, "channel": channel},
                        max_attempts=DELIVERY_ATTEMPTS)


def _alert_line(alert: Alert) -> str:
    return f"- {alert.text}" + (f"\n  {alert.link}" if alert.link else "")


def compose(rt: Runtime, rule: Rule, opened: list[Alert], resolved: list[Alert]) -> AlertMessage:
    """Spanish subject and body, and the webhook's JSON; every text passes the secrets' redactor."""
    redact = rt.redactor.text
    if opened:
        subject = f"[pasarela] {rule.title}: {len(opened)} alerta(s)"
        if resolved:
            subject += f", {len(resolved)} resuelta(s)"
    else:
        subject = f"[pasarela] resuelto: {rule.title} ({len(resolved)})"
    parts = []
    if opened:
        parts.append(f"{rule.title}:\n" + "\n".join(_alert_line(a) for a in opened))
    if resolved:
        parts.append("Resuelto (la causa desapareció):\n" + "\n".join(_alert_line(a) for a in resolved))
    body = "\n\n".join(parts) + f"\n\nAlertas: {rt.settings.public_url}/alerts\n"
    payload = {
        "type": "alert.opened" if opened else "alert.resolved",
        "rule": rule.name,
        "title": rule.title,
        "alerts": [_alert_json(a) for a in [*opened, *resolved]],
        "text": body,
    }
    return AlertMessage(rule=rule.name, kind="open" if opened else "resolved", subject=redact(subject),
                        body=redact(body), payload=rt.redactor.value(payload),
                        alert_ids=[a.id for a in [*opened, *resolved]])


def _alert_json(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "cause": alert.cause,
        "state": alert.state,
        "text": alert.text,
        "link": alert.link,
        "opened_at": alert.opened_at.isoformat() if alert.opened_at else None,
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
    }


def send_test(rt: Runtime) -> dict[str, Any]:
    """`pasarela alerts test`: one test message to every configured channel."""
    found = channels(rt)
    if not found:
        from pasarela.core.errors import ConfigError

        raise ConfigError("no hay canales de alerta: configure [alerts] email_to (con [smtp] host) o webhook_url")
    with rt.db.transaction() as session:
        body = ("Mensaje de prueba de pasarela: si lo recibe, este canal de alertas funciona.\n\n"
                f"Alertas: {rt.settings.public_url}/alerts\n")
        message = AlertMessage(rule="test", kind="test", subject="[pasarela] prueba de alertas", body=body,
                               payload={"type": "alert.test", "rule": "test", "title": "Prueba de alertas",
                                        "alerts": [], "text": body}, alert_ids=[])
        session.add(message)
        session.flush()
        message_id = message.id
    return {"message_id": message_id, "channels": found}
