"""Writing the audit log (tenants/audit.py) without slowing or failing a tool call.

A tool call hands `record` a small tuple, which goes into a bounded in-process buffer; a daemon
thread, started by the first record, writes the buffer in batches (one INSERT each) about
once a second, or sooner when a batch is full. A full buffer or a failing database drops records,
counted in oneapp_mcp_audit_records_dropped_total; the client never hears of it. Shutdown (the ASGI
lifespan) writes what is left. A thread rather than a task on the event loop: the database
API is synchronous, and a batch insert waiting on a lock must not hold up the loop.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db import Error as DatabaseFailure
from django.db.backends.base.base import BaseDatabaseWrapper

from mcp_endpoint import metrics
from mcp_endpoint.connections import drop_if_broken
from mcp_endpoint.quiet_log import QuietLog
from tenants.audit import ANONYMOUS, Caller, ToolCall, redacted_arguments
from tenants.models import TenantSettings

logger = logging.getLogger(__name__)
_quiet = QuietLog(logger, interval=60.0)

BATCH = 500  # rows per INSERT

_caller: ContextVar[Caller] = ContextVar("oneapp_mcp_caller", default=ANONYMOUS)


def identify(caller: Caller) -> None:
    """Who makes the /mcp request being answered (set once its credential is accepted)."""
    _caller.set(caller)


class Pending(NamedTuple):
    """A record as the request path leaves it: turned into a row (and redacted) on the writer thread."""

    at: float  # epoch seconds
    tenant: TenantSettings
    caller: Caller
    tool: str
    outcome: str
    upstream_status: int | None
    seconds: float
    arguments: Any  # None unless the tenant stores arguments

    def values(self, connection: BaseDatabaseWrapper) -> tuple[Any, ...]:
        """The row's values in COLUMNS order, as the database takes them."""
        stored = self.arguments
        if stored is not None:
            stored = _ARGUMENTS.get_db_prep_save(
                redacted_arguments(stored, self.tenant.authorization), connection
            )
        return (
            connection.ops.adapt_datetimefield_value(datetime.fromtimestamp(self.at, UTC)),
            self.tenant.client_id,
            self.caller.kind,
            self.caller.ident[:100],
            self.caller.name[:200],
            self.caller.client[:200],
            self.tool[:100],
            self.outcome,
            self.upstream_status,
            round(self.seconds * 1000, 3),
            stored,
        )


# The INSERT, written here rather than by bulk_create: the ORM's insert compiler costs about 40 µs of
# CPU a row (3 % of a tool call's), one executemany of plain values about 10 µs. Columns by name
# from the model, so that the two cannot drift apart.
COLUMNS = ("at", "client_id", "caller_kind", "caller", "caller_name", "caller_client", "tool", "outcome",
           "upstream_status", "duration_ms", "arguments")  # fmt: skip
_ARGUMENTS = ToolCall._meta.get_field("arguments")


def insert(batch: list[Pending], using: str = DEFAULT_DB_ALIAS) -> None:
    """One INSERT (executemany) of `batch`, in a transaction of its own."""
    connection = connections[using]
    quote = connection.ops.quote_name
    column_of = {field.name: field.column for field in ToolCall._meta.concrete_fields}
    columns = ", ".join(quote(column_of[name]) for name in COLUMNS)
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    sql = f"INSERT INTO {quote(ToolCall._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names from the model
    rows = [pending.values(connection) for pending in batch]
    with transaction.atomic(using=using, savepoint=False), connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.executemany(sql, rows)
            return
        # PostgreSQL's COPY: psycopg's executemany cost 14-19 µs of our CPU a row, over 3 % of a
        # tool call's; COPY streams the rows. (Driver errors become Django's, as in executemany.)
        copy_sql = sql.split(" VALUES ", 1)[0].replace("INSERT INTO", "COPY", 1) + " FROM STDIN"
        with connection.wrap_database_errors, cursor.cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row)


class AuditBuffer:
    def __init__(self, capacity: int, interval: float) -> None:
        self.capacity = capacity
        self.interval = interval
        self._pending: collections.deque[Pending] = collections.deque()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._flushing = threading.Lock()  # one writer at a time: the thread, or a flush at shutdown
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def add(self, pending: Pending) -> None:
        """Keep a record for the next batch, or drop it if the buffer is full. Never blocks, never raises."""
        if len(self._pending) >= self.capacity:
            metrics.AUDIT_DROPPED_FULL.inc()
            return
        self._pending.append(pending)  # deque.append is atomic: no lock on the request path
        if self._thread is None:
            self._start()
        if len(self._pending) >= BATCH:
            self._wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._run, name="audit-log-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._pending:
                drop_if_broken()
                self.flush()
        connection.close()

    def flush(self) -> int:
        """Write every record buffered so far, a batch at a time; how many were written."""
        written = 0
        with self._flushing:
            while batch := self._take():
                written += self._write(batch)
        return written

    def _take(self) -> list[Pending]:
        batch: list[Pending] = []
        while self._pending and len(batch) < BATCH:
            batch.append(self._pending.popleft())
        return batch

    def _write(self, batch: list[Pending]) -> int:
        try:
            insert(batch)
        except DatabaseFailure as exc:
            metrics.AUDIT_DROPPED_DATABASE.inc(len(batch))
            _quiet.log(
                logging.ERROR,
                "write",
                "dropped %d audit log records: the database failed (%r)",
                len(batch),
                exc,
            )
            return 0
        except Exception:
            metrics.AUDIT_DROPPED_DATABASE.inc(len(batch))
            logger.exception("dropped %d audit log records", len(batch))
            return 0
        metrics.AUDIT_WRITTEN.inc(len(batch))
        return len(batch)

    def stop(self) -> int:
        """Stop the writer and write what is left (at shutdown); how many were written."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=10)
        return self.flush()

    def discard(self) -> None:
        """Forget what is buffered (tests: a record of an earlier test is not this one's)."""
        self._pending.clear()


_buffer: AuditBuffer | None = None
_buffer_lock = threading.Lock()


def audit_buffer() -> AuditBuffer:
    global _buffer
    if _buffer is None:
        with _buffer_lock:
            if _buffer is None:
                _buffer = AuditBuffer(settings.AUDIT_LOG_BUFFER_RECORDS, settings.AUDIT_LOG_FLUSH_SECONDS)
    return _buffer


def record(
    tenant: TenantSettings,
    tool: str,
    outcome: str,
    upstream_status: int | None,
    seconds: float,
    arguments: Any,
) -> None:
    """One tool call for the audit log (called by mcp_endpoint/tools.py as the call ends)."""
    stored = arguments if tenant.audit_arguments else None
    audit_buffer().add(
        Pending(time.time() - seconds, tenant, _caller.get(), tool, outcome, upstream_status, seconds, stored)
    )


def stop_auditing() -> int:
    """At shutdown: write what is buffered, on this thread's own connection, closed afterwards."""
    global _buffer
    with _buffer_lock:
        buffer, _buffer = _buffer, None
    try:
        return buffer.stop() if buffer is not None else 0
    finally:
        connection.close()
