"""Shared fixtures: a fresh ledger per test on SQLite *and* PostgreSQL, and a real server on loopback.

- ``db_url``: parametrised ``sqlite`` / ``postgres``; each test gets an empty, migrated database.
  Without a PostgreSQL server on 127.0.0.1:5432 the postgres variants are skipped, and the run
  says so loudly at the end.
- ``home``: a temporary PASARELA_HOME with the default configuration written in it.
- ``rt``: a Runtime on that home and database (direct ledger access for assertions).
- ``server``: ``pasarela serve`` in a subprocess on a free port, with the simulators mounted.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pasarela.config import default_config_text, load_settings
from pasarela.ledger.db import Database
from pasarela.ledger.migrate import upgrade
from pasarela.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
SHARED = (ROOT.parent / "shared") if (ROOT.parent / "shared").exists() else ROOT / "shared"
VECTORS = SHARED / "vectors"
PG_ADMIN_URL = os.environ.get("PASARELA_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

_pg_state: dict[str, Any] = {"checked": False, "ok": False, "template": None, "reason": ""}
_counter = itertools.count()


def _pg_available() -> bool:
    if not _pg_state["checked"]:
        _pg_state["checked"] = True
        try:
            import psycopg

            with psycopg.connect(_libpq(PG_ADMIN_URL), connect_timeout=3, autocommit=True):
                _pg_state["ok"] = True
        except Exception as exc:  # noqa: BLE001
            _pg_state["reason"] = str(exc).splitlines()[0]
    return bool(_pg_state["ok"])


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _pg_exec(sql: str) -> None:
    import psycopg

    with psycopg.connect(_libpq(PG_ADMIN_URL), autocommit=True) as conn:
        conn.execute(sql)


def _pg_url(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _pg_template() -> str:
    if _pg_state["template"] is None:
        name = f"pasarela_tpl_{os.getpid()}"
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}"')
        _pg_exec(f'CREATE DATABASE "{name}"')
        db = Database(_pg_url(name))
        upgrade(db)
        db.dispose()
        _pg_state["template"] = name
    return str(_pg_state["template"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    template = _pg_state.get("template")
    if template:
        try:
            _pg_exec(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
        except Exception:  # noqa: BLE001
            pass


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _pg_state["checked"] and not _pg_state["ok"]:
        terminalreporter.write_sep(
            "!", f"POSTGRESQL NOT AVAILABLE: every postgres variant was SKIPPED ({_pg_state['reason']})", red=True
        )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    if not _pg_available():
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432: {_pg_state['reason']}")
    name = f"pasarela_t_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{_pg_template()}"')
    try:
        yield _pg_url(name)
    finally:
        _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def home(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A PASARELA_HOME with the default config, the test's database, and a port chosen for it."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "pasarela.toml").write_text(default_config_text(), encoding="utf-8")
    port = free_port()
    for key in [k for k in os.environ if k.startswith("PASARELA_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("PASARELA_HOME", str(home))
    monkeypatch.setenv("PASARELA_DATABASE_URL", db_url)
    monkeypatch.setenv("PASARELA_SERVER__PORT", str(port))
    monkeypatch.setenv("PASARELA_SERVER__PUBLIC_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("PASARELA_WORKER__LEASE_SECONDS", "5")
    monkeypatch.setenv("PASARELA_WORKER__POLL_INTERVAL", "0.05")
    monkeypatch.setenv("PASARELA_HTTP__TIMEOUT", "5")
    # The built-in schedule would reconcile, sync and download on its own in the middle of other tests;
    # tests/schedule and tests/alerts switch it on.
    monkeypatch.setenv("PASARELA_SCHEDULE__ENABLED", "false")
    return home


@pytest.fixture
def rt(home: Path) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(load_settings())
    upgrade(runtime.db)
    yield runtime
    runtime.db.dispose()


class LiveServer:
    """`pasarela serve` (or `pasarela worker`) as real processes, restartable and killable."""

    def __init__(self, rt: Runtime, home: Path):
        self.rt = rt
        self.home = home
        self.port = int(rt.settings.get("server.port"))
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.log_path = home / "server.log"
        self.server_env: dict[str, str] = {}

    @property
    def api_token(self) -> str:
        return self.rt.settings.api_token

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()}
        env.update(extra)
        return env

    def start(self, workers: int | None = None, **env: str) -> LiveServer:
        self.server_env = env  # workers started later run with the same configuration
        args = [sys.executable, "-m", "pasarela", "serve", "--port", str(self.port)]
        if workers is not None:
            args += ["--workers", str(workers)]
        log = open(self.log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=self.env(**env), stdout=log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready: {self.log_path.read_text()[-3000:]}")

    def start_worker(self, threads: int = 2, only: tuple[str, ...] = (), **env: str) -> subprocess.Popen[bytes]:
        log = open(self.home / f"worker-{len(self.workers)}.log", "ab")  # noqa: SIM115
        only_args = [arg for kind in only for arg in ("--only", kind)]
        proc = subprocess.Popen(
            [sys.executable, "-m", "pasarela", "worker", "--threads", str(threads), *only_args],
            env=self.env(**{**self.server_env, **env}),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes] | None = None, sig: int = signal.SIGKILL) -> None:
        proc = proc or self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=30)

    def stop(self) -> None:
        for proc in [*self.workers, self.proc]:
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.api_token}"}, timeout=30)

    def cli(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pasarela", *args],
            env=self.env(),
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )


@pytest.fixture
def server(rt: Runtime, home: Path) -> Iterator[LiveServer]:
    live = LiveServer(rt, home)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def server_factory(rt: Runtime, home: Path) -> Iterator[LiveServer]:
    """A LiveServer not yet started (for tests that choose workers/env or kill it)."""
    live = LiveServer(rt, home)
    yield live
    live.stop()


def wait_until(predicate: Any, timeout: float = 10.0, interval: float = 0.05, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class _ThreadedUvicorn:
    """An ASGI app served by uvicorn on a free loopback port, in a thread (for simulator tests)."""

    def __init__(self, app: Any):
        import uvicorn

        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15, message="simulator listening")
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def serve_asgi(app: Any) -> _ThreadedUvicorn:
    """`with serve_asgi(app) as base_url:` — the app over real HTTP on 127.0.0.1."""
    return _ThreadedUvicorn(app)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Slow tests first: under pytest-xdist the longest ones (real-time schedules, outages) then run beside
    the rest instead of after it, which keeps the suite's wall time near its longest test."""
    items.sort(key=lambda item: 0 if item.get_closest_marker("slow") else 1)
