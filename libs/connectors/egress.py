"""Where a provider connection may go: resolve the host once, check every address, connect to a checked one.

A district admin chooses the URLs and SFTP hosts the service connects to. Without a policy,
that makes the service a proxy into its own network: loopback, the cluster's private ranges,
the cloud metadata address. `EgressPolicy.connect` is the one way connectors open a socket
(HTTP through `EgressBackend`, SFTP directly): it resolves the name exactly once, refuses the
host when any of its addresses is of a kind providers may not reach, and connects to the
address it checked, so a DNS answer that changes between check and connect (rebinding) never
reaches anything unchecked. Numeric spellings (`127.1`, `0x7f.1`, `2130706433`,
`017700000001`) are parsed here, as the C resolver would read them, and never sent to DNS.

`ALLOW_PRIVATE_PROVIDER_HOSTS` lets loopback, private, link-local, CGNAT and unspecified
addresses through (simulators and SIS servers on a VPN); the metadata address, multicast and
other reserved ranges stay refused. `PROVIDER_EGRESS_ALLOW` lists CIDRs and host names that
are always allowed.
"""

from __future__ import annotations

import ipaddress
import re
import select
import socket
import ssl
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpcore

from libs.connectors.errors import EgressRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# cloud metadata services: AWS/GCP/Azure/OpenStack, AWS ECS task metadata, AWS IPv6, Alibaba
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_PRIVATE = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"))

LOOPBACK = "a loopback address"
PRIVATE = "a private address"
LINK_LOCAL = "a link-local address"
METADATA = "the cloud metadata address"
CGNAT = "a carrier-grade NAT address"
MULTICAST = "a multicast address"
UNSPECIFIED = "an unspecified address"
RESERVED = "a reserved address"
# the kinds ALLOW_PRIVATE_PROVIDER_HOSTS lets through
_PRIVATE_KINDS = frozenset({LOOPBACK, PRIVATE, LINK_LOCAL, CGNAT, UNSPECIFIED})

# what inet_aton (and so getaddrinfo) reads as an IPv4 address: 1 to 4 parts, each decimal,
# octal (leading 0) or hex (0x), the last part filling the remaining bytes
_NUMERIC_V4 = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$", re.IGNORECASE)
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


