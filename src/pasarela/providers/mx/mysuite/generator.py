"""Realistic SAT data for the simulator and the benchmark: CFDI 4.0 / 3.3 (ingresos, egresos and
Pagos 2.0) and Retenciones 2.0 with a TimbreFiscalDigital 1.1, metadata in the SAT's format, and
package ZIPs laid out as the SAT serves them.

Deterministic: the documents of a day depend only on (company, direction, service, day), so a
metadata request and a CFDI request over the same period describe the same UUIDs, as at the SAT.
"""

from __future__ import annotations

import base64
import io
import random
import uuid as uuidlib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from xml.sax.saxutils import quoteattr

from pasarela.providers.mx.cfdi.metadata import METADATA_HEADER  # noqa: F401  (re-exported for the benchmark)

CENT = Decimal("0.01")
IVA = Decimal("0.16")
PACS = ("SAT970701NN3", "FIN1203015JA", "SNF171020F3A", "AAA010101AAA")
NAMES = (
    "COMERCIALIZADORA DEL NORTE", "MUÑOZ & ASOCIADOS", "DISTRIBUIDORA LA PEÑA", "GRUPO INDUSTRIAL AZTECA",
    "SERVICIOS CONTABLES Y FISCALES", "TRANSPORTES DEL BAJÍO", "ABARROTES DOÑA LUPE", "CONSTRUCTORA MONTERREY",
    "FARMACIAS DEL PACÍFICO", "TECNOLOGÍA EDUCATIVA", "AGRÍCOLA LOS ÁLAMOS", "IMPORTADORA ORIENTE",
)
SUFFIXES = (" SA DE CV", " S DE RL DE CV", " SC", "")
PRODUCTS = (("43211503", "Computadora portátil", "H87"), ("81112101", "Servicio de hospedaje web", "E48"),
            ("78101802", "Servicio de transporte de carga", "E48"), ("50202306", "Refresco 600 ml", "H87"),
            ("84111506", "Servicios de facturación", "ACT"), ("44121618", "Tijeras de oficina", "H87"))


@dataclass
class Doc:
    uuid: str
    version: str
    tipo: str
    serie: str
    folio: str
    fecha: datetime
    emisor_rfc: str
    emisor_nombre: str
    receptor_rfc: str
    receptor_nombre: str
    pac_rfc: str
    fecha_cert: datetime
    conceptos: list[tuple[str, str, str, Decimal, Decimal]]  # clave, descripción, unidad, cantidad, valor
    subtotal: Decimal
    iva: Decimal
    total: Decimal
    estado: str  # "1" vigente, "0" cancelado
    fecha_cancelacion: datetime | None
    servicio: str  # CFDIS | RETENCIONES

    @property
    def vigente(self) -> bool:
        return self.estado == "1"


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _rfc(rng: random.Random, moral: bool) -> str:
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    head = "".join(rng.choice(letters) for _ in range(3 if moral else 4))
    born = date(1960, 1, 1) + timedelta(days=rng.randrange(20000))
    tail = "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(3))
    return f"{head}{born:%y%m%d}{tail}"


@cache
def partners(company_rfc: str) -> tuple[tuple[str, str], ...]:
    rng = random.Random(f"partners|{company_rfc}")
    found = []
    for i in range(40):
        name = NAMES[i % len(NAMES)] + ("" if i < len(NAMES) else f" {i}") + rng.choice(SUFFIXES)
        found.append((_rfc(rng, moral=bool(name.endswith(("CV", "SC")))), name))
    found.append(("XAXX010101000", "PUBLICO EN GENERAL"))
    return tuple(found)


