"""CDR reading for every sample in shared/vectors/pe, SOAP responses and both fault shapes."""

from __future__ import annotations

import base64
import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pasarela.core import soap
from pasarela.core.outcomes import Outcome
from pasarela.providers.pe.bizlinks.errors import BizlinksFault
from pasarela.providers.pe.ubl import codes
from pasarela.providers.pe.ubl.cdr import CdrError, first_xml_in_zip, read_cdr, zip_one

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT.parent / "shared" / "vectors" if (ROOT.parent / "shared").exists() else ROOT / "shared" / "vectors"
PE = VECTORS / "pe"

EXPECTED = {
    "R-20600995805-01-F001-1.xml": (0, "F001-1", "La Factura numero F001-00000001, ha sido aceptada", []),
    "R-20600995805-01-F001-3.xml": (
        0,
        "F001-1",
        "La Factura numero F001-00000001, ha sido aceptada",
        ["4031 - Debe indicar el nombre comercial", "4001 - El numero de RUC del receptor no existe."],
    ),
    "R-20000000001-09-T001-1.xml": (
        0,
        "T001-1",
        "El Comprobante  numero T001-1, ha sido aceptado",
        ["4398 - El Número de placa no se encuentra en las bases consultadas, placa: F2E836"],
    ),
    "efact_cdr1.xml": (0, "F001-1", "La Factura F001-1 ha sido aceptada.", []),
    "cdr-rechazo.zip": (109, "F001-2", "El sistema no pudo procesar su solicitud", []),
    "cdrBaja.zip": (0, "RA-20171001-1", "La Comunicación de baja RA-20171001-1, ha sido aceptada", []),
    "cdrGRE.zip": (
        0,
        "T001-1",
        "El Comprobante  numero T001-1, ha sido aceptado",
        ["4398 - El Número de placa no se encuentra en las bases consultadas, placa: F2E836"],
    ),
    "R-12345678901-01-F001-00000587.xml": (0, "F001-00000587", "La Factura numero F001-00000587, ha sido aceptada", []),
    "R-20220557805-01-F001-22Openubl.xml": (0, "F001-22", "La Factura numero F001-22, ha sido aceptada", None),
}


def test_every_cdr_sample_is_covered() -> None:
    assert {p.name for p in (PE / "cdr").iterdir()} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cdr_samples(name: str) -> None:
    code, reference, description, notes = EXPECTED[name]
    cdr = read_cdr((PE / "cdr" / name).read_bytes())
    assert (cdr.code, cdr.reference_id, cdr.description) == (code, reference, description)
    if notes is not None:
        assert cdr.notes == notes
    else:
        assert cdr.notes and all(n[:4].isdigit() for n in cdr.notes)
        assert {4252, 4255} <= set(cdr.note_codes())
    assert cdr.code_class == codes.classify(code)


def test_classification_ranges() -> None:
    assert codes.classify(0) == codes.CodeClass.ACCEPTED
    assert codes.classify(109) == codes.CodeClass.EXCEPTION
    assert codes.classify(1033) == codes.CodeClass.EXCEPTION
    assert codes.classify(2519) == codes.CodeClass.REJECTED
    assert codes.classify(3999) == codes.CodeClass.REJECTED
    assert codes.classify(4000) == codes.CodeClass.OBSERVED
    assert codes.message(111) == "No tiene el perfil para enviar comprobantes electronicos"
    assert "1033" not in codes.message(1033) and "registrado previamente" in codes.message(1033)


def test_recorded_sendbill_response() -> None:
    body = soap.body_of((PE / "soap" / "bill_service_response_ok.xml").read_bytes())
    assert soap.fault_of(body) is None
    cdr = read_cdr(base64.b64decode(soap.child_text(body, "applicationResponse")))
    assert (cdr.code, cdr.reference_id) == (0, "F001-1")
    assert "ha sido aceptada" in cdr.description


def test_recorded_ticket_and_status() -> None:
    ticket = soap.body_of((PE / "soap" / "bill_service_response_ticket.xml").read_bytes())
    assert soap.child_text(ticket, "ticket") == "1703154974517"
    status = soap.body_of((PE / "soap" / "get_status_response_ok.xml").read_bytes())
    assert soap.child_text(status, "statusCode") == "0"
    cdr = read_cdr(base64.b64decode(soap.child_text(status, "content")))
    assert cdr.reference_id == "RA-20200328-1" and cdr.code == 0


def test_sunat_fault_shape() -> None:
    fault = soap.fault_of(soap.body_of((PE / "soap" / "bill_service_response_fault.xml").read_bytes()))
    assert fault is not None and fault.code == 111
    assert fault.message.startswith("No tiene el perfil")
    assert BizlinksFault(fault.code, fault.message).outcome == Outcome.NEEDS_ATTENTION


def test_ose_fault_shape() -> None:
    body = (
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault>'
        b"<faultcode>s:Client</faultcode><faultstring>2335</faultstring>"
        b'<detail><message xmlns="http://service.sunat.gob.pe">'
        b"El documento electr\xc3\xb3nico ingresado ha sido alterado</message></detail>"
        b"</s:Fault></s:Body></s:Envelope>"
    )
    fault = soap.fault_of(soap.body_of(body))
    assert fault is not None and (fault.code, fault.message) == (
        2335,
        "El documento electrónico ingresado ha sido alterado",
    )
    assert BizlinksFault(fault.code, fault.message).outcome == Outcome.REJECTED
    assert BizlinksFault(1033, "x").already_registered
    assert BizlinksFault(109, "x").outcome == Outcome.RETRY


@pytest.mark.parametrize("body", [b"", b"<html><body>Internal Server Error</body></html>", b"not xml"])
def test_non_soap_bodies(body: bytes) -> None:
    with pytest.raises(soap.NotSoap):
        soap.body_of(body)


@pytest.mark.parametrize("path", sorted((VECTORS / "xml-attacks").glob("*.xml")), ids=lambda p: p.name)
def test_hostile_xml_is_refused(path: Path) -> None:
    with pytest.raises(CdrError):
        read_cdr(path.read_bytes())
    with pytest.raises(soap.NotSoap):
        soap.body_of(path.read_bytes())


FILE_NAMES = st.from_regex(r"20[0-9]{9}-0[1378]-[FB][0-9]{3}-[1-9][0-9]{0,7}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=40_000), FILE_NAMES)
def test_zip_one_is_a_zip_every_reader_accepts(content: bytes, name: str) -> None:
    """zip_one writes the ZIP by hand: zipfile must read back the same name, bytes and CRC."""
    data = zip_one(name, content)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        [info] = archive.infolist()
        assert info.filename == f"{name}.xml" and info.compress_type == zipfile.ZIP_DEFLATED
        assert info.file_size == len(content)
        assert archive.read(info) == content
    assert first_xml_in_zip(data) == (f"{name}.xml", content)


def test_zip_one_passes_info_zip_unzip(tmp_path: Path) -> None:
    path = tmp_path / "20000000001-01-F001-1.zip"
    path.write_bytes(zip_one("20000000001-01-F001-1", b"<Invoice>" + b"x" * 50_000 + b"</Invoice>"))
    result = subprocess.run(["unzip", "-t", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "No errors detected" in result.stdout, result.stdout + result.stderr
