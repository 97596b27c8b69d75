"""Campaigns sent for real: a template approved, an audience filtered by consent at launch, an
SMTP server on loopback receiving the rendered mail with its tracking pixel and one-click
unsubscribe, opens, clicks and unsubscribes recorded through the tracking routes, throttling,
retries, competing senders, and at most once when a sender dies."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit
from uuid import uuid4

import pytest

from commands.application import Crm
from commands.marketing_settings import MarketingSettings
from tests.marketing_support import FakeClock, SmtpSink, caught_up, start_smtp
from tests.support import assert_problem
from workers.channels import SmtpChannel, channels
from workers.log_worker import LogWorker
from workers.sender import Sender

SECRET = "tracking-secret"


def _ok(response) -> dict:
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def smtp(module_app):  # one per store parameter: addresses repeat across them
    sink = SmtpSink()
    controller = start_smtp(sink)
    yield sink, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def marketing(module_app, smtp) -> MarketingSettings:
    settings = MarketingSettings(
        public_url="http://crm.test", tracking_secret=SECRET, smtp_host="127.0.0.1",
        smtp_port=smtp[1], smtp_starttls=False, smtp_from="Potter's Wheel <shop@potters.example>",
        lease_seconds=120, webhooks_allow_private=True)  # the automations' receivers: loopback
    module_app.state.marketing = settings
    return settings


@pytest.fixture
def clock(module_app):
    clock = FakeClock(datetime.now(timezone.utc).replace(microsecond=0))
    module_app.state.clock = clock
    yield clock
    module_app.state.clock = None


@pytest.fixture
def shop(make_tenant, marketing):
    return make_tenant("Potter's Wheel")


def sender(app, marketing, shop, name="w1", channel_map=None, crm: Crm | None = None) -> Sender:
    return Sender(crm or app.state.crm, marketing, SECRET.encode(),
                  channel_map or channels(marketing), worker=name, tenants={shop.id})


def worker(app, marketing, clock, shop, **kwargs) -> LogWorker:
    return LogWorker(kwargs.get("crm") or app.state.crm, [sender(app, marketing, shop, **kwargs)],
                     clock)


def customer(shop, name, email=None, phone=None, consent=("email",), status="opted_in") -> str:
    created = shop.register(name, email, **({"phone": phone} if phone else {}))
    for channel in consent:
        _ok(shop.post(f"/v1/customers/{created['id']}/consent",
                      {"channel": channel, "status": status, "source": "checkout form"}))
    return created["id"]


def approved_template(shop, body: dict) -> str:
    template = _ok(shop.post("/v1/templates", body))["id"]
    _ok(shop.post(f"/v1/templates/{template}/versions/1/approve", {}))
    return template


WINTER = {
    "name": "Winter", "channel": "email",
    "subject": "{{ customer.first_name }}, the {{ customer.custom.glaze }} range is here",
    "html": "<html><body><h1>Hello {{ customer.first_name }}</h1>"
            "<p><a href=\"https://shop.example/winter?utm=mail&amp;x=1\">See the range</a></p>"
            "<p><a href=\"{{ unsubscribe_url }}\">Unsubscribe</a></p></body></html>",
    "text": "Hello {{ customer.first_name }}, see https://shop.example/winter\n"
            "Unsubscribe: {{ unsubscribe_url }}",
}


def launch(shop, template: str | None, audience: list[str], channel="email", **extra) -> dict:
    body = {"name": "Winter launch", "channel": channel, "customer_ids": audience}
    if template:
        body["template_id"] = template
    else:
        body.update(subject="Hi {{ customer.first_name }}", body="Plain hello {{ customer.name }}")
    campaign = _ok(shop.post("/v1/campaigns", body))
    launched = _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", extra))
    return {"id": campaign["id"], "token": launched["consistency_token"]}


def recipients(shop, campaign_id: str, token: str | None = None) -> dict[str, dict]:
    items = _ok(shop.get(f"/v1/campaigns/{campaign_id}/recipients", token=token))["items"]
    return {item["customer_id"]: item for item in items}


def local(url: str) -> str:
    """A public tracking URL as a path the test client can call."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://crm.test", url
    return parts.path + (f"?{parts.query}" if parts.query else "")


