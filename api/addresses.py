"""Client addresses: as log lines name them, and as budgets count them (one IPv4 address, or one IPv6 /64).

An IPv6 client is usually given a whole /64, so counting per exact address would
give it 2^64 budgets; an IPv4 address written as IPv6 (``::ffff:127.0.0.1``) is
the same client as ``127.0.0.1``.
"""

import ipaddress
from typing import TypeAlias

# The prefix an IPv6 site or host is assigned at the least (RFC 6177): one client.
IPV6_CLIENT_PREFIX = 64

# A peer's address as the socket module gives it: (host, port) for IPv4, (host, port, flowinfo,
# scope id) for IPv6, a path (often empty) for a Unix socket.
SocketAddress: TypeAlias = tuple[str, int] | tuple[str, int, int, int] | str | bytes


def peer(addr: SocketAddress) -> str:
    """Return ``host:port`` of a TCP peer address (or the address as given)."""
    return f"{addr[0]}:{addr[1]}" if isinstance(addr, tuple) and len(addr) >= 2 else str(addr)


def client_group(address: str | None) -> str:
    """Return the group ``address`` is counted in: the IPv4 address, or the IPv6 /64 network."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return address or "unknown"  # a Unix socket or a test client: nothing to group
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip), IPV6_CLIENT_PREFIX), strict=False))
    return str(ip)
