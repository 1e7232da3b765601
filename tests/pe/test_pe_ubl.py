"""UBL 2.1 building, SUNAT totals, validation messages, XSD validity and independent signature checks."""

from __future__ import annotations

import subprocess
from datetime import date, time
from decimal import Decimal
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree
from pydantic import ValidationError
from stdnum.pe import ruc as stdnum_ruc

from pasarela.providers.pe.ubl import amounts, builder
from pasarela.providers.pe.ubl.model import DocumentIn, compute_totals, validation_message
from pasarela.providers.pe.ubl.signing import (
    generate_test_credential,
    load_credential,
    sign,
    sign_canonical,
    verify,
)

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors"
if not VECTORS.exists():
    VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
PE = VECTORS / "pe"
ISSUER = builder.Issuer(
    ruc="20000000001",
    name="EMPRESA DEMO S.A.C.",
    address="AV. LIMA 1",
    district="LIMA",
    province="LIMA",
    department="LIMA",
)
CUSTOMER_RUC = {"doc_type": "6", "doc_number": "20512333797", "name": "CLIENTE S.A.C."}


@cache
def credential(tmp: str = "/tmp") -> object:
    return generate_test_credential(Path(tmp) / f"pe-test-cert-{id(ISSUER)}.pem", ISSUER.ruc, ISSUER.name)


@cache
def schema(version: str, kind: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(PE / "xsd" / version / "maindoc" / f"UBL-{kind}-{version}.xsd")))


def doc(**over: object) -> DocumentIn:
    base: dict[str, object] = {
        "type": "01",
        "series": "F001",
        "customer": CUSTOMER_RUC,
        "lines": [{"description": "Producto", "quantity": "2", "unit_value": "50"}],
    }
    base.update(over)
    return DocumentIn.model_validate(base)


SAMPLES = {
    "factura": {
        "type": "01",
        "series": "F001",
        "customer": CUSTOMER_RUC,
        "lines": [
            {"description": "Gravado", "quantity": "2", "unit_value": "50", "code": "P1", "sunat_code": "43211503"},
            {"description": "Exonerado", "quantity": "1", "unit_value": "10", "affectation": "20"},
            {"description": "Inafecto", "quantity": "1", "unit_value": "7", "affectation": "30"},
            {"description": "Regalo", "quantity": "1", "unit_value": "5", "affectation": "13"},
            {"description": "Bolsa", "quantity": "1", "unit_price": "0.118", "bags": 1},
            {"description": "Con descuento", "quantity": "3", "unit_value": "10", "discount": "3"},
        ],
    },
    "boleta": {
        "type": "03",
        "series": "B001",
        "customer": {"doc_type": "1", "doc_number": "45678912", "name": "ANA"},
        "lines": [{"description": "Café", "quantity": "3", "unit_price": "8.50"}],
    },
    "credit_note": {
        "type": "07",
        "series": "F001",
        "customer": CUSTOMER_RUC,
        "reference": {"doc_type": "01", "id": "F001-9"},
        "note_reason": "07",
        "lines": [{"description": "Devolución", "quantity": "1", "unit_value": "50"}],
    },
    "debit_note": {
        "type": "08",
        "series": "B001",
        "customer": {"doc_type": "1", "doc_number": "45678912", "name": "ANA"},
        "reference": {"doc_type": "03", "id": "B001-3"},
        "note_reason": "01",
        "lines": [{"description": "Intereses", "quantity": "1", "unit_value": "10"}],
    },
}


def test_worked_example_totals() -> None:
    """greenter starter: qty 2 × 50.00 → base 100, IGV 18, total 118, precio unitario 59."""
    totals = compute_totals(doc(), 2024)
    assert (totals.line_extension, totals.igv, totals.tax_inclusive, totals.payable) == (
        Decimal("100.00"),
        Decimal("18.00"),
        Decimal("118.00"),
        Decimal("118.00"),
    )
    assert totals.lines[0].unit_price == Decimal("59.00")


