"""The open hazards 待办 lists, kept current by the database itself (issue 14).

`todo_hazards` holds one row per hazard that is not rectified or verified, of every inspection record that is
not deleted and does not say "no hazards found" - exactly the rows the 待办 page showed by scanning every
inspection's JSON (client.store.todo). Triggers on `records` keep it current in the same transaction as any
write to a record (a save, a pull, a deletion, a conflict resolved, a heal), whatever code makes it; a store
restored from a backup brings its own table, or builds it here when the backup is older.

The table is clustered in the order 待办 shows the hazards: sort_deadline (an ISO date; '9999-99-99' when
there is none or it is not a date), then the inspection date as text, record and position. Reading the first page, or the next
one after a given row, is a range of it; the overdue ones are its prefix before today. `todo_hazard_days`
counts the rows per deadline (kept by triggers on todo_hazards), for 待办's counts.

`sort_deadline` is the deadline as Python's `datetime.date.fromisoformat(value[:10])` reads it (what 待办 showed before):
a text of at least ten characters whose first ten are ASCII and one of YYYY-MM-DD, YYYYMMDD??, YYYY-Www-D or
YYYYWwwD?? (ISO week dates; ?? any two characters), naming a real day of the years 1-9999.
The raw answers are kept as json_extract returns them (columns without affinity), so the page shows them as
before.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

INSPECTION_FORM = "safety_inspection"
NO_DEADLINE = "9999-99-99"

COLUMNS = (
    "sort_deadline, sort_inspected, record_id, idx, revision, record_status, inspection_date, category, location, "
    "description, severity, measures, responsible_person, deadline, status"
)


def _digits(expr: str, n: int) -> str:
    return f"{expr} GLOB '{'[0-9]' * n}'"


def _ymd(year: str, month: str, day: str) -> str:
    """The ISO date when year-month-day is a real day of the years 1-9999, else NULL."""
    iso = f"({year} || '-' || {month} || '-' || {day})"
    return f"CASE WHEN {year} != '0000' AND date({iso}) = {iso} THEN {iso} END"


def _iso_week(year: str, week: str, day: str) -> str:
    """The ISO date of year-Wweek-day (week 53 only in a year that has one), else NULL."""
    jan1 = f"({year} || '-01-01')"
    leap = f"(date({year} || '-02-29') = {year} || '-02-29')"
    week53 = f"(strftime('%w', {jan1}) = '4' OR (strftime('%w', {jan1}) = '3' AND {leap}))"
    w, d = f"CAST({week} AS INTEGER)", f"CAST({day} AS INTEGER)"
    when = f"{year} != '0000' AND {d} BETWEEN 1 AND 7 AND ({w} BETWEEN 1 AND 52 OR ({w} = 53 AND {week53}))"
    # Week 1 is the week of 4 January: its Monday is the Monday on or before that day.
    result = (
        f"date({year} || '-01-04', '-6 days', 'weekday 1', "
        f"'+' || (({w} - 1) * 7 + {d} - 1) || ' days')"
    )
    return f"CASE WHEN {when} AND substr({result}, 1, 4) != '0000' THEN {result} END"


def deadline_sql(value: str) -> str:
    """SQL: the deadline `value` (what json_extract returned) as an ISO date, or NULL.

    Python reads the UTF-8 of the first ten characters, all of them (a NUL too): the checks that a character
    is ASCII and the length are made on the bytes (CAST AS BLOB); a position after a NUL reads as '' (SQLite's
    substr of a text stops there), which no digit, '-' or 'W' check passes - nor does Python's."""
    raw = f"CAST({value} AS BLOB)"

    def c(start: int, n: int = 1) -> str:
        return f"substr({value}, {start}, {n})"

    year = c(1, 4)
    dashed = f"""
        CASE
          WHEN {c(6)} = 'W' THEN
            CASE WHEN {_digits(c(7, 2), 2)} AND {c(9)} = '-' AND {_digits(c(10), 1)}
                 THEN {_iso_week(year, c(7, 2), c(10))} END
          WHEN {_digits(c(6, 2), 2)} AND {c(8)} = '-' AND {_digits(c(9, 2), 2)}
            THEN {_ymd(year, c(6, 2), c(9, 2))}
        END"""
    plain = f"""
        CASE
          WHEN {c(5)} = 'W' THEN
            CASE WHEN {_digits(c(6, 2), 2)} AND {_digits(c(8), 1)}
                 THEN {_iso_week(year, c(6, 2), c(8))} END
          WHEN {_digits(c(5, 4), 4)} THEN {_ymd(year, c(5, 2), c(7, 2))}
        END"""
    ascii10 = "[0-7]?" * 10  # the hex of ten bytes below 0x80
    return f"""
    CASE WHEN typeof({value}) = 'text' AND length({raw}) >= 10
              AND hex(substr({raw}, 1, 10)) GLOB '{ascii10}' AND {_digits(year, 4)} THEN
      CASE WHEN {c(5)} = '-' THEN {dashed} ELSE {plain} END
    END"""


