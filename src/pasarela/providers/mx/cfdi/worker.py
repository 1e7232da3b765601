"""The part of the CFDI ingest that runs in worker processes: read package entries, parse them,
return ready-to-insert rows and the XML's stored form.

Kept apart from ``store`` so that a worker process imports lxml and the parser only (no
SQLAlchemy): with the ``spawn`` start method every worker pays its imports once.
"""

from __future__ import annotations

import gc
import marshal
import os
import re
import struct
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import PurePosixPath
from typing import Any

import deflate

from pasarela.core.xml import MAX_XML_BYTES
from pasarela.providers.mx.cfdi.metadata import grouped_values, in_uuid_order
from pasarela.providers.mx.cfdi.packages import (
    MetadataPackage,
    PackageError,
    iter_metadata_package,
    looks_like_xml,
    open_package,
    usable_name,
    xml_entry_names,
)
from pasarela.providers.mx.cfdi.parser import XML_FIELDS, CfdiError, normalize_uuid, parse_cfdi

AMOUNT_FIELDS = {"subtotal", "descuento", "total", "tipo_cambio", "total_retenido", "total_trasladado",
                 "monto_pagado", "monto"}
UUID_RE = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


# Where an entry's XML lies in its package: offset of the raw deflate stream, its length, the
# inflated size and CRC-32. Appended to an index row when the store keeps packages (``located``).
LOCATION_COLUMNS = ("xml_offset", "xml_csize", "xml_size", "xml_crc")
NO_LOCATION = (None, None, None, None)


@dataclass
class Batch:
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    blobs: list[tuple[str, int, bytes]] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0
    located: bool = False  # rows end with LOCATION_COLUMNS; only unlocated entries have blobs


def _uuid_from_name(name: str) -> str:
    stem = PurePosixPath(name).name.split(".", 1)[0]
    return normalize_uuid(stem) if UUID_RE.match(stem) else ""


_XML_VALUES = itemgetter(*XML_FIELDS)
_AMOUNT_AT = tuple(i for i, name in enumerate(XML_FIELDS) if name in AMOUNT_FIELDS)


def record_row(record: dict[str, Any]) -> tuple[Any, ...]:
    """The record as the upsert binds it: amounts ``None`` when empty, then ``has_xml``."""
    values = [*_XML_VALUES(record), 1]
    for at in _AMOUNT_AT:
        if not values[at]:
            values[at] = None
    return tuple(values)


def compress(data: bytes) -> bytes:
    return b"Z" + zlib.compress(data, 1)


def parse_entries(entries: Iterable[tuple[str, bytes]], stored: dict[str, bytes] | None = None,
                  located: dict[str, tuple[int, int, int, int]] | None = None) -> Batch:
    """Parse (name, bytes) entries into index rows and compressed XML; bad files become errors.
    ``stored`` may hold each entry's already-compressed form (its deflate stream in the ZIP).
    ``located`` (the store keeps the package): each entry's place in it, added to its row; an
    entry without one (not deflated) still gets a blob."""
    batch = Batch(located=located is not None)
    for name, data in entries:
        try:
            record = parse_cfdi(data)
        except CfdiError as exc:
            batch.errors.append((name, exc.reason))
            continue
        if not record["uuid"]:
            record["uuid"] = _uuid_from_name(name)
            if not record["uuid"]:
                batch.errors.append((name, "sin TimbreFiscalDigital: no tiene UUID"))
                continue
        where = located.get(name, NO_LOCATION) if located is not None else None
        row = record_row(record)
        batch.rows.append(row + where if where is not None else row)
        if where is not None and where is not NO_LOCATION:
            continue  # the XML stays in the package
        blob = stored.get(name) if stored else None
        batch.blobs.append((record["uuid"], len(data), blob or compress(data)))
    return batch


# What a worker needs to read one entry without parsing the ZIP's central directory again:
# (name, local header offset, compressed size, size, CRC-32, compression method, flag bits).
EntryRef = tuple[str, int, int, int, int, int, int]


