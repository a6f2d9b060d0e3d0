"""Which requests the calculator answers at all: the checks made on every request's headers
before any body is read (see the package docstring for why each one)."""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

LOOPBACK = ("127.0.0.1", "localhost", "::1")
WILDCARDS = ("0.0.0.0", "::", "")
TOKEN_HEADER = "x-netsize-token"
_HOSTNAME = re.compile(r"[a-z0-9]([a-z0-9\-.]*[a-z0-9])?|\[[0-9a-f:.]+\]")


def allowed_hosts(bind_host: str = "127.0.0.1", extra: Iterable[str] = ()) -> frozenset[str]:
    """The names a ``Host`` header may give: the loopback names, the bound address (unless it is
    a wildcard such as 0.0.0.0, which names no host) and the ``--allow-host`` names."""
    names = set(LOOPBACK)
    for name in (bind_host, *extra):
        host = _normal(name)
        if host not in WILDCARDS:
            names.add(host)
    return frozenset(names)


def _normal(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def host_name(header: str) -> str | None:
    """The host of a ``Host`` header (``127.0.0.1:8000`` -> ``127.0.0.1``, ``[::1]:80`` -> ``::1``);
    None when it is not a host name or address."""
    text = header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        host, rest = text[: end + 1], text[end + 1:]
    else:
        host, _, port = text.partition(":")
        rest = ":" + port if _ else ""
    if rest and not re.fullmatch(r":\d{1,5}", rest):
        return None
    if not _HOSTNAME.fullmatch(host.rstrip(".")):
        return None
    return _normal(host)


def refusal(method: str, path: str, headers: Mapping[str, str], hosts: frozenset[str], token: str,
            scheme: str = "http") -> tuple[int, str] | None:
    """``(status, message)`` when the request must not be answered, else None. ``headers`` has
    lower-case names; ``scheme`` is the request's own (an origin must have the same)."""
    host_header = headers.get("host", "")
    host = host_name(host_header)
    if host is None or host not in hosts:
        return 403, (f"Host {host_header[:80]!r} is not this calculator's address; it answers "
                     f"{', '.join(sorted(hosts))} (netsize serve --allow-host NAME adds a name)")
    origin = headers.get("origin")
    if origin is not None:
        parts = urlsplit(origin)
        if origin == "null" or parts.scheme != scheme or parts.netloc.lower() != host_header.lower():
            return 403, f"cross-origin request from {origin[:80]!r} refused: only the calculator's own page may call it"
    site = headers.get("sec-fetch-site", "same-origin")
    navigation = method == "GET" and path == "/" and headers.get("sec-fetch-mode") == "navigate" and \
        headers.get("sec-fetch-dest", "document") == "document"
    # a link from another site may open the page (it cannot read it, and the page refuses frames)
    if site not in ("same-origin", "none") and not navigation:
        return 403, "cross-site request refused: only the calculator's own page may call it"
    if method == "POST" and path.startswith("/api/"):
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "application/json":
            return 415, f"the API takes Content-Type: application/json (got {media[:60]!r})"
        sent = headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode()):
            return 403, (f"missing or wrong {TOKEN_HEADER} header: the calculator's page sends the token it "
                         "was served with; reload the page")
    return None
