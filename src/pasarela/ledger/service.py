"""The ledger's operations in one namespace (`service.transition`, `service.enqueue`…): documents and events
(`ledger.documents`), the job queue (`ledger.jobs`), the webhook hot path (`ledger.ingest`), and stored files
here. Each function works inside the caller's transaction (a Session)."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from pasarela.ledger.documents import count, create_document, document_query, record_call, record_event, transition
from pasarela.ledger.ingest import IngestRequest, ingest_batch, ingest_document
from pasarela.ledger.jobs import (
    backoff_seconds,
    claim_job,
    enqueue,
    extend_lease,
    finish_job,
    pending_job,
    reschedule_job,
)
from pasarela.ledger.models import Artifact, Document

__all__ = [
    "IngestRequest",
    "backoff_seconds",
    "claim_job",
    "count",
    "create_document",
    "document_query",
    "enqueue",
    "extend_lease",
    "finish_job",
    "ingest_batch",
    "ingest_document",
    "pending_job",
    "record_call",
    "record_event",
    "reschedule_job",
    "store_artifact",
    "transition",
]


def store_artifact(
    session: Session,
    artifacts_dir: Path,
    doc: Document,
    name: str,
    content: bytes,
    content_type: str,
) -> Artifact:
    """Write the bytes durably (temp file + fsync + rename), then index them. Replaces a same-named one."""
    folder = artifacts_dir / doc.country.lower() / doc.provider / str(doc.id)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    with tempfile.NamedTemporaryFile(dir=folder, delete=False) as tmp:
        tmp.write(content)
        tmp.flush()
        os.fsync(tmp.fileno())
    os.replace(tmp.name, target)
    existing = session.scalar(select(Artifact).where(Artifact.document_id == doc.id, Artifact.name == name))
    artifact = existing or Artifact(document_id=doc.id, name=name)
    artifact.content_type = content_type
    artifact.path = str(target)
    artifact.sha256 = hashlib.sha256(content).hexdigest()
    artifact.size = len(content)
    if existing is None:
        session.add(artifact)
    session.flush()
    return artifact
