"""Enveloped XMLDSig as SUNAT and the OSEs accept it (reference §7): inclusive C14N 1.0, RSA-SHA1,
SHA-1 digest, one enveloped-signature transform, X509Certificate, placed in the empty
ext:ExtensionContent. Written on cryptography (and lxml for verifying) because signxml refuses SHA-1
since 3.1 and a direct implementation is several times faster (bench/ubl_sign): documents arrive in
canonical form (canonical.py), so signing is one SHA-1, one small SignedInfo and one RSA operation."""

from __future__ import annotations

import base64
import copy
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from lxml import etree

from pasarela.core.xml import parse_xml
from pasarela.providers.pe.ubl.canonical import CanonicalWriter

DS = "http://www.w3.org/2000/09/xmldsig#"
EXT = "urn:oasis:names:specification:ubl:schema:xsd:CommonExtensionComponents-2"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
C14N_COMMENTS = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
SHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
# What we accept when verifying (CDRs are signed with SHA-256/512 by SUNAT).
SIGNATURE_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    RSA_SHA1: hashes.SHA1,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": hashes.SHA256,
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": hashes.SHA512,
}
DIGESTS = {
    SHA1: hashlib.sha1,
    "http://www.w3.org/2001/04/xmlenc#sha256": hashlib.sha256,
    "http://www.w3.org/2001/04/xmlenc#sha512": hashlib.sha512,
}
SIGNATURE_ELEMENT_ID = "SignPasarela"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'


class SigningError(ValueError):
    pass


@dataclass
class Credential:
    """The issuer's signing key and certificate."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @cached_property  # the same for every document we sign
    def cert_b64(self) -> str:
        return base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode()


def load_credential(path: Path, password: str | None) -> Credential:
    """A PKCS#12 (.pfx/.p12) or a PEM holding the private key and the certificate."""
    data = path.read_bytes()
    secret = password.encode() if password else None
    try:
        if path.suffix.lower() in (".pfx", ".p12"):
            key, cert, _ = pkcs12.load_key_and_certificates(data, secret)
        else:
            key = serialization.load_pem_private_key(data, secret)
            cert = x509.load_pem_x509_certificate(data)
    except (ValueError, TypeError):
        raise SigningError(
            f"no se pudo abrir el certificado {path.name}: contraseña incorrecta o formato no soportado"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
        raise SigningError(f"el certificado {path.name} no contiene una clave RSA y su certificado")
    return Credential(key, cert)


def generate_test_credential(path: Path, ruc: str, name: str) -> Credential:
    """A self-signed RSA-2048 certificate for simulator/test mode (SUNAT beta accepts self-signed)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "PE"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, name[:64] or "PASARELA"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"RUC {ruc}"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"PASARELA CERTIFICADO DE PRUEBA {ruc}"),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pem + cert.public_bytes(serialization.Encoding.PEM))
    tmp.chmod(0o600)
    tmp.replace(path)
    return Credential(key, cert)


def _c14n(node: Any) -> bytes:
    return etree.tostring(node, method="c14n", exclusive=False, with_comments=False)


def _signed_info(digest_b64: str, namespaces: Mapping[str | None, str]) -> bytes:
    """ds:SignedInfo declaring `namespaces`. With the namespaces in scope where the signature goes, this
    is exactly the C14N of SignedInfo that verifiers compute (an inclusive-C14N subset renders every
    in-scope namespace on its apex); with none, it is the form we write inside the document."""
    head, tail = _signed_info_around_digest(tuple(namespaces.items()))
    return head + digest_b64.encode() + tail


@lru_cache(maxsize=32)
def _signed_info_around_digest(namespaces: tuple[tuple[str | None, str], ...]) -> tuple[bytes, bytes]:
    """SignedInfo before and after its DigestValue, the only part that changes between documents."""
    slot = "{digest}"
    w = CanonicalWriter("ds:SignedInfo", dict(namespaces))
    w.leaf("ds:CanonicalizationMethod", Algorithm=C14N)
    w.leaf("ds:SignatureMethod", Algorithm=RSA_SHA1)
    with w.open("ds:Reference", URI=""):
        with w.open("ds:Transforms"):
            w.leaf("ds:Transform", Algorithm=ENVELOPED)
        w.leaf("ds:DigestMethod", Algorithm=SHA1)
        w.leaf("ds:DigestValue", slot)
    head, tail = w.finish().split(slot.encode())
    return head, tail


def _empty_holder(canonical: bytes, namespaces: Mapping[str | None, str]) -> bytes:
    """The one empty ext:ExtensionContent the signature goes into, as it appears in the bytes."""
    tags = [
        f"{prefix}:ExtensionContent" if prefix else "ExtensionContent"
        for prefix, uri in namespaces.items()
        if uri == EXT
    ]
    found = [f"<{tag}></{tag}>".encode() for tag in tags if f"<{tag}></{tag}>".encode() in canonical]
    if len(found) != 1 or canonical.count(found[0]) != 1:
        raise SigningError("el documento no tiene un ext:ExtensionContent vacío para la firma")
    return found[0]


def sign_canonical(canonical: bytes, namespaces: Mapping[str | None, str], credential: Credential) -> tuple[bytes, str]:
    """Sign a document given as its C14N bytes; `namespaces` are those in scope at its empty
    ext:ExtensionContent. Returns (the exact bytes to zip, DigestValue).

    The enveloped transform removes the Signature again, so the digest is that of the canonical bytes
    before it is inserted, and SignedInfo's C14N is written directly: no tree, no re-serialisation."""
    holder = _empty_holder(canonical, namespaces)
    if namespaces.get("ds", DS) != DS:
        raise SigningError("el prefijo ds ya está en uso con otro espacio de nombres")
    digest_b64 = base64.b64encode(hashlib.sha1(canonical).digest()).decode()
    signed_info = _signed_info(digest_b64, {**namespaces, "ds": DS})
    signature = credential.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA1())
    signature_b64 = base64.b64encode(signature).decode()
    declare_ds = f' xmlns:ds="{DS}"' if "ds" not in namespaces else ""
    element = (
        f'<ds:Signature{declare_ds} Id="{SIGNATURE_ELEMENT_ID}">'.encode()
        + _signed_info(digest_b64, {})
        + (
            f"<ds:SignatureValue>{signature_b64}</ds:SignatureValue>"
            f"<ds:KeyInfo><ds:X509Data><ds:X509Certificate>{credential.cert_b64}</ds:X509Certificate>"
            "</ds:X509Data></ds:KeyInfo></ds:Signature>"
        ).encode()
    )
    filled = holder.replace(b"></", b">" + element + b"</", 1)
    return XML_DECLARATION + canonical.replace(holder, filled, 1), digest_b64


