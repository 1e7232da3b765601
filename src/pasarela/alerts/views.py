"""Alerts as a person reads them — the same for `pasarela alerts list`, `GET /api/alerts` and the console."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from pasarela.alerts.models import Alert, AlertDelivery, AlertMessage
from pasarela.alerts.rules import RULES
from pasarela.core.formats import datetime_text
from pasarela.core.labels import alert_state_label
from pasarela.runtime import Runtime


def _alert(alert: Alert) -> dict[str, Any]:
    rule = RULES.get(alert.rule)
    return {
        "id": alert.id,
        "rule": alert.rule,
        "rule_title": rule.title if rule else alert.rule,
        "cause": alert.cause,
        "state": alert.state,
        "state_label": alert_state_label(alert.state),
        "text": alert.text,
        "link": alert.link,
        "opened_at": alert.opened_at.isoformat(),
        "opened_text": datetime_text(alert.opened_at, "PE"),
        "resolved_at": alert.resolved_at.isoformat() if alert.resolved_at else None,
        "notified": alert.notified_at is not None,
    }


def list_alerts(rt: Runtime, state: str | None = None, rule: str | None = None, limit: int = 200) -> dict[str, Any]:
    """Open alerts first, then the most recent resolved ones; with the counts per state."""
    query = select(Alert)
    if state:
        query = query.where(Alert.state == state)
    if rule:
        query = query.where(Alert.rule == rule)
    with rt.db.transaction() as session:
        rows = session.scalars(query.order_by(Alert.state, Alert.id.desc()).limit(limit)).all()
        counts = dict(session.execute(select(Alert.state, func.count()).group_by(Alert.state)).all())
        return {"items": [_alert(a) for a in rows], "open": int(counts.get("open", 0)),
                "resolved": int(counts.get("resolved", 0))}


def deliveries(rt: Runtime, limit: int = 100) -> list[dict[str, Any]]:
    """The delivery log: every attempt of every message to every channel, newest first."""
    with rt.db.transaction() as session:
        rows = session.execute(
            select(AlertDelivery, AlertMessage.subject).join(AlertMessage, AlertMessage.id == AlertDelivery.message_id)
            .order_by(AlertDelivery.id.desc()).limit(limit)
        ).all()
        return [{"message_id": d.message_id, "subject": subject, "channel": d.channel, "target": d.target,
                 "attempt": d.attempt, "ok": bool(d.ok), "status": d.status, "error": d.error,
                 "at": d.at.isoformat()} for d, subject in rows]
