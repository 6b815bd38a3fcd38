"""The few SQL expressions that differ between SQLite and PostgreSQL, in one place.

Everything else in the reports is plain SQLAlchemy Core that both databases run as written.
`tests/test_report.py` checks that the PostgreSQL SQL compiles; `tests/test_cluster.py` runs the
report and the data tools on the cluster's real PostgreSQL.

Constants are written into the SQL (`constant`), not bound as parameters: a day expression
appears in both SELECT and GROUP BY, and PostgreSQL accepts that only when the two are the same
text, which two separately bound parameters are not.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

SUPPORTED = ("sqlite", "postgresql")


def constant(value: str | int) -> ColumnElement:
    """`value` written into the SQL: an int as digits, a str quoted. Only for the code's own constants."""
    if isinstance(value, int):
        return sa.literal_column(str(int(value)))
    return sa.literal_column("'" + value.replace("'", "''") + "'", sa.Text)


@dataclass(frozen=True)
class Dialect:
    name: str  # "sqlite" or "postgresql"

    @classmethod
    def of(cls, engine: sa.engine.Engine) -> Dialect:
        name = engine.dialect.name
        if name not in SUPPORTED:
            raise ValueError(f"reports work on {' and '.join(SUPPORTED)}, not {name}")
        return cls(name)

    def json_text(self, column: ColumnElement, *path: str) -> ColumnElement:
        """The value at `path` in a JSON text column, as SQL text (NULL when missing)."""
        if self.name == "sqlite":
            return sa.cast(sa.func.json_extract(column, constant("$." + ".".join(path))), sa.Text)
        # data::json #>> '{a,b}'
        return sa.cast(column, sa.JSON).op("#>>")(constant("{" + ",".join(path) + "}"))

    def json_true(self, column: ColumnElement, *path: str) -> ColumnElement:
        """True when the JSON value at `path` is `true`; false when it is anything else or missing."""
        if self.name == "sqlite":
            return sa.func.coalesce(sa.func.json_extract(column, constant("$." + ".".join(path))), 0) == 1
        return sa.func.coalesce(self.json_text(column, *path), constant("")) == constant("true")

    def day_of_unix(self, column: ColumnElement, offset_seconds: int) -> ColumnElement:
        """'YYYY-MM-DD' of a unix time (Rasa's event timestamps) at `offset_seconds` from UTC."""
        if self.name == "sqlite":
            return sa.func.date(column + constant(offset_seconds), constant("unixepoch"))
        moment = sa.func.to_timestamp(column + constant(offset_seconds)).op("AT TIME ZONE")(constant("UTC"))
        return sa.func.to_char(moment, constant("YYYY-MM-DD"))

    def day_of(self, column: ColumnElement, offset_seconds: int) -> ColumnElement:
        """'YYYY-MM-DD' of a stored UTC datetime at `offset_seconds` from UTC."""
        if self.name == "sqlite":
            return sa.func.date(column, constant(f"{offset_seconds:+d} seconds"))
        shifted = column.op("AT TIME ZONE")(constant("UTC")) + sa.text(f"interval '{int(offset_seconds)} seconds'")
        return sa.func.to_char(shifted, constant("YYYY-MM-DD"))

    def seconds_between(self, start: ColumnElement, end: ColumnElement) -> ColumnElement:
        """Seconds from one stored datetime to a later one, to the millisecond."""
        if self.name == "sqlite":
            # julianday() is a float of days; rounding drops its last binary digits (119.99999 s -> 120 s).
            return sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0, 3)
        return sa.func.round(sa.cast(sa.extract("epoch", end - start), sa.Numeric), 3)
