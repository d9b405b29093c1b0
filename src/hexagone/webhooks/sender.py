"""The HTTP adapter that posts one webhook, to an address checked after resolution.

``HttpSender.send`` resolves the URL's name once, refuses it when *any* address it resolves to is
not allowed by the ``AddressPolicy`` (``PermanentError``: never retried), then connects to the
checked address itself — the ``Host`` header and, for HTTPS, the TLS server name and certificate
check keep the original name — so the name cannot be re-resolved elsewhere (DNS rebinding).
Redirects are not followed, environment proxies are ignored, the whole exchange is bounded in
time and at most ``max_response_bytes`` of the answer are read. Network failures and non-2xx
answers raise ``TemporaryError`` (the outbox retries with backoff).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx

from hexagone.errors import PermanentError, TemporaryError
from hexagone.settings import Settings
from hexagone.webhooks.rules import AddressPolicy, parse_url

#: ``resolve(host, port)`` → the addresses the name stands for (strings).
Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise TemporaryError(f"The webhook host {host} does not resolve ({exc.strerror}).", delay=60) from exc
    out: list[str] = []
    for info in infos:
        addr = str(info[4][0]).split("%", 1)[0]
        if addr not in out:
            out.append(addr)
    return out


class HttpSender:
    def __init__(self, policy: AddressPolicy, resolver: Resolver = system_resolver, timeout: float = 5.0,
                 max_response_bytes: int = 65536, verify: ssl.SSLContext | bool = True) -> None:
        self.policy = policy
        self.resolver = resolver
        self.timeout = timeout
        self.max_response_bytes = max_response_bytes
        self.verify = verify  # the system's CAs; a test passes a context trusting its own certificate

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver = system_resolver) -> HttpSender:
        return cls(AddressPolicy.from_cidrs(settings.webhook_allowed_networks), resolver,
                   settings.webhook_timeout_seconds)

    def send(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> int:
        """POST ``body`` as JSON; returns the 2xx status code."""
        dest = parse_url(url)  # stored URLs are checked again: rows may predate the rules
        addresses = [str(dest.address)] if dest.address is not None else self.resolver(dest.host, dest.port)
        if not addresses:
            raise TemporaryError(f"The webhook host {dest.host} resolves to no address.", delay=60)
        refused = [a for a in addresses if not self.policy.permits(a)]
        if refused:
            raise PermanentError(
                f"The webhook host {dest.host} resolves to {refused[0]}, which is not a public address: "
                "the control plane only calls public endpoints."
            )
        address = addresses[0]
        literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
        extensions = {"sni_hostname": dest.host} if dest.scheme == "https" and dest.address is None else {}
        deadline = time.monotonic() + self.timeout
        try:
            with httpx.Client(trust_env=False, follow_redirects=False, timeout=self.timeout,
                              verify=self.verify) as http:
                request = http.build_request(
                    "POST", f"{dest.scheme}://{literal}:{dest.port}{dest.target}",
                    content=json.dumps(body).encode(),
                    headers={"Host": dest.host_header, "Content-Type": "application/json",
                             "User-Agent": "hexagone-webhooks", **headers},
                    extensions=extensions,
                )
                response = http.send(request, stream=True)
                try:
                    read = 0
                    for chunk in response.iter_raw():
                        read += len(chunk)
                        if read >= self.max_response_bytes or time.monotonic() > deadline:
                            break
                finally:
                    response.close()
        except httpx.HTTPError as exc:
            raise TemporaryError(f"The webhook call failed: {type(exc).__name__}.", delay=60) from exc
        if not 200 <= response.status_code < 300:
            what = "a redirect (not followed)" if 300 <= response.status_code < 400 else "an error"
            raise TemporaryError(f"The webhook answered {response.status_code}, {what}.", delay=60,
                                 status_code=response.status_code)
        return response.status_code
