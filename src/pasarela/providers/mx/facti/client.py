"""Facti payments API, wire protocol only (seed 001): form-encoded POSTs with client_id + api_key,
`{result, msg}` envelopes turned into typed results or typed errors."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from pasarela.core.transport import READABLE_5XX, ProviderHTTP, classify
from pasarela.providers.mx.facti.errors import FactiBadResponse, error_from_msg
from pasarela.providers.mx.identifiers import is_valid_clabe


class _RedactQueryCredentials(logging.Filter):
    """httpx logs every URL at INFO; `GET /v1/payments/{id}` carries api_key in the query string."""

    _pattern = re.compile(r"(?i)\b(api_key|client_id)=[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message or "client_id=" in message:
            record.msg, record.args = self._pattern.sub(r"\1=***", message), ()
        return True


logging.getLogger("httpx").addFilter(_RedactQueryCredentials())

MAX_SEARCH_LIMIT = 200  # company_payments: "El valor máximo es de 200"
PAYED_VALUE = "1"  # mark-paid accepts 1 | true | yes


# ---------------------------------------------------------------- typed results


@dataclass(frozen=True)
class Reference:
    payment_way_id: str
    payment_way_alias: str
    payment_type: str  # stp | bank | paypal
    reference: str
    stp_cuenta_clabe: str | None = None
    bank_name: str | None = None
    bank_agreement_number: str | None = None

    @property
    def clabe_valid(self) -> bool | None:
        return None if self.stp_cuenta_clabe is None else is_valid_clabe(self.stp_cuenta_clabe)


@dataclass(frozen=True)
class PaymentRequestCreated:
    request_id: int
    total_amount: Decimal
    limit_payment_date: str
    send_to: str
    references: list[Reference]
    reference_errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ClabeAccount:
    payment_way_id: str
    payment_way_alias: str
    stp_cuenta_clabe: str

    @property
    def clabe_valid(self) -> bool:
        return is_valid_clabe(self.stp_cuenta_clabe)


@dataclass(frozen=True)
class ClabeAccounts:
    accounts: list[ClabeAccount]
    errors: list[Any]
    request_id: int | None = None


@dataclass(frozen=True)
class Payment:
    """One row of company_payments."""

    id: int
    company_id: int | None
    request_datetime: str
    serie: str
    folio: str
    to_rfc: str
    to_email: str
    total_amount: Decimal
    amount_received: Decimal | None
    limit_payment_date: str
    status: int  # 0 pending, 1 paid
    confirmed_from: str
    confirmed_date: str


@dataclass(frozen=True)
class PaymentDetails:
    """`payment_details` (delete) / `details` (get, mark paid)."""

    id: int
    request_datetime: str
    serie: str
    folio: str
    to_rfc: str
    to_email: str
    total_amount: Decimal
    status: int
    group_parent: bool
    count_childs: int
    childs: list[Any]
    raw: dict[str, Any]


# ---------------------------------------------------------------- coercion (Facti mixes str and int)


def _int(value: Any, default: int = 0) -> int:
    if value in (None, ""):
        return default
    return int(Decimal(str(value)))


def _dec(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def _reference(item: dict[str, Any]) -> Reference:
    return Reference(
        payment_way_id=_str(item.get("payment_way_id")),
        payment_way_alias=_str(item.get("payment_way_alias")),
        payment_type=_str(item.get("payment_type")).lower(),
        reference=_str(item.get("reference")),
        stp_cuenta_clabe=_str(item["stp_cuenta_clabe"]) if item.get("stp_cuenta_clabe") else None,
        bank_name=item.get("bank_name"),
        bank_agreement_number=_str(item["bank_agreement_number"]) if item.get("bank_agreement_number") else None,
    )


def _payment(item: dict[str, Any]) -> Payment:
    return Payment(
        id=_int(item.get("id")),
        company_id=_int(item.get("company_id")) if item.get("company_id") not in (None, "") else None,
        request_datetime=_str(item.get("request_datetime")),
        serie=_str(item.get("serie")),
        folio=_str(item.get("folio")),
        to_rfc=_str(item.get("to_rfc")),
        to_email=_str(item.get("to_email")),
        total_amount=_dec(item.get("total_amount")) or Decimal(0),
        amount_received=_dec(item.get("amount_received")),
        limit_payment_date=_str(item.get("limit_payment_date")),
        status=_int(item.get("status")),
        confirmed_from=_str(item.get("confirmed_from")),
        confirmed_date=_str(item.get("confirmed_date")),
    )


def _details(item: dict[str, Any]) -> PaymentDetails:
    return PaymentDetails(
        id=_int(item.get("id")),
        request_datetime=_str(item.get("request_datetime")),
        serie=_str(item.get("serie")),
        folio=_str(item.get("folio")),
        to_rfc=_str(item.get("to_rfc")),
        to_email=_str(item.get("to_email")),
        total_amount=_dec(item.get("total_amount")) or Decimal(0),
        status=_int(item.get("status")),
        group_parent=_int(item.get("group_parent")) == 1,
        count_childs=_int(item.get("count_childs")),
        childs=list(item.get("childs") or []),
        raw=item,
    )


# ---------------------------------------------------------------- wire helpers


def php_form(params: dict[str, Any]) -> list[tuple[str, str]]:
    """Flatten to PHP-style form fields: lists as `k[]`, lists of objects as `k[0][sub]`, objects
    as `k[sub]` (how Facti's PHP SDK sends arrays)."""
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if value is None:
            return
        if isinstance(value, dict):
            for sub, inner in value.items():
                add(f"{key}[{sub}]", inner)
        elif isinstance(value, list | tuple):
            for index, inner in enumerate(value):
                add(f"{key}[{index}]" if isinstance(inner, dict) else f"{key}[]", inner)
        else:
            pairs.append((key, str(value)))

    for key, value in params.items():
        add(key, value)
    return pairs


_UNQUOTED_KEY = re.compile(r"([{,]\s*)([A-Za-z_][A-Za-z0-9_]*)\s*:")
_SINGLE_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def parse_body(text: str) -> Any:
    """JSON, or the JavaScript-literal style of the seed's examples (unquoted keys, single quotes)."""
    try:
        return json.loads(text, parse_float=Decimal)
    except ValueError:
        pass
    converted = _SINGLE_QUOTED.sub(lambda m: json.dumps(m.group(1)), text)
    converted = _UNQUOTED_KEY.sub(lambda m: f'{m.group(1)}"{m.group(2)}":', converted)
    converted = re.sub(r",\s*([}\]])", r"\1", converted)
    return json.loads(converted, parse_float=Decimal)


def envelope_ok(body: dict[str, Any]) -> bool:
    """Success flag: the examples say `result`, the tables say `status`; accept both."""
    flag = body["result"] if "result" in body else body.get("status")
    try:
        return _int(flag) == 1
    except (ArithmeticError, ValueError):
        return str(flag).lower() == "true"


# ---------------------------------------------------------------- the client


class FactiClient:
    def __init__(self, http: ProviderHTTP, base_url: str, client_id: str, api_key: str):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.api_key = api_key

    # 1. new_request
    def new_request(self, params: dict[str, Any]) -> PaymentRequestCreated:
        body = self._post("new_request", "/v1/payments/new_request", params)
        return PaymentRequestCreated(
            request_id=_int(body.get("request_id")),
            total_amount=_dec(body.get("total_amount")) or Decimal(0),
            limit_payment_date=_str(body.get("limit_payment_date") or body.get("limit_payment")),
            send_to=_str(body.get("send_to")),
            references=[_reference(r) for r in body.get("references") or []],
            reference_errors=list(body.get("References_errors") or body.get("references_errors") or []),
        )

    # 2. stp_client_clabe
    def stp_client_clabe(
        self, company_id: int, to_email: str, payment_ways_id: list[int] | None = None
    ) -> ClabeAccounts:
        params: dict[str, Any] = {"company_id": company_id, "to_email": to_email}
        if payment_ways_id:
            params["payment_ways_id"] = list(payment_ways_id)
        body = self._post("stp_client_clabe", "/v1/payments/stp_client_clabe", params)
        accounts = [
            ClabeAccount(
                _str(a.get("payment_way_id")),
                _str(a.get("payment_way_alias")),
                _str(a.get("stp_cuenta_clabe")),
            )
            for a in body.get("accounts") or []
        ]
        request_id = body.get("request_id")
        return ClabeAccounts(accounts, list(body.get("errors") or []), _int(request_id) if request_id else None)

    # 3. company_payments (one page)
    def company_payments(
        self,
        company_id: int,
        *,
        since_id: int | None = None,
        max_id: int | None = None,
        limit: int | None = None,
        status: int | None = None,
        from_payment_date: str | None = None,
        to_payment_date: str | None = None,
    ) -> list[Payment]:
        if limit is not None and not 1 <= limit <= MAX_SEARCH_LIMIT:
            raise ValueError(f"limit debe estar entre 1 y {MAX_SEARCH_LIMIT}")
        params = {
            "company_id": company_id,
            "since_id": since_id,
            "max_id": max_id,
            "limit": limit,
            "status": status,
            "from_payment_date": from_payment_date,
            "to_payment_date": to_payment_date,
        }
        body = self._post("company_payments", "/v1/payments/company_payments", params)
        return [_payment(p) for p in body.get("payments") or []]

    def iter_company_payments(
        self,
        company_id: int,
        *,
        page_size: int = MAX_SEARCH_LIMIT,
        since_id: int | None = None,
        **filters: Any,
    ) -> Iterator[Payment]:
        """Every matching payment exactly once, ascending by id, paging with since_id (≥)."""
        cursor = since_id
        last_seen = (since_id or 0) - 1
        while True:
            page = self.company_payments(company_id, since_id=cursor, limit=page_size, **filters)
            fresh = sorted((p for p in page if p.id > last_seen), key=lambda p: p.id)
            yield from fresh
            if len(page) < page_size or not fresh:
                return
            last_seen = fresh[-1].id
            cursor = last_seen + 1

    # 5. delete
    def delete(self, company_id: int, payment_id: int) -> PaymentDetails:
        body = self._post("delete", "/v1/payments/delete", {"company_id": company_id, "id": payment_id})
        return _details(body.get("payment_details") or {})

    # 6. details
    def get_payment(self, payment_id: int) -> PaymentDetails:
        body = self._send("get_payment", "GET", f"/v1/payments/{int(payment_id)}", params=self._auth())
        return _details(body.get("details") or {})

    # 7. mark paid (Facti then sends the IPN)
    def mark_paid(self, payment_id: int) -> PaymentDetails:
        body = self._post("mark_paid", f"/v1/payments/{int(payment_id)}", {"payed": PAYED_VALUE})
        return _details(body.get("details") or {})

    # ------------------------------------------------------------ transport

    def _auth(self) -> dict[str, str]:
        return {"client_id": self.client_id, "api_key": self.api_key}

    def _post(self, operation: str, path: str, params: dict[str, Any]) -> dict[str, Any]:
        form = php_form({**self._auth(), **{k: v for k, v in params.items() if v is not None}})
        return self._send(
            operation,
            "POST",
            path,
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def _send(self, operation: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.request(operation, method, f"{self.base_url}{path}", answers=READABLE_5XX, **kwargs)
        try:
            body = parse_body(response.text)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise classify(response, f"Facti {operation}") or FactiBadResponse(
                f"Facti {operation}: respuesta ilegible (HTTP {response.status_code})"
            )
        if not envelope_ok(body):
            raise error_from_msg(operation, _str(body.get("msg")))
        return body
