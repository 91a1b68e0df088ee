"""Writing many rows in one statement on PostgreSQL: one array a column, unnested.

The text of ``INSERT ... SELECT FROM unnest(...)`` or ``UPDATE ... FROM unnest(...)`` is the
same for any number of rows, so the server parses and plans it once and the driver caches it.
A multi-row VALUES list is a new statement of thousands of parameters each batch (parsing it
cost more than the rest of the sweep's writes), and an executemany is one statement a row.
SQLite, in-process, takes the executemany.
"""

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Table, Text, bindparam, cast, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.selectable import TableValuedAlias

KEY = "_id"  # the row's id, in the rows given to update_by_id


def postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def insert(connection: Connection, table: Table, rows: list[dict[str, Any]],
           conflict: str | None = None, returning: tuple[str, ...] = ()) -> CursorResult[Any]:
    """Insert rows, each with the same keys; with ``conflict``, a row whose column of that name
    clashes is skipped. Returns ``returning`` of the rows inserted."""
    columns = tuple(rows[0])
    if postgres(connection):
        statement = _insert_statement(table, columns, conflict, returning)
        return connection.execute(statement, _arrays(table, columns, rows))
    plain: Any = sqlite.insert(table)
    if conflict:
        plain = plain.on_conflict_do_nothing(index_elements=[conflict])
    if returning:
        plain = plain.returning(*(table.c[name] for name in returning))
    return connection.execute(plain, rows)


def update_by_id(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Update rows by ``KEY``, each row with the same columns; a row listed twice keeps its
    last values, as one statement a row would. Columns with an ``onupdate`` get it."""
    if not rows:
        return
    names = tuple(name for name in rows[0] if name != KEY)
    if not postgres(connection):
        statement = (update(table).where(table.c.id == bindparam(KEY))
                     .values({name: bindparam(name) for name in names}))
        connection.execute(statement, rows)  # Core fills the onupdate columns itself
        return
    stamped = {column.name: _onupdate(column) for column in table.c
               if column.onupdate is not None and column.name not in names}
    last = list({row[KEY]: {**row, **stamped} for row in rows}.values())
    columns = (KEY, *names, *stamped)
    connection.execute(_update_statement(table, columns), _arrays(table, columns, last))


def _arrays(table: Table, columns: Sequence[str], rows: list[dict[str, Any]]
            ) -> dict[str, list[Any]]:
    arrays = {}
    for index, name in enumerate(columns):
        values = [row[name] for row in rows]
        if _is_json(table, name):
            values = [None if value is None else json.dumps(value) for value in values]
        arrays[f"a{index}"] = values
    return arrays


def _is_json(table: Table, name: str) -> bool:
    return name != KEY and isinstance(table.c[name].type, JSON)


def _unnest(table: Table, columns: Sequence[str]) -> TableValuedAlias:
    """``unnest(:a0, :a1, ...) AS rows(column, ...)``, each array typed as its column. A JSON
    value goes as its text (an array of JSON lists would read as a two-dimensional array)."""
    arrays = (bindparam(f"a{index}", type_=ARRAY(
        Text() if _is_json(table, name) else table.c["id" if name == KEY else name].type))
        for index, name in enumerate(columns))
    return func.unnest(*arrays).table_valued(*columns).render_derived("rows")


def _value(table: Table, rows: TableValuedAlias, name: str) -> Any:
    column = rows.c[name]
    return cast(column, table.c[name].type) if _is_json(table, name) else column


@lru_cache
def _insert_statement(table: Table, columns: tuple[str, ...], conflict: str | None,
                      returning: tuple[str, ...]) -> Insert:
    rows = _unnest(table, columns)
    values = select(*(_value(table, rows, name) for name in columns))
    statement: Any = postgresql.insert(table).from_select(columns, values)
    if conflict:
        statement = statement.on_conflict_do_nothing(index_elements=[conflict])
    if returning:
        statement = statement.returning(*(table.c[name] for name in returning))
    return statement


@lru_cache
def _update_statement(table: Table, columns: tuple[str, ...]) -> Update:
    rows = _unnest(table, columns)
    return (update(table).where(table.c.id == rows.c[KEY])
            .values({name: _value(table, rows, name) for name in columns if name != KEY}))


def _onupdate(column: Column[Any]) -> Any:
    default: Any = column.onupdate
    return default.arg(None) if default.is_callable else default.arg
