"""Every periodic duty, each a thin call to the operation the CLI and the API already use.

A duty returns what it did (``summary``) and what a person should know (``found``: one item per cause,
each with a stable ``key``); the alert rule named by ``alert_rule`` turns the findings into alerts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from pasarela.core.errors import NotFound
from pasarela.core.formats import COUNTRIES, date_text
from pasarela.core.labels import state_label
from pasarela.ledger import service
from pasarela.ledger.models import Document, Event, Job, Transition, utcnow
from pasarela.runtime import Runtime
from pasarela.schedule.config import DUTY_OPTIONS


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware UTC
    zone: str

    @property
    def local(self) -> datetime:
        return self.start.astimezone(ZoneInfo(self.zone))

    @property
    def day(self) -> date:
        return self.local.date()


@dataclass
class DutyOutcome:
    summary: str
    found: list[dict[str, Any]] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    error: str = ""  # set when the duty could not do (all of) its work


DutyFn = Callable[[Runtime, Slot, dict[str, Any]], DutyOutcome]


@dataclass(frozen=True)
class Duty:
    name: str
    title: str
    country: str  # CL | PE | MX | BO, or "" for every country
    cadence: str
    catch_up: str  # each: every missed slot once; once: one run for all of them
    run: DutyFn
    alert_rule: str = "duty_found"

    @property
    def options(self) -> dict[str, Any]:
        """Its own options' defaults, declared with the configuration (`[schedule.<name>]`)."""
        return DUTY_OPTIONS[self.name]

    @property
    def zone(self) -> str:
        return COUNTRIES[self.country].zone if self.country else "UTC"


def _link(rt: Runtime, doc_id: int) -> str:
    return f"{rt.settings.public_url}/documents/{doc_id}"


def _doc_item(rt: Runtime, doc: Document, text: str, key: str | None = None) -> dict[str, Any]:
    return {"key": key or f"doc:{doc.id}", "text": text, "document_id": doc.id, "link": _link(rt, doc.id)}


# ---- Chile ---------------------------------------------------------------------------------------


def cl_reconcile(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    from pasarela.providers.cl.jumpseller.reconcile import SOURCE, reconcile

    started = utcnow()
    reports = reconcile(rt)
    with rt.db.transaction() as session:
        found_docs = session.execute(
            select(Event.source_ref, Document)
            .join(Document, Document.id == Event.document_id)
            .where(Event.source == SOURCE, Event.status == "accepted", Event.received_at >= started)
            .order_by(Event.id)
        ).all()
        found = [
            _doc_item(rt, doc, f"pedido pagado {ref} sin documento: encontrado por la conciliación, "
                      f"documento {doc.id} ({state_label(doc.state)})")
            for ref, doc in found_docs
        ]
    errors = [f"{r['store']}: {r['error']}" for r in reports if r["error"]]
    summary = "; ".join(f"{r['store']}: {r['paid_orders']} pagados, {r['new']} nuevos" for r in reports)
    return DutyOutcome(summary or "ninguna tienda con acceso a la API de Jumpseller", found,
                       {"stores": reports}, error="; ".join(errors))


# ---- Perú ----------------------------------------------------------------------------------------

BOLETA_KINDS = ("pe-03", "pe-07", "pe-08")


def _unsummarised_boletas(rt: Runtime) -> list[Document]:
    from pasarela.providers.pe.bizlinks.ledger import PROVIDER

    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document).where(
                Document.provider == PROVIDER, Document.kind.in_(BOLETA_KINDS), Document.state == "issued"
            ).order_by(Document.id)
        ).all()
        return [d for d in docs if d.data["input"]["series"].startswith("B") and not (d.result or {}).get("summary")]


