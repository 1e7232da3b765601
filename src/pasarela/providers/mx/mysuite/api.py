"""`/api/mx/cfdi` (search, summary, export, one CFDI and its XML) and `/api/mx/requests`."""

from __future__ import annotations

import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from pasarela.api.documents import bearer_auth
from pasarela.core.errors import InvalidInput
from pasarela.providers.mx.cfdi import query
from pasarela.providers.mx.cfdi.store import MissingPackage
from pasarela.providers.mx.mysuite import planner, views
from pasarela.providers.mx.mysuite.config import load
from pasarela.providers.mx.mysuite.flow import open_store
from pasarela.runtime import Runtime


def _filters(rfc: str | None, counterparty: str | None, date_from: str | None, date_to: str | None,
             tipo: str | None, status: str | None, min_total: Decimal | None, max_total: Decimal | None,
             uuid: str | None) -> query.CfdiFilters:
    return query.CfdiFilters(rfc=rfc, counterparty=counterparty, date_from=date_from, date_to=date_to, tipo=tipo,
                             estado=status, min_total=min_total, max_total=max_total, uuid=uuid)


def cfdi_router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/mx/cfdi", tags=["mx cfdi"], dependencies=[bearer_auth(rt)])

    @api.get("")
    def search(rfc: str | None = None, counterparty: str | None = None,
               date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
               tipo: str | None = Query(None, alias="type"),
               status: str | None = None, min_total: Decimal | None = Query(None, alias="min"),
               max_total: Decimal | None = Query(None, alias="max"), uuid: str | None = None,
               page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=1000)) -> dict[str, Any]:
        f = _filters(rfc, counterparty, date_from, date_to, tipo, status, min_total, max_total, uuid)
        total, items = query.search(rt.db, f, limit=per_page, offset=(page - 1) * per_page)
        return {"total": total, "page": page, "per_page": per_page, "items": items}

    @api.get("/summary")
    def summary(date_from: str | None = Query(None, alias="from"), date_to: str | None = Query(None, alias="to"),
                rfc: str | None = None, counterparty: str | None = None) -> dict[str, Any]:
        rows = query.summary(rt.db, _filters(rfc, counterparty, date_from, date_to, None, None, None, None, None),
                             load(rt.settings).rfc)
        return {"items": rows}

    @api.get("/export")
    def export(format: str = Query("csv", pattern="^(csv|xlsx)$"), rfc: str | None = None,
               counterparty: str | None = None, date_from: str | None = Query(None, alias="from"),
               date_to: str | None = Query(None, alias="to"), tipo: str | None = Query(None, alias="type"),
               status: str | None = None) -> FileResponse:
        f = _filters(rfc, counterparty, date_from, date_to, tipo, status, None, None, None)
        handle, name = tempfile.mkstemp(suffix=f".{format}")
        Path(name).unlink()
        path = Path(name)
        (query.export_csv if format == "csv" else query.export_xlsx)(query.iter_all(rt.db, f), path)
        media = "text/csv" if format == "csv" else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return FileResponse(path, media_type=media, filename=f"cfdi.{format}", background=BackgroundTask(path.unlink))

    @api.get("/{uuid}")
    def one(uuid: str) -> dict[str, Any]:
        total, items = query.search(rt.db, query.CfdiFilters(uuid=uuid), limit=1)
        if not items:
            raise HTTPException(404, f"no hay CFDI con UUID {uuid}")
        return items[0]

    @api.get("/{uuid}/xml")
    def xml(uuid: str) -> Response:
        try:
            data = open_store(rt).xml(uuid)
        except MissingPackage as exc:
            raise HTTPException(410, str(exc)) from exc
        if data is None:
            raise HTTPException(404, f"no hay XML para el UUID {uuid}")
        return Response(data, media_type="application/xml")

    return api


class DownloadRequest(BaseModel):
    direction: str = Field("issued", pattern="^(issued|received)$")
    kind: str = Field("xml", pattern="^(xml|metadata)$")
    retenciones: bool = False
    date_from: date = Field(alias="from")
    date_to: date = Field(alias="to")
    force: bool = False


def requests_router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/mx/requests", tags=["mx requests"], dependencies=[bearer_auth(rt)])

    @api.get("")
    def list_all(state: str | None = None) -> dict[str, Any]:
        return {"items": views.list_requests(rt, state=state)}

    @api.post("")
    def create(body: DownloadRequest) -> dict[str, Any]:
        ask = planner.Ask(direccion=planner.DIRECTIONS[body.direction], tipo=planner.KINDS[body.kind],
                          servicio="RETENCIONES" if body.retenciones else "CFDIS", start=body.date_from,
                          end=body.date_to, force=body.force)
        try:
            result = planner.plan(rt, ask)
        except InvalidInput as exc:
            raise HTTPException(422, exc.message) from exc
        return {"created": result.created, "resumed": result.resumed, "refused": result.refused,
                "requests": views.list_requests(rt, ids=result.request_ids)}

    @api.get("/{request_id}")
    def one(request_id: int) -> dict[str, Any]:
        rows = views.list_requests(rt, ids=[request_id])
        if not rows:
            raise HTTPException(404, f"no hay solicitud {request_id}")
        return rows[0]

    return api
