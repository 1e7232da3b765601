"""SAT metadata files: ``~`` separated, ``|`` as quote character, CRLF records whose names may
hold a bare LF, and the ``_tercero`` file (mexico.md §3.5).

The header names the columns, so we map by name (case-insensitively) rather than by position.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
from codecs import BOM_UTF8 as BOM
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pasarela.providers.mx.cfdi.parser import normalize_uuid

METADATA_HEADER = (
    "Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~"
    "FechaCertificacionSat~Monto~EfectoComprobante~Estatus~FechaCancelacion"
)
TERCEROS_HEADER = "Uuid~RfcACuentaTerceros~NombreACuentaTerceros"
ESTATUS = {"1": "vigente", "0": "cancelado"}

# Lines over which repeated RFCs and names are kept as one object each (``iter_metadata``).
SHARED_LINES = 20_000

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
    data = data.removeprefix(BOM)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def split_records(text: str, crlf: bool | None = None) -> list[str]:
    """CRLF ends a record; a bare LF (or CR) inside a record (a name broken in two) is removed.
    Files with LF-only line ends (seen in older packages) split on LF. ``crlf`` says which kind of
    file ``text`` is a piece of (by default: this text alone decides)."""
    if crlf if crlf is not None else "\r\n" in text:
        lines = text.split("\r\n")
        count = len(lines) - 1
        if text.count("\n") == count and text.count("\r") == count:
            return lines  # the usual file: nothing stray to clean
        return [line.replace("\n", "").replace("\r", "") if ("\n" in line or "\r" in line) else line
                for line in lines]
    if "\r" not in text:
        return text.split("\n")
    return [line.rstrip("\r") for line in text.split("\n")]


# Metadata files reach 1,000,000 rows (≈ 250 MB): read, decoded and split a piece at a time.
PIECE_BYTES = 4 << 20
READ_BYTES = 1 << 20


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def iter_lines(data: bytes | Readable, piece_bytes: int = PIECE_BYTES) -> Iterator[str]:
    """The file's records, as ``split_records`` of the whole decoded file would give them, cut in
    pieces that end on a record separator (so peak memory is one piece, not the file). ``data``:
    the file's bytes, or a file object (e.g. a ZIP entry) read as the pieces are needed."""
    for piece, crlf, last in _pieces(io.BytesIO(data) if isinstance(data, bytes) else data, piece_bytes):
        lines = split_records(decode(piece), crlf)
        if not last:
            lines.pop()  # the empty text after the piece's final separator
        yield from lines


def _pieces(source: Readable, piece_bytes: int) -> Iterator[tuple[bytes, bool, bool]]:
    """(piece, CRLF file?, last piece?): each piece runs to the first separator starting at least
    ``piece_bytes`` into it, or to the end of the file."""
    reader = _Reader(source)
    reader.fill(len(BOM))
    if reader.buffer.startswith(BOM):
        del reader.buffer[:len(BOM)]
    # One CRLF anywhere makes it a CRLF file: a file without any is read whole before its first piece.
    crlf = reader.find(b"\r\n", 0) >= 0
    separator = b"\r\n" if crlf else b"\n"
    while reader.buffer:
        cut = reader.find(separator, piece_bytes) if reader.fill(piece_bytes) else -1
        end = len(reader.buffer) if cut < 0 else cut + len(separator)
        last = end == len(reader.buffer) and not reader.fill(end + 1)
        piece = bytes(reader.buffer[:end])
        del reader.buffer[:end]
        yield piece, crlf, last


class _Reader:
    """The unread part of a file, read forward in blocks as far as a search needs."""

    def __init__(self, source: Readable):
        self.source = source
        self.buffer = bytearray()
        self.ended = False

    def fill(self, size: int) -> bool:
        """Read until the buffer holds ``size`` bytes; False when the file ends first."""
        while len(self.buffer) < size:
            if self.ended:
                return False
            block = self.source.read(READ_BYTES)
            if block:
                self.buffer += block
            else:
                self.ended = True
        return True

    def find(self, separator: bytes, start: int) -> int:
        """``separator``'s first place at or after ``start``, reading on as far as it takes (-1:
        nowhere before the end of the file)."""
        searched = start
        while (at := self.buffer.find(separator, searched)) < 0:
            searched = max(start, len(self.buffer) - len(separator) + 1)
            if not self.fill(len(self.buffer) + 1):
                return -1
        return at


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
        if "|" not in line:
            if line.lstrip("~ \t"):  # lstrip: a usual line has nothing to strip there, no copy is made
                yield number, line.split("~")
        elif line.lstrip("~ \t"):
            fields = split_fields(line)
            if any(f.strip() for f in fields):  # ``||~||`` is blank too
                yield number, fields


