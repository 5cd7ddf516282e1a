"""ASGI entry point: `uvicorn oneapp_site.asgi:application`.

`/mcp` is answered by its view without Django's middleware chain (see mcp_endpoint.asgi);
every other path, the admin included, goes through Django's full handler.
"""

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
