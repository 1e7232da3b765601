"""`/api/alerts` (bearer `api_token`): the alerts with their state, the delivery log, a test message."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from pasarela.alerts import engine, views
from pasarela.api.documents import bearer_auth
from pasarela.runtime import Runtime


def _rt(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def list_alerts(request: Request, state: str | None = Query(None, description="open | resolved"),
                rule: str | None = None, limit: int = Query(200, ge=1, le=1000)) -> dict[str, Any]:
    return views.list_alerts(_rt(request), state=state, rule=rule, limit=limit)


def list_deliveries(request: Request, limit: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    return {"items": views.deliveries(_rt(request), limit)}


def test_alert(request: Request) -> dict[str, Any]:
    rt = _rt(request)
    sent = engine.send_test(rt)
    with rt.db.transaction() as session:
        from pasarela.alerts.models import AlertMessage

        message = session.get(AlertMessage, sent["message_id"])
        assert message is not None
        engine.queue_deliveries(rt, session, message)
    return sent


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/alerts", tags=["alerts"], dependencies=[bearer_auth(rt)])
    api.add_api_route("", list_alerts, methods=["GET"], summary="Alerts, open first, with their state")
    api.add_api_route("/deliveries", list_deliveries, methods=["GET"], summary="Every delivery attempt")
    api.add_api_route("/test", test_alert, methods=["POST"], summary="Queue a test message to every channel")
    return api