def sign(root: Any, credential: Credential) -> tuple[bytes, str]:
    """Sign an lxml tree (CDRs in the simulator, re-signed documents in tests): its C14N, signed by
    `sign_canonical`. The tree itself is left unsigned."""
    holder = root.find(f"{{{EXT}}}UBLExtensions/{{{EXT}}}UBLExtension/{{{EXT}}}ExtensionContent")
    if holder is None or len(holder) or (holder.text or "").strip():
        raise SigningError("el documento no tiene un ext:ExtensionContent vacío para la firma")
    holder.text = None
    return sign_canonical(_c14n(root.getroottree()), holder.nsmap, credential)


@dataclass
class Verification:
    valid: bool
    reason: str = ""
    digest_value: str = ""
    certificate: x509.Certificate | None = None


def _fail(reason: str) -> Verification:
    return Verification(False, reason)


def verify(xml: bytes) -> Verification:
    """Check an enveloped signature against the certificate it carries (not a trust decision)."""
    try:
        root = parse_xml(xml)
    except ValueError as exc:
        return _fail(str(exc))
    ns = {"ds": DS}
    sig = root.find(".//ds:Signature", ns)
    if sig is None:
        return _fail("el documento no está firmado (no hay ds:Signature)")
    signed_info = sig.find("ds:SignedInfo", ns)
    if signed_info is None:
        return _fail("ds:SignedInfo ausente")
    c14n_alg = signed_info.find("ds:CanonicalizationMethod", ns)
    method = signed_info.find("ds:SignatureMethod", ns)
    refs = signed_info.findall("ds:Reference", ns)
    if c14n_alg is None or c14n_alg.get("Algorithm") not in (C14N, C14N_COMMENTS):
        return _fail("CanonicalizationMethod no soportado")
    if method is None or method.get("Algorithm") not in SIGNATURE_HASHES:
        return _fail("SignatureMethod no soportado")
    if len(refs) != 1 or refs[0].get("URI") != "":
        return _fail('se espera una sola ds:Reference con URI=""')
    transforms = [t.get("Algorithm") for t in refs[0].findall("ds:Transforms/ds:Transform", ns)]
    if ENVELOPED not in transforms or any(t not in (ENVELOPED, C14N, C14N_COMMENTS) for t in transforms):
        return _fail(f"transformaciones no soportadas: {transforms}")
    digest_method = refs[0].find("ds:DigestMethod", ns)
    digest_text = (refs[0].findtext("ds:DigestValue", namespaces=ns) or "").strip()
    if digest_method is None or digest_method.get("Algorithm") not in DIGESTS:
        return _fail("DigestMethod no soportado")
    cert_text = "".join((sig.findtext(".//ds:X509Certificate", namespaces=ns) or "").split())
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(cert_text))
        signature_value = base64.b64decode("".join((sig.findtext("ds:SignatureValue", namespaces=ns) or "").split()))
    except ValueError:
        return _fail("certificado X509 o SignatureValue ilegible")
    with_comments = c14n_alg.get("Algorithm") == C14N_COMMENTS
    signed_bytes = etree.tostring(signed_info, method="c14n", exclusive=False, with_comments=with_comments)
    public_key = cert.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        return _fail("el certificado no tiene clave RSA")
    try:
        public_key.verify(
            signature_value, signed_bytes, padding.PKCS1v15(), SIGNATURE_HASHES[method.get("Algorithm")]()
        )
    except InvalidSignature:
        return Verification(False, "la firma (SignatureValue) no corresponde a SignedInfo", digest_text, cert)
    if _document_digest(root, digest_method.get("Algorithm")) != digest_text:
        return Verification(
            False, "el DigestValue no corresponde al documento: fue alterado después de firmar", digest_text, cert
        )
    return Verification(True, "", digest_text, cert)


def _document_digest(root: Any, algorithm: str) -> str:
    doc = copy.deepcopy(root)
    sig = doc.find(f".//{{{DS}}}Signature")
    parent = sig.getparent()
    previous = sig.getprevious()
    if sig.tail:  # removing an lxml element drops its tail text; the transform keeps it
        if previous is not None:
            previous.tail = (previous.tail or "") + sig.tail
        else:
            parent.text = (parent.text or "") + sig.tail
    parent.remove(sig)
    return base64.b64encode(DIGESTS[algorithm](_c14n(doc.getroottree())).digest()).decode()