def _day_docs(company: tuple[str, str], direction: str, servicio: str, day: date, per_month: float) -> Iterator[Doc]:
    rng = random.Random(f"{company[0]}|{direction}|{servicio}|{day.isoformat()}")
    mean = per_month / 30.0 / (10 if servicio == "RETENCIONES" else 1)
    count = int(mean) + (1 if rng.random() < mean - int(mean) else 0)
    for _ in range(count):
        partner = rng.choice(partners(company[0]))
        issuer, receiver = (company, partner) if direction == "EMISOR" else (partner, company)
        fecha = datetime.combine(day, datetime.min.time()) + timedelta(seconds=rng.randrange(86400))
        roll = rng.random()
        tipo = "R" if servicio == "RETENCIONES" else ("I" if roll < 0.85 else "E" if roll < 0.93 else "P")
        conceptos = []
        for _ in range(1 if tipo in "PR" else rng.randint(1, 8)):
            clave, desc, unidad = rng.choice(PRODUCTS)
            quantity = Decimal(rng.randint(1, 5))
            conceptos.append((clave, desc, unidad, quantity, _money(Decimal(rng.randint(50, 250000)) / 10)))
        subtotal = _money(sum((q * v for _, _, _, q, v in conceptos), Decimal(0)))
        iva = _money(subtotal * IVA)
        cancelled = rng.random() < 0.05
        yield Doc(
            uuid=str(uuidlib.UUID(int=rng.getrandbits(128), version=4)).upper(),
            version=("4.0" if day >= date(2023, 1, 1) else "3.3" if day < date(2022, 1, 1)
                     else rng.choice(("3.3", "4.0"))),
            tipo=tipo, serie=rng.choice(("A", "F", "FAC", "")), folio=str(rng.randint(1, 999999)),
            fecha=fecha, emisor_rfc=issuer[0], emisor_nombre=issuer[1], receptor_rfc=receiver[0],
            receptor_nombre=receiver[1], pac_rfc=rng.choice(PACS),
            fecha_cert=fecha + timedelta(seconds=rng.randint(5, 600)),
            conceptos=conceptos, subtotal=subtotal, iva=iva, total=subtotal + iva,
            estado="0" if cancelled else "1",
            fecha_cancelacion=fecha + timedelta(days=rng.randint(1, 20)) if cancelled else None,
            servicio=servicio,
        )


def documents(company: tuple[str, str], direction: str, servicio: str, start: datetime, end: datetime,
              per_month: float) -> list[Doc]:
    found: list[Doc] = []
    day = start.date()
    while day <= end.date():
        found.extend(d for d in _day_docs(company, direction, servicio, day, per_month) if start <= d.fecha <= end)
        day += timedelta(days=1)
    return found


# ---- XML ----------------------------------------------------------------------------------------

_B64 = base64.b64encode(random.Random(7).randbytes(256)).decode()  # a 344-char seal
_CERT = base64.b64encode(random.Random(8).randbytes(1400)).decode()


def _seal(rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(256)).decode()


