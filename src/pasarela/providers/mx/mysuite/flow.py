"""Ledger glue: register a planned request (once), follow it until the SAT answers, download every
package and ingest it. Each step is recorded before the next, so a killed process resumes where it
stopped and never repeats a registration nor duplicates a CFDI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pasarela.core.errors import ProviderError, SurelyNotSent
from pasarela.core.outcomes import CallResult, Outcome
from pasarela.flow import RetryJob, Submitter, follow_up, run_submission
from pasarela.ledger import service
from pasarela.ledger.models import Document, Job
from pasarela.providers.mx.cfdi.store import CfdiStore, IngestReport
from pasarela.providers.mx.mysuite import transactions as tx
from pasarela.providers.mx.mysuite.client import Fiel, MySuiteClient
from pasarela.providers.mx.mysuite.config import MySuiteConfig, load
from pasarela.providers.mx.mysuite.models import SatPackage, SatRequest
from pasarela.providers.mx.mysuite.planner import JOB_FOLLOW, TERMINAL
from pasarela.providers.mx.mysuite.urls import ENDPOINTS
from pasarela.runtime import Runtime

SAT_STATES = {tx.ESTADO_ACCEPTED: "accepted", tx.ESTADO_IN_PROGRESS: "in_progress"}


def open_store(rt: Runtime, **options: Any) -> CfdiStore:
    """The CFDI store of this installation: its index in the ledger database, the SAT packages it
    keeps (the XML inside them) under the artifacts folder."""
    return CfdiStore(rt.db, packages_dir=rt.artifacts_dir / "mx" / "cfdi" / "paquetes", **options)


def make_client(rt: Runtime, document_id: int | None = None) -> MySuiteClient:
    conf = load(rt.settings)
    cer, key = conf.fiel_paths()
    fiel = Fiel.from_files(cer, key, conf.fiel_passphrase) if cer.exists() and key.exists() else None
    secrets = fiel.secrets() if fiel else []

    def http(extra: list[str]):  # type: ignore[no-untyped-def]
        return rt.provider_http(
            "mysuite", document_id=document_id, timeout=float(conf["timeout"]), extra_secrets=[*secrets, *extra]
        )

    return MySuiteClient(
        ENDPOINTS.url(conf.mode, rt.settings, key="mx.mysuite.mode"),
        requestor=str(conf["requestor"]),
        user=str(conf["user"]),
        username=conf.account_name,
        rfc=conf.rfc,
        fiel=fiel,
        http=http,
    )


def _row_for_document(session, doc_id: int) -> SatRequest:  # type: ignore[no-untyped-def]
    row = session.scalar(select(SatRequest).where(SatRequest.document_id == doc_id))
    assert row is not None, f"documento {doc_id} sin solicitud SAT"
    return row


def _update(rt: Runtime, request_id: int, **values: object) -> None:
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        assert row is not None
        for key, value in values.items():
            setattr(row, key, value)


# ---- registration (once) ---------------------------------------------------------------------------


def _submit(rt: Runtime, doc: Document) -> CallResult:
    data = doc.effective_data()
    client = make_client(rt, doc.id)
    [answer] = client.register(
        "CFDIS" if data["servicio"] == "CFDIS" else "RETENCIONES",
        data["tipo"],
        data["direccion"],
        data["fecha_inicial"],
        data["fecha_final"],
    )
    with rt.db.transaction() as session:
        row = _row_for_document(session, doc.id)
        row.sat_code, row.message = answer.code, answer.message
        if answer.accepted:
            row.state, row.mysuite_id = "registered", answer.request_id
        else:
            row.state = "rejected"
    _crash_point(load(rt.settings), "registered")
    if answer.accepted:
        return CallResult(
            Outcome.ISSUED,
            reason=f"registrada en MYSuite: {answer.request_id}",
            provider_ref=answer.request_id,
            details={"sat_code": answer.code},
        )
    hint = {
        tx.SAT_LIFETIME_EXHAUSTED: " (el periodo ya se pidió 2 veces)",
        tx.SAT_DUPLICATE: " (hay una solicitud igual activa)",
    }.get(answer.code, "")
    return CallResult(
        Outcome.REJECTED, reason=f"SAT {answer.code}: {answer.message}{hint}", details={"sat_code": answer.code}
    )


def _lookup(rt: Runtime, doc: Document) -> CallResult | None:
    """After a lost answer: is there a request for this exact period we do not know yet?"""
    with rt.db.transaction() as session:
        recorded = _row_for_document(session, doc.id).mysuite_id
    if recorded:
        # MYSuite's answer was stored before the process died; only the document's own state was not.
        return CallResult(
            Outcome.ISSUED, reason=f"registrada en MYSuite: {recorded} (respuesta ya guardada)", provider_ref=recorded
        )
    data = doc.effective_data()
    client = make_client(rt, doc.id)
    filters = [
        ("Servicio", "=", data["servicio"], ""),
        ("TipoSolicitud", "=", data["tipo"], ""),
        ("TipoTaxID", "=", data["direccion"], ""),
        ("FechaInicial", "=", data["fecha_inicial"], ""),
        ("FechaFinal", "=", data["fecha_final"], ""),
    ]
    try:
        page = client.list_requests(page=1, page_size=100, filters=filters)
    except SurelyNotSent as exc:
        return CallResult(Outcome.RETRY, reason=exc.message)
    with rt.db.transaction() as session:
        known = set(session.scalars(select(SatRequest.mysuite_id).where(SatRequest.mysuite_id.is_not(None))).all())
        row = _row_for_document(session, doc.id)
        for line in page.lines:
            if line.get("Id") and line["Id"] not in known:
                row.state, row.mysuite_id, row.sat_code = "registered", line["Id"], tx.SAT_ACCEPTED
                return CallResult(
                    Outcome.ISSUED,
                    reason=f"encontrada en MYSuite tras respuesta perdida: {line['Id']}",
                    provider_ref=line["Id"],
                )
    return None


def _on_registered(session: Session, doc: Document) -> None:
    """Outbox: following the SAT request (verify, download, ingest) is a job written with the registration."""
    row = _row_for_document(session, doc.id)
    follow_up(session, doc, JOB_FOLLOW, payload={"request_id": row.id}, max_attempts=100_000)


SUBMITTER = Submitter(submit=_submit, lookup=_lookup, on_issued=_on_registered)


def register_job(rt: Runtime, job: Job) -> None:
    run_submission(rt, job, SUBMITTER)
    with rt.db.transaction() as session:
        doc = session.get(Document, job.document_id)
        in_doubt = doc is not None and doc.state == "in_doubt"
        if doc is not None and doc.state in ("rejected", "needs_attention", "failed"):
            row = _row_for_document(session, doc.id)
            if row.state not in TERMINAL:
                row.state, row.message = "rejected" if doc.state == "rejected" else "failed", doc.reason
    if in_doubt:
        # MYSuite has a lookup (the request list): ask it before anything is sent again.
        raise RetryJob("registro sin respuesta: se consulta la lista de MYSuite antes de reenviar", 1.0)


# ---- following, downloading, ingesting -------------------------------------------------------------


def _poll_delay(conf: MySuiteConfig, polls: int) -> float:
    return min(float(conf["poll_max_seconds"]), conf.poll_initial * (2 ** min(max(polls - 1, 0), 20)))


def follow_job(rt: Runtime, job: Job) -> None:
    request_id = int(job.payload["request_id"])
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        if row is None or row.state in TERMINAL:
            return
        state, mysuite_id, doc_id = row.state, row.mysuite_id, row.document_id
    conf = load(rt.settings)
    client = make_client(rt, doc_id)
    try:
        if state in ("registered", "accepted", "in_progress"):
            _poll(rt, conf, client, request_id, str(mysuite_id))
        _download_all(rt, conf, client, request_id, job)
        _ingest_all(rt, conf, request_id, job)
    except SurelyNotSent as exc:
        raise RetryJob(exc.message, None) from exc


def _poll(rt: Runtime, conf: MySuiteConfig, client: MySuiteClient, request_id: int, mysuite_id: str) -> None:
    status = client.get_request(mysuite_id)
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        assert row is not None
        row.polls += 1
        row.sat_code = status.codigo
        row.message = f"{tx.ESTADOS.get(status.estado, status.estado)} ({status.codigo})"
        if status.estado in SAT_STATES:
            row.state = SAT_STATES[status.estado]
            delay = _poll_delay(conf, row.polls)
            raise RetryJob(f"SAT: {row.message}; se consulta de nuevo en {delay:.0f} s", delay)
        if status.estado == tx.ESTADO_FINISHED and status.codigo == tx.SAT_NO_DATA:
            row.state, row.message = "empty", "el SAT no tiene comprobantes para este periodo (5004)"
            return
        if status.codigo == tx.SAT_TOO_LARGE:
            row.state, row.message = "too_large", "más comprobantes que el límite del SAT (5003): divida el periodo"
            return
        if status.estado != tx.ESTADO_FINISHED:
            row.state = {tx.ESTADO_EXPIRED: "expired"}.get(status.estado, "error")
            return
        row.state, row.cfdi_count = "downloading", status.numero_cfdis
        row.packages_total = len(status.packages)
        existing = set(session.scalars(select(SatPackage.package_id).where(SatPackage.request_id == request_id)).all())
        for package_id in status.packages:
            if package_id not in existing:
                session.add(SatPackage(request_id=request_id, package_id=package_id))


def _packages(rt: Runtime, request_id: int, state: str) -> list[tuple[int, str, str, str]]:
    """(row id, MYSuite package id, local path, SHA-256 from the download) of a request's packages."""
    with rt.db.transaction() as session:
        return [
            (p.id, p.package_id, p.path, p.sha256)
            for p in session.scalars(
                select(SatPackage)
                .where(SatPackage.request_id == request_id, SatPackage.state == state)
                .order_by(SatPackage.id)
            ).all()
        ]


