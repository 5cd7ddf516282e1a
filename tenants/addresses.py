"""Which client address a failure is counted against, for admin sign-in and for /mcp's failed keys."""

from __future__ import annotations

import ipaddress


def counted_address(raw: str) -> str:
    """The address as given (REMOTE_ADDR, or the ASGI client: the client's, with uvicorn's
    --proxy-headers behind a load balancer), and for IPv6 its /64, which one client usually holds
    whole: counted per address, a client could otherwise spend a fresh count (and our memory) on
    each of its 2^64 addresses."""
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return raw or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
