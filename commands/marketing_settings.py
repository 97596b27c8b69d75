"""Settings of campaigns, channels, tracking and webhooks, from ``CRM_*`` environment variables.

Kept apart from :mod:`commands.settings` (the core service's settings) so the
channel credentials are read only by what sends. Every value has a working
default for the embedded mode, except the channel credentials: with no
``CRM_SMTP_HOST`` email cannot be sent, with no ``CRM_TWILIO_ACCOUNT_SID`` SMS
and WhatsApp cannot (messages fail with that reason; nothing else breaks).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default) or default


def _flag(name: str, default: str) -> bool:
    return _env(name, default).lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class MarketingSettings:
    # Where customers reach this service (tracking pixel, click and unsubscribe links,
    # provider status callbacks): the public base URL of a command node.
    public_url: str = field(default_factory=lambda: _env("CRM_PUBLIC_URL", "http://127.0.0.1:8000"))
    # HMAC key of tracking tokens; empty: one generated once into the data directory.
    tracking_secret: str = field(default_factory=lambda: os.environ.get("CRM_TRACKING_SECRET", ""))

    # Email over SMTP.
    smtp_host: str = field(default_factory=lambda: os.environ.get("CRM_SMTP_HOST", ""))
    smtp_port: int = field(default_factory=lambda: int(_env("CRM_SMTP_PORT", "587")))
    smtp_starttls: bool = field(default_factory=lambda: _flag("CRM_SMTP_STARTTLS", "true"))
    smtp_ssl: bool = field(default_factory=lambda: _flag("CRM_SMTP_SSL", "false"))  # implicit TLS (465)
    smtp_username: str = field(default_factory=lambda: os.environ.get("CRM_SMTP_USERNAME", ""))
    smtp_password: str = field(default_factory=lambda: os.environ.get("CRM_SMTP_PASSWORD", ""))
    smtp_from: str = field(default_factory=lambda: _env("CRM_SMTP_FROM", "shop@localhost"))
    smtp_timeout: float = field(default_factory=lambda: float(_env("CRM_SMTP_TIMEOUT", "30")))
    # CA certificates to trust for the SMTP server's TLS (default: the system's).
    smtp_ca_file: str = field(default_factory=lambda: os.environ.get("CRM_SMTP_CA_FILE", ""))

    # Late bounces: with a bounce domain, each email's envelope sender is
    # bounce+<token>@<domain> (VERP); point the domain's MX at `crm worker bounces`,
    # which listens for the bounce reports (DSNs) on CRM_BOUNCE_HOST:CRM_BOUNCE_PORT.
    bounce_domain: str = field(default_factory=lambda: os.environ.get("CRM_BOUNCE_DOMAIN", ""))
    bounce_host: str = field(default_factory=lambda: _env("CRM_BOUNCE_HOST", "127.0.0.1"))
    bounce_port: int = field(default_factory=lambda: int(_env("CRM_BOUNCE_PORT", "2525")))

    # SMS and WhatsApp through a provider speaking Twilio's Messages API.
    twilio_base_url: str = field(
        default_factory=lambda: _env("CRM_TWILIO_BASE_URL", "https://api.twilio.com"))
    twilio_account_sid: str = field(default_factory=lambda: os.environ.get("CRM_TWILIO_ACCOUNT_SID", ""))
    twilio_auth_token: str = field(default_factory=lambda: os.environ.get("CRM_TWILIO_AUTH_TOKEN", ""))
    sms_from: str = field(default_factory=lambda: os.environ.get("CRM_SMS_FROM", ""))
    whatsapp_from: str = field(default_factory=lambda: os.environ.get("CRM_WHATSAPP_FROM", ""))

    # Throttling: messages per minute per channel, spread over time at launch.
    email_per_minute: int = field(default_factory=lambda: int(_env("CRM_EMAIL_PER_MINUTE", "600")))
    sms_per_minute: int = field(default_factory=lambda: int(_env("CRM_SMS_PER_MINUTE", "60")))
    whatsapp_per_minute: int = field(default_factory=lambda: int(_env("CRM_WHATSAPP_PER_MINUTE", "60")))
    # Retries of a send that failed before the provider took it.
    send_attempts: int = field(default_factory=lambda: int(_env("CRM_SEND_ATTEMPTS", "5")))
    # How long a worker owns a message or delivery it claimed before others may take over.
    lease_seconds: float = field(default_factory=lambda: float(_env("CRM_LEASE_SECONDS", "120")))

    # Orders placed this many days after a customer engaged with a message count for it.
    attribution_days: int = field(default_factory=lambda: int(_env("CRM_ATTRIBUTION_DAYS", "7")))
    # What one sent message costs (an SMS: one segment), per channel, in CRM_COST_CURRENCY (ROI).
    cost_per_email: Decimal = field(default_factory=lambda: Decimal(_env("CRM_COST_PER_EMAIL", "0.001")))
    cost_per_sms: Decimal = field(default_factory=lambda: Decimal(_env("CRM_COST_PER_SMS", "0.04")))
    cost_per_whatsapp: Decimal = field(
        default_factory=lambda: Decimal(_env("CRM_COST_PER_WHATSAPP", "0.03")))
    cost_currency: str = field(default_factory=lambda: _env("CRM_COST_CURRENCY", "GBP"))

    # Outbound webhooks.
    webhook_attempts: int = field(default_factory=lambda: int(_env("CRM_WEBHOOK_ATTEMPTS", "8")))
    webhook_backoff: float = field(default_factory=lambda: float(_env("CRM_WEBHOOK_BACKOFF", "30")))
    webhook_backoff_cap: float = field(
        default_factory=lambda: float(_env("CRM_WEBHOOK_BACKOFF_CAP", "21600")))
    webhook_timeout: float = field(default_factory=lambda: float(_env("CRM_WEBHOOK_TIMEOUT", "10")))
    # Webhook URLs (subscriptions, automation calls) must reach public addresses; set to let
    # them reach loopback, private and link-local ones too (tests, a lab's own receivers).
    webhooks_allow_private: bool = field(
        default_factory=lambda: _flag("CRM_WEBHOOKS_ALLOW_PRIVATE", "false"))

    def per_minute(self, channel: str) -> int:
        return {"email": self.email_per_minute, "sms": self.sms_per_minute,
                "whatsapp": self.whatsapp_per_minute}[channel]

    def unit_costs(self) -> dict[str, Decimal]:
        return {"email": self.cost_per_email, "sms": self.cost_per_sms,
                "whatsapp": self.cost_per_whatsapp}

    def secret(self, data_dir: Path) -> bytes:
        """The tracking secret: CRM_TRACKING_SECRET, or one kept in the data directory (0600).

        Every process that signs or checks tokens must share it: set it in server mode.
        """
        if self.tracking_secret:
            return self.tracking_secret.encode()
        path = Path(data_dir) / "tracking-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(32))
        return path.read_text().strip().encode()
