"""/api/pe: issue documents, download the PDF, void, daily summary (bearer api_token)."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from pasarela.api.documents import bearer_auth
from pasarela.api.errors import error_body
from pasarela.core.errors import InvalidInput, NotFound
from pasarela.ledger.models import Document
from pasarela.operations import get_document
from pasarela.providers.pe.bizlinks import delivery, flow
from pasarela.providers.pe.bizlinks.config import pe_config
from pasarela.providers.pe.bizlinks.ledger import PROVIDER, create_document
from pasarela.runtime import Runtime


class VoidRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=100, description="Motivo de la baja")


class SummaryRequest(BaseModel):
    date: date


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/pe", tags=["peru"], dependencies=[bearer_auth(rt)])

    @api.post("/documents", status_code=202)
    async def issue(request: Request) -> JSONResponse:
        """One document (object) or several (list). See docs/peru.md for the JSON schema."""
        try:
            payload = await request.json()
        except ValueError:
            raise InvalidInput("el cuerpo debe ser JSON") from None
        items = payload if isinstance(payload, list) else [payload]
        if not items:
            raise InvalidInput("lista vacía")
        config = pe_config(rt.settings)
        results = [create_document(rt, config, item).as_dict() for item in items]
        failed = [r for r in results if not r.get("ok")]
        status = 202 if not failed else 422
        if isinstance(payload, dict):
            return JSONResponse(
                results[0] if results[0].get("ok") else error_body("invalid_input", results[0]["error"]),
                status_code=status,
            )
        return JSONResponse({"documents": results, "errors": len(failed)}, status_code=status)

    @api.get("/documents/{doc_id}")
    def show(doc_id: int) -> dict[str, Any]:
        return get_document(rt, doc_id)

    @api.get("/documents/{doc_id}/pdf")
    def pdf(doc_id: int) -> Response:
        _check_pe(rt, doc_id)
        name, content = delivery.pdf_for(rt, doc_id)
        return Response(
            content, media_type="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'}
        )

    @api.post("/documents/{doc_id}/void", status_code=202)
    def void(doc_id: int, body: VoidRequest = Body(...)) -> dict[str, Any]:
        return flow.void_document(rt, doc_id, body.reason)

    @api.post("/summaries", status_code=202)
    def summary(body: SummaryRequest) -> dict[str, Any]:
        return flow.daily_summary(rt, body.date)

    return api


def _check_pe(rt: Runtime, doc_id: int) -> None:
    with rt.db.transaction() as session:
        doc = session.get(Document, doc_id)
        if doc is None or doc.provider != PROVIDER or doc.kind in ("pe-RC", "pe-RA"):
            raise NotFound(f"documento {doc_id} no es un comprobante peruano")
