"""`pasarela cl reconcile`: every paid order Jumpseller knows of gets its document, webhook or not.

Orders go through the same idempotency key as webhooks, so polling never makes a second document;
what it finds new is an order whose webhook was lost (or a hook Jumpseller paused)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from fastapi import APIRouter, Query

from pasarela.core.errors import NotFound, ProviderError
from pasarela.ledger import service
from pasarela.providers.cl.facto.flow import ISSUE_JOB
from pasarela.providers.cl.jumpseller.client import JumpsellerClient, api_base
from pasarela.providers.cl.jumpseller.stores import Store, stores
from pasarela.providers.cl.jumpseller.webhook import idempotency_key
from pasarela.runtime import Runtime

SOURCE = "jumpseller-api"
BATCH = 200


def reconcile_store(rt: Runtime, shop: Store) -> dict[str, Any]:
    http = rt.provider_http("jumpseller", extra_secrets=[shop.api_token])
    client = JumpsellerClient(http, api_base(rt.settings, shop), shop.api_login, shop.api_token)
    report: dict[str, Any] = {"store": shop.code, "paid_orders": 0, "new": 0, "known": 0, "error": ""}
    batch: list[service.IngestRequest] = []
    try:
        for order in client.paid_orders():
            report["paid_orders"] += 1
            batch.append(_request(shop.code, order))
            if len(batch) >= BATCH:
                _flush(rt, batch, report)
        _flush(rt, batch, report)
    except ProviderError as exc:
        _flush(rt, batch, report)
        report["error"] = exc.message
    finally:
        http.close()
    return report


def _request(store_code: str, order: dict[str, Any]) -> service.IngestRequest:
    ref = f"{store_code}:{order['id']}"
    return service.IngestRequest(
        idempotency_key=idempotency_key(store_code, order["id"]),
        country="CL",
        provider="facto",
        kind="tax_document",
        data={"order": order, "store": store_code},
        source_ref=ref,
        job_kind=ISSUE_JOB,
        event={"source": SOURCE, "kind": "order_paid", "source_ref": ref, "headers": {}, "body": None, "body_size": 0},
    )


def _flush(rt: Runtime, batch: list[service.IngestRequest], report: dict[str, Any]) -> None:
    if not batch:
        return
    with rt.db.transaction() as session:
        results = service.ingest_batch(session, batch)
    created = sum(1 for _, was_created, _ in results if was_created)
    report["new"] += created
    report["known"] += len(results) - created
    batch.clear()


def reconcile(rt: Runtime, store_code: str | None = None) -> list[dict[str, Any]]:
    chosen = [s for s in stores(rt.settings).values() if store_code in (None, s.code)]
    if store_code and not chosen:
        raise KeyError(store_code)
    return [reconcile_store(rt, shop) for shop in chosen if shop.api_login and shop.api_token]


def router(rt: Runtime) -> APIRouter:
    from pasarela.api.documents import bearer_auth

    api = APIRouter(prefix="/api/cl", tags=["chile"], dependencies=[bearer_auth(rt)])

    @api.post("/reconcile", summary="Poll Jumpseller for paid orders and queue the ones without a document")
    def reconcile_endpoint(store: str | None = Query(None, description="Store code; all stores if omitted")) -> Any:
        try:
            return {"stores": reconcile(rt, store)}
        except KeyError:
            raise NotFound(f"tienda desconocida {store!r}") from None

    return api


def reconcile_command(
    store: Annotated[str | None, typer.Option(help="Store code (default: every store with API access)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """Find paid Jumpseller orders that have no document (lost or paused webhooks) and issue them."""
    from pasarela.cli.common import fail, print_json, print_table, runtime

    try:
        reports = reconcile(runtime(), store)
    except KeyError:
        fail(f"no hay una tienda {store!r} en [[jumpseller.stores]]")
        return
    if as_json:
        print_json(reports)
        return
    print_table(
        "Conciliación con Jumpseller",
        ["tienda", "pedidos pagados", "nuevos", "ya conocidos", "error"],
        [(r["store"], r["paid_orders"], r["new"], r["known"], r["error"]) for r in reports],
        caption="los nuevos quedan en cola para emitirse",
    )
