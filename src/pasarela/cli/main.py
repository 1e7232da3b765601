"""`pasarela` command line."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from pasarela.alerts import cli as alerts_cli
from pasarela.cli import config as config_cli
from pasarela.cli import documents as documents_cli
from pasarela.cli.common import console, fail, runtime
from pasarela.core.errors import PasarelaError
from pasarela.plugins import plugins
from pasarela.schedule import cli as schedule_cli

app = typer.Typer(
    help="pasarela: electronic tax documents and collections for Latin America (Chile, Perú, México, Bolivia).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
app.add_typer(documents_cli.app, name="documents")
app.add_typer(config_cli.app, name="config")
app.add_typer(schedule_cli.app, name="schedule")
app.add_typer(alerts_cli.app, name="alerts")
simulate_app = typer.Typer(help="Send realistic test traffic to the gateway (webhooks, orders).", no_args_is_help=True)
app.add_typer(simulate_app, name="simulate")


@app.command()
def init() -> None:
    """Create the configuration (if missing) and the ledger schema, and show where they are."""
    rt = runtime()
    console.print(f"configuración: [bold]{rt.settings.path}[/bold]")
    console.print(f"ledger: [bold]{_safe_url(rt.settings.database_url)}[/bold]")


@app.command()
def migrate() -> None:
    """Bring the ledger schema up to date (Alembic `upgrade heads`)."""
    from pasarela.ledger.migrate import current_heads, upgrade

    rt = runtime()
    upgrade(rt.db)
    console.print(f"esquema al día en {_safe_url(rt.settings.database_url)}: {', '.join(sorted(current_heads(rt.db)))}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default from config: 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from config: 8000)")] = None,
    workers: Annotated[int | None, typer.Option(help="In-process worker threads (default from config)")] = None,
) -> None:
    """Run the gateway: HTTP API, webhooks, simulators and an in-process worker pool."""
    import uvicorn

    from pasarela.api.app import create_app

    config_cli.load_checked()
    rt = runtime()
    settings = rt.settings
    host = host or str(settings.get("server.host", "127.0.0.1"))
    port = port or int(settings.get("server.port", 8000))
    _banner(rt, host, port)
    _configure_logging()
    uvicorn.run(create_app(rt, workers=workers), host=host, port=port, log_level="info", access_log=False)


@app.command()
def worker(
    threads: Annotated[int, typer.Option(help="Worker threads in this process")] = 2,
    only: Annotated[
        list[str], typer.Option("--only", help="Solo estos tipos de trabajo (repetible), p. ej. facto.issue")
    ] = [],  # noqa: B006
) -> None:
    """Run workers alone (more processes or machines sharing one PostgreSQL ledger)."""
    import signal
    import threading

    from pasarela.worker import WorkerPool

    config_cli.load_checked()
    _configure_logging()
    rt = runtime()
    try:
        pool = WorkerPool(rt, threads, kinds=only or None)
    except PasarelaError as exc:
        fail(exc.message)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    pool.start()
    console.print(f"{threads} worker(s) en {_safe_url(rt.settings.database_url)}; Ctrl-C para detener")
    stop.wait()
    pool.stop()


@app.command()
def sim(
    provider: Annotated[
        str, typer.Argument(help="Simulator name: " + ", ".join(p.name for p in plugins() if p.simulator))
    ],
    port: Annotated[int, typer.Option(help="Port to listen on")] = 9000,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
) -> None:
    """Run one provider simulator alone (its paths are then at the root, e.g. /documento.php)."""
    import uvicorn

    from pasarela.config import load_settings

    settings = load_settings()
    for plugin in plugins():
        if plugin.name == provider and plugin.simulator is not None:
            console.print(f"simulador {provider} en http://{host}:{port}/ (inspección: /_inspect)")
            uvicorn.run(plugin.simulator(settings), host=host, port=port, log_level="warning")
            return
    fail(f"no hay simulador {provider!r}; opciones: {', '.join(p.name for p in plugins() if p.simulator)}")


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request URL at INFO; provider URLs may carry credentials (Facti's query strings).
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _banner(rt, host: str, port: int) -> None:  # type: ignore[no-untyped-def]
    console.print(f"[bold]pasarela[/bold] en http://{host}:{port}  (API: /docs, simuladores: /sim/<proveedor>/)")
    console.print(f"configuración: {rt.settings.path}   ledger: {_safe_url(rt.settings.database_url)}")
    for plugin in plugins():
        if plugin.startup_hint:
            console.print(plugin.startup_hint(rt))


GROUP_HELP: dict[tuple[str, ...], str] = {
    ("pe",): "Perú: comprobantes electrónicos UBL 2.1 por la OSE Bizlinks.",
    ("mx",): "México: cobros Facti y descarga masiva del SAT por MYSuite.",
    ("bo",): "Bolivia: punto de cobranza Cooplan por PagoFácil.",
    ("cl",): "Chile: boletas y facturas por Facto.",
}
_groups: dict[tuple[str, ...], typer.Typer] = {(): app}


def cli_group(*path: str, help: str | None = None) -> typer.Typer:
    """The typer group at `pasarela <path…>`, created (and attached to its parent) on first use."""
    if path not in _groups:
        parent = cli_group(*path[:-1])
        group = typer.Typer(help=help or GROUP_HELP.get(path, ""), no_args_is_help=True)
        parent.add_typer(group, name=path[-1])
        _groups[path] = group
    return _groups[path]


for _plugin in plugins():
    if _plugin.cli_setup is not None:
        _plugin.cli_setup(cli_group)
    for _name, _command in _plugin.simulate_commands.items():
        simulate_app.command(_name)(_command)
