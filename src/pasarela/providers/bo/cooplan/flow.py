"""Ledger glue for the cashier: payments and reversals as documents, never sent twice.

A payment is a document keyed by (contrato, factura, periodo). It is committed in `submitting`
*before* `realizarpago` is called, together with a delayed recovery job, so a crash anywhere leaves
something a worker will resolve. The cashier's call runs inline (the person is waiting at the counter);
an ambiguous failure is resolved at once through `consultardeuda` (debt still pending → never got it,
send again) and `reportecobranzas` (adopt the IdCobranza); otherwise the payment waits `in_doubt`.
A worker never sends a payment on its own: the recovery job only looks up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pasarela import flow as core_flow
from pasarela.core.errors import Conflict, InvalidInput, NotFound, PasarelaError, ProviderError
from pasarela.core.outcomes import CallResult, Outcome, State
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job, utcnow
from pasarela.operations import resolve_with_reference
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan import mapping
from pasarela.providers.bo.cooplan.client import client_for
from pasarela.providers.bo.cooplan.config import CooplanConfig
from pasarela.providers.bo.cooplan.errors import CooplanRefused
from pasarela.providers.bo.cooplan.mapping import Deuda
from pasarela.runtime import Runtime

PROVIDER = "cooplan"
KIND_PAYMENT = "pago"
KIND_REVERSAL = "reversion"
JOB_PAYMENT_RECOVERY = "cooplan.pago.recuperar"
JOB_REVERSAL_RECOVERY = "cooplan.reversion.recuperar"
PAID = "paid"
REVERSED = "reversed"
# Long enough that the cashier's own inline attempt (HTTP timeout + lookup) has surely finished.
RECOVERY_DELAY_SECONDS = 180.0
# A new attempt for the same debt is allowed only when the previous one surely did not charge.
NEW_ATTEMPT_STATES = {State.REJECTED, State.FAILED, State.SKIPPED, State.NEEDS_ATTENTION, REVERSED}

T = TypeVar("T")


# --- reads ---------------------------------------------------------------------------------------------


def provider_read(fn: Callable[[], T]) -> T:
    """Run a read against Cooplan; its errors become clear operator errors (never a 500)."""
    try:
        return fn()
    except CooplanRefused:
        raise
    except ProviderError as exc:
        exc.message = f"Cooplan no disponible: {exc.message}"
        raise


def find_client(rt: Runtime, contrato: str) -> list[dict[str, Any]]:
    return [c.as_dict() for c in provider_read(lambda: client_for(rt).buscar_cliente(contrato))]


def list_debts(rt: Runtime, contrato: str) -> list[Deuda]:
    return provider_read(lambda: client_for(rt).consultar_deuda(contrato))


# --- pay -----------------------------------------------------------------------------------------------


def pay(
    rt: Runtime,
    contrato: str,
    periodo: str,
    *,
    factura: str | None = None,
    monto: Decimal | str | None = None,
    cajero: str | None = None,
) -> dict[str, Any]:
    """Pay one pending debt. Raises a UserError with the reason when it must not be paid."""
    cajero = (cajero or CooplanConfig.from_settings(rt.settings).cajero).strip()
    request = {"contrato": contrato, "periodo": periodo, "factura": factura, "monto": monto, "cajero": cajero}
    try:
        contrato, periodo = mapping.check_contrato(contrato), mapping.check_periodo(periodo)
        amount = None if monto in (None, "") else mapping.parse_monto(monto)
    except InvalidInput as exc:
        _refuse(rt, request, exc)
    try:
        debts = list_debts(rt, contrato)
    except PasarelaError as exc:
        _refuse(rt, request, exc)
    debt = mapping.find_debt(debts, periodo, factura)
    if debt is None:
        _refuse(rt, request, Conflict(_no_debt_message(rt, contrato, periodo, factura, debts)))
    try:
        mapping.check_amount(debt, amount)
    except InvalidInput as exc:
        _refuse(rt, request, exc)
    doc_id, created = _open_payment(rt, contrato, debt, cajero)
    if not created:
        _refuse(rt, request, Conflict(_busy_message(rt, doc_id)), doc_id)
    _send_inline(rt, doc_id, PAYMENT)
    return payment_view(rt, doc_id)


def _refuse(rt: Runtime, request: dict[str, Any], error: PasarelaError, doc_id: int | None = None) -> NoReturn:
    """Record the refused request with its reason, then tell the caller."""
    with rt.db.transaction() as session:
        service.record_event(
            session,
            source=PROVIDER,
            kind=KIND_PAYMENT,
            status="rejected",
            reason=error.message,
            source_ref=f"{request.get('contrato')}:{request.get('periodo')}",
            document_id=doc_id,
            body=json.dumps(request, default=str, ensure_ascii=False).encode(),
        )
    raise error


def _payment_ref(contrato: str, factura: str, periodo: str) -> str:
    return f"{contrato}:{factura}:{periodo}"


def _open_payment(rt: Runtime, contrato: str, debt: Deuda, cajero: str) -> tuple[int, bool]:
    ref = _payment_ref(contrato, debt.factura, debt.periodo)
    with rt.db.transaction() as session:
        earlier = _docs(session, KIND_PAYMENT, ref)
        if earlier and earlier[0].state not in NEW_ATTEMPT_STATES:
            return earlier[0].id, False
        key = f"{PROVIDER}:pago:{ref}" + (f":{len(earlier) + 1}" if earlier else "")
        data = {
            "contrato": contrato,
            "periodo": debt.periodo,
            "factura": debt.factura,
            "monto": str(debt.monto),
            "id_asociado": debt.id_asociado,
            "nombre": debt.nombre,
            "cod_ubicacion": debt.cod_ubicacion,
            "cajero": cajero,
        }
        doc, created = service.create_document(
            session,
            idempotency_key=key,
            country="BO",
            provider=PROVIDER,
            kind=KIND_PAYMENT,
            data=data,
            source_ref=ref,
            state=State.SUBMITTING,
            reason=f"cobrando en caja {cajero}",
        )
        if created:
            service.enqueue(session, JOB_PAYMENT_RECOVERY, document_id=doc.id, delay=RECOVERY_DELAY_SECONDS)
        return doc.id, created


def _docs(session: Any, kind: str, ref: str) -> list[Document]:
    query = select(Document).where(Document.provider == PROVIDER, Document.kind == kind, Document.source_ref == ref)
    return list(session.scalars(query.order_by(Document.id.desc())))


def _no_debt_message(rt: Runtime, contrato: str, periodo: str, factura: str | None, debts: list[Deuda]) -> str:
    with rt.db.transaction() as session:
        query = select(Document.id).where(
            Document.provider == PROVIDER,
            Document.kind == KIND_PAYMENT,
            Document.source_ref.like(f"{contrato}:%:{periodo}"),
            Document.state.not_in([str(s) for s in NEW_ATTEMPT_STATES]),
        )
        ours = session.scalars(query.order_by(Document.id.desc())).first()
    if ours is not None:
        return _busy_message(rt, ours)
    pending = ", ".join(f"{d.periodo} (factura {d.factura}, Bs {d.monto})" for d in debts) or "ninguna"
    which = f"periodo {periodo}" + (f" factura {factura}" if factura else "")
    return f"el contrato {contrato} no tiene deuda pendiente del {which}; pendientes: {pending}"


def _busy_message(rt: Runtime, doc_id: int) -> str:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        who = doc.data.get("cajero", "?")
        if doc.state == PAID:
            return (
                f"esta deuda ya fue pagada: documento {doc.id}, IdCobranza {doc.provider_ref}, cajero {who}; "
                "no se cobró de nuevo"
            )
        if doc.state in (State.SUBMITTING, State.QUEUED, State.RECEIVED):
            return f"la caja {who} está pagando esta deuda en este momento (documento {doc.id}); no se cobró de nuevo"
        return (
            f"un pago anterior de esta deuda (documento {doc.id}, caja {who}) está en estado {doc.state}: "
            f"{doc.reason}. Resuélvalo antes de cobrar de nuevo"
        )


def _payment_debt(doc: Document) -> Deuda:
    data = doc.effective_data()
    return Deuda(
        id_asociado=str(data["id_asociado"]),
        nombre=str(data.get("nombre", "")),
        cod_ubicacion=str(data.get("cod_ubicacion", "")),
        periodo=str(data["periodo"]),
        factura=str(data["factura"]),
        monto=Decimal(str(data["monto"])),
        estado=1,
    )


def submit_payment(rt: Runtime, doc: Document) -> CallResult:
    cobro = client_for(rt, document_id=doc.id).realizar_pago(str(doc.data["contrato"]), _payment_debt(doc))
    return CallResult(
        Outcome.ISSUED,
        reason=cobro.message or "pagado",
        provider_ref=cobro.id_cobranza,
        details={
            "id_cobranza": cobro.id_cobranza,
            "fecha_pago": cobro.fecha_pago_texto,
            "fecha_local": cobro.fecha_pago.date().isoformat(),
            "message": cobro.message,
        },
    )


def lookup_payment(rt: Runtime, doc: Document) -> CallResult | None:
    """After an ambiguous answer: is the debt still pending? If not, find the IdCobranza in the report."""
    client = client_for(rt, document_id=doc.id)
    data = doc.data
    debts = client.consultar_deuda(str(data["contrato"]))
    if mapping.find_debt(debts, str(data["periodo"]), str(data["factura"])) is not None:
        return None  # Cooplan never charged it: safe to send
    for day in _candidate_days(doc):
        report = client.reporte_cobranzas(day)
        for row in report.rows:
            if (
                row.id_factura == str(data["factura"])
                and row.estado == A.REPORT_STATE_PAID
                and row.contrato in ("", str(data["contrato"]))
                and row.periodo in ("", str(data["periodo"]))
            ):
                fecha_local = day.isoformat()
                return CallResult(
                    Outcome.ISSUED,
                    reason=f"confirmado por reportecobranzas: IdCobranza {row.id_cobranza}",
                    provider_ref=row.id_cobranza,
                    details={
                        "id_cobranza": row.id_cobranza,
                        "fecha_pago": row.fecha,
                        "fecha_local": fecha_local,
                        "resolved_via": "reportecobranzas",
                    },
                )
    return CallResult(
        Outcome.IN_DOUBT,
        reason=(
            "la deuda ya no figura pendiente en Cooplan pero reportecobranzas no muestra la cobranza: "
            "confirme con Cooplan y resuelva con `pasarela documents resolve "
            f"{doc.id} --ref <IdCobranza>` (o --skip si no se cobró)"
        ),
    )


def _candidate_days(doc: Document) -> list[date]:
    days = [mapping.bolivia_date(doc.created_at), mapping.bolivia_date(utcnow())]
    return sorted(set(days))


def on_paid(session: Session, doc: Document) -> None:
    """In the transaction that records the payment: issued is paid at once (never a window between)."""
    if doc.state == State.ISSUED:
        service.transition(session, doc, PAID, f"pagado en Cooplan: IdCobranza {doc.provider_ref}")


PAYMENT = core_flow.Submitter(submit=submit_payment, lookup=lookup_payment, on_issued=on_paid)


# --- reverse -------------------------------------------------------------------------------------------


def reverse(rt: Runtime, payment_id: int, *, cajero: str | None = None) -> dict[str, Any]:
    cajero = (cajero or CooplanConfig.from_settings(rt.settings).cajero).strip()
    with rt.db.transaction() as session:
        payment = _payment(session, payment_id)
        if payment.state == REVERSED:
            raise Conflict(f"el pago {payment_id} ya fue revertido ({payment.reason}); no se revierte dos veces")
        if payment.state != PAID:
            raise Conflict(
                f"el pago {payment_id} está en estado {payment.state}; solo se revierte un pago confirmado"
            )
        ref = f"{payment.provider_ref}"
        earlier = _docs(session, KIND_REVERSAL, ref)
        if earlier and earlier[0].state not in NEW_ATTEMPT_STATES:
            raise Conflict(
                f"la reversión del pago {payment_id} ya existe (documento {earlier[0].id}, estado {earlier[0].state})"
            )
        data = {
            "payment_id": payment.id,
            "id_cobranza": payment.provider_ref,
            **{k: payment.data[k] for k in ("contrato", "periodo", "factura", "monto")},
            "cajero": cajero,
        }
        key = f"{PROVIDER}:reversion:{ref}" + (f":{len(earlier) + 1}" if earlier else "")
        doc, created = service.create_document(
            session,
            idempotency_key=key,
            country="BO",
            provider=PROVIDER,
            kind=KIND_REVERSAL,
            data=data,
            source_ref=ref,
            state=State.SUBMITTING,
            reason=f"revirtiendo en caja {cajero}",
        )
        if not created:
            raise Conflict(f"la reversión del pago {payment_id} ya está en curso (documento {doc.id})")
        service.enqueue(session, JOB_REVERSAL_RECOVERY, document_id=doc.id, delay=RECOVERY_DELAY_SECONDS)
        reversal_id = doc.id
    _send_inline(rt, reversal_id, REVERSAL)
    return {"reversal": reversal_view(rt, reversal_id), "payment": payment_view(rt, payment_id)}


def _payment(session: Any, payment_id: int) -> Document:
    doc = session.get(Document, payment_id)
    if doc is None or doc.provider != PROVIDER or doc.kind != KIND_PAYMENT:
        raise NotFound(f"no existe el pago Cooplan {payment_id}")
    return doc


def submit_reversal(rt: Runtime, doc: Document) -> CallResult:
    client = client_for(rt, document_id=doc.id)
    message = client.revertir_pago(str(doc.data["factura"]), str(doc.data["id_cobranza"]))
    return CallResult(
        Outcome.ISSUED,
        reason=message or "revertido",
        provider_ref=str(doc.data["id_cobranza"]),
        details={"message": message, "fecha_local": mapping.bolivia_date(utcnow()).isoformat()},
    )


def lookup_reversal(rt: Runtime, doc: Document) -> CallResult | None:
    """A reversal restores the debt: pending again means it went through."""
    data = doc.data
    debts = client_for(rt, document_id=doc.id).consultar_deuda(str(data["contrato"]))
    if mapping.find_debt(debts, str(data["periodo"]), str(data["factura"])) is None:
        return None  # still paid at Cooplan: the reversal did not happen
    return CallResult(
        Outcome.ISSUED,
        reason="confirmado por consultardeuda: la deuda volvió a estar pendiente",
        provider_ref=str(data["id_cobranza"]),
        details={"resolved_via": "consultardeuda", "fecha_local": mapping.bolivia_date(utcnow()).isoformat()},
    )


def on_reversed(session: Session, doc: Document) -> None:
    """In the transaction that records the reversal: the reversal and its payment both end reversed."""
    if doc.state != State.ISSUED:
        return
    service.transition(session, doc, REVERSED, f"revertido en Cooplan: IdCobranza {doc.provider_ref}")
    payment = session.get(Document, int(doc.data["payment_id"]))
    if payment is not None and payment.state == PAID:
        payment.result = {**(payment.result or {}), "reversal_id": doc.id}
        service.transition(session, payment, REVERSED, f"revertido por el documento {doc.id}")


REVERSAL = core_flow.Submitter(submit=submit_reversal, lookup=lookup_reversal, on_issued=on_reversed)


# --- running a call --------------------------------------------------------------------------------------


def _send_inline(rt: Runtime, doc_id: int, submitter: core_flow.Submitter) -> None:
    """The cashier's own attempt: send once; if the answer is ambiguous, look up (and only then resend)."""
    result = core_flow.call_provider(rt, doc_id, submitter.submit)
    if result.outcome == Outcome.RETRY:
        _fail_unsent(rt, doc_id, result.reason)
        return
    core_flow.apply_result(rt, doc_id, result, submitter)
    if result.outcome != Outcome.IN_DOUBT:
        return
    try:
        core_flow.run_submission(rt, Job(kind="inline", document_id=doc_id, attempts=1), submitter)
    except core_flow.RetryJob:
        pass  # the lookup itself failed now: the recovery job asks again later
    _fail_unsent(rt, doc_id, "Cooplan no respondió al reenvío", only_if_queued=True)


