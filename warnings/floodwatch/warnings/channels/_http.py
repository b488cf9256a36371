"""HTTP delivery shared by the webhook and SMS gateway channels: one request, its outcome
classified as delivered, temporary failure or permanent failure."""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from floodwatch.warnings.channels.base import DeliveryError

RETRYABLE_STATUS = frozenset({408, 425, 429})


def is_temporary_status(status: int) -> bool:
    """5xx and 408/425/429 may pass on a retry; every other 4xx (and a 3xx, which the channels
    do not follow) will not."""
    return status >= 500 or status in RETRYABLE_STATUS


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date, or nothing: let the caller's back-off decide


def request(method: str, url: str, *, what: str, timeout_s: float,
            headers: Mapping[str, str], content: bytes | None = None,
            client: httpx.Client | None = None) -> httpx.Response:
    """Send one request without following redirects; a 2xx answer is returned, anything else
    raises DeliveryError with ``temporary`` set as the outcome allows."""
    try:
        if client is None:
            with httpx.Client(timeout=timeout_s, follow_redirects=False) as own:
                response = own.request(method, url, headers=headers, content=content)
        else:
            response = client.request(method, url, headers=headers, content=content,
                                      timeout=timeout_s, follow_redirects=False)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"{what}: no answer within {timeout_s:g} s ({type(exc).__name__})",
                            temporary=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what}: cannot connect ({exc or type(exc).__name__})",
                            temporary=True) from exc
    if response.is_success:
        return response
    status = response.status_code
    temporary = is_temporary_status(status)
    reason = response.reason_phrase or "error"
    raise DeliveryError(
        f"{what}: HTTP {status} {reason}" + ("" if temporary else " (will not retry)"),
        temporary=temporary, status=status,
        retry_after_s=_retry_after_s(response) if temporary else None,
    )
