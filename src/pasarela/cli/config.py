"""`pasarela config check`: the whole configuration (file and environment) against every declared section."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from pasarela.cli.common import console, err_console, print_json

app = typer.Typer(help="Configuración: validar pasarela.toml.", no_args_is_help=True)


def report_problems(settings: Any) -> list[Any]:
    """Print every problem of the configuration, one line each with its key path; return them."""
    problems = settings.problems()
    for problem in problems:
        err_console.print(f"[bold red]error de configuración[/bold red] {problem}", soft_wrap=True)
    if problems:
        err_console.print(f"{len(problems)} problema(s) en {settings.path} (o en variables PASARELA_…)")
    return problems


def load_checked() -> Any:
    """The settings, or exit 2 with every problem (used by `serve`, `worker` and `config check`):
    a wrong key or type stops them at start with its key path, not later with a traceback."""
    from pasarela.config import load_settings
    from pasarela.core.errors import ConfigError

    try:
        settings = load_settings()
    except ConfigError as exc:
        err_console.print(f"[bold red]error de configuración[/bold red] {exc.message}", soft_wrap=True)
        raise typer.Exit(2) from None
    if report_problems(settings):
        raise typer.Exit(2)
    return settings


@app.command()
def check(
    as_json: Annotated[bool, typer.Option("--json", help="Salida en JSON")] = False,
) -> None:
    """Valida la configuración completa: cada error con la ruta de su clave."""
    if as_json:
        from pasarela.config import load_settings

        settings = load_settings()
        problems = settings.problems()
        print_json({"path": str(settings.path), "problems": [{"key": p.key, "message": p.message} for p in problems]})
        raise typer.Exit(2 if problems else 0)
    settings = load_checked()
    console.print(f"configuración válida: {settings.path}")
