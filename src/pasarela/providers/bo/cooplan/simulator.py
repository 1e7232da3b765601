"""Cooplan simulator, written from seed 003 and reference bolivia.md §1 (not from our client).

Members with contracts and pending debts per period; tokens that expire; the seed's exact shapes
(`IdCobranza` a string, `FechaPagoEmpresa` "dd/MM/yyyy HH:mm:ss", `montoTotal` a string); paying
removes the debt from consultardeuda, a second payment is refused, a reversal restores it.
Where the seed is silent the simulator follows `assumptions.py` (token service, 401 on a bad token,
report rows). Besides the shared `_inspect`/`_faults`: `POST /_expire_tokens`, `POST /_drop`
({"operation": "realizarpago", "count": 1}: commit, then cut the response of that service only)
and `POST /_reset`.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from pasarela.core.simulator import DroppedResponse, SimState, sim_state_path, simulator_app
from pasarela.providers.bo.cooplan import assumptions as A
from pasarela.providers.bo.cooplan.config import simulator_config

OK_TEXT = "Transacción realizada con éxito"
FIRST_COBRANZA = 4224400


def _member(id_: int, nombre: str, ubicacion: int, debts: list[tuple[str, int, str]], **extra: Any) -> dict[str, Any]:
    return {
        "ID": id_,
        "Nombre": nombre,
        "NumDoc": extra.get("NumDoc", ""),
        "TipoDocumento": extra.get("TipoDocumento", ""),
        "Nit": extra.get("Nit", ""),
        "Direccion": extra.get("Direccion", ""),
        "estado": 1,
        "CodUbicacion": ubicacion,
        "debts": [{"periodo": p, "factura": f, "montoTotal": m, "pagado_por": None} for p, f, m in debts],
    }


def initial_state() -> dict[str, Any]:
    return {
        "members": {
            "345": _member(
                316,
                "Rivas La Fuente Valentin",
                14207,
                [("202110", 4294633, "136.76"), ("202111", 4325535, "136.78")],
            ),
            "315": _member(
                12394,
                "Mamani Quispe Rosa",
                14190,
                [("202110", 4303567, "145.70"), ("202111", 4334101, "98.40")],
                Direccion="Plan 3000, UV 160, Mz 12",
            ),
            "402": _member(
                20417,
                "Choque Vargas Julio",
                15002,
                [("202109", 4261120, "88.10"), ("202110", 4294701, "91.35"), ("202111", 4325610, "90.00")],
                NumDoc="4512873",
                TipoDocumento="CI",
                Nit="4512873015",
            ),
            "518": _member(
                30221, "Unidad Educativa 24 de Septiembre", 15110, [], TipoDocumento="NIT", Nit="1020703023"
            ),
        },
        "collections": {},
        "next_cobranza": FIRST_COBRANZA,
        "tokens": {},
        "stats": {
            "tokens_issued": 0,
            "requests_refused_token": 0,
            "payments": 0,
            "payments_refused": 0,
            "reversals": 0,
        },
    }


def envelope(values: Any, message: str = "", *, error: int = 0, mostrar: int = 0, sistema: str = "") -> dict[str, Any]:
    return {
        "error": error,
        "status": 1 if error == 0 else 0,
        "message": message,
        "messageMostrar": mostrar,
        "messageSistema": sistema,
        "values": values,
    }


def refused(message: str, sistema: str, values: Any = None, status_code: int = 200) -> JSONResponse:
    return JSONResponse(envelope(values, message, error=1, mostrar=1, sistema=sistema), status_code=status_code)


class OperationDrops:
    """Per-service "commit, then cut the response" (the core's drop_next hits whatever comes next)."""

    def __init__(self) -> None:
        self.pending: dict[str, int] = {}

    def take(self, operation: str) -> bool:
        if self.pending.get(operation, 0) > 0:
            self.pending[operation] -= 1
            return True
        return False


class OperationDropMiddleware:
    def __init__(self, app: Any, drops: OperationDrops):
        self.app = app
        self.drops = drops

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        operation = scope.get("path", "").rstrip("/").rsplit("/", 1)[-1] if scope["type"] == "http" else ""
        if not operation or not self.drops.take(operation):
            await self.app(scope, receive, send)
            return

        async def swallow(message: dict[str, Any]) -> None:
            return None

        await self.app(scope, receive, swallow)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1000")]})
        await send({"type": "http.response.body", "body": b"{", "more_body": True})
        raise DroppedResponse(f"simulated dropped response for {operation}")


async def read_body(request: Request) -> dict[str, Any]:
    """The seed does not say JSON or form [U]: accept both."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw, parse_float=Decimal)
        return data if isinstance(data, dict) else {}
    except ValueError:
        return dict(parse_qsl(raw.decode("utf-8", "replace")))


def _id(value: Any) -> str:
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    return "" if value is None else str(value).strip()


def create_app(settings: Any = None) -> Any:
    conf = simulator_config(settings)
    state = SimState(sim_state_path(settings, "cooplan"), initial_state)
    drops = OperationDrops()

    def inspect() -> dict[str, Any]:
        with state.lock:
            data = copy.deepcopy(state.data)
        return {
            "members": {
                c: {
                    **{k: v for k, v in m.items() if k != "debts"},
                    "pending": [d for d in m["debts"] if not d["pagado_por"]],
                }
                for c, m in data["members"].items()
            },
            "collections": data["collections"],
            "stats": data["stats"],
            "live_tokens": sum(1 for exp in data["tokens"].values() if exp > time.time()),
            "drops": dict(drops.pending),
        }

    def reset() -> None:
        with state.lock:
            state.data = initial_state()
            state.save()

    app, _faults = simulator_app("cooplan", inspect, title="Cooplan (PagoFácil) simulator", reset=reset)
    app.add_middleware(OperationDropMiddleware, drops=drops)

    @app.post("/_expire_tokens")
    def _expire_tokens() -> dict[str, Any]:
        with state.lock:
            count = len(state.data["tokens"])
            state.data["tokens"] = {t: 0 for t in state.data["tokens"]}
            state.save()
        return {"expired": count}

    @app.post("/_drop")
    async def _drop(request: Request) -> dict[str, Any]:
        body = await request.json()
        operation = str(body.get("operation", ""))
        drops.pending[operation] = drops.pending.get(operation, 0) + int(body.get("count", 1))
        return {"drops": dict(drops.pending)}

    def authorized(request: Request) -> bool:
        # Both spellings of the seed are accepted (§2.2/§2.5 autorizacion, §2.3 authorization).
        for name in ("authorization", "autorizacion"):
            scheme, _, token = request.headers.get(name, "").partition(" ")
            if scheme.lower() == "bearer" and state.data["tokens"].get(token.strip(), 0) > time.time():
                return True
        return False

    def token_refused() -> JSONResponse:
        state.data["stats"]["requests_refused_token"] += 1
        state.save()
        return JSONResponse(
            envelope(None, "Token inválido o expirado", error=1, sistema="Unauthorized"), status_code=401
        )

    def member_or_error(contrato: str) -> dict[str, Any] | JSONResponse:
        member = state.data["members"].get(contrato)
        if member is None:
            return refused(f"No existe el contrato {contrato}", "Contrato no encontrado", [])
        return member

    @app.post(A.TOKEN_PATH)
    async def token(request: Request) -> JSONResponse:
        body = await read_body(request)
        given = tuple(str(body.get(f, "")) for f in A.TOKEN_FIELDS)
        expected = (conf.codseguridad, conf.login, conf.pwd)
        if not all(secrets.compare_digest(g, e) for g, e in zip(given, expected, strict=True)):
            return refused("Credenciales incorrectas", "CodSeguridad, Login o Pwd no válidos")
        value = secrets.token_urlsafe(32)
        with state.lock:
            now = time.time()
            state.data["tokens"] = {t: e for t, e in state.data["tokens"].items() if e > now}
            state.data["tokens"][value] = now + conf.token_lifetime_seconds
            state.data["stats"]["tokens_issued"] += 1
            state.save()
        return JSONResponse(envelope(value))

    @app.post("/api/buscarcliente")
    async def buscarcliente(request: Request) -> JSONResponse:
        body = await read_body(request)
        with state.lock:
            if not authorized(request):
                return token_refused()
            found = member_or_error(_id(body.get("Contrato")))
            if isinstance(found, JSONResponse):
                return found
            pending = [d for d in found["debts"] if not d["pagado_por"]]
            factura = (pending or found["debts"] or [{"factura": 0}])[0]["factura"]
            row = {
                "Nombre": found["Nombre"],
                "Factura": factura,
                "NumDoc": found["NumDoc"],
                "TipoDocumento": found["TipoDocumento"],
                "Nit": found["Nit"],
                "Direccion": found["Direccion"],
                "estado": found["estado"],
                "CodUbicacion": found["CodUbicacion"],
            }
        return JSONResponse(envelope([row]))

    @app.post("/api/consultardeuda")
    async def consultardeuda(request: Request) -> JSONResponse:
        body = await read_body(request)
        with state.lock:
            if not authorized(request):
                return token_refused()
            found = member_or_error(_id(body.get("Contrato")))
            if isinstance(found, JSONResponse):
                return found
            rows = [
                {
                    "ID": found["ID"],
                    "Nombre": found["Nombre"],
                    "CodUbicacion": found["CodUbicacion"],
                    "periodo": d["periodo"],
                    "factura": d["factura"],
                    "montoTotal": d["montoTotal"],
                    "estado": 1,
                }
                for d in found["debts"]
                if not d["pagado_por"]
            ]
        return JSONResponse(envelope(rows))

    @app.post("/api/realizarpago")
    async def realizarpago(request: Request) -> JSONResponse:
        body = await read_body(request)
        with state.lock:
            if not authorized(request):
                return token_refused()
            answer, paid = _pay(body)
            state.data["stats"]["payments" if paid else "payments_refused"] += 1
            state.save()
        return answer

    def _pay(body: dict[str, Any]) -> tuple[JSONResponse, bool]:
        answer = _charge(body)
        return (answer, False) if isinstance(answer, JSONResponse) else (JSONResponse(answer), True)

    def _charge(body: dict[str, Any]) -> JSONResponse | dict[str, Any]:
        found = member_or_error(_id(body.get("Contrato")))
        if isinstance(found, JSONResponse):
            return found
        factura, periodo = _id(body.get("IdFactura")), _id(body.get("Periodo"))
        debt = next((d for d in found["debts"] if str(d["factura"]) == factura), None)
        if debt is None:
            return refused(
                f"No existe la factura {factura} del contrato {_id(body.get('Contrato'))}",
                "Factura no encontrada",
            )
        if debt["periodo"] != periodo:
            return refused(
                f"La factura {factura} corresponde al periodo {debt['periodo']}, no a {periodo}",
                "Periodo no coincide",
            )
        if _id(body.get("IdAsociado")) != str(found["ID"]):
            return refused("El asociado no corresponde al contrato", "IdAsociado no coincide")
        if debt["pagado_por"]:
            return refused(
                f"La factura {factura} del periodo {periodo} ya fue pagada",
                "Deuda pagada",
                {"IdCobranza": debt["pagado_por"]},
            )
        try:
            monto = Decimal(str(body.get("Monto"))).quantize(Decimal("0.01"))
        except InvalidOperation:
            return refused("Monto no válido", "Monto no numérico")
        if monto != Decimal(debt["montoTotal"]):
            return refused(f"El monto {monto} no coincide con la deuda ({debt['montoTotal']})", "Monto distinto")
        id_cobranza = str(state.data["next_cobranza"])
        state.data["next_cobranza"] += 1
        fecha = datetime.now(A.BOLIVIA_TZ)
        debt["pagado_por"] = id_cobranza
        state.data["collections"][id_cobranza] = {
            "IdCobranza": id_cobranza,
            "IdFactura": debt["factura"],
            "Contrato": _id(body.get("Contrato")),
            "Periodo": periodo,
            "Monto": debt["montoTotal"],
            "FechaPagoEmpresa": fecha.strftime(A.FECHA_PAGO_FORMAT),
            "Fecha": fecha.date().isoformat(),
            "Estado": A.REPORT_STATE_PAID,
            "impresiones": 0,
        }
        return envelope(
            {"IdCobranza": id_cobranza, "FechaPagoEmpresa": fecha.strftime(A.FECHA_PAGO_FORMAT)},
            "Transaccion realizada con exito",
        )

    def collection_or_error(body: dict[str, Any]) -> dict[str, Any] | JSONResponse:
        id_cobranza, factura = _id(body.get("IdCobranza")), _id(body.get("IdFactura"))
        found = state.data["collections"].get(id_cobranza)
        if found is None or str(found["IdFactura"]) != factura:
            return refused(f"No existe la cobranza {id_cobranza} para la factura {factura}", "Cobranza no encontrada")
        return found

    @app.post("/api/imprimirfactura")
    async def imprimirfactura(request: Request) -> JSONResponse:
        body = await read_body(request)
        with state.lock:
            if not authorized(request):
                return token_refused()
            found = collection_or_error(body)
            if isinstance(found, JSONResponse):
                return found
            if found["Estado"] != A.REPORT_STATE_PAID:
                return refused(f"La cobranza {found['IdCobranza']} fue revertida; no se puede imprimir", "Revertida")
            found["impresiones"] += 1
            state.save()
        return JSONResponse(envelope("Transacción realizada con exito"))

    @app.post("/api/reportecobranzas")
    async def reportecobranzas(request: Request) -> JSONResponse:
        body = await read_body(request)
        fecha = _id(body.get("Fecha"))
        try:
            datetime.strptime(fecha, "%Y-%m-%d")
        except ValueError:
            return refused(f"Fecha {fecha!r} no válida (AAAA-MM-DD)", "Fecha no válida")
        with state.lock:
            if not authorized(request):
                return token_refused()
            if conf.report != "rows":
                return JSONResponse(envelope(OK_TEXT))
            names = A.REPORT_ROW_FIELDS
            rows = [
                {names[k]: c[names[k]] for k in names}
                for c in state.data["collections"].values()
                if c["Fecha"] == fecha
            ]
        return JSONResponse(envelope(rows, OK_TEXT))

    @app.post("/api/revertirpago")
    async def revertirpago(request: Request) -> JSONResponse:
        body = await read_body(request)
        with state.lock:
            if not authorized(request):
                return token_refused()
            found = collection_or_error(body)
            if isinstance(found, JSONResponse):
                return found
            if found["Estado"] == A.REPORT_STATE_REVERSED:
                return refused(f"La cobranza {found['IdCobranza']} ya fue revertida", "Cobranza revertida")
            found["Estado"] = A.REPORT_STATE_REVERSED
            member = state.data["members"][found["Contrato"]]
            for debt in member["debts"]:
                if debt["pagado_por"] == found["IdCobranza"]:
                    debt["pagado_por"] = None
            state.data["stats"]["reversals"] += 1
            state.save()
        return JSONResponse(envelope(1, f" {OK_TEXT} "))

    return app
