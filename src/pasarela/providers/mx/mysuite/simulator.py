"""MYSuite "Descarga Masiva SAT" simulator, written from seed 002 and mexico.md §2-3, not from our client.

- ``POST /mx.com.fact.wsfront/FactWSFront.asmx``: SOAP ``RequestTransaction`` for the four
  transactions (names and answer shapes of the [NF] ones from ``transactions.py``).
- Registration applies the SAT's rules: FIEL must open with its password and belong to the
  Entity RFC (else 305), start < end and start ≥ today − 6 years (else 301), an active request
  for the same period → 5005, a third CFDI request for the same period → 5002 (metadata exempt).
  ``AMBOS`` in Servicio, TipoSolicitud or TipoTaxID registers one request per combination.
- A request is Aceptada (1) for ``sim_accept_seconds``, En proceso (2) until
  ``sim_finish_seconds``, then Terminada (3) with 5000, or 5004 when there is nothing to give.
- Packages hold generated CFDI 4.0 / 3.3 and Retenciones 2.0 with a TimbreFiscalDigital, or
  metadata in the SAT's format; Recibidos + CFDI only carries vigentes (SAT v1.5 rule).
- ``GET /descargas/{request}/{package}.zip`` serves a package (the download link).
"""

from __future__ import annotations

import json
import time
import uuid as uuidlib
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import product
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI, Request, Response
from lxml import etree

from pasarela.core.errors import UnreadableData
from pasarela.core.simulator import SimState, sim_state_path, simulator_app
from pasarela.providers.mx.mysuite import generator, soap
from pasarela.providers.mx.mysuite import transactions as tx
from pasarela.providers.mx.mysuite.config import load

CFDI_LIMIT = 200_000
METADATA_LIMIT = 1_000_000
RFC_OID = x509.ObjectIdentifier("2.5.4.45")


class SimError(Exception):
    def __init__(self, code: str, description: str):
        super().__init__(description)
        self.code, self.description = code, description


def _open_fiel(params: dict[str, str], entity: str) -> str:
    """The company name from a FIEL that opens with its password and belongs to ``entity``."""
    try:
        cert = x509.load_der_x509_certificate(soap.unb64(params.get("FielCer", "")))
    except ValueError as exc:
        raise SimError("305", "Certificado inválido: FielCer no es un certificado X.509 DER") from exc
    try:
        key = serialization.load_der_private_key(soap.unb64(params.get("FielKey", "")),
                                                 password=params.get("FielPass", "").encode() or None)
    except (ValueError, TypeError) as exc:
        raise SimError("FIEL", "No fue posible abrir la llave privada de la FIEL con la contraseña enviada") from exc
    if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
        raise SimError("305", "La llave privada no corresponde al certificado de la FIEL")
    rfcs = [a.value for a in cert.subject.get_attributes_for_oid(RFC_OID)]
    if not rfcs or not str(rfcs[0]).split("/")[0].strip().upper() == entity.upper():
        raise SimError("303", f"El certificado de la FIEL no pertenece al RFC {entity}")
    names = cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    return str(names[0].value) if names else entity


def _parse_date(value: str, field: str) -> datetime:
    try:
        return datetime.strptime(value.strip(), tx.DATE_FORMAT)
    except ValueError as exc:
        raise SimError("301", f"{field} debe tener el formato yyyy-MM-dd HH:mm:ss") from exc


def _expand(value: str, allowed: tuple[str, ...], field: str) -> list[str]:
    if value not in allowed:
        raise SimError("301", f"{field} debe ser uno de {', '.join(allowed)}")
    return [v for v in allowed if v != "AMBOS"] if value == "AMBOS" else [value]


