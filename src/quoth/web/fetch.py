"""Download one web page for a moderator, without letting the bot be used as a proxy.

A chat moderator's link is fetched by the server quoth runs on, inside its network, so the
address is checked before connecting (every address the name resolves to must be public:
no loopback, private, link-local, multicast or reserved ranges, unless
``QUOTH_FETCH_ALLOW_PRIVATE`` allows them) and again once connected (the address actually
reached, which a name re-resolving to an internal address would otherwise slip past), for
the first request and every redirect. The body is read only while it stays under the size
limit and only when it is HTML.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from quoth.errors import QuothError

MAX_REDIRECTS = 5
HTML_TYPES = ("text/html", "application/xhtml+xml")
DOCUMENT_TYPES = {
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
}
"""Documents a link may point to, by media type, with the file suffix they are kept under."""
ARTICLE_TYPES = (*HTML_TYPES, *DOCUMENT_TYPES)
USER_AGENT = "quoth/0.1 (+https://github.com/quoth; article fetcher)"


class FetchError(QuothError):
    """The link cannot be added as it is; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class FetchLimits:
    timeout_s: float = 15.0
    max_bytes: int = 5 * 1024 * 1024
    allow_private: bool = False


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched page; ``body`` is None when the site said it has not changed (304)."""

    url: str
    """Where it was found, after redirects."""
    body: bytes | None
    etag: str | None
    last_modified: str | None
    content_type: str = ""
    """The media type the site declared, lower-cased, without parameters."""

    @property
    def suffix(self) -> str:
        """The file suffix its kind of article is kept under: ``.html``, ``.pdf``, ``.docx``."""
        return DOCUMENT_TYPES.get(self.content_type, ".html")


def normalise_link(url: str) -> str:
    """The form a link is known by: scheme and host lower-cased, no fragment; refuses what
    is not an http(s) address."""
    text = url.strip().strip("<>")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise FetchError(
            "That is not a web link: send an address starting with http:// or https://."
        )
    if parts.username or parts.password:
        raise FetchError("Links with a user name or password in them are not fetched.")
    host = parts.hostname.lower()
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if ":" in host:
        netloc = f"[{host}]" if parts.port is None else f"[{host}]:{parts.port}"
    path = parts.path or "/"
    return f"{parts.scheme.lower()}://{netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(url: str, limits: FetchLimits) -> None:
    """Refuse a host that is, or resolves to, an address inside a private network."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise FetchError(f"Cannot find the site {host} (no such name).") from None
    if limits.allow_private:
        return
    for info in infos:
        if not _public(str(info[4][0])):
            raise FetchError(
                f"{host} is a private or local address; fetching it is not allowed "
                "(QUOTH_FETCH_ALLOW_PRIVATE)."
            )


def _check_peer(response: httpx.Response, limits: FetchLimits) -> None:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not limits.allow_private and peer is not None and not _public(str(peer[0])):
        raise FetchError(
            f"{response.url.host} led to a private or local address; fetching it is not "
            "allowed (QUOTH_FETCH_ALLOW_PRIVATE)."
        )


def fetch_page(
    url: str,
    limits: FetchLimits,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: Sequence[str] = ARTICLE_TYPES,
) -> Page:
    """GET a page (conditionally, when an ETag or Last-Modified is known) whose media type
    is one of ``accept``: a web page or a document, unless the caller asks for others."""
    current = normalise_link(url)
    headers = {"User-Agent": USER_AGENT, "Accept": ",".join(accept)}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    with httpx.Client(timeout=limits.timeout_s, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_host(current, limits)
            try:
                with client.stream("GET", current, headers=headers) as response:
                    _check_peer(response, limits)
                    if response.is_redirect and "location" in response.headers:
                        current = normalise_link(urljoin(current, response.headers["location"]))
                        continue
                    return _page(current, response, limits, accept)
            except httpx.TimeoutException:
                raise FetchError(f"{urlsplit(current).hostname} did not answer in time.") from None
            except httpx.HTTPError as error:
                raise FetchError(
                    f"Could not reach {urlsplit(current).hostname}: {error}."
                ) from None
    raise FetchError(f"That link redirects more than {MAX_REDIRECTS} times.")


def _media_type(url: str, declared: str) -> str:
    """The declared type, or a document's own when a site serves it as bare bytes."""
    if declared in ("application/octet-stream", "binary/octet-stream", ""):
        path = urlsplit(url).path.lower()
        for kind, suffix in DOCUMENT_TYPES.items():
            if path.endswith(suffix):
                return kind
    return declared


def _page(url: str, response: httpx.Response, limits: FetchLimits, accept: Sequence[str]) -> Page:
    etag = response.headers.get("etag")
    modified = response.headers.get("last-modified")
    if response.status_code == 304:
        return Page(url, None, etag, modified)
    if response.status_code >= 400:
        raise FetchError(f"{response.url.host} answered {response.status_code} for that link.")
    declared = response.headers.get("content-type", "").split(";")[0].strip().lower()
    kind = _media_type(url, declared)
    if kind not in accept:
        what = "a web page or a PDF or Word file" if accept == ARTICLE_TYPES else "a feed"
        raise FetchError(f"That link is not {what} (it is {kind or 'of no stated type'}).")
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchError(_too_large(limits))
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > limits.max_bytes:
            raise FetchError(_too_large(limits))
    return Page(url, bytes(body), etag, modified, kind)


def _too_large(limits: FetchLimits) -> str:
    return f"That page is larger than {limits.max_bytes // 1024} KB; it was not fetched."