def _fail_unsent(rt: Runtime, doc_id: int, reason: str, *, only_if_queued: bool = False) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        if only_if_queued and doc.state != State.QUEUED:
            return
        service.transition(
            session,
            doc,
            State.FAILED,
            f"no llegó a Cooplan ({reason}); no se cobró, puede intentarse de nuevo",
        )


def _recover(submitter: core_flow.Submitter) -> Callable[[Runtime, Job], None]:
    """Worker job: settle a payment/reversal the cashier's process left open. Looks up; never sends."""

    def handler(rt: Runtime, job: Job) -> None:
        doc_id = job.document_id
        assert doc_id is not None
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            if doc is None:
                return
            if doc.state == State.QUEUED:
                service.transition(session, doc, State.FAILED, "no llegó a Cooplan; no se cobró")
                return
            if doc.state == State.SUBMITTING:
                service.transition(session, doc, State.IN_DOUBT, "proceso interrumpido durante el envío")
            elif doc.state != State.IN_DOUBT:
                return
        assert submitter.lookup is not None
        found = core_flow.call_provider(rt, doc_id, submitter.lookup)
        if found is None:
            _fail_unsent(rt, doc_id, "Cooplan confirma que no lo recibió")
            return
        if found.outcome == Outcome.RETRY:
            raise core_flow.RetryJob(f"consulta pendiente: {found.reason}", found.retry_after)
        core_flow.apply_result(rt, doc_id, found, submitter)

    return handler


