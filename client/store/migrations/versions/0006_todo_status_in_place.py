"""A record's status change updates 待办's rows in place (issue 14, goal 2).

0005's `todo_hazards_update` rebuilt an inspection's rows (DELETE them, read the record's JSON again, INSERT
them, each row also moving the per-deadline counts) on any UPDATE that named one of the columns they depend on.
A sync changes nothing of a pushed record but its status (submitted -> received), so every push answer rebuilt
the hazards of every inspection it acknowledged: ~4 s per 10,000 records. Only `record_status` of the rows
depends on the status alone.

Now two triggers share the work by what changed (values compared, not the columns an UPDATE names):
- `todo_hazards_update`: the id, form, data, revision or deletion changed -> the rows are rebuilt, as before;
- `todo_hazards_status`: only the status changed -> `record_status` of the record's rows is set, in place
  (the sort key and the counts per deadline stay as they are).
An UPDATE that changes none of them leaves the rows as they are (they were made from the same values).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _load_0005() -> ModuleType:
    """0005's SQL (the rows of a record), read from its file beside this one, as Alembic loads both."""
    path = Path(__file__).with_name("0005_todo_hazards.py")
    spec = importlib.util.spec_from_file_location("_school_client_migration_0005", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_V5 = _load_0005()
INSPECTION_FORM: str = _V5.INSPECTION_FORM
COLUMNS: str = _V5.COLUMNS

_WHO = f"(OLD.form_id = '{INSPECTION_FORM}' OR NEW.form_id = '{INSPECTION_FORM}')"
# What the rows are made of, but the status (IS NOT: NULL-safe; data compared as stored text).
_REBUILD = (
    "(OLD.id IS NOT NEW.id OR OLD.form_id IS NOT NEW.form_id OR OLD.data IS NOT NEW.data "
    "OR OLD.revision IS NOT NEW.revision OR OLD.deleted IS NOT NEW.deleted)"
)


def upgrade() -> None:
    op.execute("DROP TRIGGER todo_hazards_update")
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_update AFTER UPDATE OF id, form_id, data, revision, deleted ON records
        WHEN {_WHO} AND {_REBUILD}
        BEGIN
            DELETE FROM todo_hazards WHERE record_id = OLD.id;
            INSERT INTO todo_hazards ({COLUMNS}) {_V5.rows_sql("NEW")};
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_status AFTER UPDATE OF status ON records
        WHEN {_WHO} AND OLD.status IS NOT NEW.status AND NOT {_REBUILD}
        BEGIN
            UPDATE todo_hazards SET record_status = NEW.status WHERE record_id = NEW.id;
        END
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER todo_hazards_status")
    op.execute("DROP TRIGGER todo_hazards_update")
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_update AFTER UPDATE OF id, form_id, data, status, revision, deleted
        ON records
        WHEN {_WHO}
        BEGIN
            DELETE FROM todo_hazards WHERE record_id = OLD.id;
            INSERT INTO todo_hazards ({COLUMNS}) {_V5.rows_sql("NEW")};
        END
        """
    )