def pe_summary(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    """RC for every past day (within SUNAT's deadline) that still has boletas outside a summary."""
    from pasarela.providers.pe.bizlinks.flow import daily_summary

    today = slot.day
    days = sorted({date.fromisoformat(d.data["issue_date"]) for d in _unsummarised_boletas(rt)})
    oldest = today - timedelta(days=int(options["deadline_days"]))
    created = []
    for day in days:
        if not oldest <= day < today:
            continue
        try:
            created.append(daily_summary(rt, day))
        except NotFound:
            continue
    if not created:
        return DutyOutcome("sin boletas pendientes de resumen")
    text = ", ".join(f"{c['provider_ref'] or c['id']}" for c in created)
    return DutyOutcome(f"{len(created)} resumen(es) diario(s): {text}", data={"summaries": created})


def pe_tickets(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    """Summaries with a ticket still open and no job polling it get their poll back (the same job)."""
    from pasarela.flow import follow_up
    from pasarela.providers.pe.bizlinks.ledger import MAX_ATTEMPTS, PROVIDER, SEND_JOB, SUMMARY_KINDS

    polled = []
    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document).where(
                Document.provider == PROVIDER, Document.kind.in_(tuple(SUMMARY_KINDS)),
                Document.state.in_(("queued", "submitting", "in_doubt")),
            )
        ).all()
        for doc in docs:
            if (doc.result or {}).get("ticket") and service.pending_job(session, doc.id, SEND_JOB) is None:
                follow_up(session, doc, SEND_JOB, max_attempts=MAX_ATTEMPTS)
                polled.append(f"{doc.provider_ref} (ticket {doc.result['ticket']})")
    if not polled:
        return DutyOutcome("ningún ticket sin consultar")
    return DutyOutcome(f"tickets consultados de nuevo: {', '.join(polled)}")


def pe_summary_warning(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    warn, deadline = int(options["warn_days"]), int(options["deadline_days"])
    found = []
    for doc in _unsummarised_boletas(rt):
        issued_on = date.fromisoformat(doc.data["issue_date"])
        if (slot.day - issued_on).days < warn:
            continue
        due = issued_on + timedelta(days=deadline)
        found.append(_doc_item(
            rt, doc, f"boleta {doc.data['doc_id']} del {date_text(issued_on, 'PE')} sin resumen diario: "
            f"el plazo de SUNAT vence el {date_text(due, 'PE')}", key=f"doc:{doc.id}"))
    return DutyOutcome(f"{len(found)} boleta(s) sin resumen después de {warn} días", found)


# ---- México --------------------------------------------------------------------------------------


def mx_payments_sync(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    from pasarela.providers.mx.facti.flow import PAID, sync_paid

    started = utcnow()
    counts = sync_paid(rt)
    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document).join(Transition, Transition.document_id == Document.id).where(
                Transition.actor == "sync", Transition.to_state == PAID, Transition.at >= started)
        ).all()
        found = [_doc_item(rt, d, f"cobro Facti {d.provider_ref} pagado: sólo la sincronización lo encontró "
                           "(el IPN no llegó)") for d in docs]
    return DutyOutcome(f"{counts['seen']} pagos vistos en Facti, {counts['updated']} marcados pagados", found, counts)


def _plan_days(rt: Runtime, start: date, end: date, options: dict[str, Any]) -> DutyOutcome:
    from pasarela.providers.mx.mysuite import planner

    created, resumed = [], []
    for direction in options["directions"]:
        for kind in options["kinds"]:
            ask = planner.Ask(direccion=planner.DIRECTIONS[direction], tipo=planner.KINDS[kind],
                              servicio="CFDIS", start=start, end=end)
            result = planner.plan(rt, ask)
            created += result.created
            resumed += result.resumed
    periods = _request_periods(rt, created)
    text = f"{len(created)} solicitud(es) nueva(s) al SAT" + (f" ({', '.join(periods)})" if periods else "")
    if resumed:
        text += f", {len(resumed)} en curso"
    return DutyOutcome(text, data={"created": created, "resumed": resumed, "from": start.isoformat(),
                                   "to": end.isoformat()})


def _request_periods(rt: Runtime, ids: list[int]) -> list[str]:
    from pasarela.providers.mx.mysuite.models import SatRequest

    with rt.db.transaction() as session:
        rows = session.scalars(select(SatRequest).where(SatRequest.id.in_(ids)).order_by(SatRequest.id)).all()
        return sorted({f"{r.fecha_inicial[:10]} → {r.fecha_final[:10]}" for r in rows})


