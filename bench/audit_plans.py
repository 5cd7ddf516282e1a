"""The PostgreSQL plans of the audit log's admin pages on a million rows.

Fills the audit log of the database in DATABASE_URL (migrated first) with ROWS calls over 90 days,
in time order as a log grows, from 20 tenants, 8 tools and 60 keys, 5 % of them failed; then opens
the list (whole and by each filter), a month of the date drill-down, the dashboard and a tenant's
page as a signed-in superuser, and prints each page's time and every query on the log with its
EXPLAIN ANALYZE. Use a throwaway database (scripts/lib/postgres.sh: pg_start):

    DATABASE_URL=postgres://oneapp@127.0.0.1:PORT/oneapp .venv/bin/python bench/audit_plans.py [--fill]
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from tenants.models import AccessKey, ClientConfig  # noqa: E402

ROWS = 1_000_000
TOOLS = ("core_list_sucursales", "core_list_zonas", "core_list_subgerencias", "checklist_list_checks",
         "visual_areas", "moai_visapp_foto", "visual_categorias", "checklist_list_preguntas")  # fmt: skip
FILL = f"""
INSERT INTO tenants_toolcall (at, client_id, caller_kind, caller, caller_name, caller_client, tool, outcome,
                              upstream_status, duration_ms, arguments)
SELECT now() - interval '90 days' * (1 - g::float / {ROWS}),
       'tenant' || lpad(floor(power(random(), 2) * 20)::int::text, 2, '0'),
       'key', 'omk_t' || lpad((g % 20)::text, 2, '0') || 'key0' || (g % 3)::text, 'key ' || (g % 3)::text, '',
       (ARRAY{list(TOOLS)})[1 + floor(power(random(), 1.5) * {len(TOOLS)})::int],
       CASE WHEN random() < 0.95 THEN 'ok' WHEN random() < 0.5 THEN 'status' ELSE 'timeout' END,
       200, 5 + random() * random() * 2000, NULL
FROM generate_series(1, {ROWS}) g
"""  # noqa: S608 - constants only


def fill() -> None:
    call_command("migrate", verbosity=0)
    for n in range(20):
        tenant, _ = ClientConfig.objects.get_or_create(
            client_id=f"tenant{n:02d}", defaults={"name": f"Tenant {n}"}
        )
        for k in range(3):
            AccessKey.objects.get_or_create(
                prefix=f"t{n:02d}key0{k}", defaults={"tenant": tenant, "name": f"key {k}", "key_hash": "-"}
            )
    User.objects.filter(username="plans").delete()
    User.objects.create_superuser("plans", "plans@example.test", "unused")
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE tenants_toolcall")
        cursor.execute(FILL)
        cursor.execute("ANALYZE tenants_toolcall")
    print(f"{ROWS} rows in {time.monotonic() - started:.0f} s")


def pages() -> dict[str, str]:
    tenant = ClientConfig.objects.get(client_id="tenant07")
    return {
        "list": "/admin/tenants/toolcall/",
        "list of a tenant": "/admin/tenants/toolcall/?client_id=tenant07",
        "list of a tool": "/admin/tenants/toolcall/?tool=visual_areas",
        "list of an outcome": "/admin/tenants/toolcall/?outcome=timeout",
        "list of a caller": "/admin/tenants/toolcall/?caller=omk_t07key01",
        "a month": f"/admin/tenants/toolcall/?at__year={time.gmtime().tm_year}&at__month={time.gmtime().tm_mon}",
        "dashboard": "/admin/tenants/toolcall/usage/",
        "tenant page": f"/admin/tenants/clientconfig/{tenant.pk}/change/",
    }


def explain(sql: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
        return [line for (line,) in cursor.fetchall()]


def main() -> None:
    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a throwaway PostgreSQL database.")
    if "--fill" in sys.argv:
        fill()
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="plans"))
    client.get("/admin/")  # templates compiled, URLs resolved: not counted against the first page
    for name, url in pages().items():
        with CaptureQueriesContext(connection) as queries:
            started = time.monotonic()
            status = client.get(url).status_code
            took = time.monotonic() - started
        print(f"\n== {name}: {url} -> {status} in {took * 1000:.0f} ms, {len(queries)} queries")
        for query in queries:
            sql = query["sql"]
            if "tenants_toolcall" in sql and not sql.startswith("EXPLAIN"):
                print(f"-- {sql[:160]}")
                print("\n".join("   " + line for line in explain(sql)))


if __name__ == "__main__":
    main()