def _crash_point(conf: MySuiteConfig, where: str, count: int = 0) -> None:
    """Fault injection for the crash tests: die like a SIGKILL at a chosen point."""
    spec = str(conf["fault_crash_at"])
    if not spec:
        return
    name, _, after = spec.partition(":")
    if name == where and count >= int(after or 0):
        os._exit(137)


def _download_all(rt: Runtime, conf: MySuiteConfig, client: MySuiteClient, request_id: int, job: Job) -> None:
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        assert row is not None
        if row.state not in ("downloading", "ingesting"):
            return
        mysuite_id = str(row.mysuite_id)
    folder = rt.artifacts_dir / "mx" / "mysuite" / "paquetes" / str(request_id)
    for package_pk, package_id, _, _ in _packages(rt, request_id, "pending"):
        try:
            url = client.get_link(mysuite_id, package_id)
            target = folder / f"{package_id}.zip"
            size, sha = client.download(url, target, on_progress=lambda n: _crash_point(conf, "download", 0))
        except SurelyNotSent:
            raise
        except ProviderError as exc:
            _set_package(rt, package_pk, state="error", message=exc.message)
            continue
        _set_package(rt, package_pk, state="downloaded", path=str(target), size=size, sha256=sha)
        _extend(rt, job)
    _update(rt, request_id, state="ingesting")


