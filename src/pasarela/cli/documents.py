"""`pasarela documents list|show|retry|resolve|artifact`: the ledger from the terminal."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from pasarela.cli.common import console, fail, print_json, print_table, runtime, styled_state
from pasarela.core.errors import PasarelaError
from pasarela.ledger import service
from pasarela.ledger.models import Artifact, Document
from pasarela.operations import document_dict, get_document, resolve_document, retry_document

app = typer.Typer(help="Documents in the ledger: list, inspect, correct and retry, resolve.", no_args_is_help=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


@app.command("list")
def list_documents(
    country: Annotated[str | None, typer.Option(help="CL, PE, MX, BO")] = None,
    provider: Annotated[str | None, typer.Option(help="facto, bizlinks, facti, mysuite, cooplan")] = None,
    state: Annotated[str | None, typer.Option(help="issued, needs_attention, in_doubt, …")] = None,
    source_ref: Annotated[str | None, typer.Option(help="e.g. the Jumpseller order id")] = None,
    limit: Annotated[int, typer.Option(help="Rows to show")] = 50,
    page: Annotated[int, typer.Option(help="Page number")] = 1,
    as_json: JsonOpt = False,
) -> None:
    """List documents, newest first."""
    rt = runtime()
    query = service.document_query(country=country, provider=provider, state=state, source_ref=source_ref)
    with rt.db.transaction() as session:
        total = service.count(session, query)
        docs = session.scalars(query.order_by(Document.id.desc()).offset((page - 1) * limit).limit(limit)).all()
        items = [document_dict(d) for d in docs]
    if as_json:
        print_json({"items": items, "total": total, "page": page})
        return
    rows = [
        (
            d["id"],
            d["label"],
            d["source_ref"] or "",
            d["state"],
            d["provider_ref"] or "",
            d["reason"][:140],
            d["updated_at"][5:16].replace("T", " "),
        )
        for d in items
    ]
    print_table(
        "Documentos",
        ["id", "documento", "origen", "estado", "folio/ref", "motivo", "actualizado"],
        rows,
        caption=f"{len(items)} de {total} (página {page})",
    )


@app.command()
def show(
    doc_id: Annotated[int, typer.Argument(help="Document id")],
    calls: Annotated[bool, typer.Option(help="Include the provider calls (audit)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show one document: data, state history, artifacts."""
    try:
        doc = get_document(runtime(), doc_id, with_calls=calls)
    except PasarelaError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(doc)
        return
    _print_document(doc)


def _print_document(doc: dict[str, Any]) -> None:
    console.print(
        f"[bold]Documento {doc['id']}[/bold]  {doc['country']} · {doc['provider']} · {doc['kind']}  "
        f"estado {styled_state(doc['state'])}  ref [bold]{doc['provider_ref'] or '-'}[/bold]"
    )
    if doc["reason"]:
        console.print(f"motivo: {doc['reason']}")
    console.print(f"origen: {doc['source_ref']}   clave: {doc['idempotency_key']}")
    print_table(
        "Historial",
        ["cuándo", "de", "a", "motivo", "quién"],
        [(h["at"][:19].replace("T", " "), h["from"] or "", h["to"], h["reason"], h["actor"]) for h in doc["history"]],
    )
    if doc["artifacts"]:
        print_table(
            "Archivos",
            ["nombre", "tipo", "bytes"],
            [(a["name"], a["content_type"], a["size"]) for a in doc["artifacts"]],
        )
    if doc.get("calls"):
        print_table(
            "Llamadas al proveedor",
            ["cuándo", "operación", "HTTP", "resultado", "ms", "error"],
            [
                (c["at"][:19], c["operation"], c["http_status"] or "", c["outcome"], c["duration_ms"], c["error"][:60])
                for c in doc["calls"]
            ],
        )
    if doc.get("overrides"):
        console.print(f"correcciones: {doc['overrides']}")


def _parse_sets(values: list[str]) -> dict[str, str]:
    corrections = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            fail(f"--set espera campo=valor, no {item!r}")
        corrections[key.strip()] = value.strip()
    return corrections


@app.command()
def retry(
    doc_id: Annotated[int, typer.Argument(help="Document id")],
    set_: Annotated[
        list[str], typer.Option("--set", help="Correction field=value (repeatable), e.g. receptor_rut=76086428-5")
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Correct a document's data and queue it again (needs_attention, failed, skipped, rejected)."""
    try:
        doc = retry_document(runtime(), doc_id, _parse_sets(set_), actor="cli")
    except PasarelaError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(doc)
    else:
        console.print(f"documento {doc_id}: {styled_state(doc['state'])}. El worker lo enviará en breve.")


@app.command()
def resolve(
    doc_id: Annotated[int, typer.Argument(help="Document id")],
    folio: Annotated[
        str | None, typer.Option("--folio", "--ref", help="The provider's folio/reference: it WAS issued")
    ] = None,
    reissue: Annotated[bool, typer.Option(help="You checked it was NOT issued: send it again")] = False,
    skip: Annotated[bool, typer.Option(help="Issue nothing for it")] = False,
    lookup: Annotated[bool, typer.Option(help="Ask the provider (where it has a lookup)")] = False,
    note: Annotated[str, typer.Option(help="Why, for the history")] = "",
    link: Annotated[
        list[str], typer.Option("--link", help="Facto: enlace visto en facto.cl, p. ej. dte_pdf=https://… (repetible)")
    ] = [],  # noqa: B006
    as_json: JsonOpt = False,
) -> None:
    """Decide what happened to an in-doubt document."""
    chosen = [name for name, on in (("issued", folio), ("reissue", reissue), ("skip", skip), ("lookup", lookup)) if on]
    if len(chosen) != 1:
        fail("elige exactamente una: --folio N, --reissue, --skip o --lookup")
    try:
        request = {"action": chosen[0], "provider_ref": folio, "note": note, "links": _parse_sets(link)}
        doc = resolve_document(runtime(), doc_id, request)
    except PasarelaError as exc:
        fail(exc.message)
        return
    if as_json:
        print_json(doc)
    else:
        console.print(f"{doc.get('message', '')} → {styled_state(doc['state'])}")


@app.command()
def artifact(
    doc_id: Annotated[int, typer.Argument(help="Document id")],
    name: Annotated[str, typer.Argument(help="Artifact name, e.g. documento.pdf")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to copy it (default: print path)")
    ] = None,
) -> None:
    """Print the path of (or copy) one of a document's files."""
    rt = runtime()
    with rt.db.transaction() as session:
        found = session.scalar(select(Artifact).where(Artifact.document_id == doc_id, Artifact.name == name))
    if found is None:
        fail(f"documento {doc_id} no tiene el archivo {name}")
        return
    if output:
        shutil.copyfile(found.path, output)
        console.print(f"copiado a {output}")
    else:
        typer.echo(found.path)