def create_app(settings: Any) -> FastAPI:
    conf = load(settings)
    state = SimState(sim_state_path(settings, "mysuite"), lambda: {"requests": {}, "registrations": 0})

    def inspect() -> dict[str, Any]:
        with state.lock:
            requests = [{k: v for k, v in r.items() if k != "company"} | {"estado": _status(r)[0]}
                        for r in state.data["requests"].values()]
        return {"registrations": state.data["registrations"], "requests": requests}

    def reset() -> None:
        with state.lock:
            state.data = {"requests": {}, "registrations": 0}
            state.save()

    app, _faults = simulator_app("mysuite", inspect, title="MYSuite Descarga Masiva SAT (simulador)", reset=reset)

    @lru_cache(maxsize=64)
    def request_docs(request_id: str) -> tuple[generator.Doc, ...]:
        req = state.data["requests"][request_id]
        docs = generator.documents((req["rfc"], req["company"]), req["TipoTaxID"], req["Servicio"],
                                   datetime.strptime(req["FechaInicial"], tx.DATE_FORMAT),
                                   datetime.strptime(req["FechaFinal"], tx.DATE_FORMAT),
                                   float(conf["sim_docs_per_month"]))
        if req["TipoSolicitud"] == "CFDI" and req["TipoTaxID"] == "RECEPTOR":
            docs = [d for d in docs if d.vigente]
        return tuple(docs)

    def _status(req: dict[str, Any]) -> tuple[str, str]:
        elapsed = time.time() - req["registered_ts"]
        if elapsed < float(conf["sim_accept_seconds"]):
            return tx.ESTADO_ACCEPTED, tx.SAT_ACCEPTED
        if elapsed < float(conf["sim_finish_seconds"]):
            return tx.ESTADO_IN_PROGRESS, tx.SAT_ACCEPTED
        count = len(request_docs(req["Id"]))
        limit = METADATA_LIMIT if req["TipoSolicitud"] == "Metadata" else CFDI_LIMIT
        if count == 0:
            return tx.ESTADO_FINISHED, tx.SAT_NO_DATA
        if count > limit:
            return tx.ESTADO_REJECTED, tx.SAT_TOO_LARGE
        return tx.ESTADO_FINISHED, tx.SAT_ACCEPTED

    def _packages(req: dict[str, Any]) -> list[list[generator.Doc]]:
        docs = list(request_docs(req["Id"]))
        size = int(conf["sim_package_size"]) * (50 if req["TipoSolicitud"] == "Metadata" else 1)
        return [docs[i:i + size] for i in range(0, len(docs), size)]

    def register(entity: str, params: dict[str, str]) -> bytes:
        company = _open_fiel(params, entity)
        start = _parse_date(params.get("FechaInicial", ""), "FechaInicial")
        end = _parse_date(params.get("FechaFinal", ""), "FechaFinal")
        if start >= end:
            raise SimError("301", "La fecha inicial debe ser menor a la fecha final")
        if start < datetime.combine(datetime.now().date(), datetime.min.time()) - timedelta(days=6 * 365 + 1):
            raise SimError("301", "La fecha inicial no puede ser anterior a 6 años")
        root = etree.Element("Solicitudes")
        combos = product(_expand(params.get("Servicio", ""), tx.SERVICIOS, "Servicio"),
                         _expand(params.get("TipoSolicitud", ""), tx.TIPOS_SOLICITUD, "TipoSolicitud"),
                         _expand(params.get("TipoTaxID", ""), tx.TIPOS_TAX_ID, "TipoTaxID"))
        with state.lock:
            state.data["registrations"] += 1
            for servicio, tipo, tax_id in combos:
                key = {"rfc": entity.upper(), "Servicio": servicio, "TipoSolicitud": tipo, "TipoTaxID": tax_id,
                       "FechaInicial": f"{start:{tx.DATE_FORMAT}}", "FechaFinal": f"{end:{tx.DATE_FORMAT}}"}
                code, request_id = _admit(key)
                if code == tx.SAT_ACCEPTED:
                    request_id = str(uuidlib.uuid4()).upper()
                    state.data["requests"][request_id] = {
                        **key, "Id": request_id, "company": company, "registered_ts": time.time(),
                        "FechaRegistro": datetime.now().strftime(tx.DATE_FORMAT)}
                etree.SubElement(root, "Solicitud", Id=request_id, Servicio=servicio, TipoSolicitud=tipo,
                                 TipoTaxID=tax_id, FechaInicial=key["FechaInicial"], FechaFinal=key["FechaFinal"],
                                 CodEstatus=code, Mensaje=tx.SAT_MESSAGES[code])
            state.save()
        return etree.tostring(root, encoding="utf-8")

    def _admit(key: dict[str, str]) -> tuple[str, str]:
        same = [r for r in state.data["requests"].values() if all(r[k] == v for k, v in key.items())]
        if any(_status(r)[0] in (tx.ESTADO_ACCEPTED, tx.ESTADO_IN_PROGRESS) for r in same):
            return tx.SAT_DUPLICATE, ""
        if key["TipoSolicitud"] == "CFDI" and len(same) >= 2:
            return tx.SAT_LIFETIME_EXHAUSTED, ""
        return tx.SAT_ACCEPTED, ""

    def _find(params: dict[str, str], entity: str) -> dict[str, Any]:
        req = state.data["requests"].get(params.get(tx.GET_KEY_ID, "").upper())
        if req is None or req["rfc"] != entity.upper():
            raise SimError("5004", "Solicitud no encontrada")
        return req

    def get_request(entity: str, params: dict[str, str]) -> bytes:
        req = _find(params, entity)
        estado, codigo = _status(req)
        finished = estado == tx.ESTADO_FINISHED
        count = len(request_docs(req["Id"])) if finished else 0
        root = etree.Element("Solicitud", Id=req["Id"], Servicio=req["Servicio"], TipoSolicitud=req["TipoSolicitud"],
                             TipoTaxID=req["TipoTaxID"], FechaInicial=req["FechaInicial"], FechaFinal=req["FechaFinal"],
                             FechaRegistro=req["FechaRegistro"], EstadoSolicitud=estado, CodigoEstadoSolicitud=codigo,
                             NumeroCFDIs=str(count), Mensaje=tx.ESTADOS[estado])
        packages = etree.SubElement(root, "Paquetes")
        if finished and codigo == tx.SAT_ACCEPTED:
            for index in range(1, len(_packages(req)) + 1):
                etree.SubElement(packages, "Paquete", Id=f"{req['Id']}_{index:02d}")
        return etree.tostring(root, encoding="utf-8")

    def get_link(entity: str, params: dict[str, str], base: str) -> bytes:
        req = _find(params, entity)
        package = params.get(tx.LINK_KEY_PACKAGE, "")
        prefix, _, index = package.rpartition("_")
        if prefix != req["Id"] or not index.isdigit() or not 1 <= int(index) <= len(_packages(req)):
            raise SimError("5004", f"Paquete {package} no encontrado")
        expires = (datetime.now() + timedelta(hours=72)).strftime(tx.DATE_FORMAT)
        url = f"{base}/descargas/{req['Id']}/{package}.zip"
        return etree.tostring(etree.Element("Link", IdPaquete=package, Url=url, Expira=expires), encoding="utf-8")

    def list_requests(entity: str, pars: dict[str, str]) -> bytes:
        if pars.get("ResponseFormat", "") not in ("JSON", "XML"):
            raise SimError("301", "ResponseFormat es obligatorio: JSON | XML")
        lines = []
        for req in state.data["requests"].values():
            if req["rfc"] != entity.upper():
                continue
            estado, codigo = _status(req)
            lines.append({k: req[k] for k in ("Id", "Servicio", "TipoSolicitud", "TipoTaxID", "FechaInicial",
                                              "FechaFinal", "FechaRegistro")}
                         | {"EstadoSolicitud": estado, "CodigoEstadoSolicitud": codigo})
        for name, oper, value1, value2 in soap.read_filters(soap.unb64(pars["Filters"])) if pars.get("Filters") else []:
            lines = [line for line in lines if _matches(str(line.get(name, "")), oper, value1, value2)]
        for field, direction in reversed(_order(pars.get("Order") or tx.LIST_DEFAULT_ORDER)):
            lines.sort(key=lambda line: str(line.get(field, "")), reverse=direction == "DESC")
        oper = pars.get("Oper", "BOTH") or "BOTH"
        page, size = int(pars.get("Page") or 1), int(pars.get("PageSize") or 50)
        total_pages = (len(lines) + size - 1) // size if size else 0
        body: dict[str, Any] = {"TotalLines": len(lines), "TotalPages": total_pages, "Page": page, "PageSize": size}
        if oper != "COUNT":
            body["Lines"] = lines[(page - 1) * size: page * size]
        return json.dumps(body, ensure_ascii=False).encode("utf-8")

    @app.post(tx.ASMX_PATH)
    async def transaction(request: Request) -> Response:
        try:
            call = soap.read_request(await request.body())
        except (ValueError, UnreadableData) as exc:
            return _xml(soap.response_envelope(False, "301", f"Solicitud SOAP mal formada: {exc}"), 500)
        entity = call.get("Entity", "")
        base = str(request.url).split(tx.ASMX_PATH)[0]
        try:
            params = soap.read_dictionary(soap.unb64(call.get("Data1", ""))) if call.get("Data1") else {}
            name = call.get("Transaction", "")
            if name == tx.TX_REGISTER:
                data = register(entity, params)
            elif name == tx.TX_GET:
                data = get_request(entity, params)
            elif name == tx.TX_LINK:
                data = get_link(entity, params, base)
            elif name == tx.TX_LIST:
                data = list_requests(entity, params)
            else:
                raise SimError("301", f"Transacción desconocida {name!r}")
        except SimError as exc:
            return _xml(soap.response_envelope(False, exc.code, exc.description))
        except ValueError as exc:
            return _xml(soap.response_envelope(False, "301", f"Datos ilegibles: {exc}"))
        return _xml(soap.response_envelope(True, "0", "OK", data1=data))

    @app.get("/descargas/{request_id}/{package}.zip")
    def download(request_id: str, package: str) -> Response:
        req = state.data["requests"].get(request_id.upper())
        if req is None:
            return Response("no encontrado", status_code=404)
        packages = _packages(req)
        index = int(package.rpartition("_")[2] or 0)
        if not 1 <= index <= len(packages):
            return Response("no encontrado", status_code=404)
        body = generator.package_zip(req["Id"], index, packages[index - 1], req["TipoSolicitud"])
        return Response(body, media_type="application/zip")

    return app


def _xml(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _order(text: str) -> list[tuple[str, str]]:
    found = []
    for part in text.split(","):
        bits = part.split()
        if bits and bits[0] in tx.LIST_SORTABLE:
            found.append((bits[0], bits[1].upper() if len(bits) > 1 else "ASC"))
    return found


def _matches(value: str, oper: str, value1: str, value2: str) -> bool:
    oper = oper.upper()
    if oper == "BETWEEN":
        return value1 <= value <= value2
    if oper == "LIKE":
        return value1.strip("%").lower() in value.lower()
    return {"=": value == value1, "<>": value != value1, ">": value > value1, "<": value < value1,
            ">=": value >= value1, "<=": value <= value1}.get(oper, False)
