"""HTTP transport for feeds: bytes in from a URL, nothing parsed beyond an optional JSON step.

One :class:`FeedClient` per feed. It sets timeouts, retries transient failures with exponential
backoff and jitter, makes conditional requests, follows page links, keeps a minimum interval
between requests, names floodwatch in its User-Agent and can add an auth header read from an
environment variable. Every failure is a :class:`FeedError`; an ``InputError`` raised by a
parser the caller applies to the bytes is not converted and stays the caller's to handle.

Retried: timeouts, connection and protocol errors (including a body cut short of its
Content-Length) and HTTP 5xx. Not retried: HTTP 4xx, redirect loops, oversize bodies, invalid
JSON. Sleep, clock and randomness are injectable so tests run fast and deterministically.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import httpx

from floodwatch.core.errors import ConfigError, FloodwatchError, InputError

Sleep = Callable[[float], None]
Clock = Callable[[], float]
#: Given a page's body, the URL of the next page (absolute or relative), or None at the end.
NextLink = Callable[[bytes], str | None]


def _version() -> str:
    try:
        return metadata.version("floodwatch")
    except metadata.PackageNotFoundError:
        return "0"


DEFAULT_USER_AGENT = f"floodwatch/{_version()} (open-source flood early-warning system)"

#: Query parameters whose values never appear in error messages.
_SECRET_PARAM_HINTS = ("key", "token", "secret", "password", "passwd", "sig", "auth")


class FeedError(FloodwatchError):
    """A feed could not be fetched: the URL, the HTTP status (if any) and why."""

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        reason: str = "",
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.url = url
        self.status = status
        self.reason = reason
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How one feed is fetched. Settings-like: build it from a feed's configuration."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0  # per read of the socket, not for the whole body
    max_attempts: int = 4  # 1 = no retries
    backoff_initial_s: float = 1.0  # wait before the 2nd attempt
    backoff_factor: float = 2.0  # each further wait is this much longer …
    backoff_max_s: float = 60.0  # … up to this
    jitter_ratio: float = 0.25  # each wait is stretched by up to this fraction at random
    min_interval_s: float = 0.0  # the feed's rate limit: time between request starts
    max_body_bytes: int = 64 * 1024 * 1024
    user_agent: str = DEFAULT_USER_AGENT
    contact: str | None = None  # appended to the User-Agent; some services require one
    auth_env_var: str | None = None  # name of the environment variable holding the credential
    auth_header: str = "Authorization"
    auth_prefix: str = ""  # e.g. "Bearer " (the variable then holds only the token)
    follow_redirects: bool = True
    trust_env: bool = True  # honour HTTP(S)_PROXY / NO_PROXY / SSL_CERT_FILE

    def __post_init__(self) -> None:
        positive = {
            "connect_timeout_s": self.connect_timeout_s,
            "read_timeout_s": self.read_timeout_s,
            "max_attempts": self.max_attempts,
            "backoff_factor": self.backoff_factor,
            "max_body_bytes": self.max_body_bytes,
        }
        for name, value in positive.items():
            if not value > 0:
                raise ConfigError(f"transport option {name} must be positive, got {value}")
        non_negative = {
            "backoff_initial_s": self.backoff_initial_s,
            "backoff_max_s": self.backoff_max_s,
            "jitter_ratio": self.jitter_ratio,
            "min_interval_s": self.min_interval_s,
        }
        for name, value in non_negative.items():
            if value < 0:
                raise ConfigError(f"transport option {name} must not be negative, got {value}")

    @property
    def timeout(self) -> httpx.Timeout:
        return httpx.Timeout(
            connect=self.connect_timeout_s,
            read=self.read_timeout_s,
            write=self.read_timeout_s,
            pool=self.connect_timeout_s,
        )

    @property
    def user_agent_header(self) -> str:
        return f"{self.user_agent} ({self.contact})" if self.contact else self.user_agent


@dataclass(frozen=True, slots=True)
class Validators:
    """Cache validators of a response; the caller keeps them and passes them to the next fetch."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def updated_from(self, headers: httpx.Headers) -> Validators:
        """These validators with whatever a response sends replacing them."""
        return Validators(
            etag=headers.get("ETag") or self.etag,
            last_modified=headers.get("Last-Modified") or self.last_modified,
        )


