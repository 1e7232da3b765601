"""Helpers for the Cooplan tests: the simulator on a real loopback port in a thread, and clients."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

from pasarela.config import Settings
from pasarela.core.transport import ProviderHTTP
from pasarela.providers.bo.cooplan.client import CooplanClient, TokenCache
from pasarela.providers.bo.cooplan.config import SIM_CODSEGURIDAD, SIM_LOGIN, SIM_PWD, CooplanConfig
from pasarela.providers.bo.cooplan.simulator import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve_app(app: Any, port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("simulator did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def sim_settings(tmp_path: Path, **simulator: Any) -> Settings:
    raw = {"bo": {"cooplan": {"simulator": simulator}}, "simulators": {"persist": False}}
    return Settings(raw=raw, home=tmp_path, path=tmp_path / "pasarela.toml")


@contextmanager
def running_simulator(tmp_path: Path, **simulator: Any) -> Iterator[str]:
    with serve_app(create_app(sim_settings(tmp_path, **simulator))) as url:
        yield url


@contextmanager
def gateway_simulator(settings: Settings) -> Iterator[str]:
    """The simulator mounted at /sim/cooplan on the port the runtime's public_url points at."""
    parent = FastAPI()
    parent.mount("/sim/cooplan", create_app(settings))
    port = int(settings.public_url.rsplit(":", 1)[1])
    with serve_app(parent, port) as url:
        yield url + "/sim/cooplan"


def make_client(
    base_url: str,
    audit: list[dict[str, Any]] | None = None,
    *,
    pwd: str = SIM_PWD,
    tokens: TokenCache | None = None,
    timeout: float = 5.0,
) -> CooplanClient:
    config = CooplanConfig(
        mode="simulator",
        base_url=base_url,
        codseguridad=SIM_CODSEGURIDAD,
        login=SIM_LOGIN,
        pwd=pwd,
        cajero="caja-test",
        token_max_age_seconds=0,
        allow_plain_http=False,
    )
    sink = audit.append if audit is not None else (lambda record: None)
    http = ProviderHTTP(provider="cooplan", timeout=timeout, secrets=config.secrets, audit=sink)
    return CooplanClient(config, http, tokens or TokenCache())


def sim_post(base_url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = httpx.post(f"{base_url}/{path}", json=body or {}, timeout=10)
    response.raise_for_status()
    return response.json()


def inspect(base_url: str) -> dict[str, Any]:
    return httpx.get(f"{base_url}/_inspect", timeout=10).json()
