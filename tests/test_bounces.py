"""Late bounces: every email leaves with a signed VERP return path; bounce reports (RFC 3464
DSNs) mailed back to it over real SMTP mark the message bounced and, when permanent, the
customer's address, so later campaigns skip it until the customer has a new address."""

from __future__ import annotations

import dataclasses
import smtplib
from email.message import EmailMessage
from email.utils import parseaddr

import pytest

from tests.marketing_support import free_port
from tests.test_sending import (SECRET, _ok, approved_template, clock, customer,  # noqa: F401
                                launch, recipients, settle, shop, smtp, worker)
from workers import bounces

BOUNCE_DOMAIN = "bounces.potters.example"
NEWS = {"name": "News", "channel": "email", "subject": "News for {{ customer.first_name }}",
        "html": "<html><body><p>New glazes.</p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a>"
                "</body></html>", "text": "New glazes. Unsubscribe: {{ unsubscribe_url }}"}


@pytest.fixture(scope="module")
def marketing(module_app, smtp):
    from commands.marketing_settings import MarketingSettings
    settings = MarketingSettings(
        public_url="http://crm.test", tracking_secret=SECRET, smtp_host="127.0.0.1",
        smtp_port=smtp[1], smtp_starttls=False, smtp_from="Potter's Wheel <shop@potters.example>",
        bounce_domain=BOUNCE_DOMAIN)
    module_app.state.marketing = settings
    return settings


@pytest.fixture(scope="module")
def receiver(module_app):
    port = free_port()
    controller = bounces.start(module_app.state.crm, SECRET.encode(), "127.0.0.1", port)
    yield port
    controller.stop()


def report(return_path: str, recipient: str, action: str, status: str, diagnostic: str) -> bytes:
    """A delivery status notification as Postfix writes one."""
    return f"""From: MAILER-DAEMON@mx.example (Mail Delivery System)
To: {return_path}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B0UND"

--B0UND
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--B0UND
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example
Arrival-Date: Tue, 24 Nov 2026 10:00:00 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Remote-MTA: dns; mx.example
Diagnostic-Code: smtp; {diagnostic}

--B0UND
Content-Type: text/rfc822-headers

Subject: the original message
--B0UND--
""".replace("\n", "\r\n").encode()


