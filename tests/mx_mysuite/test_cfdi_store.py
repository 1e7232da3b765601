"""The CFDI store on SQLite and PostgreSQL: idempotent ingest, XML by UUID, merge with metadata."""

from __future__ import annotations

import io
import zipfile

from conftest import VECTORS
from pasarela.providers.mx.cfdi.store import CfdiStore
from pasarela.runtime import Runtime

ZIPS = VECTORS / "mx" / "descarga-masiva" / "zip"
CFDI = VECTORS / "mx" / "cfdi"


def _row(store: CfdiStore, uuid: str) -> dict:
    from sqlalchemy import text

    with store.db.engine.connect() as conn:
        return dict(conn.execute(text("SELECT * FROM mx_cfdi WHERE uuid = :u"), {"u": uuid}).one()._mapping)


def test_package_ingest_is_idempotent_and_keeps_xml(rt: Runtime) -> None:
    store = CfdiStore(rt.db)
    first = store.ingest_xml_package(ZIPS / "cfdi.zip")
    assert first.documents == 2  # two entries, the same UUID
    assert store.count() == 1
    again = store.ingest_xml_package(ZIPS / "cfdi.zip")
    assert again.documents == 2 and store.count() == 1
    assert store.xml("11111111-2222-3333-4444-000000000001") == (ZIPS / "cfdi.xml").read_bytes()


def test_metadata_and_xml_merge_on_uuid_in_either_order(rt: Runtime) -> None:
    store = CfdiStore(rt.db)
    uuid = "11111111-2222-3333-4444-000000000001"
    meta = ("Uuid~RfcEmisor~NombreEmisor~RfcReceptor~NombreReceptor~RfcPac~FechaEmision~FechaCertificacionSat~"
            "Monto~EfectoComprobante~Estatus~FechaCancelacion\r\n"
            f"{uuid.lower()}~AAA010101AAA~Empresa de Pruebas SA~E&Ñ831019M53~Exportadora~FIN1203015JA~"
            "2015-02-25 13:50:00~2019-07-24 11:58:36~40600.00~I~0~2019-08-01 10:00:00\r\n").encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("X_01.txt", meta)
    path = rt.settings.home / "meta.zip"
    path.write_bytes(buffer.getvalue())
    store.ingest_metadata_package(path)
    row = _row(store, uuid)
    assert (row["estado"], row["has_xml"], row["tipo"], float(row["total"])) == ("cancelado", 0, "I", 40600.0)
    store.ingest_xml_package(ZIPS / "cfdi.zip")
    row = _row(store, uuid)
    assert (row["estado"], row["fecha_cancelacion"]) == ("cancelado", "2019-08-01 10:00:00")
    assert (row["has_xml"], row["has_metadata"], row["version"], row["serie"], row["folio"]) == (1, 1, "3.2", "C", "38")
    assert row["receptor_nombre"] == "Exportadora de Ganado HOLSTEIN S.A."  # XML detail wins
    store.ingest_metadata_package(path)  # metadata again: status kept, detail kept
    row2 = _row(store, uuid)
    assert row2 == row


def test_bad_files_are_reported_and_never_stop_the_batch(rt: Runtime) -> None:
    store = CfdiStore(rt.db)
    good = (CFDI / "cfdi40" / "cfdv40-ejemplo-signed-tfd.xml").read_bytes()
    attack = (VECTORS / "xml-attacks" / "billion-laughs-1.xml").read_bytes()
    entries = [("a.xml", b"<cfdi:Comprobante"), ("bomb.xml", attack),
               ("no-uuid.xml", (CFDI / "cfdi40" / "cfdv40-min.xml").read_bytes()), ("good.xml", good)]
    report = store.ingest_xml_files(entries, "lote-1")
    assert report.documents == 1
    reasons = dict(report.errors)
    assert set(reasons) == {"a.xml", "bomb.xml", "no-uuid.xml"}
    assert "DTD" in reasons["bomb.xml"] and "UUID" in reasons["no-uuid.xml"]
    stored = {(e["entry"], e["source"]) for e in store.errors()}
    assert ("bomb.xml", "lote-1") in stored
    store.ingest_xml_files(entries, "lote-1")
    assert len(store.errors("lote-1")) == 3  # errors are idempotent too
