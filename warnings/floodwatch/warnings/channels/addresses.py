"""Checking and normalising the address of a subscriber on each channel."""

from __future__ import annotations

import email_validator
import httpx
import phonenumbers

from floodwatch.core.errors import InputError

CHANNELS = ("email", "sms", "webhook")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
DEFAULT_PHONE_REGION = "VN"


def validate_address(channel: str, address: str, *, allow_insecure_loopback: bool = False) -> str:
    """The normalised address for ``channel`` ("email", "sms" or "webhook"), or InputError.

    E-mail: syntax only (no DNS), normalised by email-validator. SMS: a valid phone number in
    E.164 ("0912345678" is read as Vietnamese: "+84912345678"). Webhook: an https URL without
    credentials (plain http only to 127.0.0.1/localhost with ``allow_insecure_loopback``).
    """
    if channel == "email":
        return normalise_email(address)
    if channel == "sms":
        return normalise_phone(address)
    if channel == "webhook":
        return normalise_webhook_url(address, allow_insecure_loopback=allow_insecure_loopback)
    raise InputError(f"unknown channel {channel!r} (channels: {', '.join(CHANNELS)})")


def normalise_email(address: str) -> str:
    address = address.strip()
    try:
        info = email_validator.validate_email(address, check_deliverability=False)
    except email_validator.EmailNotValidError as exc:
        raise InputError(f"not an e-mail address: {address!r} ({exc})") from None
    return str(info.normalized)


def normalise_phone(address: str, region: str = DEFAULT_PHONE_REGION) -> str:
    address = address.strip()
    try:
        number = phonenumbers.parse(address, region)
    except phonenumbers.NumberParseException as exc:
        raise InputError(f"not a phone number: {address!r} ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise InputError(f"not a valid phone number: {address!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_webhook_url(address: str, *, allow_insecure_loopback: bool = False) -> str:
    address = address.strip()
    try:
        url = httpx.URL(address)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise InputError(f"not a URL: {address!r} ({exc})") from None
    if not url.host:
        raise InputError(f"not an absolute URL with a host: {address!r}")
    if url.userinfo:
        safe = url.copy_with(username=None, password=None)
        raise InputError(f"the URL must not hold credentials: {safe}")
    insecure_ok = allow_insecure_loopback and url.host in LOOPBACK_HOSTS
    if url.scheme != "https" and not (url.scheme == "http" and insecure_ok):
        raise InputError(f"not an https URL: {address!r}")
    return str(url)
