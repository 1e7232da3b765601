"""Cooplan simulator, written from seed 003 and reference bolivia.md §1 (not from our client).

Members with contracts and pending debts per period; tokens that expire; the seed's exact shapes
(`IdCobranza` a string, `FechaPagoEmpresa` "dd/MM/yyyy HH:mm:ss", `montoTotal` a string); paying
removes the debt from consultardeuda, a second payment is refused, a reversal restores it.
Where the seed is silent the simulator follows `assumptions.py` (token service, 401 on a bad token,
report rows). Besides the kit's `_inspect`/`_faults`/`_drop`/`_reset` (`core/simulator.py`):
`POST /_expire_tokens`.

`CooplanRules` holds the provider's rules and state (plain dicts in, envelopes out); the routes below
are module-level functions that find it on ``request.app.state.rules``.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from pasarela.core.simulator import SimState, bearer_token, sim_state_path, simulator_app
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


class Refusal(Exception):
    """A rule said no: the envelope Cooplan answers with (``error`` 1), and its HTTP status."""

    def __init__(self, message: str, sistema: str, values: Any = None, status_code: int = 200):
        super().__init__(message)
        self.response = refused(message, sistema, values, status_code)


class CooplanRules:
    """Cooplan's behaviour from seed 003: tokens, members, debts, collections, report, reversals."""

    def __init__(self, settings: Any = None):
        self.conf = simulator_config(settings)
        self.state = SimState(sim_state_path(settings, "cooplan"), initial_state)

    @property
    def data(self) -> dict[str, Any]:
        return self.state.data

    def inspect(self, drops: dict[str, int]) -> dict[str, Any]:
        with self.state.lock:
            data = copy.deepcopy(self.data)
        members = {
            c: {
                **{k: v for k, v in m.items() if k != "debts"},
                "pending": [d for d in m["debts"] if not d["pagado_por"]],
            }
            for c, m in data["members"].items()
        }
        live = sum(1 for exp in data["tokens"].values() if exp > time.time())
        return {
            "members": members,
            "collections": data["collections"],
            "stats": data["stats"],
            "live_tokens": live,
            "drops": drops,
        }

    def reset(self) -> None:
        with self.state.lock:
            self.state.data = initial_state()
            self.state.save()

    def expire_tokens(self) -> int:
        with self.state.lock:
            count = len(self.data["tokens"])
            self.data["tokens"] = {t: 0 for t in self.data["tokens"]}
            self.state.save()
        return count

    def issue_token(self, body: dict[str, Any]) -> dict[str, Any]:
        given = tuple(str(body.get(f, "")) for f in A.TOKEN_FIELDS)
        expected = (self.conf.codseguridad, self.conf.login, self.conf.pwd)
        if not all(secrets.compare_digest(g, e) for g, e in zip(given, expected, strict=True)):
            raise Refusal("Credenciales incorrectas", "CodSeguridad, Login o Pwd no válidos")
        value = secrets.token_urlsafe(32)
        with self.state.lock:
            now = time.time()
            self.data["tokens"] = {t: e for t, e in self.data["tokens"].items() if e > now}
            self.data["tokens"][value] = now + self.conf.token_lifetime_seconds
            self.data["stats"]["tokens_issued"] += 1
            self.state.save()
        return envelope(value)

    def check_token(self, token: str) -> None:
        """Inside the lock: a live token, or the 401 the seed's services answer."""
        if not token or self.data["tokens"].get(token, 0) <= time.time():
            self.data["stats"]["requests_refused_token"] += 1
            self.state.save()
            raise Refusal("Token inválido o expirado", "Unauthorized", status_code=401)

    def member(self, contrato: str) -> dict[str, Any]:
        found = self.data["members"].get(contrato)
        if found is None:
            raise Refusal(f"No existe el contrato {contrato}", "Contrato no encontrado", [])
        return found

    def find_client(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.member(_id(body.get("Contrato")))
        pending = [d for d in found["debts"] if not d["pagado_por"]]
        factura = (pending or found["debts"] or [{"factura": 0}])[0]["factura"]
        fields = ("Nombre", "NumDoc", "TipoDocumento", "Nit", "Direccion", "estado", "CodUbicacion")
        return envelope([{"Factura": factura, **{f: found[f] for f in fields}}])

    def debts(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.member(_id(body.get("Contrato")))
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
        return envelope(rows)

    def pay(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = self._charge(body)
        except Refusal:
            self.data["stats"]["payments_refused"] += 1
            self.state.save()
            raise
        self.data["stats"]["payments"] += 1
        self.state.save()
        return answer

    def _payable_debt(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.member(_id(body.get("Contrato")))
        factura, periodo = _id(body.get("IdFactura")), _id(body.get("Periodo"))
        debt = next((d for d in found["debts"] if str(d["factura"]) == factura), None)
        if debt is None:
            raise Refusal(
                f"No existe la factura {factura} del contrato {_id(body.get('Contrato'))}", "Factura no encontrada"
            )
        if debt["periodo"] != periodo:
            raise Refusal(
                f"La factura {factura} corresponde al periodo {debt['periodo']}, no a {periodo}", "Periodo no coincide"
            )
        if _id(body.get("IdAsociado")) != str(found["ID"]):
            raise Refusal("El asociado no corresponde al contrato", "IdAsociado no coincide")
        if debt["pagado_por"]:
            raise Refusal(
                f"La factura {factura} del periodo {periodo} ya fue pagada",
                "Deuda pagada",
                {"IdCobranza": debt["pagado_por"]},
            )
        try:
            monto = Decimal(str(body.get("Monto"))).quantize(Decimal("0.01"))
        except InvalidOperation:
            raise Refusal("Monto no válido", "Monto no numérico") from None
        if monto != Decimal(debt["montoTotal"]):
            raise Refusal(f"El monto {monto} no coincide con la deuda ({debt['montoTotal']})", "Monto distinto")
        return debt

    def _charge(self, body: dict[str, Any]) -> dict[str, Any]:
        debt = self._payable_debt(body)
        id_cobranza = str(self.data["next_cobranza"])
        self.data["next_cobranza"] += 1
        fecha = datetime.now(A.BOLIVIA_TZ)
        debt["pagado_por"] = id_cobranza
        self.data["collections"][id_cobranza] = {
            "IdCobranza": id_cobranza,
            "IdFactura": debt["factura"],
            "Contrato": _id(body.get("Contrato")),
            "Periodo": debt["periodo"],
            "Monto": debt["montoTotal"],
            "FechaPagoEmpresa": fecha.strftime(A.FECHA_PAGO_FORMAT),
            "Fecha": fecha.date().isoformat(),
            "Estado": A.REPORT_STATE_PAID,
            "impresiones": 0,
        }
        paid = {"IdCobranza": id_cobranza, "FechaPagoEmpresa": fecha.strftime(A.FECHA_PAGO_FORMAT)}
        return envelope(paid, "Transaccion realizada con exito")

    def collection(self, body: dict[str, Any]) -> dict[str, Any]:
        id_cobranza, factura = _id(body.get("IdCobranza")), _id(body.get("IdFactura"))
        found = self.data["collections"].get(id_cobranza)
        if found is None or str(found["IdFactura"]) != factura:
            raise Refusal(f"No existe la cobranza {id_cobranza} para la factura {factura}", "Cobranza no encontrada")
        return found

    def print_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.collection(body)
        if found["Estado"] != A.REPORT_STATE_PAID:
            raise Refusal(f"La cobranza {found['IdCobranza']} fue revertida; no se puede imprimir", "Revertida")
        found["impresiones"] += 1
        self.state.save()
        return envelope("Transacción realizada con exito")

    def report(self, body: dict[str, Any]) -> dict[str, Any]:
        fecha = _id(body.get("Fecha"))
        if self.conf.report != "rows":
            return envelope(OK_TEXT)
        names = A.REPORT_ROW_FIELDS
        rows = [
            {names[k]: c[names[k]] for k in names} for c in self.data["collections"].values() if c["Fecha"] == fecha
        ]
        return envelope(rows, OK_TEXT)

    def reverse(self, body: dict[str, Any]) -> dict[str, Any]:
        found = self.collection(body)
        if found["Estado"] == A.REPORT_STATE_REVERSED:
            raise Refusal(f"La cobranza {found['IdCobranza']} ya fue revertida", "Cobranza revertida")
        found["Estado"] = A.REPORT_STATE_REVERSED
        for debt in self.data["members"][found["Contrato"]]["debts"]:
            if debt["pagado_por"] == found["IdCobranza"]:
                debt["pagado_por"] = None
        self.data["stats"]["reversals"] += 1
        self.state.save()
        return envelope(1, f" {OK_TEXT} ")


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


def check_fecha(body: dict[str, Any]) -> None:
    fecha = _id(body.get("Fecha"))
    try:
        datetime.strptime(fecha, "%Y-%m-%d")
    except ValueError:
        raise Refusal(f"Fecha {fecha!r} no válida (AAAA-MM-DD)", "Fecha no válida") from None


async def _answer(
    request: Request,
    rule: Callable[[CooplanRules, dict[str, Any]], dict[str, Any]],
    *,
    authenticated: bool = True,
    precheck: Callable[[dict[str, Any]], None] | None = None,
) -> JSONResponse:
    """The prelude every service shares: read the body, take the lock, check the token, run the rule."""
    rules: CooplanRules = request.app.state.rules
    body = await read_body(request)
    try:
        if precheck is not None:
            precheck(body)
        if not authenticated:
            return JSONResponse(rule(rules, body))
        with rules.state.lock:
            # Both spellings of the seed are accepted (§2.2/§2.5 autorizacion, §2.3 authorization).
            rules.check_token(bearer_token(request, "authorization", "autorizacion"))
            return JSONResponse(rule(rules, body))
    except Refusal as refusal:
        return refusal.response


router = APIRouter()


@router.post(A.TOKEN_PATH)
async def token(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.issue_token, authenticated=False)


@router.post("/api/buscarcliente")
async def buscarcliente(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.find_client)


@router.post("/api/consultardeuda")
async def consultardeuda(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.debts)


@router.post("/api/realizarpago")
async def realizarpago(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.pay)


@router.post("/api/imprimirfactura")
async def imprimirfactura(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.print_invoice)


@router.post("/api/reportecobranzas")
async def reportecobranzas(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.report, precheck=check_fecha)


@router.post("/api/revertirpago")
async def revertirpago(request: Request) -> JSONResponse:
    return await _answer(request, CooplanRules.reverse)


@router.post("/_expire_tokens")
def expire_tokens(request: Request) -> dict[str, Any]:
    return {"expired": request.app.state.rules.expire_tokens()}


def create_app(settings: Any = None) -> Any:
    rules = CooplanRules(settings)
    app, faults = simulator_app(
        "cooplan",
        lambda: rules.inspect(dict(faults.drop_operations)),
        title="Cooplan (PagoFácil) simulator",
        reset=rules.reset,
    )
    app.state.rules = rules
    app.include_router(router)
    return app
