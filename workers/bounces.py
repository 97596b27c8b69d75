"""Late bounces: the bounce reports (DSNs) that come back days after an email was accepted.

An SMTP server taking a message says nothing about whether the mailbox
exists; the receiving side may give up later and mail a delivery status
notification (RFC 3464) to the message's envelope sender. With
``CRM_BOUNCE_DOMAIN`` set, every email leaves with the return path
``bounce+<token>@<bounce domain>`` (VERP, commands/outgoing.py), the token a
signed message id. Point that domain's MX at ``crm worker bounces``: a small
SMTP server (aiosmtpd) that

* refuses any recipient that is not a genuine token (so forged reports and
  spam are turned away at RCPT, and nobody can bounce other people's mail);
* reads each report: ``Action: failed`` marks the message ``bounced``, and a
  permanent status (``5.x.x``) also marks the customer's address as bounced,
  so later campaigns and automations skip it (``domain.message.refusal``);
  ``delayed``/``delivered``/``relayed`` reports and mail that is not a report
  (out-of-office replies) are accepted and ignored.

Recording is idempotent: a message already bounced, or an address already
known as bounced, records nothing again, so an MTA that delivers a report
twice changes nothing.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
from dataclasses import dataclass
from email.message import Message as MailMessage
from email.utils import parseaddr
from uuid import UUID

from aiosmtpd.controller import Controller
from eventsourcing.application import AggregateNotFoundError

from commands.application import Crm
from commands.customers import address_bounced
from commands.tracking import verify
from domain.base import Meta
from domain.message import Message
from workers.lifecycle import freeze_start_up
from workers.sender import save

log = logging.getLogger("crm.bounces")

ACTOR = "bounce receiver"
MAX_REPORT_BYTES = 10 * 2**20


@dataclass(frozen=True)
class Failure:
    recipient: str
    status: str       # the RFC 3463 status code, e.g. 5.1.1
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.status.startswith("5")

    def reason(self) -> str:
        return f"{self.status} {self.diagnostic}".strip()


def message_of(address: str, secret: bytes) -> UUID | None:
    """The message a VERP return path names, or None when it is not a genuine one."""
    local = parseaddr(address)[1].rpartition("@")[0]
    if not local.startswith("bounce+"):
        return None
    found = verify(secret, "bounce", local.removeprefix("bounce+"))
    return found[0] if found else None


def failures(raw: bytes) -> list[Failure]:
    """The recipients a delivery status notification reports as failed for good (Action:
    failed); an empty list for any other report or mail."""
    report = email.message_from_bytes(raw, policy=email.policy.compat32)
    found = []
    for part in report.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()  # the per-message block, then one block per recipient
        for block in blocks[1:] if isinstance(blocks, list) else []:
            if not isinstance(block, MailMessage) or (block.get("Action") or "").strip().lower() != "failed":
                continue
            found.append(Failure(recipient=_value(block.get("Final-Recipient")),
                                 status=(block.get("Status") or "5.0.0").strip(),
                                 diagnostic=_value(block.get("Diagnostic-Code"))[:500]))
    return found


def _value(field: str | None) -> str:
    """The value of a typed DSN field (``rfc822; a@b.example`` -> ``a@b.example``)."""
    return " ".join((field or "").partition(";")[2].split()) or (field or "").strip()


def record(crm: Crm, message_id: UUID, failure: Failure) -> str:
    """Marks the message bounced (and, if permanent, the address); answers what it did."""
    for _ in range(5):  # a concurrent open or click moves the message's version: reload, redo
        try:
            message: Message = crm.repository.get(message_id)
        except AggregateNotFoundError:
            return "no such message"
        if not isinstance(message, Message) or message.channel != "email":
            return "not an email"
        if message.status == "bounced":
            return "already bounced"
        meta = Meta(tenant_id=message.tenant_id, actor=ACTOR, causation_id=str(message_id))
        message.bounced(meta, failure.reason())
        if not message.pending_events:
            return f"not sent ({message.status})"
        if save(crm, message):
            break
    else:
        return "lost races"
    if failure.permanent and message.to:
        address_bounced(crm, meta, message.customer_id, "email", message.to, failure.reason())
    return "bounced"


class BounceHandler:
    """aiosmtpd handler: turns away unknown recipients, records the failures of each report."""

    def __init__(self, crm: Crm, secret: bytes) -> None:
        self.crm, self.secret = crm, secret

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if message_of(address, self.secret) is None:
            return "550 5.1.1 no such bounce address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        reported = failures(envelope.original_content or envelope.content)
        if reported:
            loop = asyncio.get_running_loop()
            for address in envelope.rcpt_tos:
                message_id = message_of(address, self.secret)
                # A VERP report is about the one message its address names; its first
                # failure is that message's recipient.
                outcome = await loop.run_in_executor(None, record, self.crm, message_id, reported[0])
                log.info("bounce report for message %s: %s", message_id, outcome)
        return "250 OK report received"


def start(crm: Crm, secret: bytes, host: str, port: int) -> Controller:
    controller = Controller(BounceHandler(crm, secret), hostname=host, port=port,
                            data_size_limit=MAX_REPORT_BYTES)
    controller.start()
    return controller


def receive(crm: Crm, secret: bytes, host: str, port: int, stopping: threading.Event) -> None:
    """Receives bounce reports until ``stopping`` is set."""
    controller = start(crm, secret, host, port)
    log.info("bounce receiver listening on %s:%s", host, port)
    try:
        stopping.wait()
    finally:
        controller.stop()


def main(stopping: threading.Event) -> None:
    """``crm worker bounces``: receives bounce reports until SIGTERM."""
    from commands.marketing_settings import MarketingSettings
    from commands.settings import Settings
    settings, marketing = Settings(), MarketingSettings()
    crm = Crm(settings.event_store_url, group_commit=False)
    freeze_start_up()
    try:
        receive(crm, marketing.secret(settings.data_dir), marketing.bounce_host,
                marketing.bounce_port, stopping)
    finally:
        crm.close()
