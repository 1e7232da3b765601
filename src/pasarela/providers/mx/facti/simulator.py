"""Facti simulator, written from seed 001 and shared/reference/mexico.md (not from our client).

Mounted at /sim/facti/. One API account (the configured client_id/api_key) with one company
(company_id, from_rfc) and three payment ways: STP (CLABEs of bank 646), a bank reference
(Santander) and PayPal. What it does, as the seed says:
- new_request: defaults status 0, limit_payment_date today + 1 month, send_email_to_client 1;
  total_amount rounded UP to 2 decimals; grouped requests need folio = 1 and Σ total_amounts =
  total_amount; one reference per (allowed) payment way.
- stp_client_clabe: one CLABE per (company, client e-mail, payment way), stable.
- company_payments: since_id (≥), max_id (≤), status, confirmed-date range, limit ≤ 200.
- delete only while status 0; mark paid only pending → paid, then the IPN is sent (MD5 of the
  IPN password, ipn_type 1, data JSON) with retries.
- every documented failure answers `{result: 0, msg}`.
Simulator-only tools (not faulted): `_pay` (a customer pays through stp/bank/paypal),
`_ipn` (send the IPN again), `_seed_payments` (create many payments at once), `_reset`.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
import re
import threading
import time
from datetime import date, datetime, timedelta
from decimal import ROUND_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from pasarela.core.simulator import SimState, sim_state_path, simulator_app
from pasarela.providers.mx.facti.config import facti_settings

log = logging.getLogger("pasarela.sim.facti")
MX_TZ = ZoneInfo("America/Mexico_City")
SEARCH_LIMIT_MAX = 200
# [U] The seed does not say what company_payments returns without `limit`: we use the maximum.
SEARCH_LIMIT_DEFAULT = 200
RFC_FORMAT = re.compile(r"^[A-ZÑ&]{3,4}\d{6}[A-Z\d]{2}[A\d]$")
EMAIL_FORMAT = re.compile(r"^[^@\s;]+@[^@\s;]+\.[A-Za-z]{2,}$")
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAYED_VALUES = {"1", "true", "yes"}

PAYMENT_WAYS = [
    {"id": 1, "alias": "STP Prepago", "type": "stp"},
    {"id": 9, "alias": "Santander Prepago", "type": "bank", "bank_name": "Santander", "agreement": "4381"},
    {"id": 12, "alias": "PayPal", "type": "paypal"},
]


class FactiError(Exception):
    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg = msg


def _ok(**payload: Any) -> dict[str, Any]:
    return {"result": 1, "msg": "", **payload}


def _json(payload: dict[str, Any]) -> JSONResponse:
    return JSONResponse(json.loads(json.dumps(payload, default=_num)))


def _num(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value))


def _round_up_2(text: str, name: str) -> Decimal:
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise FactiError(f"El parámetro {name} debe ser numérico") from None
    if not value.is_finite() or value <= 0:
        raise FactiError(f"El parámetro {name} debe ser mayor a 0")
    return value.quantize(Decimal("0.01"), rounding=ROUND_UP)


def _php_form(items: list[tuple[str, str]]) -> dict[str, Any]:
    """Rebuild PHP arrays from form keys: `a[]`, `a[0][b]`, `a[b]`."""
    out: dict[str, Any] = {}
    for key, value in items:
        parts = re.findall(r"\[([^\]]*)\]", key)
        head = key.split("[", 1)[0]
        if not parts:
            out[head] = value
            continue
        node: Any = out
        path = [head, *parts]
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            container: Any = [] if nxt == "" else {}
            if isinstance(node, list):
                node.append(container)
                node = container
            else:
                node = node.setdefault(part, container)
        last = path[-1]
        if isinstance(node, list):
            node.append(value)
        else:
            node[last] = value
    for key, value in list(out.items()):
        out[key] = _dicts_to_lists(value)
    return out


def _dicts_to_lists(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _dicts_to_lists(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_dicts_to_lists(v) for v in value]
    return value


def _add_month(day: date) -> date:
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _clabe_check(first17: str) -> str:
    return str((10 - sum(int(d) * (3, 7, 1)[i % 3] % 10 for i, d in enumerate(first17)) % 10) % 10)


def _parse_date(value: str, name: str) -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise FactiError(f"El parámetro {name} debe tener el formato YYYY-MM-DD") from None


class FactiSimulator:
    def __init__(self, settings: Any):
        conf = facti_settings(settings) if settings is not None else None
        self.client_id = conf.client_id if conf else "simfacti0client0id00000000000001"
        self.api_key = conf.api_key if conf else "simfacti0api0key0000000000000001"
        self.company: dict[str, Any] = {
            "id": conf.company_id if conf else 1,
            "rfc": conf.from_rfc if conf else "EKU9003173C9",
            "razon_social": "ESCUELA KEMPER URGATE SA DE CV",
            "alias": "EKU",
        }
        self.ipn_url = conf.ipn_url if conf else ""
        self.ipn_password = conf.ipn_password if conf else ""
        self.ipn_delays = conf.simulator_ipn_retry_delays if conf else (1, 2, 5)
        self.state = SimState(sim_state_path(settings, "facti"), self._initial)

    @staticmethod
    def _initial() -> dict[str, Any]:
        return {
            "next_id": 1,
            "payments": {},
            "deleted": {},
            "clients": {},
            "clabes": {},
            "emails": [],
            "ipn_log": [],
        }

    def reset(self) -> None:
        with self.state.lock:
            self.state.data = self._initial()
            self.state.save()

    # ------------------------------------------------------------------ common checks

    def auth(self, form: dict[str, Any]) -> None:
        if not form.get("client_id") or not form.get("api_key"):
            raise FactiError("Los parámetros client_id y api_key son requeridos")
        if form["client_id"] != self.client_id or form["api_key"] != self.api_key:
            raise FactiError("Credenciales inválidas: client_id o api_key incorrectos")

    def company_of(self, form: dict[str, Any]) -> dict[str, Any]:
        raw = str(form.get("company_id") or "").strip()
        if not raw:
            raise FactiError("El parámetro company_id es requerido")
        if raw != str(self.company["id"]):
            raise FactiError(f"La empresa {raw} no existe o no pertenece a su cuenta")
        return self.company

    def payment(self, payment_id: str) -> dict[str, Any]:
        found = self.state.data["payments"].get(str(payment_id))
        if found is None:
            raise FactiError(f"No existe el pago con id {payment_id}")
        return found

    # ------------------------------------------------------------------ 1. new_request

    def new_request(self, form: dict[str, Any]) -> dict[str, Any]:
        for name in ("folio", "from_rfc", "to_client_name", "to_email", "total_amount"):
            if not str(form.get(name) or "").strip():
                raise FactiError(f"El parámetro {name} es requerido")
        from_rfc = str(form["from_rfc"]).strip().upper()
        if not RFC_FORMAT.match(from_rfc):
            raise FactiError(f"El RFC emisor {from_rfc} no tiene un formato válido")
        if from_rfc != self.company["rfc"]:
            raise FactiError(f"El RFC emisor {from_rfc} no está registrado en su cuenta")
        to_rfc = str(form.get("to_rfc") or "").strip().upper()
        if to_rfc and not RFC_FORMAT.match(to_rfc):
            raise FactiError(f"El RFC destinatario {to_rfc} no tiene un formato válido")
        emails = [e.strip() for e in str(form["to_email"]).split(";") if e.strip()]
        for email in emails:
            if not EMAIL_FORMAT.match(email):
                raise FactiError(f"El correo electrónico {email} no es válido")
        total = _round_up_2(form["total_amount"], "total_amount")
        status = self._flag(form, "status", 0)
        send_email = self._flag(form, "send_email_to_client", 1)
        generate_invoice = self._flag(form, "generate_invoice", 0)
        today = datetime.now(MX_TZ).date()
        limit = (
            _parse_date(form["limit_payment_date"], "limit_payment_date")
            if form.get("limit_payment_date")
            else _add_month(today)
        )
        payment_date = _parse_date(form["payment_date"], "payment_date") if form.get("payment_date") else today
        childs = self._group(form, total)
        self._check_conceptos(form.get("conceptos"))
        receiver = form.get("invoice_receiver") or {}
        if generate_invoice and not (isinstance(receiver, dict) and receiver.get("rfc")):
            raise FactiError("Para generar la factura se requiere invoice_receiver con rfc")
        ways = self._ways(form.get("payment_ways_ids"))
        with self.state.lock:
            payment_id = self._next_id()
            now = datetime.now(MX_TZ)
            payment = {
                "id": payment_id,
                "company_id": self.company["id"],
                "request_datetime": now.strftime(DATETIME_FORMAT),
                "serie": str(form.get("serie") or ""),
                "folio": str(form["folio"]),
                "to_rfc": to_rfc,
                "to_email": ";".join(emails),
                "to_client_name": str(form["to_client_name"]),
                "total_amount": str(total),
                "amount_received": str(total) if status else None,
                "limit_payment_date": limit.isoformat(),
                "status": status,
                "confirmed_from": "",
                "confirmed_date": f"{payment_date.isoformat()} 00:00:00" if status else "",
                "payment_way_id": "",
                "payment_way_alias": "",
                "childs": childs,
                "conceptos": form.get("conceptos") or [],
                "generate_invoice": generate_invoice,
                "invoice_receiver": receiver,
                "ways": [w["id"] for w in ways],
            }
            references = [self._reference(payment, way, emails[0]) for way in ways]
            payment["references"] = references
            self.state.data["payments"][str(payment_id)] = payment
            if send_email and not status:
                self.state.data["emails"].append(
                    {"payment_id": payment_id, "to": payment["to_email"], "at": payment["request_datetime"]}
                )
            self.state.save()
        return _ok(
            request_id=payment_id,
            total_amount=total,
            limit_payment_date=limit.isoformat(),
            send_to=f"{self.company['rfc']}{payment_id}@facti.mx",
            references=references,
            References_errors=[],
        )

    @staticmethod
    def _flag(form: dict[str, Any], name: str, default: int) -> int:
        raw = str(form.get(name) if form.get(name) is not None else "").strip()
        if raw == "":
            return default
        if raw not in ("0", "1"):
            raise FactiError(f"El parámetro {name} solo acepta 0 o 1")
        return int(raw)

    def _group(self, form: dict[str, Any], total: Decimal) -> list[dict[str, Any]]:
        folios = form.get("folios")
        if not folios:
            return []
        if not isinstance(folios, list):
            raise FactiError("El parámetro folios debe ser un arreglo")
        if str(form["folio"]).strip() != "1":
            raise FactiError("Al agrupar facturas (folios) el parámetro folio debe tener el valor fijo 1")
        series = form.get("series") or [""] * len(folios)
        amounts = form.get("total_amounts") or []
        if not isinstance(series, list) or len(series) != len(folios):
            raise FactiError("El arreglo series debe tener un elemento por cada folio")
        if not isinstance(amounts, list) or len(amounts) != len(folios):
            raise FactiError("El arreglo total_amounts debe tener un monto por cada folio")
        rounded = [_round_up_2(a, "total_amounts") for a in amounts]
        if sum(rounded, Decimal(0)) != total:
            raise FactiError("La suma de total_amounts no coincide con total_amount")
        return [
            {"serie": s, "folio": f, "total_amount": str(a)} for s, f, a in zip(series, folios, rounded, strict=True)
        ]

    @staticmethod
    def _check_conceptos(conceptos: Any) -> None:
        if not conceptos:
            return
        if not isinstance(conceptos, list):
            raise FactiError("El parámetro conceptos debe ser un arreglo")
        for i, concept in enumerate(conceptos):
            missing = [
                k
                for k in ("quantity", "unit", "description", "pu")
                if not isinstance(concept, dict) or not concept.get(k)
            ]
            if missing:
                raise FactiError(f"El concepto {i} no tiene {', '.join(missing)}")

    def _ways(self, ids: Any) -> list[dict[str, Any]]:
        if not ids:
            return PAYMENT_WAYS
        wanted = ids if isinstance(ids, list) else [ids]
        chosen = []
        for raw in wanted:
            way = next((w for w in PAYMENT_WAYS if str(w["id"]) == str(raw).strip()), None)
            if way is None:
                raise FactiError(f"La forma de pago {raw} no está configurada para la empresa")
            chosen.append(way)
        return chosen

    def _next_id(self) -> int:
        payment_id = int(self.state.data["next_id"])
        self.state.data["next_id"] = payment_id + 1
        return payment_id

    def _reference(self, payment: dict[str, Any], way: dict[str, Any], email: str) -> dict[str, Any]:
        ref: dict[str, Any] = {
            "payment_way_id": str(way["id"]),
            "payment_way_alias": way["alias"],
            "payment_type": way["type"],
        }
        if way["type"] == "stp":
            ref["reference"] = str(payment["id"])
            ref["stp_cuenta_clabe"] = self._client_clabe(email, way)
        elif way["type"] == "bank":
            base = f"{payment['id']:010d}{self.company['id']:05d}{way['id']:03d}"
            ref["reference"] = base + f"{98 - (int(base) * 100) % 97:02d}"
            ref["bank_name"] = way["bank_name"]
            ref["bank_agreement_number"] = way["agreement"]
        else:
            ref["reference"] = f"PAYPAL-{self.company['id']}-{payment['id']}"
        return ref

    def _client_clabe(self, email: str, way: dict[str, Any]) -> str:
        """One CLABE per (company, client, payment way): bank 646, plaza 180, then the account."""
        data = self.state.data
        client_key = f"{self.company['id']}|{email.lower()}"
        if client_key not in data["clients"]:
            data["clients"][client_key] = len(data["clients"]) + 1
        key = f"{client_key}|{way['id']}"
        if key not in data["clabes"]:
            company = int(self.company["id"]) % 10000
            client_no = int(data["clients"][client_key]) % 100000
            first17 = f"646180{company:04d}{int(way['id']) % 100:02d}{client_no:05d}"
            data["clabes"][key] = first17 + _clabe_check(first17)
        return str(data["clabes"][key])

    # ------------------------------------------------------------------ 2. stp_client_clabe

    def stp_client_clabe(self, form: dict[str, Any]) -> dict[str, Any]:
        self.company_of(form)
        email = str(form.get("to_email") or "").strip()
        if not email:
            raise FactiError("El parámetro to_email es requerido")
        if not EMAIL_FORMAT.match(email):
            raise FactiError(f"El correo electrónico {email} no es válido")
        ids = form.get("payment_ways_id")
        ways = (
            [w for w in self._ways(ids) if w["type"] == "stp"]
            if ids
            else [w for w in PAYMENT_WAYS if w["type"] == "stp"]
        )
        errors = [
            {"payment_way_id": int(i), "error": "La forma de pago no es de tipo STP"}
            for i in (ids or [])
            if all(str(w["id"]) != str(i) for w in ways)
        ]
        with self.state.lock:
            accounts = [
                {
                    "payment_way_id": w["id"],
                    "payment_way_alias": w["alias"],
                    "stp_cuenta_clabe": self._client_clabe(email, w),
                }
                for w in ways
            ]
            self.state.save()
        return _ok(accounts=accounts, errors=errors)

    # ------------------------------------------------------------------ 3. company_payments

    def company_payments(self, form: dict[str, Any]) -> dict[str, Any]:
        self.company_of(form)
        since_id = self._int_param(form, "since_id")
        max_id = self._int_param(form, "max_id")
        limit = self._int_param(form, "limit")
        if limit is not None and not 1 <= limit <= SEARCH_LIMIT_MAX:
            raise FactiError(f"El parámetro limit debe estar entre 1 y {SEARCH_LIMIT_MAX}")
        status = self._int_param(form, "status")
        if status not in (None, 0, 1):
            raise FactiError("El parámetro status solo acepta 0 o 1")
        since_date = self._datetime_param(form, "from_payment_date")
        until_date = self._datetime_param(form, "to_payment_date")
        with self.state.lock:
            rows = sorted(self.state.data["payments"].values(), key=lambda p: int(p["id"]))
            found = []
            for p in rows:
                if since_id is not None and p["id"] < since_id or max_id is not None and p["id"] > max_id:
                    continue
                if status is not None and int(p["status"]) != status:
                    continue
                if since_date or until_date:
                    if not p["confirmed_date"]:
                        continue
                    confirmed = datetime.strptime(p["confirmed_date"], DATETIME_FORMAT)
                    if since_date and confirmed < since_date or until_date and confirmed > until_date:
                        continue
                found.append(self._search_row(p))
                if len(found) >= (limit or SEARCH_LIMIT_DEFAULT):
                    break
        return _ok(payments=found)

    @staticmethod
    def _int_param(form: dict[str, Any], name: str) -> int | None:
        raw = str(form.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isdigit():
            raise FactiError(f"El parámetro {name} debe ser un número entero")
        return int(raw)

    @staticmethod
    def _datetime_param(form: dict[str, Any], name: str) -> datetime | None:
        raw = str(form.get(name) or "").strip()
        if not raw:
            return None
        try:
            return datetime.strptime(raw, DATETIME_FORMAT)
        except ValueError:
            raise FactiError(
                f"El parámetro {name} debe tener el formato Y-m-d H:i:s (ej. 2019-05-10 16:55:51)"
            ) from None

    def _search_row(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": p["id"],
            "company_id": p["company_id"],
            "request_datetime": p["request_datetime"],
            "serie": p["serie"],
            "folio": int(p["folio"]) if str(p["folio"]).isdigit() else p["folio"],
            "to_rfc": p["to_rfc"],
            "to_email": p["to_email"],
            "total_amount": Decimal(p["total_amount"]),
            "amount_received": Decimal(p["amount_received"]) if p["amount_received"] else None,
            "limit_payment_date": f"{p['limit_payment_date']} 00:00:00",
            "status": int(p["status"]),
            "confirmed_from": p["confirmed_from"] or None,
            "confirmed_date": p["confirmed_date"] or None,
        }

    def _details(self, p: dict[str, Any]) -> dict[str, Any]:
        """`details`/`payment_details`: status as a string, as in the seed's examples."""
        return {
            "id": p["id"],
            "empresas_id": p["company_id"],
            "organizaciones_id": 1,
            "request_datetime": p["request_datetime"],
            "serie": p["serie"],
            "folio": int(p["folio"]) if str(p["folio"]).isdigit() else p["folio"],
            "to_rfc": p["to_rfc"],
            "to_email": p["to_email"],
            "total_amount": Decimal(p["total_amount"]),
            "status": str(p["status"]),
            "group_parent": "1" if p["childs"] else "0",
            "group_child": "0",
            "count_childs": len(p["childs"]),
            "childs": p["childs"],
        }

    # ------------------------------------------------------------------ 5, 6, 7

    def delete(self, form: dict[str, Any]) -> dict[str, Any]:
        self.company_of(form)
        payment_id = str(form.get("id") or "").strip()
        if not payment_id:
            raise FactiError("El parámetro id es requerido")
        with self.state.lock:
            payment = self.payment(payment_id)
            if int(payment["status"]) != 0:
                raise FactiError("No es posible eliminar una solicitud de pago que ya fue conciliada/liquidada")
            del self.state.data["payments"][payment_id]
            self.state.data["deleted"][payment_id] = payment
            self.state.save()
        return _ok(payment_details=self._details(payment))

    def details(self, payment_id: str) -> dict[str, Any]:
        with self.state.lock:
            payment = self._details(self.payment(payment_id))
        return _ok(details={"result": 1, "msg": "", **payment})

    def mark_paid(self, payment_id: str, form: dict[str, Any]) -> dict[str, Any]:
        if str(form.get("payed") or "").strip().lower() not in PAYED_VALUES:
            raise FactiError("El parámetro payed es requerido (valores posibles: 1, true, yes)")
        payment = self.settle(payment_id, confirmed_from=None, amount_received=None)
        return _ok(details={"result": 1, "msg": "", **self._details(payment)})

    def settle(self, payment_id: str, *, confirmed_from: str | None, amount_received: str | None) -> dict[str, Any]:
        """Pending → paid (never back), then the IPN goes out."""
        with self.state.lock:
            payment = self.payment(payment_id)
            if int(payment["status"]) != 0:
                raise FactiError("El pago ya está conciliado/pagado; solo se puede cambiar de pendiente a pagado")
            ways = [w for w in PAYMENT_WAYS if w["id"] in payment["ways"]] or PAYMENT_WAYS
            way = next((w for w in ways if w["type"] == confirmed_from), ways[0])
            received = (
                _round_up_2(amount_received, "amount_received") if amount_received else Decimal(payment["total_amount"])
            )
            payment.update(
                status=1,
                amount_received=str(received),
                confirmed_from=way["type"],
                confirmed_date=datetime.now(MX_TZ).strftime(DATETIME_FORMAT),
                payment_way_id=way["id"],
                payment_way_alias=way["alias"],
            )
            self.state.save()
            snapshot = dict(payment)
        self.send_ipn_async(snapshot)
        return snapshot

    # ------------------------------------------------------------------ IPN

    def ipn_data(self, p: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": p["id"],
            "company_id": p["company_id"],
            "company_razon_social": self.company["razon_social"],
            "company_alias": self.company["alias"],
            "request_datetime": p["request_datetime"],
            "serie": p["serie"],
            "folio": p["folio"],
            "to_email": p["to_email"],
            "total_amount": f"{Decimal(p['total_amount']):.2f}",
            "amount_received": f"{Decimal(p['amount_received']):.2f}",
            "limit_payment_date": p["limit_payment_date"],
            "confirmed_from": p["confirmed_from"],
            "confirmed_date": p["confirmed_date"],
            "payment_way_id": p["payment_way_id"],
            "payment_way_alias": p["payment_way_alias"],
        }

    def send_ipn_async(self, payment: dict[str, Any]) -> None:
        if not self.ipn_url:
            return
        threading.Thread(
            target=self._deliver_ipn, args=(payment,), daemon=True, name=f"facti-ipn-{payment['id']}"
        ).start()

    def _deliver_ipn(self, payment: dict[str, Any]) -> None:
        form = {
            "ipn_password": hashlib.md5(self.ipn_password.encode()).hexdigest(),
            "ipn_type": "1",
            "data": json.dumps(self.ipn_data(payment), ensure_ascii=False),
        }
        for attempt, delay in enumerate((0.0, *self.ipn_delays), start=1):
            time.sleep(delay)
            try:
                status = httpx.post(self.ipn_url, data=form, timeout=10).status_code
                error = ""
            except httpx.HTTPError as exc:
                status, error = None, type(exc).__name__
            self._log_ipn(payment["id"], attempt, status, error)
            if status is not None and 200 <= status < 300:
                return

    def _log_ipn(self, payment_id: int, attempt: int, status: int | None, error: str) -> None:
        with self.state.lock:
            self.state.data["ipn_log"].append(
                {
                    "payment_id": payment_id,
                    "attempt": attempt,
                    "http_status": status,
                    "error": error,
                    "at": datetime.now(MX_TZ).strftime(DATETIME_FORMAT),
                    "url": self.ipn_url,
                }
            )
            self.state.save()

    # ------------------------------------------------------------------ tools

    def seed_payments(self, count: int, status: int) -> dict[str, Any]:
        with self.state.lock:
            first = int(self.state.data["next_id"])
            now = datetime.now(MX_TZ)
            for n in range(count):
                payment_id = self._next_id()
                total = Decimal(100 + n % 900) + Decimal(n % 100) / 100
                self.state.data["payments"][str(payment_id)] = {
                    "id": payment_id,
                    "company_id": self.company["id"],
                    "request_datetime": now.strftime(DATETIME_FORMAT),
                    "serie": "SIM",
                    "folio": str(payment_id),
                    "to_rfc": "XAXX010101000",
                    "to_email": f"cliente{n}@example.mx",
                    "to_client_name": f"Cliente {n}",
                    "total_amount": str(total),
                    "amount_received": str(total) if status else None,
                    "limit_payment_date": _add_month(now.date()).isoformat(),
                    "status": status,
                    "confirmed_from": "stp" if status else "",
                    "confirmed_date": (now - timedelta(minutes=n)).strftime(DATETIME_FORMAT) if status else "",
                    "payment_way_id": 1 if status else "",
                    "payment_way_alias": "STP Prepago" if status else "",
                    "childs": [],
                    "conceptos": [],
                    "generate_invoice": 0,
                    "invoice_receiver": {},
                    "ways": [1, 9, 12],
                    "references": [],
                }
            self.state.save()
        return {"first_id": first, "last_id": first + count - 1, "count": count}

    def inspect(self) -> dict[str, Any]:
        with self.state.lock:
            data = self.state.data
            return {
                "company": self.company,
                "payment_ways": PAYMENT_WAYS,
                "ipn_url": self.ipn_url,
                "payments_count": len(data["payments"]),
                "payments": list(data["payments"].values()),
                "deleted": list(data["deleted"].values()),
                "emails": data["emails"][-100:],
                "ipn_log": data["ipn_log"][-200:],
                "clabes": data["clabes"],
            }