def test_mixed_lines_totals() -> None:
    totals = compute_totals(DocumentIn.model_validate(SAMPLES["factura"]), 2024)
    # gravadas 100 + 0.10 (bolsa) + 27 (30 - 3 descuento); exonerado 10; inafecto 7; gratuito 5 fuera del total
    assert totals.by_tributo["1000"][0] == Decimal("127.10")
    assert totals.by_tributo["9997"] == (Decimal("10"), Decimal("0"))
    assert totals.by_tributo["9996"][0] == Decimal("5.00")
    assert totals.free_value == Decimal("5.00")
    assert totals.igv == Decimal("18.00") + Decimal("0.02") + Decimal("4.86")
    assert totals.icbper == amounts.ICBPER_FROM_2023
    assert totals.payable == Decimal("144.10") + totals.igv + totals.icbper


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999"), places=3),
            st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=4),
            st.sampled_from(["10", "20", "30", "13"]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_totals_follow_sunat_rules(lines: list[tuple[Decimal, Decimal, str]]) -> None:
    data = doc(
        lines=[
            {"description": f"i{i}", "quantity": str(q), "unit_value": str(v), "affectation": a}
            for i, (q, v, a) in enumerate(lines)
        ]
    )
    totals = compute_totals(data, 2024)
    for lt in totals.lines:
        assert lt.value == amounts.sunat_round(lt.value)
        if lt.tributo.code == "1000":
            assert abs(lt.igv - lt.value * Decimal("0.18")) <= Decimal("0.005")
    assert totals.payable == totals.line_extension + totals.igv + totals.icbper
    assert totals.line_extension == sum((lt.value for lt in totals.lines if not lt.free), Decimal("0"))


@settings(max_examples=50, deadline=None)
@given(st.decimals(min_value=Decimal("0"), max_value=Decimal("9999999.99"), places=2))
def test_amount_in_words(value: Decimal) -> None:
    words = amounts.amount_in_words(value)
    assert words.endswith(f"CON {int((value % 1) * 100):02d}/100 SOLES")
    assert words == words.upper()


def test_amount_in_words_examples() -> None:
    assert amounts.amount_in_words(Decimal("118")) == "CIENTO DIECIOCHO CON 00/100 SOLES"
    assert amounts.amount_in_words(Decimal("1001.5"), "USD") == "MIL UNO CON 50/100 DÓLARES AMERICANOS"


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["10", "15", "17", "20"]), st.text("0123456789", min_size=8, max_size=8))
def test_customer_ruc_check_digit(prefix: str, body: str) -> None:
    """A RUC with the right check digit is accepted; changing the check digit is refused."""
    ten = prefix + body
    good = ten + stdnum_ruc.calc_check_digit(ten)
    assert doc(customer={**CUSTOMER_RUC, "doc_number": good}).customer.doc_number == good
    bad = ten + str((int(good[-1]) + 1) % 10)
    with pytest.raises(ValidationError) as err:
        doc(customer={**CUSTOMER_RUC, "doc_number": bad})
    assert "dígito verificador" in validation_message(err.value)


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"series": "B001"}, "serie 'B001' inválida para facturas"),
        ({"type": "03", "series": "F001"}, "inválida para boletas"),
        ({"customer": {"doc_type": "1", "doc_number": "1234567", "name": "X"}}, "DNI '1234567' inválido"),
        ({"customer": {"doc_type": "1", "doc_number": "12345678", "name": "X"}}, "requiere un cliente con RUC"),
        ({"customer": {"doc_type": "9", "doc_number": "1", "name": "X"}}, "catálogo 06"),
        ({"lines": [{"description": "x", "quantity": "1", "unit_value": "1", "affectation": "99"}]}, "catálogo 07"),
        ({"lines": [{"description": "x", "quantity": "1"}]}, "unit_value (sin IGV) o unit_price"),
        ({"type": "07"}, "requiere 'reference'"),
        ({"type": "07", "reference": {"doc_type": "01", "id": "F001-1"}, "note_reason": "99"}, "catálogo 09"),
        ({"currency": "XXX"}, "moneda 'XXX'"),
    ],
)
def test_validation_messages(over: dict[str, object], expected: str) -> None:
    with pytest.raises(ValidationError) as err:
        doc(**over)
    assert expected in validation_message(err.value)


def test_anonymous_boleta_over_700_needs_document() -> None:
    big = doc(
        type="03",
        series="B001",
        customer={"doc_type": "-", "doc_number": "-", "name": "VARIOS"},
        lines=[{"description": "TV", "quantity": "1", "unit_value": "800"}],
    )
    with pytest.raises(ValueError, match="supera S/ 700"):
        compute_totals(big, 2024)