def rows_sql(r: str) -> str:
    """SELECT: the todo_hazards rows of the record `r`: NEW in a trigger; "r" for every record."""
    data = f"(CASE WHEN json_valid({r}.data, 2) THEN {r}.data ELSE '{{}}' END)"
    deadline = "json_extract(h.value, '$.deadline')"
    status = "coalesce(json_extract(h.value, '$.status'), 'open')"
    fields = ", ".join(
        f"json_extract(h.value, '$.{name}')"
        for name in (
            "category",
            "location",
            "description",
            "severity",
            "measures",
            "responsible_person",
        )
    )
    return f"""
    SELECT coalesce({deadline_sql(deadline)}, '{NO_DEADLINE}'),
           coalesce(CAST(json_extract({data}, '$.inspection_date') AS TEXT), ''),
           {r}.id, h.key, {r}.revision, {r}.status, json_extract({data}, '$.inspection_date'),
           {fields}, {deadline}, {status}
    FROM {"records AS r, " if r == "r" else ""}json_each({data}, '$.hazards') AS h
    WHERE {r}.form_id = '{INSPECTION_FORM}' AND {r}.deleted = 0
      AND coalesce(json_extract({data}, '$.hazards_found'), 'yes') != 'no'
      AND h.type = 'object' AND typeof(h.key) = 'integer'
      AND {status} NOT IN ('rectified', 'verified')"""


def upgrade() -> None:
    # No affinity on the answers (a column declared BLOB keeps what it is given): shown as they are stored.
    op.execute(
        """
        CREATE TABLE todo_hazards (
            sort_deadline VARCHAR(10) NOT NULL,
            sort_inspected TEXT NOT NULL,
            record_id VARCHAR(36) NOT NULL,
            idx INTEGER NOT NULL,
            revision INTEGER NOT NULL,
            record_status VARCHAR(16) NOT NULL,
            inspection_date BLOB,
            category BLOB,
            location BLOB,
            description BLOB,
            severity BLOB,
            measures BLOB,
            responsible_person BLOB,
            deadline BLOB,
            status BLOB NOT NULL,
            PRIMARY KEY (sort_deadline, sort_inspected, record_id, idx)
        ) WITHOUT ROWID
        """
    )
    op.execute(
        "CREATE INDEX ix_todo_hazards_record ON todo_hazards (record_id)"
    )  # the triggers' DELETE
    # 待办's other reads: records returned by the bureau (newest first), and this period's per form.
    op.create_index("ix_records_status_updated", "records", ["status", "deleted", "updated_at"])
    op.create_index("ix_records_form_period", "records", ["form_id", "deleted", "period", "status"])
    op.execute(f"INSERT INTO todo_hazards ({COLUMNS}) {rows_sql('r')}")  # the records already there
    # How many open hazards have each deadline: 待办's counts (all, overdue) without reading them all.
    op.execute(
        "CREATE TABLE todo_hazard_days (sort_deadline VARCHAR(10) NOT NULL PRIMARY KEY, "
        "n INTEGER NOT NULL) WITHOUT ROWID"
    )
    op.execute(
        "INSERT INTO todo_hazard_days (sort_deadline, n) "
        "SELECT sort_deadline, count(*) FROM todo_hazards GROUP BY sort_deadline"
    )
    op.execute(
        """
        CREATE TRIGGER todo_hazard_days_insert AFTER INSERT ON todo_hazards
        BEGIN
            INSERT INTO todo_hazard_days (sort_deadline, n) VALUES (NEW.sort_deadline, 1)
            ON CONFLICT (sort_deadline) DO UPDATE SET n = n + 1;
        END
        """
    )
    op.execute(
        """
        CREATE TRIGGER todo_hazard_days_delete AFTER DELETE ON todo_hazards
        BEGIN
            UPDATE todo_hazard_days SET n = n - 1 WHERE sort_deadline = OLD.sort_deadline;
            DELETE FROM todo_hazard_days WHERE sort_deadline = OLD.sort_deadline AND n <= 0;
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_insert AFTER INSERT ON records
        WHEN NEW.form_id = '{INSPECTION_FORM}'
        BEGIN
            INSERT INTO todo_hazards ({COLUMNS}) {rows_sql("NEW")};
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_update AFTER UPDATE OF id, form_id, data, status, revision, deleted
        ON records
        WHEN OLD.form_id = '{INSPECTION_FORM}' OR NEW.form_id = '{INSPECTION_FORM}'
        BEGIN
            DELETE FROM todo_hazards WHERE record_id = OLD.id;
            INSERT INTO todo_hazards ({COLUMNS}) {rows_sql("NEW")};
        END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER todo_hazards_delete AFTER DELETE ON records
        WHEN OLD.form_id = '{INSPECTION_FORM}'
        BEGIN
            DELETE FROM todo_hazards WHERE record_id = OLD.id;
        END
        """
    )


TRIGGERS = (
    "todo_hazards_insert",
    "todo_hazards_update",
    "todo_hazards_delete",
    "todo_hazard_days_insert",
    "todo_hazard_days_delete",
)


def downgrade() -> None:
    for trigger in TRIGGERS:
        op.execute(f"DROP TRIGGER {trigger}")
    op.drop_table("todo_hazard_days")
    op.drop_index("ix_records_form_period", "records")
    op.drop_index("ix_records_status_updated", "records")
    op.drop_index("ix_todo_hazards_record", "todo_hazards")
    op.drop_table("todo_hazards")
