"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.db import DatabaseError, InterfaceError, connection
from django.http import HttpRequest, HttpResponse

from mcp_endpoint.exchange import Answer
from tenants.crypto import TokenDecryptionError, key_problems
from tenants.models import ClientConfig

logger = logging.getLogger(__name__)


def liveness() -> Answer:
    """The process answers. Touches nothing else, so a database outage does not restart workers."""
    return _json(200, {"status": "ok"})


def readiness() -> Answer:
    """Ready to serve: the database answers and the encryption keys can read the stored tokens."""
    reason = _not_ready_because()
    if reason:
        return _json(503, {"status": "unavailable", "reason": reason})
    return _json(200, {"status": "ready"})


def _json(status: int, body: dict[str, str]) -> Answer:
    return Answer(status, (("Content-Type", "application/json"),), json.dumps(body).encode(), str(status))


# As Django views too. Served by the front door (mcp_endpoint.asgi) in production, where the
# probes skip ALLOWED_HOSTS: a load balancer asks with the instance's address as Host.
def healthz(request: HttpRequest) -> HttpResponse:
    return _response(liveness())


def readyz(request: HttpRequest) -> HttpResponse:
    return _response(readiness())


def _response(result: Answer) -> HttpResponse:
    return HttpResponse(result.body, status=result.status, content_type="application/json")


def _not_ready_because() -> str | None:
    if problems := key_problems(list(settings.TOKEN_ENCRYPTION_KEYS)):
        return " ".join(problems)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        # One stored token, decrypted: proves the configured keys are the ones the tokens need.
        tenant = ClientConfig.objects.exclude(authorization="").order_by("-updated_at").first()
        if tenant is not None:
            tenant.authorization  # noqa: B018 - decrypts
    # InterfaceError (a connection the driver holds for closed) is no DatabaseError: 503, not 500.
    except (DatabaseError, InterfaceError) as exc:
        logger.warning("not ready: the database cannot be reached (%s)", type(exc).__name__)
        return "The database cannot be reached."
    except TokenDecryptionError:
        return "TOKEN_ENCRYPTION_KEYS cannot decrypt the stored tokens; add the key they were encrypted with."
    return None
