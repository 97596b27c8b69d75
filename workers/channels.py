"""The channels a Message leaves by: email over SMTP, SMS and WhatsApp through Twilio's API.

Each ``send`` returns the provider's id for the message, or raises:

* :class:`Refused` when the provider certainly did *not* take the message
  (the connection failed before it was handed over, an SMTP 4xx/5xx reply, an
  HTTP 4xx/5xx answer). ``retryable`` says whether trying later may help;
  ``bounce`` that the address itself was refused.
* :class:`OutcomeUnknown` when it may or may not have been taken (the
  connection dropped while the message was being handed over, a timeout
  waiting for the answer). Such a message is not sent again (at most once).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formataddr, parseaddr

import httpx

from commands.marketing_settings import MarketingSettings
from commands.outgoing import Outgoing


class Refused(Exception):
    def __init__(self, error: str, retryable: bool, bounce: bool = False) -> None:
        super().__init__(error)
        self.error = error
        self.retryable = retryable
        self.bounce = bounce


class OutcomeUnknown(Exception):
    pass


class NotConfigured(Refused):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not configured", retryable=False)


class SmtpChannel:
    """Email over SMTP: implicit TLS (CRM_SMTP_SSL) or STARTTLS (CRM_SMTP_STARTTLS), and AUTH
    when a username is set. One connection per message: simple, and a broken connection
    never takes a second message with it."""

    def __init__(self, settings: MarketingSettings, tls_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.tls_context = tls_context or ssl.create_default_context(
            cafile=settings.smtp_ca_file or None)

    def email(self, message: Outgoing) -> EmailMessage:
        s = self.settings
        email = EmailMessage()
        name, address = parseaddr(s.smtp_from)
        email["From"] = formataddr((name, address)) if name else address
        email["To"] = message.to
        email["Subject"] = message.subject or ""
        email["Message-ID"] = f"<{message.message_id}@{address.rpartition('@')[2] or 'crm'}>"
        for header, value in message.headers.items():
            email[header] = value
        email.set_content(message.text)
        if message.html:
            email.add_alternative(message.html, subtype="html")
        return email

    def send(self, message: Outgoing) -> str:
        s = self.settings
        if not s.smtp_host:
            raise NotConfigured("email (CRM_SMTP_HOST)")
        email = self.email(message)
        try:
            client = (smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                       context=self.tls_context) if s.smtp_ssl
                      else smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout))
        except (OSError, smtplib.SMTPException) as error:
            raise Refused(f"cannot connect to {s.smtp_host}:{s.smtp_port}: {error}", True) from None
        with client:
            try:
                client.ehlo()
                if s.smtp_starttls and not s.smtp_ssl:
                    client.starttls(context=self.tls_context)
                    client.ehlo()
                if s.smtp_username:
                    client.login(s.smtp_username, s.smtp_password)
            except smtplib.SMTPAuthenticationError as error:
                raise Refused(f"SMTP authentication failed: {error.smtp_code} "
                              f"{error.smtp_error.decode(errors='replace')}", False) from None
            except (OSError, smtplib.SMTPException) as error:
                raise Refused(f"SMTP session failed before sending: {error}", True) from None
            try:
                client.send_message(email, from_addr=message.return_path)
            except smtplib.SMTPRecipientsRefused as error:
                code, reply = next(iter(error.recipients.values()))
                raise Refused(f"recipient refused: {code} {reply.decode(errors='replace')}",
                              retryable=400 <= code < 500, bounce=code >= 500) from None
            except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as error:
                raise Refused(f"refused: {error.smtp_code} "
                              f"{error.smtp_error.decode(errors='replace')}",
                              retryable=400 <= error.smtp_code < 500) from None
            except (OSError, smtplib.SMTPException) as error:
                # The message may have been taken before the connection broke.
                raise OutcomeUnknown(f"SMTP connection lost while sending: {error}") from None
        return email["Message-ID"]


class TwilioChannel:
    """SMS and WhatsApp through Twilio's Messages API (or anything speaking its format):
    ``POST {base}/2010-04-01/Accounts/{sid}/Messages.json``, form-encoded ``To``, ``From``,
    ``Body`` and ``StatusCallback``, HTTP basic auth with the account SID and auth token."""

    def __init__(self, settings: MarketingSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self.client = client or httpx.Client(timeout=30)

    def send(self, message: Outgoing) -> str:
        s = self.settings
        sender = s.whatsapp_from if message.channel == "whatsapp" else s.sms_from
        if not (s.twilio_account_sid and s.twilio_auth_token and sender):
            raise NotConfigured(f"{message.channel} (CRM_TWILIO_ACCOUNT_SID, CRM_TWILIO_AUTH_TOKEN, "
                                f"CRM_{message.channel.upper()}_FROM)")
        prefix = "whatsapp:" if message.channel == "whatsapp" else ""
        form = {"To": prefix + message.to, "From": sender if sender.startswith(prefix) else prefix + sender,
                "Body": message.text}
        if message.status_callback:
            form["StatusCallback"] = message.status_callback
        url = f"{s.twilio_base_url.rstrip('/')}/2010-04-01/Accounts/{s.twilio_account_sid}/Messages.json"
        try:
            response = self.client.post(url, data=form, auth=(s.twilio_account_sid, s.twilio_auth_token))
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise Refused(f"cannot reach {s.twilio_base_url}: {error}", True) from None
        except httpx.HTTPError as error:
            raise OutcomeUnknown(f"no answer from {s.twilio_base_url}: {error!r}") from None
        if response.status_code in (200, 201):
            try:
                return response.json()["sid"]
            except (ValueError, KeyError):
                return ""
        try:
            problem = response.json()
            detail = f"{problem.get('code')}: {problem.get('message')}"
        except ValueError:
            problem, detail = {}, response.text[:200]
        retryable = response.status_code == 429 or response.status_code >= 500
        # 21211 invalid 'To' number, 21614 not a mobile number, 63003 invalid WhatsApp address
        bounce = problem.get("code") in (21211, 21614, 21612, 63003)
        raise Refused(f"HTTP {response.status_code} {detail}", retryable, bounce)


def channels(settings: MarketingSettings) -> dict[str, object]:
    twilio = TwilioChannel(settings)
    return {"email": SmtpChannel(settings), "sms": twilio, "whatsapp": twilio}
