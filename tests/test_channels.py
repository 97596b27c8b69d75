"""The channels on the wire: SMS and WhatsApp through a Twilio-speaking server on loopback (the
exact request format, status callbacks with their signature), and email over SMTP with
STARTTLS and AUTH."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import urlencode

import pytest

from commands.marketing_settings import MarketingSettings
from commands.outgoing import Outgoing
from tests.marketing_support import (FakeClock, HttpRecorder, SmtpSink, basic_auth,
                                     self_signed_certificate, start_smtp)
from tests.support import assert_problem
from tests.test_sending import approved_template, customer, recipients, settle, worker
from workers.channels import Refused, SmtpChannel
from uuid import uuid4

SID, TOKEN = "AC0123456789abcdef", "twilio-auth-token"


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


class Twilio:
    """Answers like Twilio's Messages API; numbers ending 0000 are invalid (400, 21211);
    ``busy`` makes the next answer a 429."""

    def __init__(self) -> None:
        self.busy = 0
        self.count = 0
        self.recorder = HttpRecorder(respond=self.respond)

    def respond(self, request):
        if self.busy:
            self.busy -= 1
            return 429, {"code": 20429, "message": "Too Many Requests", "status": 429}
        if request.form.get("To", "").endswith("0000"):
            return 400, {"code": 21211, "message": "The 'To' number is not a valid phone number.",
                         "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}
        self.count += 1
        return 201, {"sid": f"SM{self.count:032d}", "status": "queued", "num_segments": "1"}


@pytest.fixture(scope="module")
def twilio(module_app):
    fake = Twilio()
    url = fake.recorder.start()
    yield fake, url
    fake.recorder.stop()


@pytest.fixture(scope="module")
def marketing(module_app, twilio) -> MarketingSettings:
    settings = MarketingSettings(public_url="http://crm.test", tracking_secret="tracking-secret",
                                 twilio_base_url=twilio[1], twilio_account_sid=SID,
                                 twilio_auth_token=TOKEN, sms_from="+15005550006",
                                 whatsapp_from="whatsapp:+14155238886")
    module_app.state.marketing = settings
    return settings


@pytest.fixture
def clock(module_app):
    clock = FakeClock(datetime.now(timezone.utc))
    module_app.state.clock = clock
    yield clock
    module_app.state.clock = None


@pytest.fixture
def shop(make_tenant, marketing):
    return make_tenant("Text shop")


def signature(url: str, params: dict[str, str]) -> str:
    """Twilio's algorithm, written out here independently of the service's own."""
    data = url + "".join(key + params[key] for key in sorted(params))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def callback(shop, url: str, params: dict[str, str], sign: str | None = None):
    path = url.removeprefix("http://crm.test")
    return shop.client.post(path, content=urlencode(params).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign if sign is not None else signature(url, params)})


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_a_text_goes_out_in_twilios_format_and_status_callbacks_are_signed(
        module_app, shop, twilio, marketing, clock, channel):
    fake, base = twilio
    mo = customer(shop, "Mo Text", None, phone="+447911123456", consent=(channel,))
    nil = customer(shop, "Nil Number", None, phone="+447911120000", consent=(channel,))
    template = approved_template(shop, {"name": "Sale", "channel": channel,
                                        "text": "Hi {{ customer.first_name }}, 20% off at "
                                                "{{ shop.name }} today."})
    campaign = _ok(shop.post("/v1/campaigns", {"name": "Sale", "channel": channel,
                                               "template_id": template,
                                               "customer_ids": [mo, nil]}))
    _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {"per_minute": 6000}))
    clock.advance(seconds=1)
    before = len(fake.recorder.requests)
    worker(module_app, marketing, clock, shop).run_until_idle()
    sent = fake.recorder.requests[before:]
    assert len(sent) == 2
    request = next(r for r in sent if r.form["To"].endswith("+447911123456"))
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["authorization"] == basic_auth(SID, TOKEN)
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    form = request.form
    assert set(form) == {"To", "From", "Body", "StatusCallback"}
    assert form["To"] == prefix + "+447911123456"
    assert form["From"] == ("whatsapp:+14155238886" if channel == "whatsapp" else "+15005550006")
    assert form["Body"] == "Hi Mo, 20% off at Text shop today."
    status_url = form["StatusCallback"]
    assert status_url.startswith("http://crm.test/v1/providers/twilio/status/")

    settle(shop, campaign["id"])
    rows = recipients(shop, campaign["id"])
    assert rows[mo]["status"] == "sent" and rows[mo]["provider_id"].startswith("SM")
    assert rows[nil]["status"] == "bounced" and "21211" in rows[nil]["error"]

    report = {"MessageSid": rows[mo]["provider_id"], "MessageStatus": "delivered",
              "AccountSid": SID, "To": form["To"], "From": form["From"], "ApiVersion": "2010-04-01"}
    forged = callback(shop, status_url, report, sign=signature(status_url, {**report, "To": "x"}))
    assert_problem(forged, 403)
    assert callback(shop, status_url, report, sign="").status_code == 403
    assert callback(shop, status_url, report).status_code == 204
    settle(shop, campaign["id"])
    assert recipients(shop, campaign["id"])[mo]["status"] == "delivered"
    if channel == "whatsapp":   # a read receipt is an open
        assert callback(shop, status_url, {**report, "MessageStatus": "read"}).status_code == 204
        assert settle(shop, campaign["id"])["messages"]["opened"] == 1


def test_a_busy_provider_is_retried_and_unconfigured_channels_fail_clearly(
        module_app, shop, twilio, marketing, clock):
    fake, _ = twilio
    pat = customer(shop, "Pat Busy", None, phone="+447911123457", consent=("sms",))
    campaign = _ok(shop.post("/v1/campaigns", {"name": "x", "channel": "sms", "body": "Hello",
                                               "customer_ids": [pat]}))
    _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {}))
    fake.busy = 1
    run = worker(module_app, marketing, clock, shop)
    run.run_until_idle()
    settle(shop, campaign["id"])
    row = recipients(shop, campaign["id"])[pat]
    assert (row["status"], row["attempts"]) == ("queued", 1) and "429" in row["error"]
    clock.advance(minutes=2)
    run.run_until_idle()
    settle(shop, campaign["id"])
    assert recipients(shop, campaign["id"])[pat]["status"] == "sent"

    # With no SMTP server configured, email fails at once with the reason.
    ray = customer(shop, "Ray Mail", "ray@text.example")
    mail = _ok(shop.post("/v1/campaigns", {"name": "m", "channel": "email", "subject": "s",
                                           "body": "b", "customer_ids": [ray]}))
    _ok(shop.post(f"/v1/campaigns/{mail['id']}/launch", {}))
    run.run_until_idle()
    settle(shop, mail["id"])
    row = recipients(shop, mail["id"])[ray]
    assert row["status"] == "failed" and "CRM_SMTP_HOST" in row["error"]


def test_email_over_starttls_with_auth(tmp_path):
    cert, key = self_signed_certificate(tmp_path)
    sink = SmtpSink()
    controller = start_smtp(sink, tls=(cert, key), login=("shop", "s3cret"))
    try:
        settings = MarketingSettings(smtp_host="localhost", smtp_port=controller.port,
                                     smtp_starttls=True, smtp_username="shop",
                                     smtp_password="s3cret", smtp_ca_file=str(cert),
                                     smtp_from="shop@potters.example")
        message = Outgoing(uuid4(), "email", "zed@potters.example", "Über uns ☕", "<p>Hallo</p>",
                           "Hallo", {"List-Unsubscribe": "<http://crm.test/v1/t/u/x>"})
        provider_id = SmtpChannel(settings).send(message)
        [received] = sink.received
        assert received.message["Subject"] == "Über uns ☕"
        assert received.message["Message-ID"] == provider_id == f"<{message.message_id}@potters.example>"
        assert received.part("plain").strip() == "Hallo"
        # Without STARTTLS the server refuses to go on; a wrong password is refused for good.
        plain = MarketingSettings(**{**settings.__dict__, "smtp_starttls": False})
        with pytest.raises(Refused) as refused:
            SmtpChannel(plain).send(message)
        assert refused.value.retryable
        wrong = MarketingSettings(**{**settings.__dict__, "smtp_password": "nope"})
        with pytest.raises(Refused) as refused:
            SmtpChannel(wrong).send(message)
        assert not refused.value.retryable and "authentication" in refused.value.error
        assert len(sink.received) == 1
    finally:
        controller.stop()


def test_an_sms_campaign_costs_what_the_provider_bills_per_segment(
        module_app, shop, twilio, marketing, clock):
    """A 200-character GSM-7 text is two segments (153 each when concatenated); a short text
    with an emoji is UCS-2 and one segment: three billed parts for two messages."""
    from dataclasses import replace
    from decimal import Decimal
    module_app.state.marketing = replace(marketing, cost_per_sms=Decimal("0.05"))
    try:
        long_text = "Your order is ready for collection at the studio. " * 4   # 204 GSM-7 chars
        ann = customer(shop, "Ann Long", None, phone="+447911123458", consent=("sms",))
        bo = customer(shop, "Bo Short", None, phone="+447911123459", consent=("sms",))
        long_campaign = _ok(shop.post("/v1/campaigns", {"name": "long", "channel": "sms",
                                                        "body": long_text, "customer_ids": [ann]}))
        short_campaign = _ok(shop.post("/v1/campaigns", {"name": "short", "channel": "sms",
                                                         "body": "Ready 🎉", "customer_ids": [bo]}))
        for campaign in (long_campaign, short_campaign):
            _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {"per_minute": 6000}))
        clock.advance(seconds=5)
        worker(module_app, marketing, clock, shop).run_until_idle()
        settle(shop, short_campaign["id"])
        costs = [_ok(shop.get(f"/v1/campaigns/{c['id']}/analytics"))["cost"]
                 for c in (long_campaign, short_campaign)]
        assert costs == [{"currency": "GBP", "amount": "0.10"}, {"currency": "GBP", "amount": "0.05"}]
    finally:
        module_app.state.marketing = marketing
