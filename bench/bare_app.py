"""The same 18-tool catalog served by the bare SDK (`MCPServer.streamable_http_app`), for comparison.

Usage: BENCH_UPSTREAM=http://127.0.0.1:PORT uvicorn bench.bare_app:app
"""

import gc
import os

import django
from starlette.types import Receive, Scope, Send

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")
django.setup()  # only for the shared tool catalog's imports; no database is used

from mcp_endpoint import audit_trail  # noqa: E402
from mcp_endpoint.live_tenant import LiveTenant  # noqa: E402
from mcp_endpoint.tools import OneAppServer  # noqa: E402
from tenants.models import TenantSettings  # noqa: E402

upstream = os.environ["BENCH_UPSTREAM"]
tenant = TenantSettings(
    "acme", upstream, upstream, "Bearer bench-token", "acme", 30_000, max_concurrent_calls=1000
)
live = LiveTenant(tenant)
# The audit log is the gateway's, not the SDK's: the bare app keeps none (its tools would record
# every call, and a worker thread write them to a database, at the bare app's expense too).


def no_record(*args: object, **kwargs: object) -> None:
    pass


audit_trail.record = no_record
sdk_app = OneAppServer().streamable_http_app(json_response=True, stateless_http=True)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The SDK's own app; the shared tools find their tenant (and its pool) as ours do."""
    if scope["type"] != "http":
        await sdk_app(scope, receive, send)
        return
    async with live.serving():
        await sdk_app(scope, receive, send)


# The same collector settings as oneapp_site/asgi.py, so that the comparison is of the layers only.
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 100)