def settle(shop, campaign_id: str) -> dict:
    """The campaign once the read model has every event stored so far."""
    caught_up(shop.client.app)
    return _ok(shop.get(f"/v1/campaigns/{campaign_id}"))


def test_a_campaign_reaches_only_consenting_customers_rendered_and_tracked(
        module_app, shop, smtp, marketing, clock):
    sink = smtp[0]
    _ok(shop.post("/v1/custom-fields", {"key": "glaze", "label": "Glaze", "type": "select",
                                        "options": ["celadon", "tenmoku"]}))
    ada = customer(shop, "Ada Potter", "ada@potters.example")
    _ok(shop.patch(f"/v1/customers/{ada}/custom-fields", {"values": {"glaze": "celadon"}}))
    bob = customer(shop, "Bob Out", "bob@potters.example", status="opted_out")
    cy = customer(shop, "Cy Silent", "cy@potters.example", consent=())
    dan = customer(shop, "Dan Gone", "dan@potters.example")
    _ok(shop.post(f"/v1/customers/{dan}/archive", {}))
    eve = customer(shop, "Eve Textonly", None, phone="+447911123456", consent=("email", "sms"))
    template = approved_template(shop, WINTER)

    campaign = launch(shop, template, [ada, bob, cy, dan, eve])
    view = settle(shop, campaign["id"])
    assert (view["status"], view["audience_size"], view["recipients"], view["suppressed"]) == (
        "running", 5, 1, 4)
    assert view["template_id"] == template and view["template_version"] == 1
    left_out = {r["customer_id"]: r["reason"] for r in
                _ok(shop.get(f"/v1/campaigns/{campaign['id']}/suppressed"))}
    assert left_out == {bob: "opted_out", cy: "no_consent", dan: "archived", eve: "no_address"}
    assert recipients(shop, campaign["id"])[ada]["status"] == "queued"

    assert worker(module_app, marketing, clock, shop).run_until_idle() == 1
    for address in ("bob", "cy", "dan", "eve"):
        assert sink.to(f"{address}@potters.example") == []
    [mail] = sink.to("ada@potters.example")
    message = mail.message
    assert message["Subject"] == "Ada, the celadon range is here"
    assert message["From"] == "Potter's Wheel <shop@potters.example>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = message["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("http://crm.test/v1/t/u/")
    html, text = mail.part("html"), mail.part("plain")
    assert "<h1>Hello Ada</h1>" in html
    assert f'href="{unsubscribe}"' in html and f"Unsubscribe: {unsubscribe}" in text
    assert "https://shop.example/winter" not in html           # the link goes through tracking
    [click] = [part.split('"')[0] for part in html.split('href="')[1:] if "/v1/t/c/" in part]
    [pixel] = [part.split('"')[0] for part in html.split('<img src="')[1:]]
    assert pixel.startswith("http://crm.test/v1/t/o/") and pixel.endswith(".gif")
    assert html.index(pixel) < html.index("</body>")
    assert text.startswith("Hello Ada, see https://shop.example/winter")

    sent = settle(shop, campaign["id"])
    assert sent["messages"]["sent"] == 1
    row = recipients(shop, campaign["id"])[ada]
    assert (row["status"], row["to_address"], row["attempts"]) == ("sent", "ada@potters.example", 1)
    assert row["provider_id"] == message["Message-ID"]

    # The pixel: a GIF, recorded once however often it loads.
    for _ in range(2):
        gif = shop.client.get(local(pixel))
        assert gif.status_code == 200 and gif.headers["content-type"] == "image/gif"
        assert gif.content.startswith(b"GIF89a") and "no-store" in gif.headers["cache-control"]
    # The click: recorded, then redirected to the link's own target.
    redirect = shop.client.get(local(click), follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://shop.example/winter?utm=mail&x=1"
    # A forged token redirects nowhere and records nothing.
    forged = local(click)[:-3] + ("AAA" if not local(click).endswith("AAA") else "BBB")
    assert_problem(shop.client.get(forged, follow_redirects=False), 404)
    assert shop.client.get("/v1/t/o/not-a-token.gif").status_code == 200

    engaged = settle(shop, campaign["id"])["messages"]
    assert (engaged["opened"], engaged["clicked"], engaged["clicks"]) == (1, 1, 1)
    timeline = _ok(shop.get(f"/v1/customers/{ada}/timeline", params={"kind": "campaign"}))["items"]
    assert [i["event_type"] for i in timeline][:3] == ["Message.Clicked", "Message.Opened",
                                                       "Message.Sent"]

    # Unsubscribe: the page alone changes nothing; the one-click POST opts out at once.
    page = shop.client.get(local(unsubscribe))
    assert page.status_code == 200 and "<form method=\"post\"" in page.text
    done = shop.client.post(local(unsubscribe), content=b"List-Unsubscribe=One-Click",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert done.status_code == 200 and "Unsubscribed" in done.text
    assert shop.client.post(local(unsubscribe)).status_code == 200   # twice is harmless
    settle(shop, campaign["id"])
    consent = {c["channel"]: c for c in _ok(shop.get(f"/v1/customers/{ada}"))["consent"]}
    assert consent["email"]["status"] == "opted_out"
    assert consent["email"]["source"].startswith("unsubscribe link")
    assert recipients(shop, campaign["id"])[ada]["unsubscribed_at"] is not None

    # The next campaign leaves her out at launch.
    second = launch(shop, template, [ada])
    assert settle(shop, second["id"])["recipients"] == 0
    assert _ok(shop.get(f"/v1/campaigns/{second['id']}/suppressed")) == [
        {"customer_id": ada, "reason": "opted_out"}]


def test_an_opt_out_after_the_launch_stops_the_queued_message(module_app, shop, smtp, marketing,
                                                              clock):
    fay = customer(shop, "Fay Later", "fay@potters.example")
    gus = customer(shop, "Gus Stays", "gus@potters.example")
    campaign = launch(shop, None, [fay, gus], per_minute=1)   # Gus is due a minute later
    _ok(shop.post(f"/v1/customers/{gus}/consent", {"channel": "email", "status": "opted_out",
                                                  "source": "phone call"}))
    run = worker(module_app, marketing, clock, shop)
    assert run.run_until_idle() == 1
    clock.advance(seconds=61)
    assert run.run_until_idle() == 1
    assert len(smtp[0].to("fay@potters.example")) == 1
    assert smtp[0].to("gus@potters.example") == []
    settle(shop, campaign["id"])
    rows = recipients(shop, campaign["id"])
    assert (rows[gus]["status"], rows[gus]["error"]) == ("suppressed", "opted_out")
    assert rows[fay]["status"] == "sent"


def test_sending_is_throttled_per_channel(module_app, shop, smtp, marketing, clock):
    people = [customer(shop, f"Tess {n}", f"tess{n}@potters.example") for n in range(3)]
    launch(shop, None, people, per_minute=2)   # one every 30 s
    run = worker(module_app, marketing, clock, shop)
    counts = []
    for _ in range(3):
        run.run_until_idle()
        counts.append(sum(len(smtp[0].to(f"tess{n}@potters.example")) for n in range(3)))
        clock.advance(seconds=30)
    assert counts == [1, 2, 3]
    # The default rate is the channel's setting: 600 a minute for email.
    rates = {"email": marketing.email_per_minute}
    assert rates == {"email": 600}


def test_a_refused_send_is_retried_with_backoff_and_a_rejected_address_bounces(
        module_app, shop, smtp, marketing, clock):
    later = customer(shop, "Hal Later", "hal+tempfail@potters.example")
    never = customer(shop, "Ida Never", "ida+reject@potters.example")
    campaign = launch(shop, None, [later, never], per_minute=600)   # 0.1 s apart
    clock.advance(seconds=1)
    run = worker(module_app, marketing, clock, shop)
    run.run_until_idle()
    settle(shop, campaign["id"])
    rows = recipients(shop, campaign["id"])
    assert (rows[later]["status"], rows[later]["attempts"]) == ("queued", 1)
    assert "451" in rows[later]["error"]
    retry_at = datetime.fromisoformat(str(rows[later]["not_before"]))
    assert clock() + timedelta(seconds=30) <= retry_at <= clock() + timedelta(seconds=60)
    assert rows[never]["status"] == "bounced" and "550" in rows[never]["error"]
    assert smtp[0].to("hal+tempfail@potters.example") == []
    clock.advance(seconds=61)
    run.run_until_idle()
    assert len(smtp[0].to("hal+tempfail@potters.example")) == 1
    settle(shop, campaign["id"])
    rows = recipients(shop, campaign["id"])
    assert (rows[later]["status"], rows[later]["attempts"]) == ("sent", 2)
    assert settle(shop, campaign["id"])["messages"]["bounced"] == 1


class Killed(BaseException):
    """Stands for the process dying: not an Exception, so nothing on the way catches it."""


def test_a_sender_that_dies_mid_send_never_causes_a_second_copy(module_app, shop, smtp, marketing,
                                                                clock):
    jo = customer(shop, "Jo Once", "jo@potters.example")
    campaign = launch(shop, None, [jo])

    class DiesAfterHandingOver(SmtpChannel):
        def send(self, message):
            super().send(message)   # the SMTP server has the message...
            raise Killed()          # ...and the worker dies before recording it

    doomed = worker(module_app, marketing, clock, shop,
                    channel_map={"email": DiesAfterHandingOver(marketing)})
    with pytest.raises(Killed):
        doomed.run_once()
    assert len(smtp[0].to("jo@potters.example")) == 1
    settle(shop, campaign["id"])
    assert recipients(shop, campaign["id"])[jo]["status"] == "sending"

    # A restarted worker leaves it alone while the lease lasts, then gives it up as unknown.
    restarted = worker(module_app, marketing, clock, shop, name="w2")
    restarted.run_until_idle()
    clock.advance(seconds=marketing.lease_seconds + 1)
    restarted.run_until_idle()
    settle(shop, campaign["id"])
    row = recipients(shop, campaign["id"])[jo]
    assert row["status"] == "failed" and row["error"].startswith("outcome unknown")
    clock.advance(hours=1)
    worker(module_app, marketing, clock, shop, name="w3").run_until_idle()
    assert len(smtp[0].to("jo@potters.example")) == 1


def test_competing_senders_send_each_message_once(module_app, module_settings, shop, smtp,
                                                  marketing, clock):
    people = [customer(shop, f"Kit {n}", f"kit{n}@potters.example") for n in range(12)]
    campaign = launch(shop, None, people, per_minute=100_000)
    clock.advance(seconds=1)
    crms = [Crm(module_settings.event_store_url) for _ in range(3)]
    senders = [sender(module_app, marketing, shop, name=f"w{n}", crm=crm)
               for n, crm in enumerate(crms)]
    workers = [LogWorker(crm, [s], clock) for crm, s in zip(crms, senders)]
    start = threading.Barrier(len(workers))

    def run(w: LogWorker) -> None:
        start.wait()
        w.run_until_idle()
    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for crm in crms:
        crm.close()
    assert sum(s.outcomes.get("sent", 0) for s in senders) == 12
    ids = [m.message["Message-ID"] for n in range(12) for m in smtp[0].to(f"kit{n}@potters.example")]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert settle(shop, campaign["id"])["messages"]["sent"] == 12


def test_campaign_rules_for_templates_and_audiences(shop, marketing, clock):
    draft_template = _ok(shop.post("/v1/templates", {**WINTER, "subject": "Hi"}))["id"]
    assert_problem(shop.post("/v1/campaigns", {"name": "x", "channel": "email",
                                               "template_id": draft_template}),
                   422, "template_version")
    sms_template = approved_template(shop, {"name": "t", "channel": "sms", "text": "Hi"})
    assert_problem(shop.post("/v1/campaigns", {"name": "x", "channel": "email",
                                               "template_id": sms_template}), 422, "template_id")
    campaign = _ok(shop.post("/v1/campaigns", {"name": "x", "channel": "sms",
                                               "template_id": sms_template}))
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {}), 422, "customer_ids")
    lee = customer(shop, "Lee", None, phone="+447911123457", consent=("sms",))
    _ok(shop.post(f"/v1/campaigns/{campaign['id']}/audience", {"customer_ids": [lee]}))
    launched = _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {}))
    view = _ok(shop.get(f"/v1/campaigns/{campaign['id']}", token=launched["consistency_token"]))
    assert (view["audience_size"], view["recipients"], view["per_minute"]) == (1, 1, 60)


