"""Connections to the database: a psycopg pool, per-transaction settings, and database errors
turned into the service's `DatabaseUnavailable`."""

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from pgvector.psycopg import register_vector
from psycopg import errors as pg_errors
from psycopg_pool import ConnectionPool, PoolTimeout

from app.errors import BadInput, DatabaseUnavailable, NotFound
from app.store.postgres.schema import migrate

log = logging.getLogger(__name__)
T = TypeVar("T")


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the database"
    host = info.get("host") or "localhost"
    return f"{info.get('dbname') or info.get('user') or 'postgres'} on {host}"


class Database:
    """A pool of connections to one PostgreSQL database. Every unit of work runs in one
    transaction that starts by setting its statement timeout (and any search settings) with
    `set_config(..., true)`, so that nothing leaks through a transaction-mode pooler."""

    def __init__(
        self,
        url: str,
        pool_size: int = 10,
        timeout_s: float = 5.0,
        statement_timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.where = redact(url)
        self.timeout_s = timeout_s
        self.statement_timeout_ms = int(statement_timeout_s * 1000)
        self.pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            timeout=timeout_s,
            kwargs={"connect_timeout": max(1, round(timeout_s))},
            configure=register_vector,
            reconnect_timeout=3600 * 24 * 365,
            open=False,
            name="semsearch",
        )
        self._opened = False

    def open(self) -> None:
        """Create or migrate the schema (under an advisory lock), then open the pool. Raises
        DatabaseUnavailable when the database cannot be reached."""
        with self._errors():
            with psycopg.connect(self.url, connect_timeout=max(1, round(self.timeout_s))) as conn:
                migrate(conn)
            if not self._opened:
                self.pool.open(wait=False)
                self._opened = True

    def close(self) -> None:
        if self._opened:
            self.pool.close(timeout=5)
            self._opened = False

    # -- units of work -------------------------------------------------------------------------
    @contextmanager
    def transaction(self, settings: dict[str, str] | None = None) -> Iterator[psycopg.Connection]:
        """A connection inside one transaction, committed on leaving (rolled back on error)."""
        with self._errors(), self.pool.connection() as conn:
            self._apply(conn, settings)
            yield conn

    def run(
        self, work: Callable[[psycopg.Connection], T], settings: dict[str, str] | None = None
    ) -> T:
        """`work` in one transaction; tried once more on a fresh connection when the first one
        turns out broken (the database restarted since the pool opened it)."""
        try:
            with self.transaction(settings) as conn:
                return work(conn)
        except DatabaseUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, PoolTimeout | pg_errors.QueryCanceled) or cause is None:
                raise
            log.info("database connection lost (%s); trying once more", cause)
        with self.transaction(settings) as conn:
            return work(conn)

    def rows(
        self, query: Any, params: Any = None, settings: dict[str, str] | None = None
    ) -> list[tuple[Any, ...]]:
        """Every row of one query, in a transaction of its own."""
        return self.run(lambda conn: conn.execute(query, params).fetchall(), settings)

    @contextmanager
    def autocommit(self) -> Iterator[psycopg.Connection]:
        """A connection of its own outside the pool, in autocommit mode (CREATE INDEX
        CONCURRENTLY cannot run inside a transaction)."""
        with self._errors():
            conn = psycopg.connect(
                self.url, autocommit=True, connect_timeout=max(1, round(self.timeout_s))
            )
        try:
            with self._errors():
                yield conn
        finally:
            conn.close()

    def _apply(self, conn: psycopg.Connection, settings: dict[str, str] | None) -> None:
        values = {"statement_timeout": str(self.statement_timeout_ms), **(settings or {})}
        names = list(values)
        conn.execute(
            "SELECT " + ", ".join("set_config(%s, %s, true)" for _ in names),
            [x for name in names for x in (name, values[name])],
        )

    def check(self) -> str | None:
        """Why the database cannot serve now, or None when it answers."""
        try:
            self.run(lambda conn: conn.execute("SELECT 1").fetchone())
        except DatabaseUnavailable as exc:
            return exc.message
        return None

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Database faults as DatabaseUnavailable; a table dropped under a request (its
        collection deleted by another process) as NotFound."""
        start = time.monotonic()
        try:
            yield
        except PoolTimeout as exc:
            raise DatabaseUnavailable(
                f"database: no connection to {self.where} within {self.timeout_s:g} s",
                retry_after_s=1,
            ) from exc
        except pg_errors.QueryCanceled as exc:
            raise DatabaseUnavailable(
                f"database: a statement ran past the limit of "
                f"{self.statement_timeout_ms / 1000:g} s (database_statement_timeout_s)",
                retry_after_s=1,
            ) from exc
        except pg_errors.UndefinedTable as exc:
            raise NotFound("collection: it was deleted meanwhile") from exc
        except psycopg.DataError as exc:
            raise BadInput(
                f"database: refused a value of the request ({first_line(exc)[:200]})"
            ) from exc
        except psycopg.OperationalError as exc:
            took = time.monotonic() - start
            raise DatabaseUnavailable(
                f"database: {self.where} is unavailable ({first_line(exc)[:200]}; "
                f"after {took:.1f} s)",
                retry_after_s=1,
            ) from exc


def first_line(exc: Exception) -> str:
    """The first line of an error's message, or its type's name when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def one(conn: psycopg.Connection, query: Any, params: Any = None) -> Any:
    """The first column of the first row of a query, or None."""
    row = conn.execute(query, params).fetchone()
    return row[0] if row else None
