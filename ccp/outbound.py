"""The outbound policy: every request a user can make the server send (inputs by reference,
subscriber callbacks) goes through here, and nowhere else.

What it enforces:
- only `http` and `https`, no user:password in the URL, ASCII URLs only;
- the host is resolved once and every address it resolves to is checked: loopback,
  link-local, private, multicast, reserved, unspecified and other not globally routable
  addresses are refused (IPv4 and IPv6, with the IPv4 inside v4-mapped, 6to4, Teredo and
  NAT64 addresses checked too), unless the operator allowed the network or the host name;
- the server itself (its base URL) is never a target;
- the connection goes to the address that was checked (no second lookup, so no DNS
  rebinding window), TLS still verifies the certificate against the host name
  (ccp.pinnedhttp);
- redirects are followed by hand, at most `max_redirects`, each target checked again;
- a size limit (Content-Length first, then counted) and one deadline for the whole request,
  redirects included, enforced by closing the socket, so a slow body cannot hold a worker;
- nothing of the server goes out: no proxy from the environment, no .netrc, no cookies, no
  Authorization, `Accept-Encoding: identity`.

Configured under `server.manager.outbound` (see pygeoapi-config.yml and SECURITY.md).
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

from ccp.pinnedhttp import CHUNK, Downloaded, Exchange, FetchFailed, Target, short

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
REDIRECTS = (301, 302, 303, 307, 308)
MAX_URL_LENGTH = 2048
# Not globally routable, though Python 3.11's `is_global` says otherwise for some of them.
ALWAYS_REFUSED = tuple(ipaddress.ip_network(net) for net in (
    "0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.88.99.0/24", "198.18.0.0/15",
    "240.0.0.0/4", "::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
    "fc00::/7", "fe80::/10", "fec0::/10"))
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


class OutboundRefused(ValueError):
    """A URL the policy does not let the server reach (the user's fault: a 400)."""


def address_problem(address: IPAddress) -> str | None:
    """Why the server must not connect to `address` on a user's behalf (None: it may)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        problem = address_problem(embedded)
        mapped = isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None
        if problem or mapped:  # v4-mapped: the IPv4 address is all there is to check
            return f"{problem} (inside the IPv6 address {address})" if problem else None
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    if any(address in network for network in ALWAYS_REFUSED) or not address.is_global:
        return "not globally routable"
    return None


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (v4-mapped, 6to4, Teredo, NAT64)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if any(address in network for network in NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass
class OutboundPolicy:
    allow_networks: tuple[IPNetwork, ...] = ()
    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 1024**3  # one input
    max_total_bytes: int = 4 * 1024**3  # all inputs of one execution
    timeout: float = 300.0  # one download, redirects included
    connect_timeout: float = 10.0
    max_redirects: int = 5
    base_url: str = ""  # the server itself: never a target
    resolver: Callable[[str, int], list[str]] | None = field(default=None, repr=False)
    _self_addresses: set[tuple[str, int]] | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None, base_url: str) -> OutboundPolicy:
        config = config or {}
        networks, hosts = parse_allow(config.get("allow"))
        defaults = cls()
        return cls(
            allow_networks=networks, allow_hosts=hosts,
            max_bytes=int(config.get("max_bytes") or defaults.max_bytes),
            max_total_bytes=int(config.get("max_total_bytes") or defaults.max_total_bytes),
            timeout=float(config.get("timeout") or defaults.timeout),
            connect_timeout=float(config.get("connect_timeout") or defaults.connect_timeout),
            max_redirects=int(config.get("max_redirects") or defaults.max_redirects),
            base_url=base_url)

    # --- the checks -----------------------------------------------------------------------

    def check(self, url: Any) -> Target:
        """The URL as a Target, or OutboundRefused saying why the server will not go there."""
        if not isinstance(url, str) or not url:
            raise OutboundRefused("the URL must be a non-empty string")
        if len(url) > MAX_URL_LENGTH:
            raise OutboundRefused(f"the URL is longer than {MAX_URL_LENGTH} characters")
        if not url.isascii() or any(ord(c) <= 32 or ord(c) == 127 for c in url):
            raise OutboundRefused(f"{url[:80]!r}: a URL may hold printable ASCII only "
                                  "(percent-encode the rest)")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as err:
            raise OutboundRefused(f"{url[:80]!r} is not a valid URL: {err}") from err
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise OutboundRefused(f"{url[:80]!r}: only http and https URLs may be fetched "
                                  "or called")
        if parts.username is not None or parts.password is not None:
            raise OutboundRefused(f"{scheme}://…: credentials in a URL are not sent; the "
                                  "server reaches only what needs none")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise OutboundRefused(f"{url[:80]!r} names no host")
        if port == 0:
            raise OutboundRefused(f"{url[:80]!r}: port 0 cannot be reached")
        port = port or (443 if scheme == "https" else 80)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        addresses = self._checked_addresses(host, port)
        return Target(url, scheme, host, port, path, tuple(addresses))

    def _checked_addresses(self, host: str, port: int) -> list[str]:
        literal = _ip_literal(host)
        names = [literal] if literal is not None else self.resolve(host, port)
        if not names:
            raise OutboundRefused(f"{host} does not resolve to any address")
        if self._is_self(host, port, names):
            raise OutboundRefused(f"{host}:{port} is this server itself")
        if host.lower() in self.allow_hosts:
            return names
        for name in names:
            address = ipaddress.ip_address(name.split("%")[0])
            if self._allowed(address):
                continue
            problem = address_problem(address)
            if problem:
                shown = host if literal is not None else f"{host} (resolves to {address})"
                raise OutboundRefused(
                    f"{shown} is a {problem} address: the server does not connect there on a "
                    "user's behalf (an operator can allow networks or hosts: "
                    "outbound.allow, CCP_OUTBOUND_ALLOW)")
        return names

    def _allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            candidates.append(embedded)
        return any(candidate in network for candidate in candidates
                   for network in self.allow_networks if candidate.version == network.version)

    def _is_self(self, host: str, port: int, names: list[str]) -> bool:
        if self._self_addresses is None:
            self._self_addresses = set()
            try:
                own = urlsplit(self.base_url)
                own_port = own.port or (443 if own.scheme == "https" else 80)
                own_host = (own.hostname or "").rstrip(".").lower()
                if own_host:
                    self._self_addresses.add((own_host, own_port))
                    literal = _ip_literal(own_host)
                    for name in [literal] if literal else self.resolve(own_host, own_port):
                        self._self_addresses.add((_normal(name), own_port))
            except (OutboundRefused, ValueError):
                pass  # the server's own URL does not resolve here: nothing to compare with
        return (host.lower(), port) in self._self_addresses or any(
            (_normal(name), port) in self._self_addresses for name in names)

    def resolve(self, host: str, port: int) -> list[str]:
        """Every address of `host`, within the connect timeout (getaddrinfo has none)."""
        if self.resolver is not None:
            return self.resolver(host, port)
        future = _RESOLVER.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        try:
            found = future.result(timeout=self.connect_timeout)
        except concurrent.futures.TimeoutError as err:
            raise OutboundRefused(f"{host} did not resolve within "
                                  f"{self.connect_timeout:g} s") from err
        except (OSError, UnicodeError) as err:
            raise OutboundRefused(f"{host} does not resolve: {err}") from err
        return list(dict.fromkeys(str(info[4][0]) for info in found))

    # --- requests ---------------------------------------------------------------------------

    def download(self, url: str, sink: IO[bytes], max_bytes: int | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> Downloaded:
        """GET `url` into `sink`, following checked redirects, within the limits."""
        limit = self.max_bytes if max_bytes is None else max_bytes
        deadline = time.monotonic() + self.timeout
        current = url
        for _hop in range(self.max_redirects + 1):
            target = self.check(current)
            with Exchange(target, deadline, self.timeout, self.connect_timeout) as exchange:
                response = exchange.send("GET", None, {"Accept": "*/*"})
                location = response.getheader("Location")
                if response.status in REDIRECTS and location:
                    current = urljoin(current, location)
                    continue
                if response.status != 200:
                    raise FetchFailed(f"{short(current)} answered {response.status} "
                                      f"{response.reason}")
                return exchange.read_body(response, sink, limit, should_stop, current)
        raise FetchFailed(f"{short(url)}: more than {self.max_redirects} redirects")

    def post_json(self, url: str, body: bytes, timeout: float) -> int:
        """POST a JSON body to `url` (redirects are not followed); the response status."""
        target = self.check(url)
        with Exchange(target, time.monotonic() + timeout, timeout,
                      self.connect_timeout) as exchange:
            response = exchange.send("POST", body, {"Content-Type": "application/json",
                                                    "Accept": "*/*"})
            exchange.drain(response, CHUNK)
            return response.status


def parse_allow(value: Any) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """`10.0.0.0/8, 127.0.0.2, data.example.org`: networks (or single addresses) and hosts."""
    if value in (None, ""):
        return (), frozenset()
    items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
    networks: list[IPNetwork] = []
    hosts: set[str] = set()
    for item in (str(item).strip() for item in items):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
        except ValueError:
            if not all(part and all(c.isalnum() or c == "-" for c in part)
                       for part in item.rstrip(".").split(".")):
                raise ValueError(f"outbound.allow: {item!r} is neither a network nor a host "
                                 "name") from None
            hosts.add(item.rstrip(".").lower())
    return tuple(networks), frozenset(hosts)


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]").split("%")[0]))
    except ValueError:
        return None


def _normal(name: str) -> str:
    literal = _ip_literal(name)
    return literal if literal is not None else name.lower()


_RESOLVER = concurrent.futures.ThreadPoolExecutor(max_workers=4,
                                                  thread_name_prefix="ccp-resolve")
