"""`/api/documents`: list, show, artifacts, retry, resolve (bearer `api_token`)."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from pasarela.ledger import service
from pasarela.ledger.models import Artifact, Document
from pasarela.operations import document_dict, get_document, resolve_document, retry_document
from pasarela.runtime import Runtime


def bearer_auth(rt: Runtime) -> Any:
    def check(request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        expected = rt.settings.api_token
        if scheme.lower() != "bearer" or not expected or not hmac.compare_digest(token.strip(), expected):
            raise HTTPException(401, "missing or wrong bearer token", headers={"WWW-Authenticate": "Bearer"})

    return Depends(check)


class RetryRequest(BaseModel):
    set: dict[str, Any] = Field(default_factory=dict, description="Corrections applied to the document's data")


class ResolveRequest(BaseModel):
    action: str = Field("", description="issued (with provider_ref) | reissue | skip | lookup")
    provider_ref: str | None = Field(None, description="The provider's reference (e.g. Facto folio)")
    links: dict[str, str] = Field(default_factory=dict, description="Facto: file links seen at facto.cl")
    note: str = ""


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/documents", tags=["documents"], dependencies=[bearer_auth(rt)])

    @api.get("")
    def list_documents(
        country: str | None = None,
        provider: str | None = None,
        state: str | None = None,
        source_ref: str | None = None,
        kind: str | None = None,
        page: int = Query(1, ge=1),
        per_page: int = Query(50, ge=1, le=500),
    ) -> dict[str, Any]:
        query = service.document_query(
            country=country, provider=provider, state=state, source_ref=source_ref, kind=kind
        )
        with rt.db.transaction() as session:
            total = service.count(session, query)
            docs = session.scalars(
                query.order_by(Document.id.desc()).offset((page - 1) * per_page).limit(per_page)
            ).all()
            items = [document_dict(d) for d in docs]
        return {"items": items, "page": page, "per_page": per_page, "total": total}

    @api.get("/{doc_id}")
    def show_document(doc_id: int, calls: bool = False) -> dict[str, Any]:
        return get_document(rt, doc_id, with_calls=calls)

    @api.get("/{doc_id}/artifacts/{name}")
    def get_artifact(doc_id: int, name: str) -> FileResponse:
        with rt.db.transaction() as session:
            artifact = session.scalar(select(Artifact).where(Artifact.document_id == doc_id, Artifact.name == name))
        if artifact is None or not Path(artifact.path).exists():
            raise HTTPException(404, f"documento {doc_id} no tiene el archivo {name}")
        return FileResponse(artifact.path, media_type=artifact.content_type, filename=name)

    @api.post("/{doc_id}/retry")
    def retry(doc_id: int, body: RetryRequest | None = None) -> dict[str, Any]:
        return retry_document(rt, doc_id, (body.set if body else {}), actor="api")

    @api.post("/{doc_id}/resolve")
    def resolve(doc_id: int, body: ResolveRequest) -> dict[str, Any]:
        return resolve_document(rt, doc_id, body.model_dump())

    return api
