"""Conditional GET for the web app: a strong ETag from the body, Last-Modified, Cache-Control,
and 304 Not Modified when the client already holds the same body (RFC 9110 §13). Bodies are
gzipped once, when first asked for (a phone on a congested network gets the map in a quarter of
the bytes); each encoding has its own ETag."""

from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from starlette.requests import Request
from starlette.responses import Response

NO_STORE = "no-store"
#: Smaller bodies are sent as they are.
GZIP_MIN_BYTES = 1024


def public(max_age_s: int) -> str:
    return f"public, max-age={max_age_s}" if max_age_s > 0 else "no-cache"


@dataclass(frozen=True)
class Body:
    """A response body with its validator, computed once and served many times."""

    content: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, content: bytes, media_type: str) -> Body:
        return cls(content, media_type, f'"{hashlib.sha256(content).hexdigest()[:32]}"')

    @functools.cached_property
    def gzipped(self) -> bytes | None:
        """The gzip encoding, or None when the body is too small to gain from it."""
        if len(self.content) < GZIP_MIN_BYTES:
            return None
        packed = gzip.compress(self.content, compresslevel=6, mtime=0)
        return packed if len(packed) < len(self.content) else None

    @property
    def gzip_etag(self) -> str:
        return self.etag[:-1] + '-gzip"'


def accepts_gzip(accept_encoding: str) -> bool:
    """The Accept-Encoding header gives gzip (by name, else by ``*``) a quality above 0."""
    quality: dict[str, float] = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        q = params.strip().lower().removeprefix("q=").strip() if params else "1"
        try:
            quality[coding.strip().lower()] = float(q)
        except ValueError:
            quality[coding.strip().lower()] = 0.0
    return quality.get("gzip", quality.get("*", 0.0)) > 0


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    """If-None-Match uses the weak comparison: ``W/"x"`` matches ``"x"``; ``*`` matches all."""
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == etag for t in tags)


def _not_modified_since(header: str, last_modified: datetime) -> bool:
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError, IndexError):
        return False
    if since.tzinfo is None:
        return False
    return last_modified.replace(microsecond=0) <= since


def is_fresh(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """True when the client's copy is current: If-None-Match wins; If-Modified-Since counts only
    without it (RFC 9110 §13.1.3)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        return _etag_matches(if_none_match, etag)
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since is not None and last_modified is not None:
        return _not_modified_since(if_modified_since, last_modified)
    return False


def conditional(request: Request, body: Body, *, cache_control: str,
                last_modified: datetime | None = None, status_code: int = 200,
                headers: Mapping[str, str] | None = None) -> Response:
    """The body (gzipped if the client takes it), or 304 with the same validators when the
    client holds it already."""
    packed = body.gzipped if accepts_gzip(request.headers.get("accept-encoding", "")) else None
    etag = body.etag if packed is None else body.gzip_etag
    out = {"ETag": etag, "Cache-Control": cache_control, **(headers or {})}
    if body.gzipped is not None:
        out["Vary"] = "Accept-Encoding"
    if last_modified is not None:
        out["Last-Modified"] = http_date(last_modified)
    if status_code == 200 and request.method in ("GET", "HEAD") and is_fresh(
            request, etag, last_modified):
        out.pop("Content-Disposition", None)
        return Response(status_code=304, headers=out)
    if packed is not None:
        out["Content-Encoding"] = "gzip"
    return Response(packed or body.content, status_code=status_code,
                    media_type=body.media_type, headers=out)
