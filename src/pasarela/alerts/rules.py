"""Alert rules. Each one looks at the ledger and says which causes are active right now; the engine
opens an alert for a new cause, leaves a known one alone (never twice) and resolves a vanished one.

Thresholds live in ``[alerts.<rule>]`` (defaults below, listed in docs/schedule.md)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from pasarela.core.labels import state_label
from pasarela.ledger.models import Document, ProviderCall, utcnow
from pasarela.runtime import Runtime
from pasarela.schedule.config import RULE_OPTIONS


@dataclass
class Cause:
    text: str
    link: str = ""
    details: dict[str, Any] = field(default_factory=dict)


Causes = dict[str, Cause]


@dataclass(frozen=True)
class Rule:
    name: str
    title: str
    evaluate: Callable[[Runtime, dict[str, Any]], Causes]
    # Send a "resuelto" message when the cause clears (findings of a sweep are settled silently).
    notify_resolved: bool = True

    @property
    def options(self) -> dict[str, Any]:
        """Its thresholds' defaults, declared with the configuration (`[alerts.<name>]`)."""
        return RULE_OPTIONS[self.name]


def _doc_link(rt: Runtime, doc_id: int) -> str:
    return f"{rt.settings.public_url}/documents/{doc_id}"


def documents(rt: Runtime, options: dict[str, Any]) -> Causes:
    """Each document now in requiere atención, en duda or fallido, with its reason and console link."""
    states = tuple(options["states"])
    with rt.db.transaction() as session:
        rows = session.execute(
            select(Document.id, Document.state, Document.reason, Document.country, Document.kind)
            .where(Document.state.in_(states)).order_by(Document.id).limit(int(options["max_listed"]))
        ).all()
    return {
        f"doc:{doc_id}:{state}": Cause(
            f"documento {doc_id} ({country} {kind}) en «{state_label(state)}»: {reason or 'sin motivo registrado'}",
            _doc_link(rt, doc_id), {"document_id": doc_id, "state": state})
        for doc_id, state, reason, country, kind in rows
    }


def _failed(call: tuple[Any, ...]) -> bool:
    status, outcome, error = call
    return bool(error) or outcome in ("retry", "in_doubt") or status is None or status >= 500 or status == 429


def providers(rt: Runtime, options: dict[str, Any]) -> Causes:
    """A provider failing more than N % of its calls (or not answering at all) over the window.

    Opens on at least ``min_calls`` calls in the window; clears only on evidence — the last
    ``recover_calls`` calls answered — never because the calls stopped."""
    window = utcnow() - timedelta(minutes=float(options["window_minutes"]))
    with rt.db.transaction() as session:
        rows = session.execute(
            select(ProviderCall.provider, ProviderCall.http_status, ProviderCall.outcome, ProviderCall.error)
            .where(ProviderCall.at >= window).order_by(ProviderCall.id)
        ).all()
        open_alerts = _open_causes(session, "provider_failures")
    calls: dict[str, list[tuple[Any, ...]]] = {}
    for provider, status, outcome, error in rows:
        calls.setdefault(provider, []).append((status, outcome, error))
    causes: Causes = {}
    for provider, made in calls.items():
        failed = [c for c in made if _failed(c)]
        share = 100.0 * len(failed) / len(made)
        recovered = all(not _failed(c) for c in made[-int(options["recover_calls"]):])
        if provider in open_alerts and not recovered:
            causes[provider] = open_alerts[provider]
            continue
        if len(made) < int(options["min_calls"]) or share <= float(options["failure_percent"]) or recovered:
            continue
        what = "no responde" if len(failed) == len(made) else f"falla el {share:.0f} % de las llamadas"
        causes[provider] = Cause(
            f"{provider} {what}: {len(failed)} de {len(made)} llamadas fallidas en los últimos "
            f"{float(options['window_minutes']):.0f} min", details={"calls": len(made), "failed": len(failed)})
    for provider, cause in open_alerts.items():
        if provider not in calls:  # no calls in the window: no evidence it came back
            causes[provider] = cause
    return causes