JOB_HANDLERS = {JOB_PAYMENT_RECOVERY: _recover(PAYMENT), JOB_REVERSAL_RECOVERY: _recover(REVERSAL)}


def resolve(rt: Runtime, doc_id: int, request: dict[str, Any]) -> str:
    """`documents resolve`: action lookup (ask Cooplan again), issued + provider_ref (IdCobranza), skip."""
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        kind = doc.kind
    submitter = PAYMENT if kind == KIND_PAYMENT else REVERSAL
    if request.get("action") == "lookup":
        _recover(submitter)(rt, Job(kind="resolve", document_id=doc_id, attempts=1))
        return f"documento {doc_id} consultado en Cooplan"
    if request.get("action") == "reissue":
        raise InvalidInput(
            "un pago Cooplan no se reenvía desde aquí: use action=skip y cobre de nuevo con `bo pay`")
    return resolve_with_reference(rt, doc_id, request, ref_label="id_cobranza")


# --- views ---------------------------------------------------------------------------------------------


def payment_view(rt: Runtime, doc_id: int) -> dict[str, Any]:
    with rt.db.transaction() as session:
        doc = _payment(session, doc_id)
        data, result = doc.data, doc.result or {}
        return {
            "id": doc.id,
            "estado": doc.state,
            "motivo": doc.reason,
            "contrato": data["contrato"],
            "nombre": data.get("nombre", ""),
            "periodo": data["periodo"],
            "factura": data["factura"],
            "monto": data["monto"],
            "moneda": "BOB",
            "cajero": data.get("cajero", ""),
            "id_cobranza": doc.provider_ref,
            "fecha_pago": result.get("fecha_pago"),
            "resuelto_por": result.get("resolved_via"),
            "impresion": result.get("impresion"),
            "reversion": result.get("reversal_id"),
        }


def reversal_view(rt: Runtime, doc_id: int) -> dict[str, Any]:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return {
            "id": doc.id,
            "estado": doc.state,
            "motivo": doc.reason,
            "pago": doc.data["payment_id"],
            "id_cobranza": doc.data["id_cobranza"],
            "monto": doc.data["monto"],
            "cajero": doc.data.get("cajero"),
        }
