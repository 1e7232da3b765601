"""Jumpseller API simulator: the orders a store holds, as `GET /v1/orders/status/{status}.json` serves
them (Basic `login:authtoken`, `page` from 1, `limit` up to 100, `[{"order": {...}}]`).

Every store configured in simulator mode is an account. `POST /_orders` `{"store": code, "order": {...}}`
puts an order in the store (what a customer's checkout does); `pasarela simulate jumpseller-order`
uses it, so polling finds the orders whose webhooks were lost.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from pasarela.core.simulator import SimState, sim_state_path, simulator_app
from pasarela.providers.cl.jumpseller.stores import stores

NAME = "jumpseller"
MAX_LIMIT = 100
DEFAULT_LIMIT = 50


def create_app(settings: Any) -> Any:
    accounts = {s.api_login: s for s in stores(settings).values() if s.facto_mode == "simulator" and s.api_login}
    state = SimState(sim_state_path(settings, NAME), lambda: {"orders": {}})

    def inspect() -> dict[str, Any]:
        with state.lock:
            return {
                "stores": {code: len(orders) for code, orders in state.data["orders"].items()},
                "count": sum(len(orders) for orders in state.data["orders"].values()),
            }

    app, _ = simulator_app(NAME, inspect, title="Jumpseller API simulator (orders)")

    def account(request: Request) -> Any:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            login, _, token = base64.b64decode(encoded).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        store = accounts.get(login)
        return store if store and hmac.compare_digest(store.api_token, token) else None

    @app.get("/v1/orders/status/{status}.json")
    def orders_by_status(status: str, request: Request, page: int = 1, limit: int = DEFAULT_LIMIT) -> JSONResponse:
        store = account(request)
        if store is None:
            return JSONResponse({"message": "Unauthorized"}, status_code=401)
        limit = max(1, min(limit, MAX_LIMIT))
        with state.lock:
            orders = [o for o in state.data["orders"].get(store.code, {}).values() if o.get("status_enum") == status]
        orders.sort(key=lambda o: str(o.get("id")))
        start = (max(page, 1) - 1) * limit
        return JSONResponse([{"order": o} for o in orders[start : start + limit]])

    @app.post("/_orders")
    async def add_order(request: Request) -> JSONResponse:
        body = await request.json()
        code, order = body.get("store"), body.get("order") or {}
        if code not in stores(settings) or "id" not in order:
            return JSONResponse({"error": "store code and order with id required"}, status_code=422)
        with state.lock:
            state.data["orders"].setdefault(code, {})[str(order["id"])] = order
            state.save()
        return JSONResponse({"status": "stored"})

    return app