def _signed(sample: str, tmp_path: Path) -> tuple[bytes, Path]:
    built = builder.build_document(DocumentIn.model_validate(SAMPLES[sample]), 7, ISSUER, date(2024, 5, 2), time(9, 30))
    xml, _ = sign_canonical(built.xml, built.namespaces, credential())  # type: ignore[arg-type]
    path = tmp_path / f"{built.file_name}.xml"
    path.write_bytes(xml)
    return xml, path


def _xmlsec_verify(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Debian's xmlsec1, with the certificate taken from the document itself."""
    root = etree.parse(str(path)).getroot()
    b64 = "".join(root.findtext(".//{http://www.w3.org/2000/09/xmldsig#}X509Certificate").split())
    pem = tmp_path / "signer.pem"
    pem.write_text(
        "-----BEGIN CERTIFICATE-----\n"
        + "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64))
        + "\n-----END CERTIFICATE-----\n"
    )
    return subprocess.run(
        ["xmlsec1", "--verify", "--pubkey-cert-pem", str(pem), str(path)], capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize("sample", sorted(SAMPLES))
def test_documents_validate_against_xsd_and_verify_with_xmlsec1(sample: str, tmp_path: Path) -> None:
    xml, path = _signed(sample, tmp_path)
    root = etree.fromstring(xml)
    kind = etree.QName(root).localname
    xsd = schema("2.1", kind)
    assert xsd.validate(root), xsd.error_log
    sig = root.find(
        ".//{urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2}ExtensionContent/"
        "{http://www.w3.org/2000/09/xmldsig#}Signature"
    )
    assert sig is not None
    assert root.findtext("{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}UBLVersionID") == "2.1"
    result = _xmlsec_verify(path, tmp_path)
    assert result.returncode == 0 and "OK" in result.stdout + result.stderr, result.stderr
    assert verify(xml).valid
    tampered = tmp_path / "tampered.xml"
    tampered.write_bytes(xml.replace(b"CLIENTE S.A.C.", b"CLIENTE S.A.X.").replace(b">ANA<", b">ANO<"))
    assert _xmlsec_verify(tampered, tmp_path).returncode != 0
    assert not verify(tampered.read_bytes()).valid


def test_summaries_validate_against_ubl20_and_verify(tmp_path: Path) -> None:
    rc = builder.build_summary(
        ISSUER,
        3,
        date(2024, 5, 1),
        date(2024, 5, 2),
        [
            builder.SummaryItem(
                "03", "B001-1", "1", "45678912", "1", "PEN", Decimal("118"), Decimal("100"), Decimal("18")
            )
        ],
    )
    ra = builder.build_voided(
        ISSUER, 1, date(2024, 5, 1), date(2024, 5, 2), [builder.VoidItem("01", "F001", 5, "ERROR")]
    )
    for built, kind in ((rc, "SummaryDocuments"), (ra, "VoidedDocuments")):
        xml, _ = sign_canonical(built.xml, built.namespaces, credential())  # type: ignore[arg-type]
        root = etree.fromstring(xml)
        assert schema("2.0", kind).validate(root), schema("2.0", kind).error_log
        path = tmp_path / f"{built.file_name}.xml"
        path.write_bytes(xml)
        assert _xmlsec_verify(path, tmp_path).returncode == 0
    assert rc.file_name == "20000000001-RC-20240502-3" and ra.file_name == "20000000001-RA-20240502-1"


def test_sign_with_the_demo_pkcs12(tmp_path: Path) -> None:
    cred = load_credential(PE / "certs" / "LLAMA-PE-CERTIFICADO-DEMO-10467793549.pfx", "password")
    built = builder.build_document(doc(), 1, ISSUER, date(2024, 5, 2), time(9, 0))
    xml, digest = sign_canonical(built.xml, built.namespaces, cred)
    path = tmp_path / "x.xml"
    path.write_bytes(xml)
    assert verify(xml).valid and verify(xml).digest_value == digest
    assert (
        subprocess.run(
            [
                "xmlsec1",
                "--verify",
                "--pubkey-cert-pem",
                str(PE / "certs" / "LLAMA-PE-CERTIFICADO-DEMO-10467793549.public.cer"),
                str(path),
            ],
            capture_output=True,
            timeout=30,
        ).returncode
        == 0
    )
    with pytest.raises(ValueError, match="contraseña incorrecta"):
        load_credential(PE / "certs" / "LLAMA-PE-CERTIFICADO-DEMO-10467793549.pfx", "wrong")


@pytest.mark.parametrize("path", sorted((PE / "ubl" / "signed").glob("*.xml")), ids=lambda p: p.name)
def test_real_signed_samples_verify(path: Path) -> None:
    data = path.read_bytes()
    assert verify(data).valid, verify(data).reason
    index = data.index(b"</cbc:IssueDate>") - 1
    altered = data[:index] + (b"8" if data[index : index + 1] != b"8" else b"7") + data[index + 1 :]
    result = verify(altered)
    assert not result.valid and "alterado" in result.reason


# Texts a user can type, with everything C14N escapes (& < > " CR LF TAB) and non-ASCII, astral included.
XML_CHARACTERS = st.characters(min_codepoint=0x20, blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff")
XML_TEXT = st.text(st.one_of(st.sampled_from("&<>\"'\r\n\t ÁÑñ€𝄞"), XML_CHARACTERS), min_size=1, max_size=40)


@settings(max_examples=80, deadline=None)
@given(name=XML_TEXT, description=XML_TEXT, address=XML_TEXT, observations=XML_TEXT, unit=XML_TEXT)
def test_built_documents_are_their_own_c14n(
    name: str, description: str, address: str, observations: str, unit: str
) -> None:
    """The builder writes canonical XML directly (canonical.py) and the signer digests those bytes as they
    are: lxml's C14N of what we build must be exactly what we built, whatever the user typed."""
    data = doc(
        customer={**CUSTOMER_RUC, "name": name, "address": address},
        observations=observations,
        lines=[{"description": description, "quantity": "1", "unit_value": "10", "unit": unit}],
    )
    built = builder.build_document(data, 1, ISSUER, date(2024, 5, 2), time(9, 0))
    tree = etree.fromstring(built.xml)
    assert etree.tostring(tree, method="c14n") == built.xml
    cbc = "{urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2}"
    assert tree.findtext(f".//{cbc}Description") == description
    xml, _ = sign_canonical(built.xml, built.namespaces, credential())  # type: ignore[arg-type]
    assert verify(xml).valid


def test_escaped_texts_validate_and_verify_with_xmlsec1(tmp_path: Path) -> None:
    data = doc(
        customer={**CUSTOMER_RUC, "name": 'A&B <"SAC">\r\n\tÑ𝄞'},
        observations="x]]>y & z\r",
        lines=[{"description": "tab\there & <there>", "quantity": "1", "unit_value": "10"}],
    )
    built = builder.build_document(data, 1, ISSUER, date(2024, 5, 2), time(9, 0))
    xml, _ = sign_canonical(built.xml, built.namespaces, credential())  # type: ignore[arg-type]
    path = tmp_path / "escaped.xml"
    path.write_bytes(xml)
    root = etree.fromstring(xml)
    assert schema("2.1", "Invoice").validate(root), schema("2.1", "Invoice").error_log
    assert _xmlsec_verify(path, tmp_path).returncode == 0
    assert verify(xml).valid


def test_text_with_control_characters_is_refused() -> None:
    with pytest.raises(ValueError, match="no permitido en XML"):
        builder.build_document(doc(observations="campana\x07"), 1, ISSUER, date(2024, 5, 2), time(9, 0))


def test_signing_a_tree_gives_the_same_bytes_as_signing_the_canonical_form() -> None:
    """`sign` (lxml trees: CDRs, re-signed documents) and `sign_canonical` are one signature: PKCS#1 v1.5
    is deterministic, so the same document signs to the same bytes either way."""
    factura = DocumentIn.model_validate(SAMPLES["factura"])
    built = builder.build_document(factura, 3, ISSUER, date(2024, 5, 2), time(9, 0))
    from_tree = sign(etree.fromstring(built.xml), credential())  # type: ignore[arg-type]
    assert from_tree == sign_canonical(built.xml, built.namespaces, credential())  # type: ignore[arg-type]
    without_ds = etree.fromstring(
        etree.tostring(etree.fromstring(built.xml)).replace(b' xmlns:ds="http://www.w3.org/2000/09/xmldsig#"', b"")
    )
    xml, _ = sign(without_ds, credential())  # type: ignore[arg-type]
    assert b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"' in xml and verify(xml).valid