def _numeric_v4(host: str) -> ipaddress.IPv4Address | None:
    """The address a numeric IPv4 spelling stands for; None when `host` is not numeric.

    Raises ValueError for a numeric spelling no resolver accepts (`999.1.1.1`, `08.1`).
    """
    if not _NUMERIC_V4.match(host):
        return None
    parts = host.rstrip(".").split(".")
    values = []
    for part in parts:
        lowered = part.lower()
        if lowered.startswith("0x"):
            values.append(int(lowered[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            values.append(int(part, 8))  # ValueError on 8 or 9: not an address
        else:
            values.append(int(part))
    *leading, last = values
    if any(v > 255 for v in leading) or last >= 1 << (8 * (4 - len(leading))):
        raise ValueError(host)
    number = last
    for index, value in enumerate(leading):
        number |= value << (8 * (3 - index))
    return ipaddress.IPv4Address(number)


def literal_address(host: str) -> IPAddress | None:
    """The IP address `host` spells (any IPv4 or IPv6 form), None for a host name.

    Raises EgressRefused for a spelling that looks numeric but is no address.
    """
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        found = _numeric_v4(text)
    except ValueError:
        found = None
    else:
        if found is not None:
            return found
    # no top-level domain is numeric: a name ending in one is a mistyped address, not for DNS
    if _NUMERIC_LABEL.match(text.rstrip(".").rsplit(".", 1)[-1]):
        raise EgressRefused(f"{host} looks like an IP address but is not a valid one")
    return None


def classify(address: IPAddress) -> tuple[str, str] | None:
    """(kind, description) of an address providers may not reach, None for a public one.

    `kind` is one of the kinds above; the description also says when the address is an IPv6
    form of an IPv4 one (mapped, NAT64, 6to4), so the refusal names what was really asked for.
    """
    if isinstance(address, ipaddress.IPv6Address):
        inner: ipaddress.IPv4Address | None = None
        if address.ipv4_mapped is not None:
            inner, form = address.ipv4_mapped, "an IPv4-mapped form of"
        elif address in _NAT64:
            inner, form = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), "a NAT64 form of"
        elif address.sixtofour is not None:
            inner, form = address.sixtofour, "a 6to4 form of"
        if inner is not None:
            found = classify(inner)
            return (found[0], f"{form} {found[1]}") if found else None
        if address.teredo is not None:
            return RESERVED, RESERVED
        if address.scope_id:
            address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    kind = _plain_kind(address)
    return (kind, kind) if kind else None


def _plain_kind(address: IPAddress) -> str | None:
    if address in METADATA_ADDRESSES:
        return METADATA
    if address.is_unspecified:
        return UNSPECIFIED
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return LINK_LOCAL
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return CGNAT
    if any(address in network for network in _PRIVATE):
        return PRIVATE
    if address.is_multicast:
        return MULTICAST
    if not address.is_global or address.is_reserved:
        return RESERVED
    return None


def address_kind(address: IPAddress) -> str | None:
    """What kind of address providers may not reach `address` is, in words; None for a public one."""
    found = classify(address)
    return found[1] if found else None


def _normal_name(host: str) -> str:
    return host.strip().rstrip(".").lower()


def parse_allow_entries(entries: Iterable[str]) -> tuple[tuple[IPNetwork, ...], frozenset[str]]:
    """PROVIDER_EGRESS_ALLOW entries as (networks, host names); ValueError names a bad entry."""
    networks: list[IPNetwork] = []
    names: set[str] = set()
    for raw in entries:
        entry = raw.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        name = _normal_name(entry)
        if not _HOST_NAME.match(name) or _NUMERIC_V4.match(name):
            raise ValueError(f"{entry!r} is neither a CIDR (10.20.0.0/16) nor a host name (sis.example.org)")
        names.add(name)
    return tuple(networks), frozenset(names)


def lookup(host: str, port: int) -> list[IPAddress]:
    """Every address the resolver gives for `host` (the one DNS lookup of a connection)."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


class Unresolvable(Exception):
    """The host name has no address (the resolver's own error is the cause)."""


@dataclass(frozen=True)
class EgressPolicy:
    """Which addresses provider connections may reach."""

    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_settings(cls, settings: Any) -> EgressPolicy:
        """From the process settings (libs.settings.Settings)."""
        networks, hosts = parse_allow_entries(settings.provider_egress_allow)
        return cls(
            allow_private=bool(settings.private_provider_hosts_allowed),
            allowed_networks=networks,
            allowed_hosts=hosts,
        )

    def refusal(self, address: IPAddress) -> str | None:
        """Why `address` may not be reached (its kind), None when it may."""
        found = classify(address)
        if found is None:
            return None
        kind, description = found
        plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
        if any(plain in network or address in network for network in self.allowed_networks):
            return None
        if self.allow_private and kind in _PRIVATE_KINDS:
            return None
        return description

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The addresses of `host` a connection may use, after one resolution; EgressRefused otherwise.

        A host is refused as soon as one of its addresses is refused: a name that answers both a
        public and a private address is not a provider, whichever address would be tried first.
        """
        literal = literal_address(host)
        if literal is not None:
            found = [literal]
        else:
            try:
                found = lookup(host, port)
            except (OSError, UnicodeError) as exc:
                raise Unresolvable(str(exc)) from exc
            if not found:
                raise Unresolvable(f"{host} has no address")
        if _normal_name(host) in self.allowed_hosts:
            return found
        for address in found:
            kind = self.refusal(address)
            if kind is not None:
                raise EgressRefused(f"{host} resolves to {kind}, which providers may not reach")
        return found

    def connect(
        self,
        host: str,
        port: int,
        timeout: float | None,
        *,
        source_address: str | None = None,
    ) -> socket.socket:
        """A TCP socket connected to a checked address of `host` (tried in the resolver's order).

        Raises EgressRefused (before any connection), Unresolvable, or the OSError of the last attempt.
        """
        last: OSError | None = None
        for address in self.addresses(host, port):
            try:
                return open_socket(address, port, timeout, source_address=source_address)
            except OSError as exc:
                last = exc
        assert last is not None
        raise last


# where no policy is given: production's, private hosts refused. Whatever forgets to pass the
# settings' policy fails closed; development and test pass EgressPolicy.from_settings.
STRICT = EgressPolicy()


def open_socket(
    address: IPAddress, port: int, timeout: float | None, *, source_address: str | None = None
) -> socket.socket:
    """Connect to exactly this address: no name, so no resolver is asked again."""
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        if source_address is not None:
            sock.bind((source_address, 0))
        sockaddr: tuple[Any, ...] = (str(address), port)
        if family == socket.AF_INET6:
            sockaddr = (str(address), port, 0, 0)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


def _within(timeout: float | None, deadline: float | None) -> float | None:
    """`timeout` capped to the time left before `deadline` (time.monotonic()); TimeoutError once it passed."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """httpcore's view of one socket (the same as its SyncStream, which is private).

    With a deadline, no read or write waits past it, however slowly the server trickles bytes.
    """

    def __init__(self, sock: socket.socket, deadline: float | None = None) -> None:
        self._sock = sock
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            self._sock.settimeout(_within(timeout, self._deadline))
            return self._sock.recv(max_bytes)
        except TimeoutError as exc:
            raise httpcore.ReadTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            while buffer:
                self._sock.settimeout(_within(timeout, self._deadline))
                sent = self._sock.send(buffer)
                buffer = buffer[sent:]
        except TimeoutError as exc:
            raise httpcore.WriteTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        self._sock.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host, so SNI and certificate checks name the host, not the address
        try:
            self._sock.settimeout(_within(timeout, self._deadline))
            wrapped = ssl_context.wrap_socket(self._sock, server_hostname=server_hostname)
        except TimeoutError as exc:
            self.close()
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            self.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _Stream(wrapped, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock  # selected_alpn_protocol() and friends, as on an SSLObject
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            # an idle keep-alive connection that is readable was closed (or spoke out of turn)
            try:
                readable, _, _ = select.select([self._sock], [], [], 0)
            except (OSError, ValueError):
                return True
            return bool(readable)
        return None


class _Sleeper(Protocol):
    def sleep(self, seconds: float) -> None: ...


class EgressBackend(httpcore.NetworkBackend):
    """httpcore's network backend under the policy: resolve once, check, connect to the checked address.

    `deadline` (time.monotonic()): a connection test's end, past which no socket of it waits.
    """

    def __init__(self, policy: EgressPolicy, deadline: float | None = None) -> None:
        self.policy = policy
        self.deadline = deadline
        self._sync: _Sleeper = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            sock = self.policy.connect(host, port, _within(timeout, self.deadline), source_address=local_address)
        except Unresolvable as exc:
            # the resolver's error stays the cause, so messages can say "the host name does not resolve"
            raise httpcore.ConnectError(str(exc)) from exc.__cause__
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(str(exc)) from exc
        except OSError as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        return _Stream(sock, self.deadline)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise EgressRefused("provider connections never use Unix sockets")

    def sleep(self, seconds: float) -> None:
        self._sync.sleep(seconds)


__all__ = [
    "METADATA_ADDRESSES",
    "STRICT",
    "EgressBackend",
    "EgressPolicy",
    "Unresolvable",
    "address_kind",
    "classify",
    "literal_address",
    "lookup",
    "open_socket",
    "parse_allow_entries",
]
