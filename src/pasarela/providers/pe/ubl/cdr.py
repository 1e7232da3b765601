"""Reading CDRs (ApplicationResponse) and the ZIPs around them (reference §6). Never depends on
prefixes: SUNAT, OSEs and libraries use ar:, ns4: or a default namespace."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any

from pasarela.core.xml import parse_xml
from pasarela.providers.pe.ubl import codes

CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
AR = "urn:oasis:names:specification:ubl:schema:xsd:ApplicationResponse-2"
MAX_UNZIPPED = 20 * 1024 * 1024


class CdrError(ValueError):
    pass


@dataclass
class Cdr:
    code: int
    description: str
    reference_id: str
    notes: list[str] = field(default_factory=list)
    issue_date: str = ""
    document_hash: str = ""
    xml: bytes = b""
    file_name: str = ""

    @property
    def code_class(self) -> codes.CodeClass:
        return codes.classify(self.code)

    def note_codes(self) -> list[int]:
        out = []
        for note in self.notes:
            head = note.split("-", 1)[0].strip()
            if head.isdigit():
                out.append(int(head))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "cdr_code": f"{self.code:04d}" if self.code else "0",
            "cdr_description": self.description,
            "cdr_reference": self.reference_id,
            "cdr_notes": self.notes,
            "cdr_class": str(self.code_class),
        }


def first_xml_in_zip(data: bytes) -> tuple[str, bytes]:
    """The first .xml entry of a ZIP (SUNAT adds an empty `dummy` dir)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                if info.is_dir() or not info.filename.lower().endswith(".xml"):
                    continue
                if info.file_size > MAX_UNZIPPED:
                    raise CdrError(f"{info.filename}: demasiado grande ({info.file_size} bytes)")
                return info.filename.rsplit("/", 1)[-1], archive.read(info)
    except zipfile.BadZipFile as exc:
        raise CdrError(f"ZIP corrupto: {exc}") from exc
    raise CdrError("el ZIP no contiene ningún XML")


# Deflate level for the ZIPs we send: a signed factura is ~10 KB; level 1 makes it ~10 % bigger than
# level 6 (2.9 KB vs 2.65 KB) in about half the time (bench/ubl_sign).
ZIP_LEVEL = 1
_ZIP_DOS_DATE = (2020 - 1980) << 9 | 1 << 5 | 1  # 2020-01-01 00:00: fixed, so the same XML zips the same


def zip_one(name: str, content: bytes) -> bytes:
    """`name` (no extension) → ZIP holding `name.xml`, as SUNAT names it.

    Written by hand (PKWARE APPNOTE §4.3: local header, data, central directory, end record) because
    zipfile's per-archive bookkeeping cost as much as the compression itself for one small entry
    (bench/ubl_sign). tests/pe/test_pe_cdr.py checks the result with zipfile and Info-ZIP's unzip."""
    file_name = f"{name}.xml".encode()
    deflate = zlib.compressobj(ZIP_LEVEL, zlib.DEFLATED, -15)  # raw deflate stream, as ZIP stores it
    data = deflate.compress(content) + deflate.flush()
    # version needed 2.0, no flags, method 8 (deflate), time, date, CRC-32, sizes
    crc = zlib.crc32(content)
    common = struct.pack("<HHHHHIII", 20, 0, 8, 0, _ZIP_DOS_DATE, crc, len(data), len(content))
    local = b"PK\x03\x04" + common + struct.pack("<HH", len(file_name), 0) + file_name
    # made by Unix (3) / 2.0; no extra, comment, disk; internal attrs 0; external: a -rw-r--r-- regular file
    central = (
        b"PK\x01\x02"
        + struct.pack("<H", 3 << 8 | 20)
        + common
        + struct.pack("<HHHHHII", len(file_name), 0, 0, 0, 0, 0o100644 << 16, 0)
        + file_name
    )
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local) + len(data), 0)
    return local + data + central + end


def _text(element: Any, path: str) -> str:
    found = element.find(path, {"cbc": CBC, "cac": CAC})
    return (found.text or "").strip() if found is not None and found.text else ""


def read_cdr(data: bytes) -> Cdr:
    """A CDR from a ZIP or from the XML bytes (any encoding declared in the XML)."""
    name = ""
    if data[:2] == b"PK":
        name, data = first_xml_in_zip(data)
    try:
        root = parse_xml(data)
    except ValueError as exc:
        raise CdrError(f"CDR ilegible: {exc}") from exc
    if root.tag != f"{{{AR}}}ApplicationResponse":
        raise CdrError(f"no es un CDR (ApplicationResponse): raíz {root.tag}")
    response = root.find(f"{{{CAC}}}DocumentResponse/{{{CAC}}}Response")
    if response is None:
        raise CdrError("CDR sin cac:DocumentResponse/cac:Response")
    code_text = _text(response, "cbc:ResponseCode")
    if not code_text.isdigit():
        raise CdrError(f"CDR con ResponseCode inválido: {code_text!r}")
    notes = [(n.text or "").strip() for n in root.findall(f"{{{CBC}}}Note") if (n.text or "").strip()]
    doc_ref = root.find(f"{{{CAC}}}DocumentResponse/{{{CAC}}}DocumentReference")
    return Cdr(
        code=int(code_text),
        description=_text(response, "cbc:Description"),
        reference_id=_text(response, "cbc:ReferenceID"),
        notes=notes,
        issue_date=_text(root, "cbc:IssueDate"),
        document_hash=_text(doc_ref, "cac:Attachment/cac:ExternalReference/cbc:DocumentHash")
        if doc_ref is not None
        else "",
        xml=data,
        file_name=name,
    )
