"""SAT metadata files: ``~`` separated, ``|`` as quote character, CRLF records whose names may
hold a bare LF, and the ``_tercero`` file (mexico.md §3.5).

The header names the columns, so we map by name (case-insensitively) rather than by position.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pasarela.providers.mx.cfdi.parser import normalize_uuid

METADATA_HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)
TERCEROS_HEADER = "Uuid~RfcACuentaTerceros~NombreACuentaTerceros"
ESTATUS = {"1": "vigente", "0": "cancelado"}

# Index columns a metadata row fills, in storage order.
METADATA_FIELDS = (
    "uuid", "emisor_rfc", "emisor_nombre", "receptor_rfc", "receptor_nombre", "pac_rfc",
    "fecha_emision", "fecha_certificacion", "monto", "efecto", "estado", "fecha_cancelacion",
    "rfc_a_cuenta_terceros", "nombre_a_cuenta_terceros",
)
_SOURCE_COLUMNS = (
    "uuid", "rfcemisor", "nombreemisor", "rfcreceptor", "nombrereceptor", "rfcpac",
    "fechaemision", "fechacertificacionsat", "monto", "efectocomprobante", "estatus", "fechacancelacion",
)


class MetadataError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class MetadataFile:
    rows: list[tuple[str, ...]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_records(text: str, crlf: bool | None = None) -> list[str]:
    """CRLF ends a record; a bare LF (or CR) inside a record (a name broken in two) is removed.
    Files with LF-only line ends (seen in older packages) split on LF. ``crlf`` says which kind of
    file ``text`` is a piece of (by default: this text alone decides)."""
    count = text.count("\r\n")
    if crlf if crlf is not None else count:
        lines = text.split("\r\n")
        if text.count("\n") == count and text.count("\r") == count:
            return lines  # the usual file: nothing stray to clean
        return [line.replace("\n", "").replace("\r", "") if ("\n" in line or "\r" in line) else line
                for line in lines]
    if "\r" not in text:
        return text.split("\n")
    return [line.rstrip("\r") for line in text.split("\n")]


# Metadata files reach 1,000,000 rows (≈ 250 MB): decoded and split a piece at a time.
PIECE_BYTES = 4 << 20


def iter_lines(data: bytes, piece_bytes: int = PIECE_BYTES) -> Iterator[str]:
    """The file's records, as ``split_records`` of the whole decoded file would give them, cut in
    pieces that end on a record separator (so peak memory is one piece, not the file)."""
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    crlf = data.find(b"\r\n", start) >= 0
    separator = b"\r\n" if crlf else b"\n"
    while start < len(data):
        cut = data.find(separator, min(start + piece_bytes, len(data)))
        end = len(data) if cut < 0 else cut + len(separator)
        lines = split_records(decode(data[start:end]), crlf)
        if end < len(data):
            lines.pop()  # the empty text after the piece's final separator
        yield from lines
        start = end


def split_fields(line: str) -> list[str]:
    """``~`` separated; ``|`` quotes a field holding ``~`` (csv semantics, only paid when present)."""
    if "|" not in line:
        return line.split("~")
    return next(csv.reader([line], delimiter="~", quotechar="|"), [])


def file_kind(data: bytes) -> str:
    """'metadata', 'terceros' or '' (not a metadata file: junk in the package)."""
    head = decode(data[:200]).lstrip().split("\n", 1)[0].strip().lower()
    if head.startswith(TERCEROS_HEADER.lower()):
        return "terceros"
    if head.startswith("uuid~"):
        return "metadata"
    return ""


def _records(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every line that holds something besides separators and blanks."""
    for number, line in enumerate(lines, start=1):
        if line.strip("~ \t"):
            fields = split_fields(line)
            if "|" not in line or any(f.strip() for f in fields):  # ``||~||`` is blank too
                yield number, fields


def parse_metadata(data: bytes, terceros: dict[str, tuple[str, str]] | None = None) -> MetadataFile:
    """Rows in ``METADATA_FIELDS`` order; a bad line is reported, never stops the file."""
    out = MetadataFile()
    out.rows.extend(iter_metadata(data, out.errors, terceros))
    return out


def iter_metadata(data: bytes, errors: list[str], terceros: dict[str, tuple[str, str]] | None = None,
                  for_store: bool = False) -> Iterator[tuple[Any, ...]]:
    """``parse_metadata``'s rows one by one (bad lines appended to ``errors``). ``MetadataError``
    (not a metadata file at all) is raised before the first row. ``for_store``: each row already
    as the store's upsert binds it (``store_values``), built once instead of twice."""
    records = _records(iter_lines(data))
    try:
        _, header = next(records)
    except StopIteration:
        raise MetadataError("archivo de metadatos vacío") from None
    names = [h.strip().lower() for h in header]
    if "uuid" not in names:
        raise MetadataError("encabezado sin columna Uuid: no es un archivo de metadatos")
    index = [names.index(c) if c in names else -1 for c in _SOURCE_COLUMNS]
    width = len(names)
    terceros = terceros or {}
    no_tercero = ("", "")
    # The SAT's own column order (the usual case) maps field i to column i: no reordering.
    in_order = index == list(range(len(_SOURCE_COLUMNS)))
    for number, fields in records:
        if len(fields) != width:
            errors.append(f"línea {number}: {len(fields)} campos, se esperaban {width}")
            continue
        (uuid, rfc_emisor, emisor, rfc_receptor, receptor, rfc_pac, emision, certificacion, monto, efecto,
         estatus, cancelacion) = map(str.strip, fields[:12] if in_order else
                                     [fields[i] if i >= 0 else "" for i in index])
        upper = uuid.upper()
        if len(upper) != 36:
            errors.append(f"línea {number}: UUID inválido {uuid!r}")
            continue
        if for_store:
            amount = monto or None
            yield (upper, rfc_emisor.upper(), emisor, rfc_receptor.upper(), receptor, rfc_pac.upper(),
                   emision, certificacion, amount, efecto, ESTATUS.get(estatus, estatus), cancelacion,
                   *terceros.get(upper, no_tercero), amount, efecto, 1)
            continue
        yield (upper, rfc_emisor.upper(), emisor, rfc_receptor.upper(), receptor, rfc_pac.upper(),
               emision, certificacion, monto, efecto, ESTATUS.get(estatus, estatus), cancelacion,
               *terceros.get(upper, no_tercero))


def store_values(row: tuple[str, ...]) -> tuple[Any, ...]:
    """A metadata row (``METADATA_FIELDS``) as the store's upsert binds it: + total, tipo, has_metadata.
    The SAT's Monto is the total; its EfectoComprobante is the type."""
    monto = row[8] or None
    return (*row[:8], monto, *row[9:], monto, row[9], 1)


def parse_terceros(data: bytes) -> dict[str, tuple[str, str]]:
    """``_tercero`` file → {UUID (upper-case): (RfcACuentaTerceros, NombreACuentaTerceros)}."""
    found: dict[str, tuple[str, str]] = {}
    records = _records(iter_lines(data))
    next(records, None)
    for _, fields in records:
        if len(fields) >= 3:
            found[normalize_uuid(fields[0])] = (fields[1].strip().upper(), fields[2].strip())
    return found
