"""A realistic artisan shop, so a new user sees a living system at once.

Deterministic for a seed: customers from a few channels, orders with a
pre-Christmas peak, notes and calls, deals at every stage, and email campaigns
to the customers who opted in, each message sent and delivered, a third of
them opened and some clicked. The same generator populates the benchmark
(bench/), where a million customers make about 20M events: a campaign goes to
a sample of the newest subscribers every CAMPAIGN_EVERY sign-ups, so each
subscriber gets about CAMPAIGN_REACH / CAMPAIGN_EVERY messages whatever the size.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import phonenumbers

from commands.application import Crm
from commands.tenants import create_tenant
from domain.base import Meta
from domain.campaign import Campaign
from domain.customer import Customer
from domain.message import Message
from domain.opportunity import DEFAULT_STAGES, Opportunity
from domain.rendering import sample_context

SAVE_EVERY = 50
CAMPAIGN_EVERY = 1_000  # new subscribers between two campaigns
CAMPAIGN_REACH = 4_000  # recipients of a campaign, sampled from the newest RECENT subscribers
RECENT = 5_000
PER_MINUTE = 600
SAMPLE = sample_context({})  # what the demo's campaign bodies are checked against
CAMPAIGNS = (("Winter market preview", "First look at the winter range"),
             ("Spring glazes are in", "New colours from the kiln"),
             ("Summer fair dates", "Come and see us at the fairs"),
             ("Autumn candle drop", "Beeswax season"))
FIRST = ("Ada Bea Cai Dev Eli Fay Gus Hal Ida Jo Kit Lou Max Noor Oli Pia Quin Ros Sam Tam Uma "
         "Vic Wren Xan Yas Zoe").split()
LAST = ("Archer Baker Carver Dyer Fletcher Glover Hooper Joiner Mason Potter Sawyer Tanner "
        "Thatcher Turner Weaver Wright").split()
SOURCES = ("etsy", "instagram", "market-stall", "website", "referral", "wholesale-fair")
PRODUCTS = ("hand-thrown mug", "sourdough starter kit", "walnut chopping board", "beeswax candle",
            "linen apron", "wildflower honey", "felted wool slippers", "copper spoon")
NOTES = ("Prefers unglazed finishes.", "Asked about gift wrapping for Christmas.",
         "Runs a café; may order in bulk.", "Allergic to nuts: check the honey batch.",
         "Loved the last order, left a 5-star review.", "Wants a custom engraving.")


def load_demo(crm: Crm, customers: int = 300, seed: int = 7,
              progress: Callable[[int], None] | None = None,
              name: str = "Demo Artisan Shop") -> tuple[UUID, str]:
    """Creates a tenant full of history; returns (tenant id, API key).

    Customers are saved SAVE_EVERY at a time (one transaction each), which is
    what lets the benchmark use the same generator for a million customers.
    """
    rng = random.Random(seed)
    tenant_id, api_key = create_tenant(crm, name, actor="demo")
    meta = Meta(tenant_id=str(tenant_id), actor="demo")
    now = datetime.now(timezone.utc)
    subscribers: list[tuple[UUID, str]] = []  # the newest opted-in customers, with their email
    new_subscribers = campaigns = 0
    pending: list = []
    for n in range(customers):
        customer = _customer(rng, meta, n, now)
        pending += [customer] + [_deal(rng, meta, customer.id, now)
                                 for _ in range(rng.choice((0, 0, 0, 1, 1, 2)))]
        if rng.random() < 0.7:
            customer.record_consent(meta, "email", "opted_in", "signup form", None, now)
            subscribers.append((customer.id, customer.email))
            new_subscribers += 1
        if new_subscribers == CAMPAIGN_EVERY or (n == customers - 1 and new_subscribers):
            del subscribers[:-RECENT]
            pending += _campaign(rng, meta, campaigns, rng.sample(
                subscribers, min(CAMPAIGN_REACH, len(subscribers))), now)
            new_subscribers, campaigns = 0, campaigns + 1
        if (n + 1) % SAVE_EVERY == 0 or n == customers - 1:
            crm.save(*pending)
            pending = []
            if progress:
                progress(n + 1)
    crm.refresh_statistics()  # a bulk load: the planner must know the table before commands run
    return tenant_id, api_key


def _customer(rng: random.Random, meta: Meta, n: int, now: datetime) -> Customer:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    phone = _mobile(rng) if rng.random() < 0.6 else None
    customer = Customer.register(meta, f"{first} {last}", f"{first}.{last}.{n}@example.com".lower(),
                                 phone, rng.choice(SOURCES))
    if rng.random() < 0.4:
        customer.change_tags(meta, rng.sample(["wholesale", "vip", "gift-buyer", "local", "newsletter"],
                                              rng.randint(1, 2)), [])
    for k in range(rng.choice((0, 1, 1, 2, 3, 5, 8))):
        when = _seasonal_moment(rng, now)
        items = rng.randint(1, 4)
        amount = sum(Decimal(rng.choice(("12.00", "18.50", "24.00", "32.00", "45.00"))) for _ in range(items))
        customer.record_order(meta, f"D{n:05d}-{k}", amount, "GBP", items, when)
    if rng.random() < 0.5:
        customer.add_note(meta, rng.choice(NOTES))
    if rng.random() < 0.4:
        customer.log_communication(meta, rng.choice(("email", "phone", "whatsapp", "meeting")),
                                   rng.choice(("inbound", "outbound")),
                                   f"About the {rng.choice(PRODUCTS)}", "Answered questions.",
                                   now - timedelta(days=rng.randint(0, 200)))
    return customer


def _mobile(rng: random.Random) -> str:
    """A UK mobile number that passes validation (some 07 ranges are unallocated)."""
    while True:
        number = f"+447{rng.choice('45789')}{rng.randrange(10**8):08d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            return number


def _seasonal_moment(rng: random.Random, now: datetime) -> datetime:
    """A time in the last two years, with November and December twice as likely."""
    while True:
        moment = now - timedelta(days=rng.uniform(0, 730))
        if moment.month in (11, 12) or rng.random() < 0.5:
            return moment


def _deal(rng: random.Random, meta: Meta, customer_id: UUID, now: datetime) -> Opportunity:
    deal = Opportunity.open(meta, customer_id, f"{rng.choice(('Wholesale', 'Custom', 'Corporate gifts'))}"
                            f" order: {rng.choice(PRODUCTS)}s", Decimal(rng.randrange(150, 5000)), "GBP",
                            expected_close=date.today() + timedelta(days=rng.randint(5, 120)),
                            owner=rng.choice(("maya", "tom")))
    for stage in DEFAULT_STAGES[1:rng.randint(1, len(DEFAULT_STAGES))]:
        deal.move_stage(meta, stage)
    outcome = rng.random()
    if outcome < 0.25:
        deal.win(meta)
    elif outcome < 0.4:
        deal.lose(meta, rng.choice(("price", "timing", "went with another maker")))
    return deal


def _campaign(rng: random.Random, meta: Meta, number: int, audience: list[tuple[UUID, str]],
              now: datetime) -> list:
    """A sent email campaign and its messages: each sent and delivered, a third opened and a
    quarter of those clicked, at a seasonal moment paced at PER_MINUTE."""
    name, subject = CAMPAIGNS[number % len(CAMPAIGNS)]
    campaign = Campaign.draft(meta, f"{name} ({number + 1})", "email", subject,
                              "Hello {{ customer.first_name }}, " + subject.lower() + ".",
                              sample=SAMPLE)
    campaign.launch(meta, [customer_id for customer_id, _ in audience])
    started = _seasonal_moment(rng, now)
    campaign.dispatch(meta, {}, PER_MINUTE, started)
    messages = []
    for index, (customer_id, email) in enumerate(audience):
        due = started + timedelta(seconds=index * 60 / PER_MINUTE)
        message = Message.queue(meta, customer_id=customer_id, channel="email", step="campaign",
                                not_before=due, campaign_id=campaign.id)
        message.start(meta, "demo", due, timedelta(minutes=5))
        message.sent(meta, email, f"demo-{message.id.hex[:16]}")
        message.delivered(meta)
        engaged = rng.random()
        if engaged < 0.09:
            message.click(meta, f"https://shop.example.com/{rng.choice(PRODUCTS).replace(' ', '-')}")
        elif engaged < 0.35:
            message.open(meta)
        messages.append(message)
    campaign.complete(meta)
    return [campaign, *messages]