def parse_metadata(data: bytes, terceros: dict[str, tuple[str, str]] | None = None) -> MetadataFile:
    """Rows in ``METADATA_FIELDS`` order; a bad line is reported, never stops the file."""
    out = MetadataFile()
    out.rows.extend(iter_metadata(data, out.errors, terceros))
    return out


def iter_metadata(data: bytes | Readable, errors: list[str], terceros: dict[str, tuple[str, str]] | None = None,
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
    whole = in_order and width == len(_SOURCE_COLUMNS)
    rfcs, party_names = _UpperCase(), _Shared()
    for number, fields in records:
        if number % SHARED_LINES == 0:
            rfcs.clear()  # bounded, whatever the variety of names
            party_names.clear()
        if len(fields) != width:
            errors.append(f"línea {number}: {len(fields)} campos, se esperaban {width}")
            continue
        (uuid, rfc_emisor, emisor, rfc_receptor, receptor, rfc_pac, emision, certificacion, monto, efecto,
         estatus, cancelacion) = map(str.strip, fields if whole else fields[:12] if in_order else
                                     [fields[i] if i >= 0 else "" for i in index])
        upper = uuid.upper()
        if len(upper) != 36:
            errors.append(f"línea {number}: UUID inválido {uuid!r}")
            continue
        yield (upper, rfcs[rfc_emisor], party_names[emisor], rfcs[rfc_receptor], party_names[receptor],
               rfcs[rfc_pac], emision, certificacion, (monto or None) if for_store else monto, efecto,
               ESTATUS.get(estatus, estatus), cancelacion, *terceros.get(upper, no_tercero))


# RFCs and names repeat from row to row: kept as one object each, which marshal then sends once per
# chunk (and the parent builds once).
class _UpperCase(dict[str, str]):
    """RFC → the same RFC upper-case, computed once."""

    def __missing__(self, key: str) -> str:
        value = self[key] = key.upper()
        return value


class _Shared(dict[str, str]):
    """A name → one object holding it."""

    def __missing__(self, key: str) -> str:
        self[key] = key
        return key


def store_values(row: tuple[str, ...]) -> tuple[Any, ...]:
    """A metadata row (``METADATA_FIELDS``) as the store's upsert binds it: an empty Monto is NULL."""
    return (*row[:8], row[8] or None, *row[9:])


def in_uuid_order(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """``rows`` (``METADATA_FIELDS`` each) sorted in place by UUID, the rows of one UUID kept in
    file order (the sort is stable). The store's UUID index then takes them in order: SAT UUIDs
    are random, and a random b-tree descent per row costs more than this sort."""
    rows.sort(key=operator.itemgetter(0))
    return rows


def grouped_values(rows: list[tuple[Any, ...]], per_group: int) -> list[tuple[Any, ...]]:
    """``rows`` cut in groups of ``per_group`` (the last maybe shorter), each group's values in one
    tuple, row after row: what an INSERT of that many rows binds."""
    return [tuple(itertools.chain.from_iterable(rows[at:at + per_group])) for at in range(0, len(rows), per_group)]


def parse_terceros(data: bytes | Readable) -> dict[str, tuple[str, str]]:
    """``_tercero`` file → {UUID (upper-case): (RfcACuentaTerceros, NombreACuentaTerceros)}."""
    found: dict[str, tuple[str, str]] = {}
    records = _records(iter_lines(data))
    next(records, None)
    for _, fields in records:
        if len(fields) >= 3:
            found[normalize_uuid(fields[0])] = (fields[1].strip().upper(), fields[2].strip())
    return found
