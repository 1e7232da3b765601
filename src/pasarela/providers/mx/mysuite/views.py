"""Read models shared by the CLI and the API."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from pasarela.providers.mx.mysuite.models import SatPackage, SatRequest
from pasarela.runtime import Runtime


def request_dict(row: SatRequest, packages: list[SatPackage] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": row.id, "document_id": row.document_id, "rfc": row.rfc, "servicio": row.servicio,
        "direccion": row.direccion, "tipo": row.tipo, "fecha_inicial": row.fecha_inicial,
        "fecha_final": row.fecha_final, "intento": row.attempt, "estado": row.state, "mysuite_id": row.mysuite_id,
        "codigo_sat": row.sat_code, "mensaje": row.message, "cfdis": row.cfdi_count,
        "paquetes": row.packages_total, "paquetes_ingestados": row.packages_done,
        "documentos_ingestados": row.docs_ingested, "errores": row.errors_count, "consultas": row.polls,
        "forzada": bool(row.forced), "creada": row.created_at.isoformat(), "actualizada": row.updated_at.isoformat(),
    }
    if packages is not None:
        data["archivos"] = [{"paquete": p.package_id, "estado": p.state, "bytes": p.size, "sha256": p.sha256,
                             "documentos": p.docs, "errores": p.errors, "mensaje": p.message} for p in packages]
    return data


def list_requests(rt: Runtime, *, state: str | None = None, ids: list[int] | None = None) -> list[dict[str, Any]]:
    query = select(SatRequest).order_by(SatRequest.fecha_inicial, SatRequest.id)
    if state:
        query = query.where(SatRequest.state == state)
    if ids is not None:
        query = query.where(SatRequest.id.in_(ids))
    with rt.db.transaction() as session:
        rows = session.scalars(query).all()
        packages: dict[int, list[SatPackage]] = {}
        if rows:
            for package in session.scalars(select(SatPackage).where(SatPackage.request_id.in_([r.id for r in rows]))):
                packages.setdefault(package.request_id, []).append(package)
        return [request_dict(r, packages.get(r.id, [])) for r in rows]