def mail_back(port: int, return_path: str, raw: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("", [return_path], raw)


def test_reports_are_parsed_for_permanent_and_temporary_failures():
    hard = bounces.failures(report("r@x", "ada@potters.example", "failed", "5.1.1",
                                   "550 5.1.1 <ada@potters.example>: user unknown"))
    assert hard == [bounces.Failure("ada@potters.example", "5.1.1",
                                    "550 5.1.1 <ada@potters.example>: user unknown")]
    assert hard[0].permanent
    assert bounces.failures(report("r@x", "a@b.example", "delayed", "4.4.7", "timeout")) == []
    gave_up = bounces.failures(report("r@x", "a@b.example", "failed", "4.4.7", "queue expired"))
    assert [f.permanent for f in gave_up] == [False]
    plain = EmailMessage()
    plain["Subject"] = "Out of office"
    plain.set_content("I am away until Monday.")
    assert bounces.failures(plain.as_bytes()) == []


def newsletter_mail(module_app, shop, sink, marketing, clock, name: str, address: str):
    """Sends the newsletter to one new customer: (customer id, template, campaign, the mail)."""
    who = customer(shop, name, address)
    template = approved_template(shop, NEWS)
    campaign = launch(shop, template, [who])
    assert worker(module_app, marketing, clock, shop).run_until_idle() == 1
    [mail] = sink.to(address)
    return who, template, campaign, mail


def test_a_late_bounce_marks_the_message_and_stops_mail_to_the_address(
        module_app, shop, smtp, marketing, receiver, clock):
    sink = smtp[0]
    ada, template, campaign, mail = newsletter_mail(module_app, shop, sink, marketing, clock,
                                                    "Ada Potter", "ada@potters.example")
    return_path = mail.mail_from
    local, _, domain = return_path.partition("@")
    assert domain == BOUNCE_DOMAIN and local.startswith("bounce+")
    assert bounces.message_of(return_path, SECRET.encode()) is not None
    settle(shop, campaign["id"])
    assert recipients(shop, campaign["id"])[ada]["status"] == "sent"

    # A forged return path is turned away at RCPT; so is a token of another kind.
    forged = f"bounce+{local[7:-4]}AAAA@{BOUNCE_DOMAIN}"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        mail_back(receiver, forged, report(forged, "ada@potters.example", "failed", "5.1.1", "x"))

    # "Delayed" is not a bounce.
    mail_back(receiver, return_path,
              report(return_path, "ada@potters.example", "delayed", "4.4.7", "still trying"))
    assert settle(shop, campaign["id"])["messages"]["bounced"] == 0

    # The mailbox does not exist: the message is bounced; a second copy of the report changes nothing.
    failed = report(return_path, "ada@potters.example", "failed", "5.1.1",
                    "550 5.1.1 <ada@potters.example>: Recipient address rejected: User unknown")
    mail_back(receiver, return_path, failed)
    assert settle(shop, campaign["id"])["messages"]["bounced"] == 1
    assert recipients(shop, campaign["id"])[ada]["status"] == "bounced"
    history = _ok(shop.get(f"/v1/customers/{ada}/history"))
    bounced = [e for e in history if e["type"].endswith("AddressBounced")]
    assert len(bounced) == 1 and bounced[0]["data"]["address"] == "ada@potters.example"
    timeline = _ok(shop.get(f"/v1/customers/{ada}/timeline", params={"kind": "consent"}))["items"]
    assert timeline[0]["summary"].startswith("Email address ada@potters.example bounced: 5.1.1")

    # The next campaign leaves the bounced address out, with that reason.
    second = launch(shop, template, [ada])
    left_out = {r["customer_id"]: r["reason"] for r in
                _ok(shop.get(f"/v1/campaigns/{second['id']}/suppressed", token=second["token"]))}
    assert left_out == {ada: "address_bounced"}

    # A new address starts clean.
    _ok(shop.patch(f"/v1/customers/{ada}", {"email": "ada.potter@potters.example"}))
    third = launch(shop, template, [ada])
    clock.advance(seconds=1)  # the channel's throttle spaces the tenant's messages
    assert worker(module_app, marketing, clock, shop).run_until_idle() == 1
    settle(shop, third["id"])
    assert recipients(shop, third["id"])[ada]["status"] == "sent"
    assert len(sink.to("ada.potter@potters.example")) == 1


def test_a_report_that_gave_up_on_a_temporary_failure_bounces_the_message_not_the_address(
        module_app, shop, smtp, marketing, receiver, clock):
    bea, template, campaign, mail = newsletter_mail(module_app, shop, smtp[0], marketing, clock,
                                                    "Bea Baker", "bea@potters.example")
    mail_back(receiver, mail.mail_from,
              report(mail.mail_from, "bea@potters.example", "failed", "4.4.7", "queue expired"))
    settle(shop, campaign["id"])
    assert recipients(shop, campaign["id"])[bea]["status"] == "bounced"
    again = launch(shop, template, [bea])
    assert _ok(shop.get(f"/v1/campaigns/{again['id']}/suppressed", token=again["token"])) == []


def test_a_recipient_refused_at_send_time_marks_the_address_bounced(
        module_app, shop, smtp, marketing, clock):
    never = customer(shop, "Never There", "never+reject@potters.example")
    template = approved_template(shop, NEWS)
    launch(shop, template, [never])
    worker(module_app, marketing, clock, shop).run_until_idle()
    again = launch(shop, template, [never])
    left_out = {r["customer_id"]: r["reason"] for r in
                _ok(shop.get(f"/v1/campaigns/{again['id']}/suppressed", token=again["token"]))}
    assert left_out == {never: "address_bounced"}


def test_without_a_bounce_domain_the_envelope_sender_is_the_from_address(
        module_app, shop, smtp, marketing, clock):
    plain = dataclasses.replace(marketing, bounce_domain="")
    cy = customer(shop, "Cy Carver", "cy@potters.example")
    launch(shop, approved_template(shop, NEWS), [cy])
    worker(module_app, plain, clock, shop).run_until_idle()
    [mail] = smtp[0].to("cy@potters.example")
    assert mail.mail_from == parseaddr(marketing.smtp_from)[1]


def test_messages_sent_before_parts_were_recorded_read_as_one_part(tmp_path):
    """Message.Sent version 1 (before billing parts) is upcast when read."""
    from datetime import datetime, timedelta, timezone
    from uuid import uuid4

    from eventsourcing.persistence import StoredEvent

    from commands.application import Crm
    from domain.base import Meta
    from domain.message import Message

    crm = Crm(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    try:
        meta, now = Meta(tenant_id="t", actor="test"), datetime.now(timezone.utc)
        message = Message.queue(meta, customer_id=uuid4(), channel="sms", step="campaign",
                                not_before=now, campaign_id=uuid4())
        message.start(meta, "w", now, timedelta(minutes=1))
        message.sent(meta, "+447911123456", "SM1", parts=3)
        old = []
        for event in message.collect_events():
            stored = crm.mapper.to_stored_event(event)
            if stored.topic.endswith(".Sent"):
                state = crm.mapper.transcoder.decode(stored.state)
                assert state.pop("class_version") == 2 and state.pop("parts") == 3
                stored = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                                     crm.mapper.transcoder.encode(state))
            old.append(stored)
        crm.recorder.insert_events(old)
        assert list(crm.events.get(message.id))[-1].parts == 1
    finally:
        crm.close()


def test_the_embedded_mode_receives_bounce_reports_when_a_bounce_domain_is_set(tmp_path, monkeypatch):
    import time

    from commands.settings import Settings
    from workers.marketing import start_embedded

    port = free_port()
    monkeypatch.setenv("CRM_BOUNCE_DOMAIN", BOUNCE_DOMAIN)
    monkeypatch.setenv("CRM_BOUNCE_PORT", str(port))
    monkeypatch.setenv("CRM_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CRM_EVENT_STORE", raising=False)
    settings = Settings()
    stopping = start_embedded(settings)
    try:
        for _ in range(100):
            try:
                client = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                time.sleep(0.05)
        with client:
            client.ehlo()
            client.mail("")
            assert client.rcpt(f"bounce+forged@{BOUNCE_DOMAIN}")[0] == 550
    finally:
        stopping.set()