def entry_refs(path: str) -> list[EntryRef]:
    """The package's CFDI entries (those ``xml_entry_names`` keeps), described for
    ``parse_package_entries``. Reads the central directory with a tight loop of its own (zipfile
    builds a ZipInfo per entry: several times slower on packages of 10,000 entries); ZIP64 and
    anything unusual go through zipfile."""
    refs = _fast_directory(path)
    if refs is not None:
        return refs
    with open_package(path) as zf:
        wanted = set(xml_entry_names(zf))
        return [(i.filename, i.header_offset, i.compress_size, i.file_size, i.CRC, i.compress_type,
                 i.flag_bits) for i in zf.infolist() if i.filename in wanted]


_CENTRAL = struct.Struct("<4s6H3L5H2L")  # one central directory header, 46 bytes


def _fast_directory(path: str) -> list[EntryRef] | None:
    with open(path, "rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None
        count, cd_size, cd_offset = struct.unpack_from("<H2L", tail, at + 10)
        if count == 0xFFFF or cd_offset == 0xFFFFFFFF or cd_offset + cd_size > size:
            return None  # ZIP64
        fh.seek(cd_offset)
        directory = fh.read(cd_size)
    refs: list[EntryRef] = []
    pos = 0
    for _ in range(count):
        if pos + 46 > len(directory):
            return None
        (sig, _made, _need, flags, method, _time, _date, crc, compressed, file_size, name_len, extra_len,
         comment_len, _disk, _iattr, _eattr, offset) = _CENTRAL.unpack_from(directory, pos)
        if sig != b"PK\x01\x02" or 0xFFFFFFFF in (compressed, file_size, offset):
            return None
        raw_name = directory[pos + 46:pos + 46 + name_len]
        name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
        pos += 46 + name_len + extra_len + comment_len
        if usable_name(name, file_size, ".xml"):
            refs.append((name, offset, compressed, file_size, crc, method, flags))
    return refs


class _Source:
    """A package file held open by a worker process for positioned reads."""

    def __init__(self, zip_path: str):
        self.path = zip_path
        self.fd = os.open(zip_path, os.O_RDONLY)
        self.zf: zipfile.ZipFile | None = None  # only for entries we do not read ourselves

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.zf is not None:
            self.zf.close()
            self.zf = None

    __del__ = close  # a thread's last package closes with the thread

    def read(self, ref: EntryRef) -> tuple[bytes, bytes | None, int | None]:
        """(XML bytes, stored form, offset of the raw stream) of one entry. A deflated entry is
        inflated from its raw stream, read with one ``pread``; that raw stream is what we store
        (no recompression), or where it lies when the store keeps the package."""
        name, offset, compressed, size, crc, method, flags = ref
        if method != zipfile.ZIP_DEFLATED or flags & 0x1:  # stored, other codecs, encrypted
            if self.zf is None:
                self.zf = open_package(self.path)
            return self.zf.read(name), None, None
        buf = os.pread(self.fd, 30 + len(name.encode()) + 256 + compressed, offset)
        if buf[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile("cabecera local dañada")
        begin = 30 + int.from_bytes(buf[26:28], "little") + int.from_bytes(buf[28:30], "little")
        if begin + compressed > len(buf):
            buf = os.pread(self.fd, begin + compressed, offset)
        raw = buf[begin:begin + compressed]
        if size > MAX_XML_BYTES:  # libdeflate allocates the declared size: no bomb gets past it
            raise zipfile.BadZipFile(f"entrada de {size:,} bytes: excede el máximo de un XML")
        # libdeflate (python-deflate): 11 µs for a 6 kB CFDI, against 17 for ISA-L and 19 for zlib
        # (building each small stream's Huffman tables is most of it). Its output never exceeds
        # the declared size: a longer stream fails, a shorter one is caught below.
        try:
            data = bytes(deflate.deflate_decompress(raw, size))  # a bytearray; the parsers expect bytes
        except deflate.DeflateError:
            raise zipfile.BadZipFile("datos comprimidos dañados o más largos que el tamaño declarado") from None
        if len(data) != size:
            raise zipfile.BadZipFile(f"tamaño declarado {size:,}, inflado {len(data):,}: no coinciden")
        if deflate.crc32(data) != crc:
            raise zipfile.BadZipFile("CRC no coincide")
        return data, b"D" + raw, offset + begin


# The package a thread is reading, kept open between slices. Per thread: in-process ingests of two
# requests run side by side, and closing the other thread's file would hand its descriptor number
# to the next file opened.
_OPEN = threading.local()


def _source(zip_path: str) -> _Source:
    current: _Source | None = getattr(_OPEN, "source", None)
    if current is None or current.path != zip_path:
        if current is not None:
            current.close()
        current = _OPEN.source = _Source(zip_path)
    return current


def parse_package_entries(zip_path: str, refs: list[EntryRef], locate: bool = False) -> Batch:
    """Run in a worker process: read and parse some entries of a package into ready-to-insert
    rows plus the XML's stored form (``locate``: its place in the package, which the store
    keeps); an unreadable or bad entry is an error, never a stop."""
    source = _source(zip_path)
    entries: list[tuple[str, bytes]] = []
    stored: dict[str, bytes] = {}
    located: dict[str, tuple[int, int, int, int]] = {}
    batch = Batch()
    for ref in refs:
        name = ref[0]
        try:
            data, raw, at = source.read(ref)
        except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError, RuntimeError) as exc:
            batch.errors.append((name, f"entrada ZIP ilegible: {exc}"))
            continue
        if not looks_like_xml(data):
            batch.skipped += 1
            continue
        entries.append((name, data))
        if locate and at is not None:
            located[name] = (at, ref[2], ref[3], ref[4])
        elif raw is not None:
            stored[name] = raw
    parsed = parse_entries(entries, stored, located if locate else None)
    batch.rows, batch.blobs, batch.located = parsed.rows, parsed.blobs, parsed.located
    batch.errors.extend(parsed.errors)
    return batch


def pack_batch(batch: Batch) -> bytes:
    """A batch as one ``marshal`` blob: what a worker process sends back (pickling the same
    thousand tuples costs about twice as much, on each side)."""
    return marshal.dumps((batch.rows, batch.blobs, batch.errors, batch.skipped, batch.located))


def unpack_batch(packed: bytes) -> Batch:
    rows, blobs, errors, skipped, located = marshal.loads(packed)
    return Batch(rows, blobs, errors, skipped, located)


def parse_package_slice(zip_path: str, refs: list[EntryRef], locate: bool = False) -> bytes:
    """``parse_package_entries`` for a worker process: the batch packed."""
    return pack_batch(parse_package_entries(zip_path, refs, locate))


def metadata_chunks(zip_path: str, chunk_rows: int, packed: bool = False,
                    statement_rows: int = 1) -> Iterator[tuple[str, Any]]:
    """``("rows", [values…])`` as the package is parsed, then ``("summary", (files, errors))``; an
    unreadable package is ``("summary", ([], [(name, reason)]))``. A list's rows are in UUID order
    (``in_uuid_order``), each tuple of values holds ``statement_rows`` of them (``grouped_values``).
    ``packed`` (for a worker process): the list as one ``marshal`` blob, which costs half of
    pickling tuple by tuple."""
    package = MetadataPackage()
    with _collector_paused() if packed else nullcontext():
        try:
            with open_package(zip_path) as zf:
                for rows in iter_metadata_package(zf, package, chunk_rows, for_store=True):
                    groups = grouped_values(in_uuid_order(rows), statement_rows)
                    rows.clear()  # marshal then sees each value held once: no back-reference to track
                    yield "rows", marshal.dumps(groups) if packed else groups
        except (PackageError, zipfile.BadZipFile, zlib.error, OSError) as exc:
            package.errors.append((PurePosixPath(zip_path).name, getattr(exc, "reason", str(exc))))
    yield "summary", (package.files, package.errors)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """In a worker process only (it runs nothing else meanwhile): a chunk's rows are tens of
    thousands of tuples alive at once, which the cyclic collector walks again and again although
    tuples of strings hold no cycle (≈ 10 % of the metadata parse). Reference counting still frees
    everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# What a worker process (``procs``) may be asked to run.
TASKS: dict[str, Callable[..., Any]] = {
    "parse_package_entries": parse_package_entries,
    "parse_package_slice": parse_package_slice,
    "metadata_chunks": metadata_chunks,
}
