"""What every provider simulator shares: persistent state, `_inspect`, and run-time fault injection.

Faults (``POST /sim/<provider>/_faults``, JSON):
- ``latency_ms``: added before every request is handled.
- ``error_rate`` / ``error_next``: answer 503 *before* processing (the provider surely did not act);
  ``error_status`` another status for them (e.g. 502: not processed, but the client cannot know that).
- ``drop_rate`` / ``drop_next``: process and commit, then cut the connection mid-response (the client
  cannot know whether it was processed); ``drop_path`` limits them to paths containing that text.
``GET /sim/<provider>/_faults`` shows them; ``DELETE`` clears them.
``POST /sim/<provider>/_drop`` ``{"operation": "realizarpago", "count": 1}``: the same cut, for the next
calls to paths ending in that operation only (other calls in between are answered).

A simulator keeps only its provider's rules; what every one needs — state, faults, drops, a bearer-token
check — is here.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class Faults:
    latency_ms: int = 0
    error_rate: float = 0.0
    error_next: int = 0
    error_status: int = 503
    drop_rate: float = 0.0
    drop_next: int = 0
    # Only requests whose path contains this text are dropped (e.g. "realizarpago"); empty: any.
    drop_path: str = ""

    def take_error(self) -> bool:
        if self.error_next > 0:
            self.error_next -= 1
            return True
        return self.error_rate > 0 and random.random() < self.error_rate

    # Per-operation drops (`POST /_drop`): the last path segment -> how many of its next calls to cut.
    drop_operations: dict[str, int] = field(default_factory=dict)

    def take_drop(self, path: str = "") -> bool:
        operation = path.rstrip("/").rsplit("/", 1)[-1]
        if self.drop_operations.get(operation, 0) > 0:
            self.drop_operations[operation] -= 1
            return True
        if self.drop_path and self.drop_path not in path:
            return False
        if self.drop_next > 0:
            self.drop_next -= 1
            return True
        return self.drop_rate > 0 and random.random() < self.drop_rate


class SimState:
    """A JSON document on disk guarded by a lock: small, durable, inspectable."""

    def __init__(self, path: Path | None, initial: Callable[[], dict[str, Any]]):
        self.path = path
        self.lock = threading.RLock()
        self.data: dict[str, Any] = initial()
        if path is not None and path.exists():
            self.data.update(json.loads(path.read_text(encoding="utf-8")))

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.path.parent, delete=False, encoding="utf-8") as tmp:
            json.dump(self.data, tmp, ensure_ascii=False, default=str)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp.name, self.path)


class DroppedResponse(Exception):
    """Raised after the response has started, so the server cuts the connection."""


class FaultMiddleware:
    """ASGI middleware applying Faults to every request except the simulator's own `_` endpoints."""

    def __init__(self, app: Any, faults: Faults):
        self.app = app
        self.faults = faults

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or any(part.startswith("_") for part in scope.get("path", "").split("/")):
            await self.app(scope, receive, send)
            return
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        if self.faults.take_error():
            status = self.faults.error_status
            headers = [(b"content-type", b"text/plain")] + ([(b"retry-after", b"1")] if status in (429, 503) else [])
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": f"HTTP {status} (simulated, not processed)".encode()})
            return
        if not self.faults.take_drop(scope.get("path", "")):
            await self.app(scope, receive, send)
            return

        async def swallow(message: dict[str, Any]) -> None:
            return None

        await self.app(scope, receive, swallow)
        # Processed and committed; now promise a body and break the connection before it arrives.
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"<", "more_body": True})
        raise DroppedResponse("simulated dropped response")


def simulator_app(
    name: str,
    inspect: Callable[[], dict[str, Any]],
    *,
    title: str | None = None,
    reset: Callable[[], None] | None = None,
) -> tuple[FastAPI, Faults]:
    """A FastAPI app with `_inspect` and `_faults`; the simulator adds its own routes to it."""
    app = FastAPI(title=title or f"{name} simulator", docs_url="/_docs", openapi_url="/_openapi.json")
    faults = Faults()
    app.state.faults = faults

    @app.get("/_inspect")
    def _inspect() -> dict[str, Any]:
        return inspect()

    @app.get("/_faults")
    def _get_faults() -> dict[str, Any]:
        return asdict(faults)

    @app.post("/_faults")
    async def _set_faults(request: Request) -> JSONResponse:
        body = await request.json()
        unknown = set(body) - set(asdict(faults)) | ({"drop_operations"} & set(body))
        if unknown:
            return JSONResponse({"error": f"unknown fault(s): {sorted(unknown)}"}, status_code=422)
        for key, value in body.items():
            setattr(faults, key, type(getattr(faults, key))(value))
        return JSONResponse(asdict(faults))

    @app.post("/_drop")
    async def _drop(request: Request) -> dict[str, Any]:
        body = await request.json()
        operation = str(body.get("operation", "")).strip("/")
        faults.drop_operations[operation] = faults.drop_operations.get(operation, 0) + int(body.get("count", 1))
        return {"drops": dict(faults.drop_operations)}

    @app.delete("/_faults")
    def _clear_faults() -> dict[str, Any]:
        for key, value in asdict(Faults()).items():
            setattr(faults, key, value)
        return asdict(faults)

    if reset is not None:

        @app.post("/_reset")
        def _reset() -> dict[str, str]:
            reset()
            return {"status": "reset"}

    app.add_middleware(FaultMiddleware, faults=faults)
    return app, faults


def sim_state_path(settings: Any, name: str) -> Path | None:
    """Simulator state lives beside the ledger unless [simulators] persist = false."""
    if settings is None or not settings.get("simulators.persist", True):
        return None
    return Path(settings.home) / "sim" / f"{name}.json"


def bearer_token(request: Request, *header_names: str) -> str:
    """The token of an ``Authorization: Bearer …`` header (or the first of ``header_names`` that has one)."""
    for name in header_names or ("authorization",):
        scheme, _, token = request.headers.get(name, "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    return ""