def mx_cfdi_month_to_date(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    """From the first of the month to yesterday; the planner asks only for days not held yet."""
    yesterday = slot.day - timedelta(days=1)
    return _plan_days(rt, yesterday.replace(day=1), yesterday, options)


def mx_cfdi_previous_month(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    last = slot.day.replace(day=1) - timedelta(days=1)
    return _plan_days(rt, last.replace(day=1), last, options)


# ---- Bolivia -------------------------------------------------------------------------------------


def bo_day_close(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    from pasarela.providers.bo.cooplan.report import report_with_provider

    day = slot.day
    report = report_with_provider(rt, day)
    cooplan = report["cooplan"]
    totals = report.get("totales", {})
    summary = f"cierre del {date_text(day, 'BO')}: {len(report['pagos'])} pago(s)"
    if not cooplan.get("disponible"):
        return DutyOutcome(summary, data={"totales": totals},
                           error=f"no se pudo comparar con reportecobranzas: {cooplan.get('mensaje', '')}")
    found = [{"key": f"{day}:ledger:{ref}", "text": f"cobro {ref} del {date_text(day, 'BO')} está en el ledger "
              "y no en reportecobranzas de Cooplan"} for ref in cooplan["solo_en_ledger"]]
    found += [{"key": f"{day}:cooplan:{ref}", "text": f"cobro {ref} del {date_text(day, 'BO')} está en "
               "reportecobranzas de Cooplan y no en el ledger"} for ref in cooplan["solo_en_cooplan"]]
    verdict = "cuadra con Cooplan" if not found else f"{len(found)} diferencia(s) con Cooplan"
    return DutyOutcome(f"{summary}, {verdict}", found, {"totales": totals})


# ---- everywhere ----------------------------------------------------------------------------------


def _certificates(rt: Runtime) -> list[tuple[str, str, Any]]:
    """(key, label, x509 certificate) of every certificate the gateway signs or authenticates with."""
    from cryptography import x509

    certs: list[tuple[str, str, Any]] = []
    if rt.settings.section("pe"):
        from pasarela.providers.pe.bizlinks.config import pe_config

        config = pe_config(rt.settings)
        cert = config.credential().cert
        certs.append((f"pe:{config.ruc}", f"certificado de firma de Perú (RUC {config.ruc})", cert))
    if rt.settings.section("mx.mysuite"):
        from pasarela.providers.mx.mysuite.config import load

        conf = load(rt.settings)
        cer, _ = conf.fiel_paths()
        if cer.exists():
            cert = x509.load_der_x509_certificate(cer.read_bytes())
            certs.append((f"mx:{conf.rfc}", f"e.firma (FIEL) de México (RFC {conf.rfc})", cert))
    return certs


def certificates(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    tiers = sorted(int(t) for t in options["days"])
    now = datetime.now(UTC)
    found, seen = [], []
    for key, label, cert in _certificates(rt):
        expires = cert.not_valid_after_utc
        left = (expires - now).total_seconds() / 86400
        seen.append(f"{label}: vence el {date_text(expires, key[:2].upper())}")
        reached = [t for t in tiers if left <= t]
        if not reached:
            continue
        tier = 0 if left < 0 else reached[0]
        when = "venció" if left < 0 else f"vence en {int(left)} día(s)"
        found.append({"key": f"{key}#{tier}", "text": f"el {label} {when}, el {date_text(expires, key[:2].upper())}",
                      "expires": expires.isoformat()})
    return DutyOutcome("; ".join(seen) or "ningún certificado configurado", found)


STUCK_STATES = ("received", "queued", "submitting")


def stuck_documents(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    minutes = int(options["minutes"])
    limit = utcnow() - timedelta(minutes=minutes)
    with rt.db.transaction() as session:
        docs = session.scalars(
            select(Document).where(Document.state.in_(STUCK_STATES), Document.updated_at < limit)
            .order_by(Document.id).limit(500)
        ).all()
        found = [_doc_item(rt, d, f"documento {d.id} ({d.country} {d.kind}) lleva más de {minutes} min "
                           f"en «{state_label(d.state)}»", key=f"doc:{d.id}:{d.state}") for d in docs]
    return DutyOutcome(f"{len(found)} documento(s) detenido(s) más de {minutes} min", found)


DOWNLOAD_JOB_KINDS = ("facto.download",)


def artifacts_retry(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    """Downloads whose retries ran out are queued again (the same job), at most ``rounds`` times."""
    from pasarela.flow import follow_up

    rounds = int(options["rounds"])
    again = []
    with rt.db.transaction() as session:
        dead = session.execute(
            select(Job.kind, Job.document_id).where(Job.kind.in_(DOWNLOAD_JOB_KINDS), Job.state == "dead")
            .distinct()
        ).all()
        for kind, doc_id in dead:
            jobs = session.scalars(select(Job.state).where(Job.kind == kind, Job.document_id == doc_id)).all()
            doc = session.get(Document, doc_id)
            if doc is None or doc.state not in ("issued", "paid") or "done" in jobs or len(jobs) >= rounds:
                continue
            follow_up(session, doc, kind, max_attempts=12)
            again.append(f"{kind} del documento {doc_id}")
    again += _mysuite_packages_again(rt)
    return DutyOutcome(f"descargas reintentadas: {', '.join(again)}" if again else "ninguna descarga fallida",
                       data={"retried": again})


def _mysuite_packages_again(rt: Runtime) -> list[str]:
    from pasarela.providers.mx.mysuite.models import SatPackage, SatRequest
    from pasarela.providers.mx.mysuite.planner import ensure_job

    again = []
    with rt.db.transaction() as session:
        packages = session.scalars(select(SatPackage).where(SatPackage.state == "error")).all()
        for package in packages:
            request = session.get(SatRequest, package.request_id)
            if request is None or request.state not in ("done", "downloading", "ingesting"):
                continue
            package.state, package.message = "pending", ""
            request.state = "downloading"
            session.flush()
            ensure_job(session, request)
            again.append(f"paquete {package.package_id} de la solicitud #{request.id}")
    return again


def alerts_evaluate(rt: Runtime, slot: Slot, options: dict[str, Any]) -> DutyOutcome:
    from pasarela.alerts.engine import evaluate

    report = evaluate(rt)
    return DutyOutcome(report.summary(), data=report.as_dict())


DUTIES: dict[str, Duty] = {
    d.name: d
    for d in [
        Duty("cl_reconcile", "Conciliación de pedidos pagados de Jumpseller (cada tienda)", "CL", "*/15 * * * *",
             "once", cl_reconcile),
        Duty("pe_summary", "Resumen diario (RC) de las boletas del día anterior", "PE", "30 0 * * *", "once",
             pe_summary),
        Duty("pe_tickets", "Consulta de tickets de resúmenes pendientes", "PE", "*/10 * * * *", "once", pe_tickets),
        Duty("pe_summary_warning", "Boletas sin resumen después de 5 días", "PE", "0 8 * * *", "once",
             pe_summary_warning, alert_rule="summary_deadline"),
        Duty("mx_payments_sync", "Sincronización de pagos Facti (IPN perdidos)", "MX", "0 * * * *", "once",
             mx_payments_sync),
        Duty("mx_cfdi_month_to_date", "Descarga de CFDI y metadata del mes en curso", "MX", "0 3 * * *", "once",
             mx_cfdi_month_to_date),
        Duty("mx_cfdi_previous_month", "Descarga de CFDI y metadata del mes anterior (día 5)", "MX", "0 4 5 * *",
             "each", mx_cfdi_previous_month),
        Duty("bo_day_close", "Cierre del día comparado con reportecobranzas", "BO", "0 23 * * *", "each",
             bo_day_close),
        Duty("certificates", "Vencimiento de certificados (firma Perú, FIEL México)", "", "0 12 * * *", "once",
             certificates, alert_rule="certificate_expiry"),
        Duty("stuck_documents", "Documentos detenidos en un estado", "", "*/30 * * * *", "once", stuck_documents),
        Duty("artifacts_retry", "Reintento de descargas fallidas (archivos, paquetes del SAT)", "", "0 * * * *",
             "once", artifacts_retry),
        Duty("alerts_evaluate", "Evaluación y envío de alertas", "", "* * * * *", "once", alerts_evaluate,
             alert_rule=""),
    ]
}
