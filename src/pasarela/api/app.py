"""The gateway's HTTP app: documents API, provider routers (webhooks, per-country APIs), simulators."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from pasarela.alerts.api import router as alerts_router
from pasarela.api import errors as api_errors
from pasarela.api.documents import router as documents_router
from pasarela.core.simulator import DroppedResponse
from pasarela.plugins import plugins
from pasarela.runtime import Runtime
from pasarela.schedule.api import router as schedule_router
from pasarela.worker import WorkerPool

log = logging.getLogger("pasarela.api")


class _QuietDroppedResponse(logging.Filter):
    """A simulated dropped response is intended; keep uvicorn from printing a traceback for it."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        while exc is not None:
            if isinstance(exc, DroppedResponse):
                return False
            exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        return True


def create_app(rt: Runtime, *, workers: int | None = None) -> FastAPI:
    pool_size = int(rt.settings.get("worker.threads", 2)) if workers is None else workers

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(rt, pool_size) if pool_size > 0 else None
        if pool:
            pool.start()
        try:
            yield
        finally:
            if pool:
                pool.stop()
            rt.group_writer().stop()

    app = FastAPI(
        title="pasarela",
        description="Gateway for electronic tax documents and collections in Latin America.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.runtime = rt
    # The group writer and the event loop share the GIL; Python's default 5 ms switch interval makes
    # the loop wait behind a writer batch. 0.5 ms keeps both moving (measured in bench/ingest).
    sys.setswitchinterval(float(rt.settings.get("server.gil_switch_interval", 0.0005)))
    logging.getLogger("uvicorn.error").addFilter(_QuietDroppedResponse())

    api_errors.install(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        from sqlalchemy import text

        with rt.db.transaction() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok", "database": rt.db.engine.dialect.name}

    app.include_router(documents_router(rt))
    app.include_router(schedule_router(rt))
    app.include_router(alerts_router(rt))
    for plugin in plugins():
        for make_router in plugin.routers:
            app.include_router(make_router(rt))
    if rt.settings.get("simulators.enabled", True):
        for plugin in plugins():
            if plugin.simulator is not None:
                app.mount(f"/sim/{plugin.name}", plugin.simulator(rt.settings))
    return app
