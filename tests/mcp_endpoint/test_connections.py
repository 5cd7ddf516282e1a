"""/mcp's long-lived threads keep their database connection while it is healthy (mcp_endpoint/connections.py)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, connections

from mcp_endpoint.connections import drop_if_broken
from tenants.models import ClientConfig

pytestmark = pytest.mark.django_db(transaction=True)  # outside a transaction, as on a request


def test_a_healthy_connection_is_kept_whatever_conn_max_age_says():
    assert connection.settings_dict["CONN_MAX_AGE"] == 0  # Django would close it after every request
    ClientConfig.objects.filter(client_id="nobody").first()
    opened = connection.connection
    drop_if_broken()
    ClientConfig.objects.filter(client_id="nobody").first()
    assert connection.connection is opened


def test_after_an_error_a_usable_connection_is_kept_and_the_error_forgotten():
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM no_such_table")
    assert connection.errors_occurred
    opened = connection.connection
    drop_if_broken()
    assert connection.connection is opened
    assert not connection.errors_occurred


def test_a_connection_the_server_dropped_is_replaced():
    if connection.vendor != "postgresql":
        pytest.skip("an SQLite connection is a file handle: the server cannot drop it")
    ClientConfig.objects.first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    killer = connections.create_connection("default")
    try:
        with killer.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    finally:
        killer.close()
    with pytest.raises(DatabaseError):
        ClientConfig.objects.first()  # the request that finds it broken fails (503 on /mcp)
    drop_if_broken()
    assert connection.connection is None
    assert ClientConfig.objects.first() is None  # the next one reconnects
