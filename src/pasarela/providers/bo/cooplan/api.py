"""`/api/bo/…`: the cashier's flow over HTTP (bearer `api_token`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from pasarela.api.documents import bearer_auth
from pasarela.providers.bo.cooplan import flow, mapping, report
from pasarela.runtime import Runtime


class PayRequest(BaseModel):
    contrato: str = Field(..., description="Código de socio / contrato (p. ej. 345)")
    periodo: str = Field(..., description="Periodo AAAAMM de la deuda (p. ej. 202110)")
    factura: str | None = Field(None, description="IdFactura, si el periodo tiene varias")
    monto: Decimal | None = Field(None, description="Monto que cobra la caja; debe coincidir con la deuda")
    cajero: str | None = Field(None, description="Caja que cobra (por omisión [bo.cooplan] cajero)")


class ReverseRequest(BaseModel):
    cajero: str | None = None


def router(rt: Runtime) -> APIRouter:
    api = APIRouter(prefix="/api/bo", tags=["bo · cooplan"], dependencies=[bearer_auth(rt)])

    @api.get("/clients/{contrato}")
    def client(contrato: str) -> dict[str, Any]:
        return {"contrato": contrato, "clientes": flow.find_client(rt, contrato)}

    @api.get("/debts/{contrato}")
    def debts(contrato: str) -> dict[str, Any]:
        found = flow.list_debts(rt, contrato)
        total = sum((d.monto for d in found), Decimal("0"))
        return {
            "contrato": contrato,
            "deudas": [d.as_dict() for d in found],
            "total": str(mapping.redondeo_bob(total)),
        }

    @api.post("/payments", status_code=201)
    def pay(body: PayRequest) -> dict[str, Any]:
        return flow.pay(rt, body.contrato, body.periodo, factura=body.factura, monto=body.monto, cajero=body.cajero)

    @api.get("/payments/{payment_id}")
    def show(payment_id: int) -> dict[str, Any]:
        return flow.payment_view(rt, payment_id)

    @api.post("/payments/{payment_id}/print")
    def print_payment(payment_id: int) -> dict[str, Any]:
        return report.print_payment(rt, payment_id)

    @api.post("/payments/{payment_id}/reverse")
    def reverse(payment_id: int, body: ReverseRequest | None = None) -> dict[str, Any]:
        return flow.reverse(rt, payment_id, cajero=body.cajero if body else None)

    @api.get("/report")
    def daily(
        date: str = Query(..., description="AAAA-MM-DD"),
        format: str = Query("json", pattern="^(json|csv|pdf)$"),
    ) -> Any:
        day = mapping.check_fecha(date)
        data = report.report_with_provider(rt, day)
        if format == "csv":
            return Response(
                report.report_csv(data),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="cobranzas-{day}.csv"'},
            )
        if format == "pdf":
            return Response(
                report.report_pdf(data, data["cooplan"]),
                media_type="application/pdf",
                headers={"Content-Disposition": f'attachment; filename="cobranzas-{day}.pdf"'},
            )
        return data

    return api
