"""Which addresses ``fetch_url`` may reach: public ones only, unless ``ALLOW_PRIVATE_URLS``.

Loopback, link-local (cloud metadata at 169.254.169.254 included), private, shared
(100.64/10), multicast, reserved and unspecified addresses are refused, IPv4-mapped IPv6
forms too. A host name is resolved first and refused if any of its addresses is not
public; ``fetch_url`` checks every redirect hop the same way before following it.

Limits, said plainly: the name is resolved again when the connection is made, so a DNS
server that answers differently the second time (DNS rebinding) is not caught; a name that
cannot be resolved here is let through (the request then fails, or a configured proxy
resolves it). ``run_command`` is not covered: only the sandbox with its network off
(``SANDBOX_NETWORK=false``) keeps commands from local services.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from .base import ToolError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HINT = "set ALLOW_PRIVATE_URLS=true (c.OpenAgent.allow_private_urls) to allow such addresses"


def address_refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be fetched ("loopback", "private", ...), or None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    checks = (("loopback", address.is_loopback), ("link-local", address.is_link_local),
              ("unspecified", address.is_unspecified), ("multicast", address.is_multicast),
              ("private", address.is_private), ("reserved", address.is_reserved),
              ("not public", not address.is_global))
    return next((name for name, hit in checks if hit), None)


async def check_url(url: str) -> None:
    """Raise ``ToolError`` unless ``url`` is http(s) on a host whose addresses are all public."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ToolError(f"only http:// and https:// URLs can be fetched, not {url!r}")
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        addresses = await _resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            shown = host if str(address) == host else f"{host} ({address})"
            raise ToolError(f"refused: {shown} is a {reason} address; fetch_url reaches public "
                            f"addresses only ({HINT})")


async def _resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (none when it cannot be resolved here)."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    found = []
    for info in infos:
        try:
            found.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    return found