def _open_causes(session: Any, rule: str) -> Causes:
    from pasarela.alerts.models import Alert

    alerts = session.scalars(select(Alert).where(Alert.rule == rule, Alert.state == "open")).all()
    return {a.cause: Cause(a.text, a.link, a.details) for a in alerts}


def _latest_runs(rt: Runtime, duties: list[str], states: tuple[str, ...]) -> dict[str, Any]:
    from pasarela.schedule.models import ScheduleRun

    latest: dict[str, Any] = {}
    with rt.db.transaction() as session:
        for name in duties:
            run = session.scalar(
                select(ScheduleRun).where(ScheduleRun.duty == name, ScheduleRun.state.in_(states))
                .order_by(ScheduleRun.finished_at.desc(), ScheduleRun.id.desc()).limit(1)
            )
            if run is not None:
                session.expunge(run)
                latest[name] = run
    return latest


def duty_failed(rt: Runtime, options: dict[str, Any]) -> Causes:
    """A duty whose latest run failed; cleared by its next good run."""
    from pasarela.schedule.duties import DUTIES

    latest = _latest_runs(rt, list(DUTIES), ("ok", "found", "failed"))
    return {
        name: Cause(f"la tarea «{DUTIES[name].title}» falló: {run.error}", details={"run_id": run.id})
        for name, run in latest.items() if run.state == "failed"
    }


def findings(rule: str) -> Callable[[Runtime, dict[str, Any]], Causes]:
    """What the latest completed run of each duty raising ``rule`` found (one cause per item)."""

    def evaluate(rt: Runtime, options: dict[str, Any]) -> Causes:
        from pasarela.schedule.duties import DUTIES

        duties = [d.name for d in DUTIES.values() if d.alert_rule == rule]
        causes: Causes = {}
        for name, run in _latest_runs(rt, duties, ("ok", "found")).items():
            for item in run.found or []:
                causes[f"{name}:{item['key']}"] = Cause(
                    str(item["text"]), str(item.get("link", "")), {"duty": name, "run_id": run.id})
        return causes

    return evaluate


def mysuite_stuck(rt: Runtime, options: dict[str, Any]) -> Causes:
    from pasarela.providers.mx.mysuite.models import SatRequest
    from pasarela.providers.mx.mysuite.planner import TERMINAL

    hours = float(options["hours"])
    limit = utcnow() - timedelta(hours=hours)
    with rt.db.transaction() as session:
        rows = session.scalars(
            select(SatRequest).where(SatRequest.state.not_in(tuple(TERMINAL)), SatRequest.created_at < limit)
        ).all()
        return {
            f"request:{r.id}": Cause(
                f"solicitud MYSuite #{r.id} ({r.period_key()}) lleva más de {hours:.0f} h en «{r.state}»",
                details={"request_id": r.id, "mysuite_id": r.mysuite_id})
            for r in rows
        }


RULES: dict[str, Rule] = {
    r.name: r
    for r in [
        Rule("documents", "Documentos que requieren atención", documents),
        Rule("provider_failures", "Proveedor con fallas", providers),
        Rule("duty_failed", "Tarea programada fallida", duty_failed),
        Rule("duty_found", "Hallazgos de las tareas programadas", findings("duty_found"), notify_resolved=False),
        Rule("certificate_expiry", "Certificado por vencer", findings("certificate_expiry")),
        Rule("summary_deadline", "Plazo del resumen diario (Perú) por vencer", findings("summary_deadline")),
        Rule("mysuite_stuck", "Solicitud MYSuite detenida", mysuite_stuck),
    ]
}


def rule_options(rt: Runtime, rule: Rule) -> tuple[bool, dict[str, Any]]:
    conf = rt.settings.section(f"alerts.{rule.name}") or {}
    from pasarela.schedule.engine import flag

    return flag(conf.get("enabled", True)), {k: conf.get(k, v) for k, v in rule.options.items()}
