"""Where a webhook URL leads: its host's addresses, and the rule that they be public.

Checked when a subscription's URL is given (a clear 422 naming ``url``) and
again by the workers right before every POST (DNS can change after the check:
see workers/webhooks.py, which connects to the address checked here). With
``CRM_WEBHOOKS_ALLOW_PRIVATE=1`` any address is accepted: the tests' receivers,
and labs whose receivers live on the same network.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from domain.base import DomainError
from domain.webhook import non_public

Resolver = Callable[[str, int], list[str]]


class RefusedAddress(Exception):
    """The URL's host cannot be reached, or only at addresses webhooks must not go to."""


def resolve(host: str, port: int) -> list[str]:
    """The host's addresses in the order a client tries them (an IP literal: itself)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _port(scheme: str, port: int | None) -> int:
    return port or (443 if scheme == "https" else 80)


def check_subscription_url(url: str, allow_private: bool, resolver: Resolver = resolve) -> None:
    """Refuses a URL whose host is, or resolves to, a non-public address.

    A name that does not resolve now is accepted (its DNS may come later); the
    delivery checks again and records the failure.
    """
    if allow_private:
        return
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, _port(parts.scheme, parts.port)
    except ValueError:
        return  # the domain refuses a malformed URL with its own reason
    if not host:
        return
    try:
        addresses = resolver(host, port)
    except OSError:
        return
    for address in addresses:
        if why := non_public(address):
            raise DomainError(f"webhooks go to public addresses only, and {host} is {why}", "url")


def delivery_addresses(url: str, allow_private: bool, resolver: Resolver = resolve) -> list[str]:
    """The addresses to POST to now, all of them checked; :class:`RefusedAddress` otherwise."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", _port(parts.scheme, parts.port)
    try:
        addresses = resolver(host, port)
    except OSError as error:
        raise RefusedAddress(f"cannot resolve {host}: {error}") from None
    if not addresses:
        raise RefusedAddress(f"{host} has no address")
    if not allow_private:
        for address in addresses:
            if why := non_public(address):
                raise RefusedAddress(f"refused: {host} is {why}")
    return addresses
