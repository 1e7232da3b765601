"""The alerts' ledger tables: each alert (one cause of one rule, open until the cause clears), each
message sent for a group of them, and every delivery attempt to every channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from pasarela.ledger.models import Base, Id, utcnow


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    cause: Mapped[str] = mapped_column(String(255))
    # "<rule>|<cause>" while open, NULL once resolved: one open alert per cause, never a second one.
    open_key: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    text: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column()
    # Set when the alert went out in a message (None: waiting for its group's window, or no channel).
    notified_at: Mapped[datetime | None] = mapped_column()
    # "pending" once resolved and a "resuelto" message is due; "sent" / "silent" afterwards.
    resolved_notice: Mapped[str] = mapped_column(String(16), default="")

    __table_args__ = (Index("ix_alerts_rule_state", "rule", "state"),)


class AlertRuleState(Base):
    """One row per rule: locked while a message is composed, so a group goes out once."""

    __tablename__ = "alert_rule_state"
    rule: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_message_at: Mapped[datetime | None] = mapped_column()


class AlertMessage(Base):
    __tablename__ = "alert_messages"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    rule: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # open | resolved | test
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    alert_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertDelivery(Base):
    """One attempt to hand a message to one channel (the delivery log)."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("alert_messages.id"), index=True)
    channel: Mapped[str] = mapped_column(String(16))  # email | webhook
    target: Mapped[str] = mapped_column(Text, default="")
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)