def cfdi_xml(doc: Doc) -> bytes:
    if doc.servicio == "RETENCIONES":
        return retenciones_xml(doc)
    rng = random.Random(doc.uuid)
    v4 = doc.version == "4.0"
    ns = "http://www.sat.gob.mx/cfd/4" if v4 else "http://www.sat.gob.mx/cfd/3"
    xsd = "cfdv40.xsd" if v4 else "cfdv33.xsd"
    pago = doc.tipo == "P"
    subtotal, total = ("0", "0") if pago else (str(doc.subtotal), str(doc.total))
    moneda = "XXX" if pago else "MXN"
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<cfdi:Comprobante xmlns:cfdi="{ns}" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            + (' xmlns:pago20="http://www.sat.gob.mx/Pagos20"' if pago else "")
            + f' xsi:schemaLocation="{ns} http://www.sat.gob.mx/sitio_internet/cfd/{4 if v4 else 3}/{xsd}"'
            f' Version="{doc.version}"' + (f' Serie="{doc.serie}"' if doc.serie else "")
            + f' Folio="{doc.folio}" Fecha="{doc.fecha:%Y-%m-%dT%H:%M:%S}" Sello="{_seal(rng)}"'
            + ("" if pago else f' FormaPago="{rng.choice(("01", "03", "04", "28", "99"))}"')
            + f' NoCertificado="3000100000050{rng.randint(1000000, 9999999)}" Certificado="{_CERT}"'
            f' SubTotal="{subtotal}" Moneda="{moneda}" Total="{total}" TipoDeComprobante="{doc.tipo}"'
            + (' Exportacion="01"' if v4 else "")
            + ("" if pago else f' MetodoPago="{rng.choice(("PUE", "PPD"))}"')
            + f' LugarExpedicion="{rng.randint(10000, 99999)}">\n')
    parts = [head]
    parts.append(f'  <cfdi:Emisor Rfc={quoteattr(doc.emisor_rfc)} Nombre={quoteattr(doc.emisor_nombre)}'
                 ' RegimenFiscal="601"/>\n')
    receptor_extra = f' DomicilioFiscalReceptor="{rng.randint(10000, 99999)}" RegimenFiscalReceptor="601"' if v4 else ""
    uso = "CP01" if pago and v4 else "P01" if pago else rng.choice(("G01", "G03", "I04"))
    parts.append(f'  <cfdi:Receptor Rfc={quoteattr(doc.receptor_rfc)} Nombre={quoteattr(doc.receptor_nombre)}'
                 f'{receptor_extra} UsoCFDI="{uso}"/>\n  <cfdi:Conceptos>\n')
    if pago:
        objeto = ' ObjetoImp="01"' if v4 else ""
        parts.append(f'    <cfdi:Concepto ClaveProdServ="84111506" Cantidad="1" ClaveUnidad="ACT" Descripcion="Pago"'
                     f' ValorUnitario="0" Importe="0"{objeto}/>\n  </cfdi:Conceptos>\n')
    else:
        for clave, desc, unidad, cantidad, valor in doc.conceptos:
            importe = _money(cantidad * valor)
            objeto = ' ObjetoImp="02"' if v4 else ""
            parts.append(
                f'    <cfdi:Concepto ClaveProdServ="{clave}" NoIdentificacion="{rng.randint(1000, 99999)}"'
                f' Cantidad="{cantidad}" ClaveUnidad="{unidad}" Descripcion={quoteattr(desc)}'
                f' ValorUnitario="{valor}" Importe="{importe}"{objeto}>\n'
                f'      <cfdi:Impuestos><cfdi:Traslados><cfdi:Traslado Base="{importe}" Impuesto="002"'
                f' TipoFactor="Tasa" TasaOCuota="0.160000" Importe="{_money(importe * IVA)}"/>'
                f'</cfdi:Traslados></cfdi:Impuestos>\n    </cfdi:Concepto>\n')
        parts.append('  </cfdi:Conceptos>\n')
        parts.append(f'  <cfdi:Impuestos TotalImpuestosTrasladados="{doc.iva}"><cfdi:Traslados>'
                     f'<cfdi:Traslado Base="{doc.subtotal}" Impuesto="002" TipoFactor="Tasa" TasaOCuota="0.160000"'
                     f' Importe="{doc.iva}"/></cfdi:Traslados></cfdi:Impuestos>\n')
    parts.append('  <cfdi:Complemento>\n')
    if pago:
        parts.append(_pagos20(doc, rng))
    parts.append(
        '    <tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital"'
        ' xsi:schemaLocation="http://www.sat.gob.mx/TimbreFiscalDigital'
        ' http://www.sat.gob.mx/sitio_internet/cfd/TimbreFiscalDigital/TimbreFiscalDigitalv11.xsd"'
        f' Version="1.1" UUID="{doc.uuid}" FechaTimbrado="{doc.fecha_cert:%Y-%m-%dT%H:%M:%S}"'
        f' RfcProvCertif="{doc.pac_rfc}" SelloCFD="{_seal(rng)}" NoCertificadoSAT="00001000000505211329"'
        f' SelloSAT="{_seal(rng)}"/>\n  </cfdi:Complemento>\n</cfdi:Comprobante>\n')
    return "".join(parts).encode("utf-8")


def _pagos20(doc: Doc, rng: random.Random) -> str:
    amount = doc.total
    iso = f"{doc.fecha:%Y-%m-%dT%H:%M:%S}"
    related = str(uuidlib.UUID(int=rng.getrandbits(128), version=4)).upper()
    return (f'    <pago20:Pagos Version="2.0">\n      <pago20:Totales MontoTotalPagos="{amount}"/>\n'
            f'      <pago20:Pago FechaPago="{iso}" FormaDePagoP="03" MonedaP="MXN" TipoCambioP="1" Monto="{amount}">\n'
            f'        <pago20:DoctoRelacionado IdDocumento="{related}" MonedaDR="MXN" EquivalenciaDR="1"'
            f' NumParcialidad="1" ImpSaldoAnt="{amount}" ImpPagado="{amount}" ImpSaldoInsoluto="0.00"'
            ' ObjetoImpDR="01"/>\n'
            '      </pago20:Pago>\n    </pago20:Pagos>\n')


