"""`POST /webhooks/jumpseller/{store_code}`: verify, record, and queue — in one transaction, in milliseconds.

Every request is recorded as an event, whatever its fate: 401 (signature), 404 (store), 413 (size),
422 (body), ignored (other events), duplicate, accepted.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import IntegrityError

from pasarela.api.errors import HTTP_CODES, error_body
from pasarela.core import strict_json
from pasarela.ledger import service
from pasarela.ledger.db import RawJSON
from pasarela.providers.cl.facto.flow import ISSUE_JOB
from pasarela.providers.cl.jumpseller.stores import stores
from pasarela.runtime import Runtime

MAX_BODY = 1_048_576
log = logging.getLogger("pasarela.jumpseller")
SOURCE = "jumpseller"
SIGNATURE_HEADER = "Jumpseller-Hmac-Sha256"
KEPT_HEADERS = (
    "jumpseller-event",
    "jumpseller-store-code",
    "jumpseller-triggered-at",
    "content-type",
    "user-agent",
    "content-length",
)


def signature(body: bytes, hooks_token: str) -> str:
    """base64(HMAC-SHA256(key=hooks token, msg=raw body)), as Jumpseller computes it."""
    return base64.b64encode(hmac.new(hooks_token.encode(), body, hashlib.sha256).digest()).decode()


def idempotency_key(store_code: str, order_id: Any) -> str:
    return f"jumpseller:{store_code}:{order_id}:tax-document"


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(tags=["webhooks"])
    shops = stores(rt.settings)  # configuration is read once per process

    async def receive(request: Request) -> Response:
        """Jumpseller order webhook (order_paid)."""
        store_code = request.path_params["store_code"]
        headers = {k: v for k, v in request.headers.items() if k.lower() in KEPT_HEADERS}
        event_kind = request.headers.get("jumpseller-event", "")
        body = await _read_limited(request)
        if body is None:
            size = request.headers.get("content-length", "?")
            await _record(
                rt,
                status="rejected",
                kind=event_kind,
                headers=headers,
                body=b"",
                reason=f"cuerpo de {size} bytes excede el máximo de {MAX_BODY} bytes",
                ref=store_code,
            )
            return _answer(413, f"body larger than {MAX_BODY} bytes")
        shop = shops.get(store_code)
        if shop is None:
            await _record(
                rt,
                status="rejected",
                kind=event_kind,
                headers=headers,
                body=body,
                reason=f"tienda desconocida {store_code!r}",
                ref=store_code,
            )
            return _answer(404, f"unknown store {store_code!r}")
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not given or not hmac.compare_digest(given.strip().encode(), signature(body, shop.hooks_token).encode()):
            reason = "falta la firma Jumpseller-Hmac-Sha256" if not given else "firma Jumpseller-Hmac-Sha256 incorrecta"
            await _record(
                rt, status="rejected", kind=event_kind, headers=headers, body=body, reason=reason, ref=store_code
            )
            return _answer(401, "invalid or missing Jumpseller-Hmac-Sha256 signature")
        return await _accept(rt, shop.code, event_kind, headers, body)

    # A plain Starlette route: FastAPI's per-request dependency solving cost ~20 % of the durable
    # ingest rate (bench/ingest) and this endpoint takes no parameters it could validate anyway.
    api.add_route("/webhooks/jumpseller/{store_code}", receive, methods=["POST"], include_in_schema=False)
    return api


async def _accept(rt: Runtime, store_code: str, kind: str, headers: dict[str, str], body: bytes) -> Response:
    try:
        payload = strict_json.loads(body)
        order = payload["order"]
        order_id = order["id"]
        if not isinstance(order_id, int | str) or order_id in ("", None):
            raise ValueError("order.id vacío")
    except (ValueError, KeyError, TypeError) as exc:
        reason = f"cuerpo inválido: {_short(exc)}"
        await _record(rt, status="rejected", kind=kind, headers=headers, body=body, reason=reason, ref=store_code)
        return _answer(422, reason)
    ref = f"{store_code}:{order_id}"
    ignored = _why_ignored(kind, order)
    if ignored:
        await _record(rt, status="ignored", kind=kind, headers=headers, body=body, ref=ref, reason=ignored)
        return JSONResponse({"status": "ignored", "reason": ignored})
    # The document keeps the body as received (the store code appended); the event needs no second copy.
    event = {
        "source": SOURCE,
        "kind": kind or "order_paid",
        "source_ref": ref,
        "headers": headers,
        "body": None,
        "body_size": len(body),
    }

    write = service.IngestRequest(
        idempotency_key=idempotency_key(store_code, order_id),
        country="CL",
        provider="facto",
        kind="tax_document",
        data=_with_store(body, payload, store_code),
        source_ref=ref,
        job_kind=ISSUE_JOB,
        event=event,
    )

    try:
        try:
            doc_id, created, _ = await rt.group_writer().submit(write)
        except IntegrityError:  # another process inserted the same order a moment ago
            doc_id, created, _ = await rt.group_writer().submit(write)
    except Exception:  # noqa: BLE001 - not recorded, so not acknowledged: Jumpseller will retry
        log.exception("could not record Jumpseller order %s", ref)
        return JSONResponse(
            {"error": "could not record the event; retry later"}, status_code=503, headers={"Retry-After": "60"}
        )
    status = "accepted" if created else "duplicate"
    return Response(f'{{"status":"{status}","document_id":{int(doc_id)}}}', media_type="application/json")


def _why_ignored(kind: str, order: dict[str, Any]) -> str:
    """Why this delivery issues nothing (other events, unpaid orders), or "" when it must be issued."""
    if kind and kind != "order_paid":
        return f"evento {kind} no emite documentos"
    if order.get("status_enum") not in (None, "", "paid"):
        return f"pedido en estado {order.get('status_enum')}, no pagado"
    return ""


def _with_store(body: bytes, payload: dict[str, Any], store_code: str) -> Any:
    """The webhook's JSON object as received, with `"store"` added last (so it wins over any sent one).
    Kept as text: no second JSON encoding on the ingest path."""
    try:
        text = body.decode("utf-8").rstrip()
    except UnicodeDecodeError:
        text = ""
    if not text.endswith("}"):
        return {**payload, "store": store_code}
    return RawJSON(f"{text[:-1]}, {json.dumps('store')}: {json.dumps(store_code)}}}")


async def _read_limited(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _record(
    rt: Runtime, *, status: str, kind: str, headers: dict[str, str], body: bytes, reason: str, ref: str | None
) -> None:
    from starlette.concurrency import run_in_threadpool

    def write() -> None:
        with rt.db.transaction() as session:
            service.record_event(
                session,
                source=SOURCE,
                kind=kind,
                status=status,
                reason=reason,
                headers=headers,
                body=body,
                source_ref=ref,
            )

    await run_in_threadpool(write)


def _answer(status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(HTTP_CODES.get(status, "error"), message), status_code=status)


def _short(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"falta el campo {exc}"
    return str(exc)[:200]
