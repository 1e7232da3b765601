"""Ledger glue for Facto: issue a document, download its files, let a person resolve what Facto can't tell us."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from pasarela.core.errors import Conflict, InvalidInput, NeedsAttention, ProviderError
from pasarela.core.outcomes import CallResult, Outcome
from pasarela.flow import RetryJob, Submitter, follow_up, run_submission
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job
from pasarela.operations import resolve_with_reference
from pasarela.providers.cl.facto.client import FactoClient
from pasarela.providers.cl.facto.mapping import CORRECTABLE, SkipOrder, build_document
from pasarela.providers.cl.facto.urls import ENDPOINTS
from pasarela.providers.cl.jumpseller.order import Order
from pasarela.providers.cl.jumpseller.stores import Store, store
from pasarela.runtime import Runtime

ISSUE_JOB = "facto.issue"
DOWNLOAD_JOB = "facto.download"
ARTIFACTS = {
    "dte_xml": ("documento.xml", "application/xml"),
    "dte_pdf": ("documento.pdf", "application/pdf"),
    "dte_pdfcedible": ("documento-cedible.pdf", "application/pdf"),
    "dte_timbre": ("timbre.png", "image/png"),
}


def _store_of(rt: Runtime, doc: Document) -> Store:
    found = store(rt.settings, doc.data.get("store", ""))
    if found is None:
        raise NeedsAttention(f"la tienda {doc.data.get('store')!r} ya no está configurada")
    return found


def client_for(rt: Runtime, shop: Store, document_id: int | None) -> FactoClient:
    http = rt.provider_http("facto", document_id=document_id, extra_secrets=[shop.facto_password])
    return FactoClient(
        http,
        ENDPOINTS.url(shop.facto_mode, rt.settings, shop.facto_url or "", key=f"jumpseller.stores.{shop.code}.facto"),
        shop.facto_user,
        shop.facto_password,
    )


def prepare(rt: Runtime, doc: Document) -> Any:
    """The Facto request for this order, or why there is none (before anything is sent)."""
    shop = _store_of(rt, doc)
    try:
        order = Order.model_validate(doc.data["order"])
        return build_document(order, doc.overrides, default_type=shop.default_document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return CallResult(Outcome.NEEDS_ATTENTION, reason=f"pedido ilegible: {where}: {first['msg']}")
    except SkipOrder as exc:
        return CallResult(Outcome.SKIPPED, reason=str(exc))


def submit(rt: Runtime, doc: Document) -> CallResult:
    shop = _store_of(rt, doc)
    request = doc.prepared  # type: ignore[attr-defined]
    client = client_for(rt, shop, doc.id)
    try:
        result = client.emitir_documento(request)
    finally:
        client.http.close()
    details = {**result.to_details(), "tipo_dte": request.tipo_dte, "total": request.totales["total_final"]}
    if result.status == 0:
        return CallResult(Outcome.ISSUED, reason=f"folio {result.folio}", provider_ref=result.folio, details=details)
    if result.status == 1:
        return CallResult(Outcome.NEEDS_ATTENTION, reason=f"Facto: {result.message}", details=details)
    if result.status == 2:
        return CallResult(
            Outcome.NEEDS_ATTENTION,
            details={**details, "borrador": True},
            reason=f"borrador creado en Facto (no enviado al SII): {result.message}. "
            "Termínalo en Facto y registra el folio con `documents resolve ID --folio N`",
        )
    return CallResult(Outcome.IN_DOUBT, reason=f"Facto respondió status desconocido {result.status}", details=details)


def on_issued(session: Session, doc: Document) -> None:
    """Outbox: the files are fetched by a job written with the issue (Facto's links expire in 30 days)."""
    follow_up(session, doc, DOWNLOAD_JOB, max_attempts=12)


SUBMITTER = Submitter(prepare=prepare, submit=submit, lookup=None, on_issued=on_issued)  # Facto has no lookup


def issue_job(rt: Runtime, job: Job) -> None:
    run_submission(rt, job, SUBMITTER)


def download_job(rt: Runtime, job: Job) -> None:
    """Keep Facto's files: its links expire after 30 days."""
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        assert doc is not None
        links = dict((doc.result or {}).get("enlaces") or {})
        have = {a.name for a in doc.artifacts}
        if not links:
            # Issued by hand without Facto's links: nothing to fetch until a person adds them.
            doc.result = {**(doc.result or {}), "archivos": "sin enlaces de Facto: agrégalos con `documents resolve`"}
            return
        session.expunge(doc)
    shop = _store_of(rt, doc)
    client = client_for(rt, shop, doc.id)
    try:
        for key, (name, content_type) in ARTIFACTS.items():
            if key not in links or name in have:
                continue
            try:
                content = client.download(links[key])
            except ProviderError as exc:
                raise RetryJob(f"descarga de {name}: {exc.message}") from exc
            with rt.db.transaction() as session:
                current = session.get(Document, doc.id)
                assert current is not None
                service.store_artifact(session, rt.artifacts_dir, current, name, content, content_type)
    finally:
        client.http.close()


def resolve(rt: Runtime, doc_id: int, request: dict[str, Any]) -> str:
    """A person decides an in-doubt document; with "issued" they may paste the links seen at facto.cl."""
    if request.get("action") == "lookup":
        raise Conflict("Facto no ofrece consulta de documentos: revisa en facto.cl y usa --folio o --reissue")
    links = _checked_links(request.get("links") or {})
    return resolve_with_reference(rt, doc_id, request, ref_label="folio", details={"enlaces": links} if links else None)


def _checked_links(links: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, url in links.items():
        name = "dte_pdfcedible" if key == "dte_pdf_cedible" else str(key)
        if name not in ARTIFACTS:
            raise InvalidInput(f"enlace desconocido {key!r} (válidos: {', '.join(ARTIFACTS)})", field=f"links.{key}")
        if not str(url).startswith(("http://", "https://")):
            raise InvalidInput(f"el enlace {key} debe ser una URL http(s)", field=f"links.{key}")
        out[name] = str(url)
    return out


def validate_overrides(rt: Runtime, doc: Document) -> str:
    if (doc.result or {}).get("borrador"):
        return (
            "este documento quedó como borrador en Facto (folio consumido): reenviarlo crearía otro. "
            "Termínalo en Facto y usa `documents resolve ID --folio N`"
        )
    unknown = set(doc.overrides or {}) - CORRECTABLE
    if unknown:
        return f"campos no corregibles: {', '.join(sorted(unknown))} (corregibles: {', '.join(sorted(CORRECTABLE))})"
    try:
        shop = _store_of(rt, doc)
        build_document(Order.model_validate(doc.data["order"]), doc.overrides, default_type=shop.default_document)
    except InvalidInput as exc:
        return f"aún no se puede emitir: {exc.message}"
    except (SkipOrder, NeedsAttention) as exc:
        return f"aún no se puede emitir: {exc}"
    return ""