def retenciones_xml(doc: Doc) -> bytes:
    rng = random.Random(doc.uuid)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<retenciones:Retenciones'
        ' xmlns:retenciones="http://www.sat.gob.mx/esquemas/retencionpago/2"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" Version="2.0" CveRetenc="14"'
        f' FolioInt="{doc.folio}" LugarExpRetenc="{rng.randint(10000, 99999)}"'
        f' FechaExp="{doc.fecha:%Y-%m-%dT%H:%M:%S}" NoCertificado="30001000000500003416" Certificado="{_CERT}"'
        f' Sello="{_seal(rng)}">\n'
        f'  <retenciones:Emisor RfcE={quoteattr(doc.emisor_rfc)} NomDenRazSocE={quoteattr(doc.emisor_nombre)}'
        ' RegimenFiscalE="601"/>\n  <retenciones:Receptor NacionalidadR="Nacional">\n'
        f'    <retenciones:Nacional RfcR={quoteattr(doc.receptor_rfc)} NomDenRazSocR={quoteattr(doc.receptor_nombre)}'
        f' DomicilioFiscalR="{rng.randint(10000, 99999)}"/>\n  </retenciones:Receptor>\n'
        f'  <retenciones:Periodo MesIni="{doc.fecha.month:02d}" MesFin="{doc.fecha.month:02d}"'
        f' Ejercicio="{doc.fecha.year}"/>\n'
        f'  <retenciones:Totales MontoTotOperacion="{doc.subtotal}" MontoTotGrav="{doc.subtotal}" MontoTotExent="0.00"'
        f' MontoTotRet="{doc.iva}">\n    <retenciones:ImpRetenidos BaseRet="{doc.subtotal}" ImpuestoRet="001"'
        f' MontoRet="{doc.iva}" TipoPagoRet="01"/>\n  </retenciones:Totales>\n  <retenciones:Complemento>\n'
        '    <tfd:TimbreFiscalDigital xmlns:tfd="http://www.sat.gob.mx/TimbreFiscalDigital" Version="1.1"'
        f' UUID="{doc.uuid}" FechaTimbrado="{doc.fecha_cert:%Y-%m-%dT%H:%M:%S}" RfcProvCertif="{doc.pac_rfc}"'
        f' SelloCFD="{_seal(rng)}" NoCertificadoSAT="00001000000505211329" SelloSAT="{_seal(rng)}"/>\n'
        '  </retenciones:Complemento>\n</retenciones:Retenciones>\n'
    ).encode()


# ---- metadata and packages ------------------------------------------------------------------------

def _field(value: str) -> str:
    return f"|{value}|" if "~" in value else value


def metadata_line(doc: Doc) -> str:
    monto = "0.00" if doc.tipo == "P" else str(doc.total)
    cancel = f"{doc.fecha_cancelacion:%Y-%m-%d %H:%M:%S}" if doc.fecha_cancelacion else ""
    return "~".join((doc.uuid, doc.emisor_rfc, _field(doc.emisor_nombre), doc.receptor_rfc,
                     _field(doc.receptor_nombre), doc.pac_rfc, f"{doc.fecha:%Y-%m-%d %H:%M:%S}",
                     f"{doc.fecha_cert:%Y-%m-%d %H:%M:%S}", monto, "I" if doc.tipo == "R" else doc.tipo,
                     doc.estado, cancel))


def metadata_text(docs: Iterable[Doc]) -> bytes:
    """The SAT's exact layout: header, ``~`` separators, CRLF after every record."""
    return ("".join(line + "\r\n" for line in (METADATA_HEADER, *(metadata_line(d) for d in docs)))).encode("utf-8")


def package_zip(request_id: str, index: int, docs: list[Doc], tipo: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        if tipo == "Metadata":
            zf.writestr(f"{request_id}-{index:04d}.txt", metadata_text(docs))
        else:
            for doc in docs:
                zf.writestr(f"{doc.uuid}.xml", cfdi_xml(doc))
    return buffer.getvalue()
