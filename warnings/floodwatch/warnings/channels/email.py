"""E-mail channel over SMTP (smtplib): multipart plain text + HTML, UTF-8 throughout.

``Message-ID`` is derived from the idempotency key, so a resend of one notification carries the
same Message-ID and mail systems (and people) can recognise it. ``Auto-Submitted:
auto-generated`` keeps auto-responders quiet; ``Content-Language`` is the message's language.
SMTP 4xx and network trouble are temporary failures; 5xx (a refused recipient, a refused sender,
failed authentication) and TLS failures are permanent.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from floodwatch.core.errors import ConfigError, InputError
from floodwatch.core.timeutil import utcnow
from floodwatch.warnings.channels.addresses import normalise_email
from floodwatch.warnings.channels.base import (
    DeliveryError,
    DeliveryReceipt,
    check_idempotency_key,
    secret_from_env,
)
from floodwatch.warnings.messages import Message


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    starttls: bool = True
    username: str | None = None
    password_env: str | None = None  # the environment variable holding the password
    sender: str = "floodwatch@localhost"  # "canhbao@example.org" or "Name <canhbao@…>"
    timeout_s: float = 30.0
    ca_file: str | None = None  # trust this CA (PEM) instead of the system's, e.g. in tests


def message_id(idempotency_key: str, domain: str) -> str:
    """The same key always gives the same Message-ID."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:32]
    return f"<floodwatch.{digest}@{domain}>"


def build_email(message: Message, *, sender: str, to: str, idempotency_key: str,
                now: datetime) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = message.subject
    mail["From"] = sender
    mail["To"] = to
    mail["Date"] = format_datetime(now)
    from_address = mail["From"].addresses[0]
    domain = from_address.domain or "localhost"
    mail["Message-ID"] = message_id(idempotency_key, domain)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    mail.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    mail["Content-Language"] = message.language  # after: set_content clears Content-* headers
    return mail


def _from_code(code: int, text: str, what: str) -> DeliveryError:
    temporary = 400 <= code < 500
    return DeliveryError(f"{what}: SMTP {code} {text}", temporary=temporary, status=code)


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


class EmailChannel:
    name = "email"

    def __init__(self, settings: SmtpSettings, *, environ: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.settings = settings
        self._password = secret_from_env(settings.password_env, environ, "SMTP password")
        if settings.username and self._password is None:
            raise ConfigError("SMTP: a username needs password_env")
        if not (settings.username or "").isascii() or not (self._password or "").isascii():
            raise ConfigError("SMTP: username and password must be ASCII (smtplib sends them so)")
        try:
            sender = Address(addr_spec=settings.sender) if "<" not in settings.sender else None
            if sender is not None and not sender.domain:
                raise ValueError("no domain")
        except (ValueError, IndexError) as exc:
            raise ConfigError(f"SMTP: sender is not an e-mail address: {settings.sender!r}"
                              ) from exc
        self._clock = clock

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def send(self, address: str, message: Message, *, idempotency_key: str,
             payload: dict[str, Any]) -> DeliveryReceipt:
        """Send ``message`` to the e-mail ``address`` (``payload`` is not used)."""
        check_idempotency_key(idempotency_key)
        try:
            to = normalise_email(address)
        except InputError as exc:
            raise DeliveryError(str(exc), temporary=False) from None
        now = self._clock()
        mail = build_email(message, sender=self.settings.sender, to=to,
                           idempotency_key=idempotency_key, now=now)
        self._deliver(mail, to)
        return DeliveryReceipt(channel=self.name, address=to, idempotency_key=idempotency_key,
                               sent_at=now, provider_id=str(mail["Message-ID"]),
                               detail=f"accepted by {self.settings.host}:{self.settings.port}")

    def _deliver(self, mail: EmailMessage, to: str) -> None:
        s = self.settings
        where = f"SMTP {s.host}:{s.port}"
        try:
            with smtplib.SMTP(s.host, s.port, timeout=s.timeout_s) as smtp:
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls(context=self._tls_context())
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, self._password or "")
                smtp.send_message(mail, to_addrs=[to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            raise _from_code(code, _decode(reply), f"{where} refused {to}") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(f"{where}: {exc}", temporary=False) from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, auth, data, connect
            raise _from_code(exc.smtp_code, _decode(exc.smtp_error), where) from exc
        except ssl.SSLCertVerificationError as exc:
            raise DeliveryError(f"{where}: TLS certificate not trusted ({exc.verify_message})",
                                temporary=False) from exc
        except ssl.SSLError as exc:
            raise DeliveryError(f"{where}: TLS failed ({exc})", temporary=False) from exc
        except (smtplib.SMTPException, OSError) as exc:  # refused, reset, timeout, disconnect
            raise DeliveryError(f"{where}: {exc or type(exc).__name__}", temporary=True) from exc
