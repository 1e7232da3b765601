"""HTTP: `/api/mx/payments` (bearer token) and the IPN webhook `POST /webhooks/facti/ipn`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from pasarela.api.documents import bearer_auth
from pasarela.core.outcomes import SETTLED_STATES
from pasarela.ledger import service
from pasarela.ledger.models import Document
from pasarela.operations import get_document
from pasarela.providers.mx.facti import flow
from pasarela.runtime import Runtime

WAIT_SETTLED = {*SETTLED_STATES, flow.PAID, flow.DELETED}


class ClabeRequest(BaseModel):
    to_email: str = Field(..., description="E-mail of the client whose STP CLABE you need")
    payment_ways_id: list[int] = Field(default_factory=list)


def _call(fn: Callable[[], Any]) -> Any:
    return fn()


def payment_view(doc_dict: dict[str, Any]) -> dict[str, Any]:
    result = doc_dict.get("result") or {}
    return {
        **doc_dict,
        "request_id": doc_dict.get("provider_ref"),
        "clabe": result.get("clabe"),
        "stp_reference": result.get("stp_reference"),
        "amount_received": result.get("amount_received"),
    }


def _wait(rt: Runtime, doc_id: int, seconds: float) -> None:
    deadline = time.monotonic() + min(seconds, 60)
    while time.monotonic() < deadline:
        with rt.db.transaction() as session:
            doc = session.get(Document, doc_id)
            if doc is None or doc.state in WAIT_SETTLED:
                return
        time.sleep(0.1)


def api_router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/mx/payments", tags=["mx facti payments"], dependencies=[bearer_auth(rt)])

    @api.post("", status_code=201)
    def create(body: dict[str, Any], wait: float = Query(0, ge=0, le=60)) -> Any:
        """Create a payment request (Facti `new_request` fields; optional `idempotency_key`)."""
        doc, created = flow.create_payment_request(rt, body, idempotency_key=body.get("idempotency_key"))
        if wait:
            _wait(rt, doc.id, wait)
        out = payment_view(get_document(rt, doc.id))
        out["created"] = created
        return out if created else JSONResponse(out, status_code=200)

    @api.get("")
    def list_payments(
        state: str | None = None, page: int = Query(1, ge=1), per_page: int = Query(50, ge=1, le=500)
    ) -> dict[str, Any]:
        query = service.document_query(provider=flow.PROVIDER, state=state)
        with rt.db.transaction() as session:
            total = service.count(session, query)
            docs = session.scalars(
                query.order_by(Document.id.desc()).offset((page - 1) * per_page).limit(per_page)
            ).all()
            ids = [d.id for d in docs]
        return {"items": [payment_view(get_document(rt, i)) for i in ids], "page": page, "total": total}

    @api.get("/remote")
    def remote(
        status: int | None = Query(None, ge=0, le=1),
        since_id: int | None = None,
        max_id: int | None = None,
        from_payment_date: str | None = None,
        to_payment_date: str | None = None,
        limit: int = Query(1000, ge=1, le=100_000),
    ) -> Any:
        """Search Facti's company_payments, every page, up to `limit` rows."""

        def search() -> dict[str, Any]:
            conf = flow.settings_of(rt)
            items = []
            for payment in flow.client_for(rt).iter_company_payments(
                conf.company_id,
                since_id=since_id,
                max_id=max_id,
                status=status,
                from_payment_date=from_payment_date,
                to_payment_date=to_payment_date,
            ):
                items.append(
                    {
                        k: (str(v) if v is not None and not isinstance(v, int | str) else v)
                        for k, v in vars(payment).items()
                    }
                )
                if len(items) >= limit:
                    break
            return {"items": items, "count": len(items)}

        return _call(search)

    @api.post("/clabe")
    def clabe(body: ClabeRequest) -> Any:
        def fetch() -> dict[str, Any]:
            accounts = flow.client_for(rt).stp_client_clabe(
                flow.settings_of(rt).company_id, body.to_email, body.payment_ways_id or None
            )
            return {
                "accounts": [{**vars(a), "clabe_valid": a.clabe_valid} for a in accounts.accounts],
                "errors": accounts.errors,
            }

        return _call(fetch)

    @api.post("/sync")
    def sync() -> Any:
        return _call(lambda: flow.sync_paid(rt))

    @api.get("/{doc_id}")
    def show(doc_id: int, remote: bool = False, calls: bool = False) -> Any:
        out = payment_view(get_document(rt, doc_id, with_calls=calls))
        if remote and out.get("provider_ref"):
            details = _call(lambda: flow.client_for(rt, doc_id).get_payment(int(out["provider_ref"])))
            if isinstance(details, JSONResponse):
                return details
            out["facti"] = details.raw
        return out

    @api.delete("/{doc_id}")
    def delete(doc_id: int) -> Any:
        return _call(lambda: flow.delete_payment(rt, doc_id))

    @api.post("/{doc_id}/mark-paid")
    def mark_paid(doc_id: int) -> Any:
        return _call(lambda: flow.mark_paid(rt, doc_id))

    return api


def webhook_router(rt: Runtime) -> APIRouter:
    hooks = APIRouter(tags=["webhooks"])

    @hooks.post("/webhooks/facti/ipn")
    async def ipn(request: Request) -> JSONResponse:
        """Facti's payment notice: form fields ipn_password (MD5), ipn_type, data (JSON)."""
        try:
            form = await request.form()
            fields = {k: str(v) for k, v in form.items()}
        except Exception:  # noqa: BLE001 - malformed body: record it as such, never a 500
            fields = {}
        from starlette.concurrency import run_in_threadpool

        status, body = await run_in_threadpool(flow.receive_ipn, rt, fields)
        return JSONResponse(body, status_code=status)

    return hooks
