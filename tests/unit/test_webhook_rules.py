"""Webhook destinations: which URLs a customer may store and which addresses the control plane
may connect to (pure rules; the delivery path is tested in tests/integration/test_webhooks.py)."""

from __future__ import annotations

import pytest

from hexagone.errors import InvalidInput
from hexagone.webhooks.rules import AddressPolicy, backoff_seconds, check_url, parse_url

DEFAULT = AddressPolicy()

NON_PUBLIC = [
    "127.0.0.1", "127.8.9.10", "0.0.0.0",  # noqa: S104  (an address to refuse, not one to bind)
    "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "192.0.0.1", "198.18.0.1", "224.0.0.1", "239.1.1.1",
    "255.255.255.255", "240.0.0.1", "192.0.2.1",
    "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    "2002:7f00:1::1", "2002:a9fe:a9fe::1", "2001:db8::1",
]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_addresses_are_refused(address):
    assert not DEFAULT.permits(address)
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(InvalidInput, match="not a public address"):
        check_url(f"https://{literal}/hook", DEFAULT)


@pytest.mark.parametrize("address", ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34"])
def test_public_addresses_are_permitted(address):
    assert DEFAULT.permits(address)


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f000001/", "http://127.1/", "http://0177.0.0.1/",
                                 "http://0x7f.1/x", "http://169.254.43518/latest/meta-data"])
def test_numeric_spellings_of_private_addresses_are_read_as_the_address(url):
    with pytest.raises(InvalidInput, match="not a public address"):
        check_url(url, DEFAULT)


@pytest.mark.parametrize("url,why", [
    ("ftp://hooks.example.com/x", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("gopher://hooks.example.com/", "http:// or https://"),
    ("hooks.example.com/x", "http:// or https://"),
    ("https://user:secret@hooks.example.com/x", "credentials"),
    ("https://user@hooks.example.com/x", "credentials"),
    ("https://hooks.example.com/" + "a" * 500, "longer than 500"),
    ("https://hooks.example.com/a b", "spaces"),
    ("https://hooks.example.com/\r\nX-Injected: 1", "control characters"),
    ("https://hooks.example.com\\@evil/", "backslashes"),
    ("https:///x", "no host"),
    ("https://hooks.example.com:99999/", "port"),
    ("https://exa_mple.com/", "DNS name"),
    ("https://example.123/", "DNS name"),
    ("https://[fe80::1%25eth0]/", "zone"),
])
def test_malformed_urls_are_refused(url, why):
    with pytest.raises(InvalidInput, match=why):
        check_url(url, DEFAULT)


def test_a_parsed_url_keeps_the_name_for_the_host_header():
    d = parse_url("https://Hooks.Example.com./budget?x=1#frag")
    assert (d.scheme, d.host, d.port, d.target, d.address) == ("https", "hooks.example.com", 443, "/budget?x=1", None)
    assert d.host_header == "hooks.example.com"
    assert parse_url("http://hooks.example.com:8080").host_header == "hooks.example.com:8080"
    assert parse_url("http://[2606:4700::1]:81/").host_header == "[2606:4700::1]:81"


def test_allowed_networks_open_exactly_those_networks():
    policy = AddressPolicy.from_cidrs(["127.0.0.0/8", "fd00:1::/64"])
    assert policy.permits("127.0.0.1") and policy.permits("::ffff:127.0.0.1") and policy.permits("fd00:1::5")
    assert not policy.permits("10.0.0.1") and not policy.permits("169.254.169.254") and not policy.permits("fd00:2::1")
    assert check_url("http://127.0.0.1:9/x", policy).address is not None
    with pytest.raises(InvalidInput, match="invalid network"):
        AddressPolicy.from_cidrs(["10.0.0.0/33"])


def test_retries_back_off_exponentially_up_to_an_hour():
    assert [backoff_seconds(n, 30) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff_seconds(20, 30) == 3600


def test_an_invalid_allowed_network_setting_is_refused_at_start():
    from pydantic import ValidationError

    from hexagone.settings import Settings

    assert Settings(webhook_allowed_networks=["10.20.0.0/16"]).webhook_allowed_networks == ["10.20.0.0/16"]
    with pytest.raises(ValidationError):
        Settings(webhook_allowed_networks=["10.20.0.0/99"])