@dataclass(frozen=True, slots=True)
class FetchResult:
    """One response. ``not_modified`` (HTTP 304) means: nothing new, ``body`` is empty."""

    url: str  # the final URL, after redirects
    status: int
    body: bytes
    validators: Validators  # to send next time
    not_modified: bool = False
    content_type: str | None = None
    attempts: int = 1

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is a :class:`FeedError`."""
        if self.not_modified:
            raise FeedError(
                f"{redact_url(self.url)} was not modified: there is no body to parse",
                url=self.url,
                status=self.status,
                reason="not modified",
            )
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise FeedError(
                f"{redact_url(self.url)} returned HTTP {self.status} with a body that is not "
                f"valid JSON: {exc}",
                url=self.url,
                status=self.status,
                reason="invalid JSON",
            ) from exc


def redact_url(url: str) -> str:
    """The URL with credential-like query values (api keys, tokens …) masked, for messages."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = [
        (k, "***" if any(h in k.lower() for h in _SECRET_PARAM_HINTS) else v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
    ]
    return urlunsplit(parts._replace(query=urlencode(pairs, safe="*")))


def json_next_link(*keys: str) -> NextLink:
    """A :data:`NextLink` that reads the next page's URL at ``keys`` in a JSON body,
    e.g. ``json_next_link("links", "next")``; a missing or null value ends the paging."""

    def next_link(body: bytes) -> str | None:
        node: Any = json.loads(body)
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        if node is None or node == "":
            return None
        if not isinstance(node, str):
            raise ValueError(f"the next-page link at {'.'.join(keys)} is not a string: {node!r}")
        return node

    return next_link