def test_a_segment_audience_is_frozen_at_launch_and_filtered_by_consent(module_app, shop, smtp,
                                                                         marketing, clock):
    una = customer(shop, "Una Buyer", "una@segment.example")
    vic = customer(shop, "Vic Buyer", "vic@segment.example", status="opted_out")
    wes = customer(shop, "Wes Browser", "wes@segment.example")           # no order: not a member
    for who, order_id in ((una, "U-1"), (vic, "V-1")):
        _ok(shop.post(f"/v1/customers/{who}/orders", {"order_id": order_id, "amount": "10.00",
                                                      "currency": "GBP", "item_count": 1}))
    buyers = _ok(shop.post("/v1/segments", {"name": "Buyers", "rule": {
        "field": "order_count", "op": "gte", "value": 1}}))
    assert_problem(shop.post("/v1/campaigns", {"name": "x", "channel": "email", "subject": "s",
                                               "body": "b", "segment_id": str(uuid4())}),
                   422, "segment_id")
    campaign = _ok(shop.post("/v1/campaigns", {"name": "Buyers only", "channel": "email",
                                               "subject": "Thanks", "body": "Thank you!",
                                               "segment_id": buyers["id"]}))
    assert_problem(shop.post(f"/v1/campaigns/{campaign['id']}/audience",
                             {"customer_ids": [una], "segment_id": buyers["id"]}), 422)
    caught_up(shop.client.app)                       # the segment's members are computed
    _ok(shop.post(f"/v1/campaigns/{campaign['id']}/launch", {}))
    xan = customer(shop, "Xan Later", "xan@segment.example")             # joins after the launch
    _ok(shop.post(f"/v1/customers/{xan}/orders", {"order_id": "X-1", "amount": "10.00",
                                                  "currency": "GBP", "item_count": 1}))
    view = settle(shop, campaign["id"])
    assert view["segment_id"] == buyers["id"]
    assert (view["audience_size"], view["recipients"], view["suppressed"]) == (2, 1, 1)
    assert _ok(shop.get(f"/v1/campaigns/{campaign['id']}/suppressed")) == [
        {"customer_id": vic, "reason": "opted_out"}]
    worker(module_app, marketing, clock, shop).run_until_idle()
    assert len(smtp[0].to("una@segment.example")) == 1
    for other in ("vic", "wes", "xan"):
        assert smtp[0].to(f"{other}@segment.example") == []


def test_campaigns_on_one_channel_share_its_pace(module_app, shop, smtp, marketing, clock):
    first = [customer(shop, f"Pia {n}", f"pia{n}@pace.example") for n in range(2)]
    second = [customer(shop, f"Quin {n}", f"quin{n}@pace.example") for n in range(2)]
    texts = [customer(shop, f"Rex {n}", None, phone=f"+44791112346{n}", consent=("sms",))
             for n in range(2)]
    a = launch(shop, None, first, per_minute=2)                 # at 0 s and 30 s
    b = launch(shop, None, second, per_minute=2)                # after them: 60 s and 90 s
    c = launch(shop, None, texts, channel="sms", per_minute=2)  # another channel: 0 s and 30 s
    offsets = {}
    for campaign in (a, b, c):
        settle(shop, campaign["id"])
        offsets[campaign["id"]] = sorted(
            (datetime.fromisoformat(str(row["not_before"])) - clock()).total_seconds()
            for row in recipients(shop, campaign["id"]).values())
    assert offsets == {a["id"]: [0, 30], b["id"]: [60, 90], c["id"]: [0, 30]}