def create_app(settings: Any) -> FastAPI:
    sim = FactiSimulator(settings)
    app, _faults = simulator_app("facti", sim.inspect, title="Facti payments simulator", reset=sim.reset)
    app.state.sim = sim

    async def form_of(request: Request) -> dict[str, Any]:
        form = await request.form()
        return _php_form([(k, str(v)) for k, v in form.multi_items()])

    async def answer(request: Request, action: Any, needs_auth: bool = True) -> JSONResponse:
        try:
            form = await form_of(request)
            if request.method == "GET":
                form = {**dict(request.query_params), **form}
            if needs_auth:
                sim.auth(form)
            return _json(action(form))
        except FactiError as exc:
            return _json({"result": 0, "msg": exc.msg})

    @app.post("/v1/payments/new_request")
    async def new_request(request: Request) -> JSONResponse:
        return await answer(request, sim.new_request)

    @app.post("/v1/payments/stp_client_clabe")
    async def stp_client_clabe(request: Request) -> JSONResponse:
        return await answer(request, sim.stp_client_clabe)

    @app.post("/v1/payments/company_payments")
    async def company_payments(request: Request) -> JSONResponse:
        return await answer(request, sim.company_payments)

    @app.post("/v1/payments/delete")
    async def delete(request: Request) -> JSONResponse:
        return await answer(request, sim.delete)

    @app.get("/v1/payments/{payment_id}")
    async def details(payment_id: str, request: Request) -> JSONResponse:
        return await answer(request, lambda form: sim.details(payment_id))

    @app.post("/v1/payments/{payment_id}")
    async def mark_paid(payment_id: str, request: Request) -> JSONResponse:
        return await answer(request, lambda form: sim.mark_paid(payment_id, form))

    @app.post("/_pay")
    async def customer_pays(request: Request) -> JSONResponse:
        """A customer pays: JSON {id, confirmed_from?: stp|bank|paypal, amount_received?}."""
        body = await request.json()
        return await answer(
            request,
            lambda form: _ok(
                payment=sim.settle(
                    str(body.get("id", "")),
                    confirmed_from=body.get("confirmed_from"),
                    amount_received=body.get("amount_received"),
                )
            ),
            needs_auth=False,
        )

    @app.post("/_ipn")
    async def resend_ipn(request: Request) -> JSONResponse:
        """Send the IPN of a paid payment again: JSON {id}."""
        body = await request.json()

        def resend(form: dict[str, Any]) -> dict[str, Any]:
            payment = sim.payment(str(body.get("id", "")))
            if int(payment["status"]) != 1:
                raise FactiError("El pago no está pagado; no hay IPN que enviar")
            sim.send_ipn_async(dict(payment))
            return _ok(sent_to=sim.ipn_url)

        return await answer(request, resend, needs_auth=False)

    @app.post("/_seed_payments")
    async def seed_payments(request: Request) -> JSONResponse:
        body = await request.json()
        return _json(sim.seed_payments(int(body.get("count", 10)), int(body.get("status", 0))))

    return app