class _Retryable(Exception):
    """One attempt failed in a way worth trying again."""

    def __init__(self, reason: str, status: int | None = None, retry_after_s: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after_s = retry_after_s


class FeedClient:
    """An HTTP client for one feed. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        options: TransportOptions | None = None,
        *,
        name: str = "feed",
        sleep: Sleep = time.sleep,
        clock: Clock = time.monotonic,
        rng: Callable[[], float] = random.random,
        environ: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.options = options or TransportOptions()
        self.name = name
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._last_request_at: float | None = None
        headers = {"User-Agent": self.options.user_agent_header}
        headers.update(self._auth_header(os.environ if environ is None else environ))
        self._client = httpx.Client(
            timeout=self.options.timeout,
            headers=headers,
            follow_redirects=self.options.follow_redirects,
            trust_env=self.options.trust_env,
            transport=transport,
        )

    def _auth_header(self, environ: Mapping[str, str]) -> dict[str, str]:
        var = self.options.auth_env_var
        if not var:
            return {}
        secret = environ.get(var, "").strip()
        if not secret:
            raise ConfigError(
                f"{self.name}: the environment variable {var}, which holds this feed's "
                "credential, is not set"
            )
        return {self.options.auth_header: self.options.auth_prefix + secret}

    def __enter__(self) -> FeedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    # -- fetching ------------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: Validators | None = None,
    ) -> FetchResult:
        """GET ``url``; with ``validators``, a conditional GET that may come back not-modified."""
        known = validators or Validators()
        request_headers = {**known.request_headers(), **(headers or {})}
        attempt = 0
        while True:
            attempt += 1
            self._wait_turn()
            try:
                return self._attempt(url, params, request_headers, known, attempt)
            except _Retryable as exc:
                if attempt >= self.options.max_attempts:
                    tries = f"{attempt} attempt{'s' if attempt > 1 else ''}"
                    raise FeedError(
                        f"{self.name}: GET {redact_url(url)} failed after {tries}: {exc.reason}",
                        url=url,
                        status=exc.status,
                        reason=exc.reason,
                        attempts=attempt,
                    ) from exc
                self._sleep(self._backoff_s(attempt, exc.retry_after_s))

    def fetch_pages(
        self,
        first_url: str,
        next_link: NextLink,
        max_pages: int,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> list[FetchResult]:
        """Fetch ``first_url`` and follow ``next_link`` until it returns None.

        ``params`` go with the first request only (next links carry their own query). Relative
        links are resolved against the page they came from. More pages than ``max_pages``, or a
        link back to a page already fetched, is a :class:`FeedError` rather than a silently
        partial result. A ``next_link`` that raises ``ValueError`` or ``LookupError`` (a body it
        cannot read) becomes a :class:`FeedError`; an ``InputError`` passes through.
        """
        if max_pages < 1:
            raise InputError(f"max_pages must be at least 1, got {max_pages}")
        pages: list[FetchResult] = []
        seen: set[str] = set()
        url = first_url
        while True:
            page = self.fetch(url, params=params if not pages else None, headers=headers)
            pages.append(page)
            seen.add(page.url)
            try:
                link = next_link(page.body)
            except (ValueError, LookupError) as exc:
                raise FeedError(
                    f"{self.name}: cannot read the next-page link in {redact_url(page.url)}: {exc}",
                    url=page.url,
                    status=page.status,
                    reason="invalid payload",
                ) from exc
            if not link:
                return pages
            url = urljoin(page.url, link)
            if url in seen:
                raise FeedError(
                    f"{self.name}: paging loops back to {redact_url(url)}",
                    url=url,
                    reason="paging loop",
                )
            if len(pages) >= max_pages:
                raise FeedError(
                    f"{self.name}: more than {max_pages} pages starting at "
                    f"{redact_url(first_url)}; raise max_pages or narrow the request",
                    url=url,
                    reason="too many pages",
                )

    # -- internals -----------------------------------------------------------------------

    def _wait_turn(self) -> None:
        """The rate limit: keep ``min_interval_s`` between the starts of requests."""
        with self._lock:
            interval = self.options.min_interval_s
            if interval > 0 and self._last_request_at is not None:
                wait_s = self._last_request_at + interval - self._clock()
                if wait_s > 0:
                    self._sleep(wait_s)
            self._last_request_at = self._clock()

    def _backoff_s(self, attempt: int, retry_after_s: float) -> float:
        opts = self.options
        delay = opts.backoff_initial_s * opts.backoff_factor ** (attempt - 1)
        delay *= 1.0 + opts.jitter_ratio * self._rng()
        return min(max(delay, retry_after_s), opts.backoff_max_s)

    def _attempt(
        self,
        url: str,
        params: Mapping[str, str] | None,
        headers: dict[str, str],
        known: Validators,
        attempt: int,
    ) -> FetchResult:
        try:
            with self._client.stream("GET", url, params=params, headers=headers) as response:
                return self._handle(url, response, known, attempt)
        except httpx.TimeoutException as exc:
            raise _Retryable(self._timeout_reason(exc)) from exc
        except httpx.UnsupportedProtocol as exc:
            raise self._fatal(url, f"unsupported URL: {exc}") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"{_kind(exc)}: {str(exc) or type(exc).__name__}") from exc
        except httpx.TooManyRedirects as exc:
            raise self._fatal(url, f"too many redirects: {exc}") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise self._fatal(url, f"{type(exc).__name__}: {exc}") from exc

    def _handle(
        self, url: str, response: httpx.Response, known: Validators, attempt: int
    ) -> FetchResult:
        status = response.status_code
        final_url = str(response.url)
        reason = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status == 304:
            return FetchResult(
                final_url,
                status,
                b"",
                known.updated_from(response.headers),
                not_modified=True,
                content_type=response.headers.get("Content-Type"),
                attempts=attempt,
            )
        if status >= 500:
            raise _Retryable(reason, status, _retry_after_s(response.headers))
        if not 200 <= status < 300:
            raise self._fatal(url, reason, status, attempt)
        body = self._read_body(url, response, attempt)
        return FetchResult(
            final_url,
            status,
            body,
            known.updated_from(response.headers),
            content_type=response.headers.get("Content-Type"),
            attempts=attempt,
        )

    def _read_body(self, url: str, response: httpx.Response, attempt: int) -> bytes:
        limit = self.options.max_body_bytes
        too_big = f"the body is larger than max_body_bytes={limit}"
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > limit:
            raise self._fatal(url, too_big, response.status_code, attempt)
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > limit:
                    raise self._fatal(url, too_big, response.status_code, attempt)
                chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise _Retryable(
                f"{self._timeout_reason(exc)} while receiving the body", response.status_code
            ) from exc
        except httpx.TransportError as exc:
            raise _Retryable(
                f"HTTP {response.status_code} but the body is incomplete: {exc}",
                response.status_code,
            ) from exc
        return b"".join(chunks)

    def _timeout_reason(self, exc: httpx.TimeoutException) -> str:
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timed out (limit {self.options.connect_timeout_s:g} s)"
        if isinstance(exc, httpx.ReadTimeout):
            return f"read timed out (limit {self.options.read_timeout_s:g} s)"
        return f"timed out ({type(exc).__name__})"

    def _fatal(
        self, url: str, reason: str, status: int | None = None, attempt: int = 1
    ) -> FeedError:
        return FeedError(
            f"{self.name}: GET {redact_url(url)} failed: {reason}",
            url=url,
            status=status,
            reason=reason,
            attempts=attempt,
        )


def _kind(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection failed"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "the server broke the HTTP exchange"
    return "network error"


def _retry_after_s(headers: httpx.Headers) -> float:
    """Retry-After in seconds (the delta form only; an HTTP date would need a clock)."""
    value = headers.get("Retry-After", "").strip()
    try:
        return max(float(value), 0.0) if value else 0.0
    except ValueError:
        return 0.0
