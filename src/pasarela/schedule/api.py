"""`/api/schedule` (bearer `api_token`): every duty with its last and next run, one duty's runs, run now,
switch off and on. Machine values; the Spanish labels ride along for whoever shows them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from pasarela.api.documents import bearer_auth
from pasarela.runtime import Runtime
from pasarela.schedule import engine, views


def _rt(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def list_duties(request: Request) -> dict[str, Any]:
    return {"items": views.overview(_rt(request))}


def duty_runs(request: Request, name: str, limit: int = Query(50, ge=1, le=500)) -> dict[str, Any]:
    return {"items": views.runs(_rt(request), name, limit)}


def run_duty(request: Request, name: str) -> dict[str, Any]:
    run_id = engine.queue_now(_rt(request), name)
    return views.run_dict(_rt(request), run_id)


def disable_duty(request: Request, name: str) -> dict[str, Any]:
    return engine.set_enabled(_rt(request), name, False, actor="api")


def enable_duty(request: Request, name: str) -> dict[str, Any]:
    return engine.set_enabled(_rt(request), name, True, actor="api")


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/schedule", tags=["schedule"], dependencies=[bearer_auth(rt)])
    api.add_api_route("", list_duties, methods=["GET"], summary="Every duty: cadence, last run, next run")
    api.add_api_route("/{name}/runs", duty_runs, methods=["GET"], summary="The runs of one duty, newest first")
    api.add_api_route("/{name}/run", run_duty, methods=["POST"], summary="Run a duty now, once (by a worker)")
    api.add_api_route("/{name}/disable", disable_duty, methods=["POST"], summary="Switch a duty off")
    api.add_api_route("/{name}/enable", enable_duty, methods=["POST"], summary="Switch a duty on again")
    return api
