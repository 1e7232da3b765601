"""Facto simulator, written from reference/chile.md §2 (not from our client).

- `POST /documento.php`: SOAP `emitirDocumento` (rpc/encoded, urn:server), HTTP Basic
  `"<RUT con puntos>/<login>"` + key; a wrong key answers HTTP 403.
- `GET /documento.php?wsdl`: the WSDL kept in this package.
- Facto's checks, answered with status 1 and a Spanish `mensaje_error`: required fields, receptor
  data for facturas, giro on boletas, RUT check digit, line sums vs `total_afecto`/`total_exento`,
  IVA vs 19 % of the net (±1 per line with `redondeo_tipo=bruto`), the final total.
- Folio ranges (CAF) per company and document type; an exhausted range gives status 2: the draft is
  created in Facto but not sent to the SII.
- Links (`/descarga/YYYY/MM/<hash>.{xml,pdf,png}` and the cedible PDF) valid for 30 days.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from lxml import etree

from pasarela.core import soap
from pasarela.core.simulator import SimState, sim_state_path, simulator_app
from pasarela.core.xml import UnsafeXML
from pasarela.providers.cl.facto import rendering
from pasarela.providers.cl.rut import InvalidRut, normalize_rut

NAME = "facto"
WSDL_PATH = Path(__file__).parent / "wsdl" / "documento.wsdl"
LINK_LIFETIME = timedelta(days=30)
VALID_TYPES = {33, 34, 39, 41, 52, 56, 61, 110, 111, 112}
RECEPTOR_REQUIRED = {33, 34, 56, 61}
DEFAULT_FOLIO_RANGES = {
    "33": [1, 500],
    "34": [1, 100],
    "39": [1, 100_000],
    "41": [1, 1000],
    "56": [1, 100],
    "61": [1, 100],
}
STRUCT_LISTS = {
    "detalles": "detalle",
    "referencias": "referencia",
    "descuentorecargoglobales": "descuentorecargoglobal",
}


def _initial() -> dict[str, Any]:
    return {"companies": {}, "documents": []}


class FactoSimulator:
    def __init__(
        self,
        accounts: dict[str, dict[str, str]],
        state_path: Path | None,
        folio_ranges: dict[str, list[int]] | None = None,
    ):
        # accounts: "1.111.111-4/login" -> {"password": key, "razon": company name}
        self.accounts = accounts
        self.state = SimState(state_path, _initial)
        self.folio_ranges = folio_ranges or DEFAULT_FOLIO_RANGES

    # -- authentication -------------------------------------------------------------------------
    def authenticate(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        account = self.accounts.get(user)
        if account is None or not hmac.compare_digest(account["password"], password):
            return None
        return user

    # -- emitirDocumento -----------------------------------------------------------------------
    def emitir(self, user: str, documento: dict[str, Any]) -> dict[str, Any]:
        errors = validate(documento)
        if errors:
            return {"status": 1, "mensaje_error": "; ".join(errors), "encabezado": documento.get("encabezado", {})}
        company_rut = normalize_rut(user.split("/", 1)[0])
        tipo = str(documento["encabezado"]["tipo_dte"])
        with self.state.lock:
            company = self.state.data["companies"].setdefault(company_rut, {"next_folio": {}})
            first, last = self.folio_ranges.get(tipo, [1, 0])
            folio = int(company["next_folio"].get(tipo, first))
            exhausted = folio > last
            if not exhausted:
                company["next_folio"][tipo] = folio + 1
            doc = self._record(user, company_rut, documento, None if exhausted else folio)
            self.state.save()
        if exhausted:
            message = (
                f"Documento creado como borrador: no quedan folios CAF disponibles para el tipo {tipo}; "
                "cargue folios en Facto y envíe el documento al SII desde el portal"
            )
            return {"status": 2, "mensaje_error": message, "doc": doc}
        return {"status": 0, "mensaje_error": "", "doc": doc}

    def _record(self, user: str, company_rut: str, documento: dict[str, Any], folio: int | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        doc = {
            "id": len(self.state.data["documents"]) + 1,
            "user": user,
            "emisor_rut": company_rut,
            "emisor_razon": self.accounts.get(user, {}).get("razon") or f"Empresa {company_rut}",
            "folio": folio if folio is not None else f"BORRADOR-{len(self.state.data['documents']) + 1}",
            "borrador": folio is None,
            "encabezado": documento["encabezado"],
            "detalles": documento["detalles"],
            "referencias": documento.get("referencias", []),
            "totales": documento["totales"],
            "created_at": now.isoformat(),
            "hash": secrets.token_hex(16),
        }
        self.state.data["documents"].append(doc)
        return doc

    def find_by_hash(self, digest: str) -> dict[str, Any] | None:
        with self.state.lock:
            for doc in self.state.data["documents"]:
                if doc["hash"] == digest:
                    return doc
        return None

    def inspect(self) -> dict[str, Any]:
        with self.state.lock:
            docs = list(self.state.data["documents"])
            companies = dict(self.state.data["companies"])
        by_type: dict[str, int] = {}
        for doc in docs:
            key = str(doc["encabezado"]["tipo_dte"])
            by_type[key] = by_type.get(key, 0) + 1
        return {
            "count": len(docs),
            "by_type": by_type,
            "companies": companies,
            "documents": [
                {
                    "folio": d["folio"],
                    "tipo_dte": d["encabezado"]["tipo_dte"],
                    "borrador": d["borrador"],
                    "emisor_rut": d["emisor_rut"],
                    "receptor_rut": d["encabezado"].get("receptor_rut"),
                    "identificador_externo_doc": d["encabezado"].get("identificador_externo_doc"),
                    "total_final": d["totales"].get("total_final"),
                    "created_at": d["created_at"],
                    # What facto.cl's portal shows a person: the file links, relative to the simulator.
                    "enlaces": links(d, ""),
                }
                for d in docs
            ],
        }


# -- validation (Facto's own checks, answered as status 1) ---------------------------------------


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal("NaN")


def _round(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def validate(documento: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    enc = documento.get("encabezado") or {}
    tipo_text = str(enc.get("tipo_dte", ""))
    if not tipo_text.isdigit() or int(tipo_text) not in VALID_TYPES:
        return [f"Tipo de documento (tipo_dte) inválido: '{tipo_text}'"]
    tipo = int(tipo_text)
    for required in ("fecha_emision", "condiciones_pago"):
        if not str(enc.get(required, "")).strip():
            errors.append(f"Campo obligatorio {required} no informado")
    try:
        datetime.strptime(str(enc.get("fecha_emision", "")), "%Y-%m-%d")
    except ValueError:
        if enc.get("fecha_emision"):
            errors.append(f"Fecha de emisión inválida: '{enc.get('fecha_emision')}' (formato AAAA-MM-DD)")
    errors += _validate_receptor(tipo, enc)
    detalles = documento.get("detalles") or []
    if not detalles:
        errors.append("El documento debe tener al menos un detalle")
    if errors:
        return errors
    return _validate_amounts(tipo, documento)


def _validate_receptor(tipo: int, enc: dict[str, Any]) -> list[str]:
    errors = []
    rut = str(enc.get("receptor_rut", "")).strip()
    if tipo in RECEPTOR_REQUIRED:
        for field, label in (
            ("receptor_rut", "RUT"),
            ("receptor_razon", "razón social"),
            ("receptor_giro", "giro"),
            ("receptor_direccion", "dirección"),
            ("receptor_comuna", "comuna"),
        ):
            if not str(enc.get(field, "")).strip():
                errors.append(f"Debe indicar {label} del receptor ({field}) para el tipo de documento {tipo}")
    if tipo in (39, 41) and str(enc.get("receptor_giro", "")).strip():
        errors.append("Las boletas no deben informar giro del receptor (receptor_giro)")
    if rut:
        if "." in rut:
            errors.append(f"RUT del receptor '{rut}' debe ir sin puntos (formato 12345678-9)")
        else:
            try:
                normalize_rut(rut)
            except InvalidRut:
                errors.append(f"RUT del receptor '{rut}' inválido (dígito verificador)")
    if len(str(enc.get("receptor_giro", ""))) > 40:
        errors.append("Giro del receptor excede 40 caracteres")
    return errors


def _validate_amounts(tipo: int, documento: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    bruto = str((documento.get("opciones") or {}).get("redondeo_tipo", "")).lower() == "bruto"
    net_sum, exempt_sum = 0, 0
    for number, line in enumerate(documento["detalles"], start=1):
        qty, unit = _dec(line.get("cantidad")), _dec(line.get("monto_unitario"))
        if not str(line.get("glosa", "")).strip():
            errors.append(f"Detalle {number}: glosa obligatoria")
        if qty.is_nan() or qty <= 0 or unit.is_nan() or unit < 0:
            errors.append(f"Detalle {number}: cantidad y monto_unitario deben ser números positivos")
            continue
        if -qty.as_tuple().exponent > 6 or -unit.as_tuple().exponent > 6:  # type: ignore[operator]
            errors.append(f"Detalle {number}: máximo 6 decimales en cantidad y monto_unitario")
        amount = _round(qty * unit) + int(_dec(line.get("descuentorecargo_monto") or 0))
        line["monto"] = amount
        if str(line.get("exento_afecto", "1")) == "0":
            exempt_sum += amount
        else:
            net_sum += amount
    for item in documento.get("descuentorecargoglobales") or []:
        value = _round(_dec(item.get("valor") or 0))
        sign = -1 if str(item.get("descrec", "")).upper().startswith("D") else 1
        if str(item.get("descrec", "")).upper().endswith("E"):
            exempt_sum += sign * value
        else:
            net_sum += sign * value
    if errors:
        return errors
    tot = documento.get("totales") or {}
    try:
        afecto, exento = int(tot.get("total_afecto") or 0), int(tot.get("total_exento") or 0)
        iva, final = int(tot.get("total_iva") or 0), int(tot.get("total_final") or 0)
    except ValueError:
        return ["Los totales deben ser números enteros"]
    if afecto != net_sum:
        errors.append(f"Total Neto ({afecto}) no coincide con suma de detalles netos ({net_sum})")
    if exento != exempt_sum:
        errors.append(f"Total Exento ({exento}) no coincide con suma de detalles exentos ({exempt_sum})")
    if tipo in (34, 41) and (afecto or iva):
        errors.append(f"Documento exento (tipo {tipo}) no puede tener monto afecto ni IVA")
    if tipo in (33, 39) and net_sum <= 0:
        errors.append(f"Documento afecto (tipo {tipo}) debe tener al menos un detalle afecto")
    expected_iva = _round(Decimal(afecto) * Decimal("0.19"))
    allowed = len(documento["detalles"]) + 1 if bruto else 0
    if abs(iva - expected_iva) > allowed:
        errors.append(f"IVA ({iva}) no coincide con el 19% del neto ({expected_iva})")
    if final != afecto + exento + iva:
        errors.append(f"Total Final ({final}) no coincide con neto + exento + IVA ({afecto + exento + iva})")
    return errors


# -- SOAP ----------------------------------------------------------------------------------------


def parse_request(content: bytes) -> dict[str, Any]:
    found = soap.descendant(soap.body_of(content), "documento")
    if found is None:
        raise ValueError("falta el elemento documento")
    return _to_dict(found)


def _to_dict(element: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in element:
        name = etree.QName(child).localname
        if name in STRUCT_LISTS:
            out[name] = [_to_dict(item) for item in child if etree.QName(item).localname == STRUCT_LISTS[name]]
        elif len(child):
            out[name] = _to_dict(child)
        else:
            out[name] = (child.text or "").strip()
    return out


def response_envelope(result: dict[str, Any], base_url: str) -> bytes:
    response = etree.Element("{urn:server}emitirDocumentoResponse", nsmap={"ns1": "urn:server"})
    ret = etree.SubElement(response, "return")
    resultado = etree.SubElement(ret, "resultado")
    etree.SubElement(resultado, "status").text = str(result["status"])
    etree.SubElement(resultado, "mensaje_error").text = result.get("mensaje_error", "")
    doc = result.get("doc")
    encabezado = etree.SubElement(ret, "encabezado")
    for key, value in (doc["encabezado"] if doc else result.get("encabezado", {})).items():
        etree.SubElement(encabezado, key).text = str(value)
    if doc:
        etree.SubElement(encabezado, "folio").text = "" if doc["borrador"] else str(doc["folio"])
        totales = etree.SubElement(ret, "totales")
        for key, value in doc["totales"].items():
            etree.SubElement(totales, key).text = str(value)
        enlaces = etree.SubElement(ret, "enlaces")
        for key, url in links(doc, base_url).items():
            etree.SubElement(enlaces, key).text = url
    else:
        etree.SubElement(ret, "enlaces")
    return soap.envelope(response, prefix="SOAP-ENV")


def links(doc: dict[str, Any], base_url: str) -> dict[str, str]:
    stamp = datetime.fromisoformat(doc["created_at"])
    prefix = f"{base_url}/descarga/{stamp:%Y}/{stamp:%m}/{doc['hash']}"
    return {
        "dte_xml": f"{prefix}.xml",
        "dte_pdf": f"{prefix}.pdf",
        "dte_pdfcedible": f"{prefix}-cedible.pdf",
        "dte_timbre": f"{prefix}.png",
    }


def soap_fault(message: str, status: int = 500) -> Response:
    body = soap.fault_response("SOAP-ENV:Client", message, prefix="SOAP-ENV")
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def accounts_from_settings(settings: Any) -> dict[str, dict[str, str]]:
    """The simulator accepts the Facto credentials of every store configured in simulator mode."""
    accounts: dict[str, dict[str, str]] = {}
    if settings is None:
        return accounts
    for store in settings.section("jumpseller").get("stores", []) if settings.section("jumpseller") else []:
        facto = store.get("facto") or {}
        if facto.get("mode", "simulator") == "simulator" and facto.get("user"):
            accounts[str(facto["user"])] = {
                "password": str(facto.get("password", "")),
                "razon": str(store.get("company_name", "")),
            }
    for extra in (settings.section("facto_simulator") or {}).get("accounts", []):
        accounts[str(extra["user"])] = {"password": str(extra["password"]), "razon": str(extra.get("razon", ""))}
    return accounts


def create_app(
    settings: Any = None,
    *,
    accounts: dict[str, dict[str, str]] | None = None,
    folio_ranges: dict[str, list[int]] | None = None,
) -> Any:
    configured = (settings.section("facto_simulator") or {}).get("folio_ranges") if settings else None
    sim = FactoSimulator(
        accounts if accounts is not None else accounts_from_settings(settings),
        sim_state_path(settings, NAME),
        folio_ranges or configured,
    )
    app, _faults = simulator_app(NAME, sim.inspect, title="Facto simulator (emitirDocumento)")
    app.state.sim = sim

    @app.get("/documento.php")
    def wsdl() -> Response:
        return Response(WSDL_PATH.read_bytes(), media_type="text/xml; charset=utf-8")

    @app.post("/documento.php")
    async def emitir_documento(request: Request) -> Response:
        user = sim.authenticate(request.headers.get("authorization", ""))
        if user is None:
            return Response("Error de autentificación en llave API", status_code=403, media_type="text/plain")
        try:
            documento = parse_request(await request.body())
        except (soap.NotSoap, UnsafeXML, ValueError) as exc:
            return soap_fault(f"Solicitud SOAP inválida: {exc}")
        result = sim.emitir(user, documento)
        return Response(response_envelope(result, _base_url(request)), media_type="text/xml; charset=utf-8")

    @app.get("/descarga/{year}/{month}/{filename}")
    def descarga(year: str, month: str, filename: str) -> Response:
        stem, _, extension = filename.rpartition(".")
        cedible = stem.endswith("-cedible")
        doc = sim.find_by_hash(stem.removesuffix("-cedible"))
        if doc is None:
            return Response("Documento no encontrado", status_code=404, media_type="text/plain")
        if datetime.now(UTC) - datetime.fromisoformat(doc["created_at"]) > LINK_LIFETIME:
            return Response("Enlace expirado (vigencia 30 días)", status_code=410, media_type="text/plain")
        if extension == "xml":
            return Response(rendering.dte_xml(doc), media_type="application/xml")
        if extension == "pdf":
            pdf = rendering.document_pdf(
                {**doc, "emisor_razon": doc["emisor_razon"] + (" — CEDIBLE" if cedible else "")}
            )
            return Response(pdf, media_type="application/pdf")
        if extension == "png":
            return Response(rendering.timbre_png(doc), media_type="image/png")
        return Response("Formato desconocido", status_code=404, media_type="text/plain")

    return app


def _base_url(request: Request) -> str:
    root = request.scope.get("root_path", "")
    return f"{request.url.scheme}://{request.url.netloc}{root}"


def folio_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
