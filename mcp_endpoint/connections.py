"""The database connection of /mcp's long-lived threads: kept open while healthy.

Django opens and closes a connection around each request (`CONN_MAX_AGE`, default 0), through the
request signals. /mcp's tenant loads and /readyz (asgiref's one sync thread), the change poller
and the audit log's writer (threads of their own) run outside those signals, and closing their connection after each use cost more than the
query itself: 0.8–1.3 ms of CPU per unknown client id on SQLite (a new connection and its PRAGMAs),
and a new PostgreSQL connection per poll. These threads keep their connection instead, and drop it
only after a database error has left it unusable, as Django's own health check does.
"""

from __future__ import annotations

from django.db import connection


def drop_if_broken() -> None:
    """Close this thread's connection if an error left it unusable; keep a healthy one open."""
    # (In a test's transaction the connection is the test's own: leave it alone.)
    if connection.errors_occurred and not connection.in_atomic_block:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()
