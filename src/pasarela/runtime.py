"""What a running process holds: settings, the ledger, and factories for audited provider HTTP."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import httpx

from pasarela.config import Settings, load_settings
from pasarela.core.redact import Redactor
from pasarela.core.transport import ProviderHTTP
from pasarela.ledger import service
from pasarela.ledger.db import Database

log = logging.getLogger("pasarela")


@dataclass
class Runtime:
    settings: Settings
    db: Database
    # Tests may route provider HTTP through an in-process transport; normally None (real sockets).
    http_transport: httpx.BaseTransport | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Runtime:
        settings = settings or load_settings()
        return cls(settings=settings, db=Database(settings.database_url))

    def group_writer(self) -> Any:
        """The process's group-commit writer for hot ingest paths (created on first use)."""
        writer = self.extras.get("group_writer")
        if writer is None:
            from pasarela.ledger.writer import GroupWriter
            from pasarela.ledger.writer_process import WriterProcess

            # "process": webhook ingests are committed by a child process (uses the second core);
            # "thread": in this process.
            mode = str(self.settings.get("server.ingest_writer", "process"))
            process = WriterProcess(self.settings.database_url) if mode == "process" else None
            writer = self.extras.setdefault("group_writer", GroupWriter(self.db, process=process))
        return writer

    @property
    def artifacts_dir(self) -> Path:
        return self.settings.artifacts_dir

    @cached_property
    def redactor(self) -> Redactor:
        return Redactor(self.settings.secrets())

    def audit_sink(self, document_id: int | None = None) -> Any:
        def sink(record: dict[str, Any]) -> None:
            record = {**record, "document_id": record.get("document_id") or document_id}
            with self.db.transaction() as session:
                service.record_call(session, record)

        return sink

    def provider_http(
        self,
        provider: str,
        *,
        document_id: int | None = None,
        timeout: float | None = None,
        extra_secrets: list[str] | None = None,
    ) -> ProviderHTTP:
        """An audited HTTP client for one provider; timeouts from [providers.<name>] or 30 s."""
        conf = self.settings.section(f"http.{provider}") or {}
        return ProviderHTTP(
            provider=provider,
            timeout=float(timeout or conf.get("timeout", self.settings.get("http.timeout", 30.0))),
            connect_timeout=float(conf.get("connect_timeout", 5.0)),
            secrets=[*self.settings.secrets(), *(extra_secrets or [])],
            audit=self.audit_sink(document_id),
            document_id=document_id,
            transport=self.http_transport,
        )
