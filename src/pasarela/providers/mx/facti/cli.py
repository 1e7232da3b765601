"""`pasarela mx payments request|clabe|list|show|delete|mark-paid|sync`."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from pasarela.cli.common import console, fail, print_json, print_table, runtime, wait_settled
from pasarela.core.errors import InvalidInput, PasarelaError
from pasarela.core.outcomes import SETTLED_STATES
from pasarela.ledger import service
from pasarela.ledger.models import Document
from pasarela.operations import get_document
from pasarela.providers.mx.facti import flow

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")]


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except InvalidInput as exc:
        fail(f"{exc.message}")
    except PasarelaError as exc:
        fail(exc.message)


def _references_table(doc: dict[str, Any]) -> None:
    refs = (doc.get("result") or {}).get("references") or []
    if not refs and (doc.get("result") or {}).get("clabe"):
        refs = [
            {
                "payment_type": "stp",
                "reference": doc.get("provider_ref"),
                "stp_cuenta_clabe": doc["result"]["clabe"],
            }
        ]
    if refs:
        print_table(
            "Referencias de pago",
            ["forma", "alias", "referencia", "CLABE / convenio"],
            [
                (
                    r.get("payment_type"),
                    r.get("payment_way_alias", ""),
                    r.get("reference"),
                    r.get("stp_cuenta_clabe")
                    or (
                        f"{r.get('bank_name')} convenio {r.get('bank_agreement_number')}" if r.get("bank_name") else ""
                    ),
                )
                for r in refs
            ],
        )


def _show_doc(doc: dict[str, Any]) -> None:
    result = doc.get("result") or {}
    data = doc.get("data") or {}
    print_table(
        f"Solicitud de pago {doc['id']}",
        ["campo", "valor"],
        [
            ("estado", doc["state"]),
            ("motivo", doc["reason"]),
            ("request_id Facti", doc.get("provider_ref") or ""),
            ("serie-folio", doc.get("source_ref") or ""),
            ("cliente", data.get("to_client_name", "")),
            ("correo", data.get("to_email", "")),
            ("importe", data.get("total_amount", "")),
            ("fecha límite", result.get("limit_payment_date", "")),
            ("recibido", result.get("amount_received") or ""),
            ("pagado por", result.get("confirmed_from") or ""),
            ("fecha de pago", result.get("confirmed_date") or ""),
        ],
    )
    _references_table(doc)


def setup(group: Callable[..., typer.Typer]) -> None:
    payments = group("mx", "payments", help="Facti: solicitudes de pago (STP, banco, PayPal), CLABEs, búsqueda e IPN.")

    @payments.command("request")
    def request(
        file: Annotated[
            Path | None,
            typer.Option("--file", "-f", help="JSON with Facti new_request fields (see examples/mx/facti_*.json)"),
        ] = None,
        folio: Annotated[str | None, typer.Option(help="Invoice folio")] = None,
        serie: Annotated[str | None, typer.Option(help="Invoice series")] = None,
        to_client_name: Annotated[str | None, typer.Option("--to-name", help="Name of the paying client")] = None,
        to_email: Annotated[str | None, typer.Option("--to-email", help="Client e-mail(s), separated by ;")] = None,
        to_rfc: Annotated[
            str | None, typer.Option("--to-rfc", help="Client RFC (XAXX010101000 for público en general)")
        ] = None,
        total_amount: Annotated[
            str | None, typer.Option("--amount", help="Total; more than 2 decimals is rounded UP")
        ] = None,
        limit_payment_date: Annotated[
            str | None, typer.Option("--limit-date", help="YYYY-MM-DD (default: in one month)")
        ] = None,
        no_email: Annotated[bool, typer.Option("--no-email", help="send_email_to_client=0")] = False,
        key: Annotated[str | None, typer.Option(help="Idempotency key (default: RFC + serie + folio)")] = None,
        wait: Annotated[float, typer.Option(help="Seconds to wait for Facti's answer (needs a running worker)")] = 20.0,
        as_json: JsonOpt = False,
    ) -> None:
        """Ask a client to pay an invoice. The same key/folio twice never makes a second request at Facti."""
        data: dict[str, Any] = json.loads(file.read_text(encoding="utf-8")) if file else {}
        cli_values = {
            "folio": folio,
            "serie": serie,
            "to_client_name": to_client_name,
            "to_email": to_email,
            "to_rfc": to_rfc,
            "total_amount": total_amount,
            "limit_payment_date": limit_payment_date,
        }
        data.update({k: v for k, v in cli_values.items() if v is not None})
        if no_email:
            data["send_email_to_client"] = 0
        rt = runtime()
        doc, created = _guard(lambda: flow.create_payment_request(rt, data, idempotency_key=key, source="cli"))
        if wait > 0:
            wait_settled(rt, [doc.id], wait, {*SETTLED_STATES, flow.PAID, flow.DELETED})
        out = get_document(rt, doc.id)
        if as_json:
            print_json({**out, "created": created})
            return
        if not created:
            console.print(f"[yellow]ya existía[/yellow] la solicitud {doc.id} con esa clave; no se envió otra a Facti")
        _show_doc(out)

    @payments.command("list")
    def list_payments(
        state: Annotated[str | None, typer.Option(help="issued, paid, in_doubt, needs_attention, deleted…")] = None,
        remote: Annotated[
            bool,
            typer.Option("--remote", help="Search Facti (company_payments, every page) instead of the ledger"),
        ] = False,
        status: Annotated[int | None, typer.Option(help="--remote: 0 pending, 1 paid")] = None,
        since_id: Annotated[int | None, typer.Option(help="--remote: ids ≥ this")] = None,
        limit: Annotated[int, typer.Option(help="Rows to show")] = 50,
        as_json: JsonOpt = False,
    ) -> None:
        """Payment requests in the ledger (or at Facti with --remote)."""
        rt = runtime()
        if remote:
            _list_remote(rt, status, since_id, limit, as_json)
            return
        query = service.document_query(provider=flow.PROVIDER, state=state)
        with rt.db.transaction() as session:
            total = service.count(session, query)
            docs = session.scalars(query.order_by(Document.id.desc()).limit(limit)).all()
            rows = [
                (
                    d.id,
                    d.kind,
                    d.source_ref or "",
                    (d.data or {}).get("to_client_name", ""),
                    (d.data or {}).get("total_amount", (d.data or {}).get("amount_received", "")),
                    d.state,
                    d.provider_ref or "",
                    (d.result or {}).get("clabe") or "",
                    d.reason[:50],
                )
                for d in docs
            ]
            items = [
                {
                    "id": d.id,
                    "kind": d.kind,
                    "source_ref": d.source_ref,
                    "state": d.state,
                    "request_id": d.provider_ref,
                    "total_amount": (d.data or {}).get("total_amount"),
                    "clabe": (d.result or {}).get("clabe"),
                    "reason": d.reason,
                }
                for d in docs
            ]
        if as_json:
            print_json({"items": items, "total": total})
            return
        print_table(
            "Solicitudes de pago Facti",
            ["id", "tipo", "serie-folio", "cliente", "importe", "estado", "request_id", "CLABE", "motivo"],
            rows,
            caption=f"{len(rows)} de {total}",
        )

    @payments.command("show")
    def show(
        doc_id: Annotated[int, typer.Argument(help="Document id (from `list`)")],
        remote: Annotated[bool, typer.Option("--remote", help="Also ask Facti (GET /v1/payments/{id})")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """One payment request: state, references (STP CLABE), history."""
        rt = runtime()
        out = _guard(lambda: get_document(rt, doc_id))
        if remote and out.get("provider_ref"):
            out["facti"] = _guard(lambda: flow.client_for(rt, doc_id).get_payment(int(out["provider_ref"]))).raw
        if as_json:
            print_json(out)
            return
        _show_doc(out)
        print_table(
            "Historial",
            ["de", "a", "motivo", "quién", "cuándo"],
            [(h["from"] or "", h["to"], h["reason"], h["actor"], h["at"][:19]) for h in out["history"]],
        )
        if remote and out.get("facti"):
            print_json(out["facti"])

    @payments.command("clabe")
    def clabe(
        to_email: Annotated[str, typer.Argument(help="The client's e-mail")],
        as_json: JsonOpt = False,
    ) -> None:
        """The client's STP CLABE(s) for your company (one per company–client pair)."""
        rt = runtime()
        accounts = _guard(lambda: flow.client_for(rt).stp_client_clabe(flow.settings_of(rt).company_id, to_email))
        items = [{**vars(a), "clabe_valid": a.clabe_valid} for a in accounts.accounts]
        if as_json:
            print_json({"accounts": items, "errors": accounts.errors})
            return
        print_table(
            f"CLABE STP de {to_email}",
            ["forma", "alias", "CLABE", "dígito verificador"],
            [
                (
                    a["payment_way_id"],
                    a["payment_way_alias"],
                    a["stp_cuenta_clabe"],
                    "ok" if a["clabe_valid"] else "INVÁLIDO",
                )
                for a in items
            ],
        )

    @payments.command("delete")
    def delete(doc_id: Annotated[int, typer.Argument(help="Document id")], as_json: JsonOpt = False) -> None:
        """Delete a pending payment request at Facti (paid ones cannot be deleted)."""
        out = _guard(lambda: flow.delete_payment(runtime(), doc_id))
        print_json(out) if as_json else console.print(f"solicitud {doc_id} eliminada en Facti")

    @payments.command("mark-paid")
    def mark_paid(doc_id: Annotated[int, typer.Argument(help="Document id")], as_json: JsonOpt = False) -> None:
        """Mark a pending request as paid at Facti; Facti's IPN then turns it `paid` here."""
        out = _guard(lambda: flow.mark_paid(runtime(), doc_id))
        print_json(out) if as_json else console.print(out["message"])

    @payments.command("sync")
    def sync(as_json: JsonOpt = False) -> None:
        """Mark as paid every request Facti reports paid whose IPN never arrived."""
        out = _guard(lambda: flow.sync_paid(runtime()))
        print_json(out) if as_json else console.print(
            f"{out['seen']} pagados en Facti; {out['updated']} actualizados aquí"
        )


def _list_remote(rt: Any, status: int | None, since_id: int | None, limit: int, as_json: bool) -> None:
    conf = flow.settings_of(rt)
    rows = []

    def fetch() -> None:
        with console.status("consultando company_payments…") as spinner:
            for payment in flow.client_for(rt).iter_company_payments(conf.company_id, status=status, since_id=since_id):
                rows.append(payment)
                spinner.update(f"consultando company_payments… {len(rows)}")
                if len(rows) >= limit:
                    break

    _guard(fetch)
    if as_json:
        print_json(
            [
                {k: (str(v) if v is not None and not isinstance(v, int | str) else v) for k, v in vars(p).items()}
                for p in rows
            ]
        )
        return
    print_table(
        "Pagos en Facti",
        ["id", "serie", "folio", "correo", "importe", "estado", "pagado por", "fecha"],
        [
            (
                p.id,
                p.serie,
                p.folio,
                p.to_email,
                p.total_amount,
                "paid" if p.status == 1 else "pendiente",
                p.confirmed_from,
                p.confirmed_date,
            )
            for p in rows
        ],
        caption=f"{len(rows)} pagos",
    )
