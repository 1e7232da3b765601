"""`pasarela schedule list|run|disable|enable|runs`: the gateway's own rounds."""

from __future__ import annotations

from typing import Annotated

import typer

from pasarela.cli.common import console, fail, print_json, print_table, runtime
from pasarela.core.errors import PasarelaError

app = typer.Typer(
    help="Agenda: las tareas periódicas que los workers hacen solos (conciliar, resumir, sincronizar, descargar…).",
    no_args_is_help=True,
)
NameArg = Annotated[str, typer.Argument(help="Nombre de la tarea (ver `pasarela schedule list`)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Salida JSON")]


def _last(item: dict) -> tuple[str, str]:  # type: ignore[type-arg]
    run = item["last_run"]
    if not run:
        return "—", ""
    text = run["summary"] or run["error"]
    return f"{run['started_text'] or run['slot_start'][:16]} ({run['state_label']})", text[:90]


@app.command("list")
def list_command(as_json: JsonOpt = False) -> None:
    """Cada tarea con su cadencia, su última ejecución (y resultado) y la próxima."""
    from pasarela.schedule.views import overview

    items = overview(runtime())
    if as_json:
        print_json(items)
        return
    rows = []
    for item in items:
        last, result = _last(item)
        rows.append((item["name"], item["title"], f"{item['cadence']} ({item['timezone']})",
                     "sí" if item["enabled"] else "no", last, result, item["next_run_text"] or "—"))
    print_table("Agenda", ["tarea", "qué hace", "cadencia", "activa", "última", "resultado", "próxima"], rows,
                caption="horas en la zona de cada país; `pasarela schedule run NOMBRE` la ejecuta ahora")


@app.command("run")
def run_command(name: NameArg, as_json: JsonOpt = False) -> None:
    """Ejecuta una tarea ahora, una vez, en este proceso (queda registrada como las demás)."""
    from pasarela.schedule.engine import run_now

    try:
        run = run_now(runtime(), name)
    except PasarelaError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(run)
    else:
        console.print(f"{run['duty']}: [bold]{run['state_label']}[/bold] — {run['summary'] or run['error']}")
        for item in run["found"]:
            console.print(f"  • {item['text']}" + (f"  {item['link']}" if item.get("link") else ""))
    if run["state"] == "failed":
        raise typer.Exit(1)


def _switch(name: str, enabled: bool) -> None:
    from pasarela.schedule.engine import set_enabled

    try:
        item = set_enabled(runtime(), name, enabled, actor="cli")
    except PasarelaError as exc:
        fail(exc.message)
        return
    state = "activada" if item["enabled"] else "desactivada"
    console.print(f"tarea {item['name']} {state}" + (f"; próxima: {item['next_run_text']}" if item["enabled"] else ""))


@app.command("disable")
def disable_command(name: NameArg) -> None:
    """Desactiva una tarea en todos los workers (queda en el ledger hasta `schedule enable`)."""
    _switch(name, False)


@app.command("enable")
def enable_command(name: NameArg) -> None:
    """Vuelve a activar una tarea; los turnos en que estuvo apagada no se recuperan."""
    _switch(name, True)


@app.command("runs")
def runs_command(
    name: NameArg,
    limit: Annotated[int, typer.Option(help="Cuántas ejecuciones mostrar")] = 20,
    as_json: JsonOpt = False,
) -> None:
    """Las últimas ejecuciones de una tarea: turno, inicio, resultado y lo que encontró."""
    from pasarela.schedule.views import runs

    try:
        items = runs(runtime(), name, limit)
    except PasarelaError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(items)
        return
    print_table(f"Ejecuciones de {name}", ["id", "turno", "origen", "inicio", "estado", "resultado", "hallazgos"],
                [(r["id"], r["slot_start"][:16], r["trigger"], r["started_text"], r["state_label"],
                  (r["summary"] or r["error"])[:80], len(r["found"])) for r in items])
