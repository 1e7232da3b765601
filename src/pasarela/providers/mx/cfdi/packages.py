"""SAT package ZIPs: one ``<UUID>.xml`` per CFDI, or ``*.txt`` metadata (plus ``_tercero.txt``).

Junk that the SAT (or a Mac) leaves in packages is skipped: ``__MACOSX/`` and dot files, empty
entries, entries with another extension, and entries whose content is not what the name says.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pasarela.providers.mx.cfdi.metadata import MetadataError, file_kind, iter_metadata, parse_terceros

ZIP64_ENTRIES = 65_535


class PackageError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def open_package(path_or_file) -> zipfile.ZipFile:  # type: ignore[no-untyped-def]
    try:
        return zipfile.ZipFile(path_or_file)
    except (zipfile.BadZipFile, OSError) as exc:
        raise PackageError(f"paquete ZIP ilegible: {exc}") from exc


def _usable(info: zipfile.ZipInfo, suffix: str) -> bool:
    return usable_name(info.filename, info.file_size, suffix)


def usable_name(filename: str, file_size: int, suffix: str) -> bool:
    # Plain string tests: this runs for every entry of packages with tens of thousands of them.
    if filename.endswith("/") or file_size == 0:
        return False
    parts = filename.split("/")
    if "__MACOSX" in parts or parts[-1].startswith("."):
        return False
    return parts[-1].lower().endswith(suffix)


def entry_count(path: str) -> int:
    """Entries in a ZIP from its end-of-central-directory record alone (cheap: no directory read).
    Unreadable or ZIP64 archives count as large; opening them later reports the real problem."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(0, size - 65_557))
            tail = fh.read()
    except OSError:
        return ZIP64_ENTRIES
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 12 > len(tail):
        return ZIP64_ENTRIES
    count = int.from_bytes(tail[at + 10:at + 12], "little")
    return ZIP64_ENTRIES if count == 0xFFFF else count


def looks_like_xml(data: bytes) -> bool:
    return data[:64].lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def xml_entry_names(zf: zipfile.ZipFile) -> list[str]:
    return [info.filename for info in zf.infolist() if _usable(info, ".xml")]


def iter_xml_entries(zf: zipfile.ZipFile, names: list[str] | None = None) -> Iterator[tuple[str, bytes]]:
    """(entry name, bytes) of every entry that may be a CFDI; non-XML content is skipped."""
    for name in names if names is not None else xml_entry_names(zf):
        data = zf.read(name)
        if looks_like_xml(data):
            yield name, data


@dataclass
class MetadataPackage:
    rows: list[tuple[str, ...]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (entry name, reason)


def read_metadata_package(zf: zipfile.ZipFile) -> MetadataPackage:
    """Every metadata row of the package, joined with the ``_tercero`` file on UUID."""
    package = MetadataPackage()
    for rows in iter_metadata_package(zf, package):
        package.rows.extend(rows)
    return package


def iter_metadata_package(zf: zipfile.ZipFile, package: MetadataPackage, chunk_rows: int = 20_000,
                          for_store: bool = False) -> Iterator[list[tuple[Any, ...]]]:
    """The package's metadata rows in lists of ``chunk_rows`` as they are parsed; files read and
    errors are recorded in ``package`` (its ``rows`` stay empty). ``for_store``: see ``iter_metadata``."""
    names = [info.filename for info in zf.infolist() if _usable(info, ".txt")]
    kinds = {name: file_kind(_head(zf, name)) for name in names}
    terceros: dict[str, tuple[str, str]] = {}
    for name, kind in kinds.items():
        if kind == "terceros":
            with zf.open(name) as fh:
                terceros.update(parse_terceros(fh))
    for name, kind in kinds.items():
        if kind != "metadata":
            continue
        errors: list[str] = []
        chunk: list[tuple[Any, ...]] = []
        # Inflated as it is parsed: the first rows go out at once and the file is never whole in
        # memory. A damaged entry (bad CRC) is only found at its end, after its rows went out.
        with zf.open(name) as fh:
            try:
                for row in iter_metadata(fh, errors, terceros, for_store):
                    chunk.append(row)
                    if len(chunk) >= chunk_rows:
                        yield chunk
                        chunk = []
            except MetadataError as exc:
                package.errors.append((name, exc.reason))
                continue
        if chunk:
            yield chunk
        package.files.append(name)
        package.errors.extend((name, reason) for reason in errors)


def _head(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as fh:
        return fh.read(200)