def _set_package(rt: Runtime, package_pk: int, **values: object) -> None:
    with rt.db.transaction() as session:
        package = session.get(SatPackage, package_pk)
        assert package is not None
        for key, value in values.items():
            setattr(package, key, value)


def _extend(rt: Runtime, job: Job) -> None:
    if job.lease_owner:
        with rt.db.transaction() as session:
            service.extend_lease(session, job.id, job.lease_owner, float(rt.settings.get("worker.lease_seconds", 60)))


def _ingest_all(rt: Runtime, conf: MySuiteConfig, request_id: int, job: Job) -> None:
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        assert row is not None
        if row.state != "ingesting":
            return
        tipo = row.tipo
    processes = int(conf["ingest_processes"]) or (os.cpu_count() or 1)
    store = open_store(rt, processes=processes, batch_size=int(conf["ingest_batch_size"]))
    batches = [0]

    def on_batch(done: int, total: int) -> None:
        batches[0] += 1
        _extend(rt, job)
        _crash_point(conf, "ingest", batches[0])

    packages = list(_packages(rt, request_id, "downloaded"))

    def ingested(index: int, report: IngestReport) -> None:
        _set_package(
            rt,
            packages[index][0],
            state="ingested",
            docs=report.documents,
            errors=len(report.errors),
            message="; ".join(f"{f}: {r}" for f, r in report.errors[:20]),
        )

    if tipo == "Metadata":
        for index, (_, package_id, path, _) in enumerate(packages):
            report = store.ingest_metadata_package(Path(path), source=package_id)
            on_batch(report.documents, report.documents)
            ingested(index, report)
    else:  # every package of the request through one pipeline (one set of worker processes)
        store.ingest_xml_packages(
            [(Path(path), package_id) for _, package_id, path, _ in packages],
            on_batch=on_batch,
            on_package=ingested,
            sha256s={path: sha for _, _, path, sha in packages if sha},
        )
    with rt.db.transaction() as session:
        row = session.get(SatRequest, request_id)
        assert row is not None
        package_rows = session.scalars(select(SatPackage).where(SatPackage.request_id == request_id)).all()
        row.packages_done = sum(1 for p in package_rows if p.state == "ingested")
        row.docs_ingested = sum(p.docs for p in package_rows)
        row.errors_count = sum(p.errors for p in package_rows) + sum(1 for p in package_rows if p.state == "error")
        row.state = "done"
        row.message = f"{row.docs_ingested} comprobantes en el almacén" + (
            f", {row.errors_count} con error" if row.errors_count else ""
        )
