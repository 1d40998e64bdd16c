"""Database connections behind one small protocol: SQL text with :named parameters, rows as dicts.

SQLite (the embedded default) goes through the standard library driver: importing SQLAlchemy costs
about 170 ms, more than the whole start-up budget of a read-only command. PostgreSQL, and SQLite when
asked (tests, the engine's datasource transactions), go through a SQLAlchemy 2 engine. The SQL is the
same text for every driver; dialect differences live in ``_migrations.py`` only.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from animus.domain.errors import InvalidInput, StoreError, Unavailable

_Row = dict[str, Any]
_BUSY_TIMEOUT_MS = 30_000
# Every connection to a SQLite database file, ours or DBOS's. In WAL mode synchronous=NORMAL never
# loses a committed transaction when a process is killed (our promise: kill -9 at any moment); it
# skips the fsync per commit. Only an OS crash or power loss can drop the last commits (docs/operations.md).
_SQLITE_PRAGMAS = (f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}", "PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL")


class Connection(Protocol):
    """What store queries need: run SQL, get rows back, inside or outside a transaction."""

    dialect: str

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[_Row]: ...

    def execute_many(self, sql: str, rows: list[Mapping[str, Any]]) -> None: ...

    def transaction(self) -> Any: ...

    def close(self) -> None: ...


def _sqlite_path_from_url(url: str) -> Path:
    """``sqlite:////abs/file.db`` or ``sqlite:///rel.db`` → a path; in-memory databases are refused."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("///"):
        raise InvalidInput(f"invalid SQLite URL {url!r}; expected sqlite:////absolute/path/animus.db")
    path = unquote(rest[3:].split("?", 1)[0])
    if not path or path == ":memory:":
        raise InvalidInput("an in-memory SQLite database cannot hold animus state; give a file path")
    return Path(path)


def _create_private(path: Path) -> None:
    """Create the database file 0600 before SQLite does (its ``-wal``/``-shm`` files copy that mode).

    ``procs.private_file`` does the same for the other state files; the store, on procs' row, keeps
    these few lines to itself. A file made wider by an older version is tightened.
    """
    # Never open (and close) an existing database file: closing any descriptor of a file drops every
    # POSIX lock this process holds on it, SQLite's included (a connection of DBOS's, say).
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)


