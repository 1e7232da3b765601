"""Schema migrations (Alembic). Provider packages add their own revisions branching from the core one;
`upgrade heads` applies every branch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from pasarela.ledger.db import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade(db: Database) -> None:
    from alembic import command

    cfg = alembic_config()
    with db.engine.connect() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "heads")
        connection.commit()


def current_heads(db: Database) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    with db.engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


def script_heads() -> set[str]:
    """The heads of the migration scripts, read without importing Alembic (keeps the CLI quick)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        found = _REVISION.search(text)
        if not found:
            continue
        revisions.add(found.group(1))
        down = _DOWN.search(text)
        if down:
            parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return revisions - parents


def ensure_current(db: Database) -> None:
    """Upgrade only when the database is behind the scripts (a cheap check first)."""
    from sqlalchemy import text

    try:
        with db.engine.connect() as connection:
            applied = {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except Exception:  # noqa: BLE001 - no table yet: a fresh database
        applied = set()
    if applied != script_heads():
        upgrade(db)
