"""schedule and alerts: duties, runs (one per slot), alerts, messages and their delivery log

Revision ID: 0610_schedule_alerts
Revises: 0001_core
"""
import sqlalchemy as sa
from alembic import op

import pasarela.ledger.models

revision = "0610_schedule_alerts"
down_revision = "0001_core"
branch_labels = ("schedule",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = pasarela.ledger.models.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "schedule_duties",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=True),
        sa.Column("changed_by", sa.String(64), nullable=False, server_default=""),
        sa.Column("since", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
    )
    op.create_table(
        "schedule_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("duty", sa.String(64), nullable=False),
        sa.Column("slot", sa.String(64), nullable=False),
        sa.Column("slot_start", When, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False, server_default="schedule"),
        sa.Column("missed", sa.Integer, nullable=False, server_default="0"),
        sa.Column("job_id", Id, sa.ForeignKey("jobs.id"), nullable=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("summary", sa.Text, nullable=False, server_default=""),
        sa.Column("found", sa.JSON, nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", When, nullable=False),
        sa.Column("started_at", When, nullable=True),
        sa.Column("finished_at", When, nullable=True),
        sa.UniqueConstraint("duty", "slot", name="uq_schedule_runs_slot"),
    )
    op.create_index("ix_schedule_runs_duty_start", "schedule_runs", ["duty", "slot_start"])
    op.create_table(
        "alerts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("cause", sa.String(255), nullable=False),
        sa.Column("open_key", sa.String(320), nullable=True, unique=True),
        sa.Column("state", sa.String(16), nullable=False, server_default="open"),
        sa.Column("text", sa.Text, nullable=False, server_default=""),
        sa.Column("link", sa.Text, nullable=False, server_default=""),
        sa.Column("details", sa.JSON, nullable=False),
        sa.Column("opened_at", When, nullable=False),
        sa.Column("resolved_at", When, nullable=True),
        sa.Column("notified_at", When, nullable=True),
        sa.Column("resolved_notice", sa.String(16), nullable=False, server_default=""),
    )
    op.create_index("ix_alerts_rule_state", "alerts", ["rule", "state"])
    op.create_table(
        "alert_rule_state",
        sa.Column("rule", sa.String(64), primary_key=True),
        sa.Column("last_message_at", When, nullable=True),
    )
    op.create_table(
        "alert_messages",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("alert_ids", sa.JSON, nullable=False),
        sa.Column("created_at", When, nullable=False),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("message_id", Id, sa.ForeignKey("alert_messages.id"), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("target", sa.Text, nullable=False, server_default=""),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("ok", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(32), nullable=False, server_default=""),
        sa.Column("error", sa.Text, nullable=False, server_default=""),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_alert_deliveries_message_id", "alert_deliveries", ["message_id"])
    # The provider-failure rule reads the audit by time every minute.
    op.create_index("ix_provider_calls_at", "provider_calls", ["at"])


def downgrade() -> None:
    op.drop_index("ix_provider_calls_at", "provider_calls")
    for table in ("alert_deliveries", "alert_messages", "alert_rule_state", "alerts", "schedule_runs",
                  "schedule_duties"):
        op.drop_table(table)
