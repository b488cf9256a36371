"""Delivery channels (e-mail, webhook, SMS gateway) behind one small interface, ``Channel``."""

from floodwatch.warnings.channels.addresses import validate_address
from floodwatch.warnings.channels.base import Channel, DeliveryError, DeliveryReceipt
from floodwatch.warnings.channels.email import EmailChannel, SmtpSettings
from floodwatch.warnings.channels.sms import SmsGatewayChannel, SmsGatewaySettings
from floodwatch.warnings.channels.webhook import WebhookChannel, WebhookSettings

__all__ = [
    "Channel",
    "DeliveryError",
    "DeliveryReceipt",
    "EmailChannel",
    "SmsGatewayChannel",
    "SmsGatewaySettings",
    "SmtpSettings",
    "WebhookChannel",
    "WebhookSettings",
    "validate_address",
]
