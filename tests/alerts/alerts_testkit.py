"""Helpers for the alerts' tests: a real SMTP server (aiosmtpd), a webhook receiver that checks every
signature as the Standard Webhooks spec says, and the gateway's alert settings pointing at both."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import hmac
import json
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "schedule"))
from schedule_testkit import only_duties  # noqa: E402

__all__ = ["only_duties", "smtp_server", "webhook_receiver", "alert_env", "Receiver", "verify"]


@contextmanager
def smtp_server() -> Iterator[tuple[int, list[email.message.Message]]]:
    """A real SMTP server on loopback; yields (port, the messages it received)."""
    from aiosmtpd.controller import Controller

    from conftest import free_port

    received: list[email.message.Message] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            received.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@dataclass
class Receiver:
    """What the webhook receiver saw: verified bodies, and the requests whose signature failed."""

    url: str
    secret: str
    verified: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def verify(secret: str, headers: Any, body: bytes, tolerance: float = 300) -> bool:
    """Standard Webhooks / Svix verification, written from their spec (not from our sender)."""
    msg_id, stamp, signatures = headers.get("webhook-id"), headers.get("webhook-timestamp"), headers.get(
        "webhook-signature", "")
    if not msg_id or not stamp or abs(time.time() - int(stamp)) > tolerance:
        return False
    # The spec's secrets are "whsec_" + base64; a plain one is its own bytes (docs/schedule.md).
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest())
    return any(hmac.compare_digest(expected, s.split(",", 1)[1].encode()) for s in signatures.split() if "," in s)


@contextmanager
def webhook_receiver(secret: str) -> Iterator[Receiver]:
    from conftest import free_port

    port = free_port()
    receiver = Receiver(f"http://127.0.0.1:{port}/hooks/alertas", secret)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if verify(secret, self.headers, body):
                receiver.verified.append(json.loads(body))
                self.send_response(204)
            else:
                receiver.refused.append(body.decode("utf-8", "replace"))
                self.send_response(401)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


def alert_env(smtp_port: int, receiver: Receiver, **extra: str) -> dict[str, str]:
    return {
        "PASARELA_SMTP__HOST": "127.0.0.1",
        "PASARELA_SMTP__PORT": str(smtp_port),
        "PASARELA_ALERTS__EMAIL_TO": "ops@tienda.cl",
        "PASARELA_ALERTS__WEBHOOK_URL": receiver.url,
        **extra,
    }
