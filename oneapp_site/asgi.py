"""ASGI entry point: `uvicorn oneapp_site.asgi:application`.

`/mcp`, `/healthz` and `/readyz` are answered without Django's middleware chain (mcp_endpoint.asgi);
every other path, the admin included, goes through Django's full handler.
"""

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oneapp_site.settings")

django_application = get_asgi_application()

# Imported after Django is set up.
from django.core.management import call_command  # noqa: E402

from mcp_endpoint.asgi import McpFrontDoor  # noqa: E402

# uvicorn does not run Django's system checks: run them here, so that a bad configuration stops a
# worker at start (errors) or is printed at every start (warnings such as mcp_endpoint.W001).
call_command("check")

application = McpFrontDoor(django_application)

# Everything loaded so far lives as long as the worker: keep it out of the garbage collector's
# scans, and collect the young generation less often. Under a burst of a thousand tool calls this
# takes a fifth off the time (bench/run.py).
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 100)