class SqliteConnection:
    """stdlib sqlite3 in autocommit mode; ``transaction()`` issues BEGIN IMMEDIATE explicitly.

    Python's driver defers BEGIN until the first write, so a read-then-write "transaction" would run
    its reads unlocked (the race DBOS hit, research §3). An explicit BEGIN IMMEDIATE takes the write
    lock up front.
    """

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _create_private(path)
            self._conn = sqlite3.connect(
                str(path), isolation_level=None, timeout=_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
            )
        except (sqlite3.Error, OSError) as exc:
            raise Unavailable(f"cannot open the database {path}: {exc}", hint="run `animus doctor`") from exc
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._depth = 0
        with _map_sqlite_errors():
            for pragma in _SQLITE_PRAGMAS[:2]:
                self._conn.execute(pragma)
            mode = self._conn.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute(_SQLITE_PRAGMAS[2])

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[_Row]:
        with self._lock, _map_sqlite_errors():
            cursor = self._conn.execute(sql, dict(params or {}))
            return [dict(row) for row in cursor.fetchall()] if cursor.description else []

    def execute_many(self, sql: str, rows: list[Mapping[str, Any]]) -> None:
        with self._lock, _map_sqlite_errors():
            self._conn.executemany(sql, [dict(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[SqliteConnection]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            with _map_sqlite_errors():
                self._conn.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self
            except BaseException:
                self._depth = 0
                self._conn.execute("ROLLBACK")
                raise
            self._depth = 0
            with _map_sqlite_errors():
                self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


@contextmanager
def _map_sqlite_errors() -> Iterator[None]:
    try:
        yield
    except sqlite3.IntegrityError as exc:
        raise StoreError(f"database constraint failed: {exc}") from exc
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise Unavailable(f"the database stayed locked for {_BUSY_TIMEOUT_MS // 1000}s: {text}") from exc
        if "unable to open" in text or "readonly" in text or "disk" in text:
            raise Unavailable(f"cannot use the database: {text}", hint="run `animus doctor`") from exc
        raise StoreError(f"database error: {text}") from exc
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"database error: {exc}") from exc


class SqlAlchemyConnection:
    """A SQLAlchemy 2 engine (PostgreSQL via psycopg 3, or SQLite); one connection per store."""

    def __init__(self, url: str, *, schema: str | None = None) -> None:
        import sqlalchemy as sa

        self._sa = sa
        sa_url = url
        if sa_url.startswith("postgresql://") or sa_url.startswith("postgres://"):
            sa_url = "postgresql+psycopg://" + sa_url.split("://", 1)[1]
        kwargs: dict[str, Any] = {}
        if sa_url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        try:
            self._engine = sa.create_engine(sa_url, **kwargs)
            self.dialect = self._engine.dialect.name
            self._conn = self._engine.connect()
            if self.dialect == "sqlite":
                self._conn.exec_driver_sql("PRAGMA foreign_keys = ON")
                self._conn.exec_driver_sql("PRAGMA journal_mode = WAL")
                self._conn.commit()
            if schema:
                self._conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                self._conn.exec_driver_sql(f'SET search_path TO "{schema}"')
                self._conn.commit()
        except sa.exc.ArgumentError as exc:
            raise InvalidInput(f"invalid database URL: {exc}") from exc
        except sa.exc.OperationalError as exc:
            where = urlsplit(url)._replace(netloc=urlsplit(url).hostname or "").geturl()
            raise Unavailable(f"cannot connect to the database {where}: {exc.orig}", hint="run `animus doctor`") from exc
        self._lock = threading.RLock()
        self._depth = 0

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[_Row]:
        with self._lock, self._map_errors():
            autocommit = self._depth == 0
            result = self._conn.execute(self._sa.text(sql), dict(params or {}))
            rows = [dict(r) for r in result.mappings().all()] if result.returns_rows else []
            if autocommit:
                self._conn.commit()
            return rows

    def execute_many(self, sql: str, rows: list[Mapping[str, Any]]) -> None:
        if not rows:
            return
        with self._lock, self._map_errors():
            self._conn.execute(self._sa.text(sql), [dict(r) for r in rows])
            if self._depth == 0:
                self._conn.commit()

    @contextmanager
    def transaction(self) -> Iterator[SqlAlchemyConnection]:
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            if self._conn.in_transaction():
                self._conn.commit()
            self._depth = 1
            try:
                if self.dialect == "sqlite":
                    self._conn.exec_driver_sql("BEGIN IMMEDIATE")
                yield self
            except BaseException:
                self._depth = 0
                self._conn.rollback()
                raise
            self._depth = 0
            with self._map_errors():
                self._conn.commit()

    @contextmanager
    def _map_errors(self) -> Iterator[None]:
        sa = self._sa
        try:
            yield
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"database constraint failed: {exc.orig}") from exc
        except sa.exc.OperationalError as exc:
            raise Unavailable(f"database unavailable: {exc.orig}") from exc
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"database error: {exc.orig}") from exc

    def close(self) -> None:
        self._conn.close()
        self._engine.dispose()


class SessionConnection:
    """A SQLAlchemy ``Session`` already inside a transaction (a DBOS datasource transaction).

    The transaction belongs to the caller: ``transaction()`` only nests, and nothing here commits,
    so a state change and the journal record of the step that made it commit together.
    """

    def __init__(self, session: Any) -> None:
        import sqlalchemy as sa

        self._sa = sa
        self._session = session
        bind = session.get_bind()
        self.dialect = bind.dialect.name

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> list[_Row]:
        result = self._session.execute(self._sa.text(sql), dict(params or {}))
        return [dict(r) for r in result.mappings().all()] if result.returns_rows else []

    def execute_many(self, sql: str, rows: list[Mapping[str, Any]]) -> None:
        if rows:
            self._session.execute(self._sa.text(sql), [dict(r) for r in rows])

    @contextmanager
    def transaction(self) -> Iterator[SessionConnection]:
        yield self

    def close(self) -> None:  # the session's owner closes it
        pass


def sqlite_engine(url: str) -> Any:
    """A SQLAlchemy engine on a SQLite file with the store's connection settings, for DBOS's system
    database and datasource: write transactions take the lock at BEGIN (``IMMEDIATE``), as ours do."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = "IMMEDIATE"
        for pragma in _SQLITE_PRAGMAS:
            dbapi_conn.execute(pragma)

    return engine
