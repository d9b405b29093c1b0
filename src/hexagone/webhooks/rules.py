"""Where the control plane may send a webhook: pure rules over URLs and IP addresses.

A customer names the URL, the control plane makes the request: without these rules that is a
server-side request forgery (loopback services, the cloud's private networks, the metadata
address 169.254.169.254). So:

* ``parse_url`` accepts only ``http``/``https`` URLs of bounded length, with no credentials, no
  control characters and a plain DNS name or IP address as host (numeric IPv4 spellings such as
  ``2130706433`` or ``0x7f.1`` are read as the address they mean);
* ``AddressPolicy.permits`` admits only public unicast addresses (IPv4 or IPv6; an IPv6 address
  carrying an IPv4 one — mapped, NAT64, 6to4, Teredo — is judged by the IPv4 it carries), plus the
  networks an operator lists in ``webhook_allowed_networks`` (on-premises receivers, tests).

The sender resolves the name once, applies the policy to every address and connects to the
address it checked (``hexagone.webhooks.sender``), so a name that changes between check and
connection (DNS rebinding) cannot reach another address.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from hexagone.errors import InvalidInput

MAX_URL_LENGTH = 500
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_HOST = re.compile(r"^[0-9a-fx.]+$")


@dataclass(frozen=True)
class Destination:
    """A parsed webhook URL: ``host`` is an ASCII name or an address (no brackets), ``target`` the
    path and query sent, ``address`` set when the URL names an IP address directly."""

    scheme: str
    host: str
    port: int
    target: str
    address: IPAddress | None

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def _numeric_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address meant by a numeric IPv4 spelling (``127.1``, ``0x7f000001``) that resolvers
    accept, or None."""
    if not _NUMERIC_HOST.match(host):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def parse_url(url: str) -> Destination:
    """Parse and check a webhook URL (raising InvalidInput with what to do instead)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"webhook_url is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        raise InvalidInput("webhook_url may not contain spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput("webhook_url is not a valid URL (check the host and port).") from exc
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InvalidInput("webhook_url must be an http:// or https:// URL.")
    if "@" in parts.netloc:
        raise InvalidInput("webhook_url may not carry credentials (user:password@); put a secret in the path.")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise InvalidInput("webhook_url has no host.")
    address: IPAddress | None
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0] if ":" in host else host)
    except ValueError:
        address = _numeric_ipv4(host)
        if address is None:
            labels = host.split(".")
            if len(host) > 253 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
                raise InvalidInput("webhook_url's host must be a DNS name or an IP address.") from None
    if address is not None and "%" in host:
        raise InvalidInput("webhook_url may not name an IPv6 zone.")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Destination(scheme, str(address) if address is not None else host,
                       port or (443 if scheme == "https" else 80), target, address)


def embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo client), if any."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (not loopback, private, link-local, shared, reserved,
    multicast, documentation or unspecified)."""
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_loopback
        or address.is_link_local or address.is_private
    )


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses a webhook may reach: public ones, plus ``allowed`` networks."""

    allowed: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_cidrs(cls, cidrs: Iterable[str]) -> AddressPolicy:
        try:
            return cls(tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs if c.strip()))
        except ValueError as exc:
            raise InvalidInput(f"webhook_allowed_networks holds an invalid network: {exc}.") from exc

    def permits(self, address: IPAddress | str) -> bool:
        addr = ipaddress.ip_address(address) if isinstance(address, str) else address
        if any(addr.version == net.version and addr in net for net in self.allowed):
            return True
        inner = embedded_ipv4(addr)
        if inner is not None:
            return self.permits(inner)
        return is_public(addr)


def check_url(url: str, policy: AddressPolicy) -> Destination:
    """What a create or update stores: a valid URL, refused at once when it names a non-public
    address directly (names are checked again at each delivery, after resolution)."""
    dest = parse_url(url)
    if dest.address is not None and not policy.permits(dest.address):
        raise InvalidInput(
            f"webhook_url points to {dest.address}, which is not a public address: the control plane "
            "only calls public endpoints. Use a public URL (an operator may allow private networks "
            "with webhook_allowed_networks)."
        )
    return dest


def backoff_seconds(attempts: int, base: float, cap: float = 3600.0) -> float:
    """Delay before the next try after ``attempts`` failed ones: base, 2×base, 4×base… capped."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))
