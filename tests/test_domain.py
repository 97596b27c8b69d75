"""Domain rules, with no database: values, aggregates' state machines, and event metadata."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.base import DomainError, InvalidTransition, Meta, event_data, event_type
from domain.campaign import Campaign
from domain.customer import MAX_TAGS, Customer
from domain.opportunity import Opportunity
from domain.rendering import sample_context
from domain.values import CURRENCIES, MAX_AMOUNT, email_address, money, phone_number, utc

META = Meta(tenant_id="tenant-1", actor="maya", correlation_id="corr-1")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def customer(**fields) -> Customer:
    return Customer.register(META, **{"name": "Ada Potter", "email": "ada@example.com", **fields})


class refused:
    """Expects a DomainError (or ``error``) naming ``field``."""

    def __init__(self, field: str, error: type[DomainError] = DomainError):
        self.field, self.error = field, error

    def __enter__(self):
        self.raises = pytest.raises(self.error)
        self.info = self.raises.__enter__()
        return self.info

    def __exit__(self, *exc):
        result = self.raises.__exit__(*exc)
        assert self.info.value.field == self.field, (self.info.value.field, self.info.value.message)
        return result


# -- values ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("Ada@Example.COM", "Ada@example.com"),
    ("  ada.potter@Sub.Example.org ", "ada.potter@sub.example.org"),
    ("bea@EXAMPLE.co.uk", "bea@example.co.uk"),
])
def test_emails_are_validated_and_their_domain_lower_cased(raw, expected):
    assert email_address(raw.strip()) == expected
    assert customer(email=raw.strip()).email == expected


@pytest.mark.parametrize("raw", ["not-an-email", "ada@", "@example.com", "ada@@example.com",
                                 "ada example@example.com", "ada@example"])
def test_invalid_emails_are_refused(raw):
    with refused("email"):
        customer(email=raw)


@pytest.mark.parametrize("raw, expected", [
    ("+44 7911 123456", "+447911123456"),
    ("07911 123456", "+447911123456"),          # national format: the default region (GB)
    ("+1 (415) 555-2671", "+14155552671"),
    ("+49 30 901820", "+4930901820"),
])
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert phone_number(raw) == expected
    assert customer(phone=raw).phone == expected


@pytest.mark.parametrize("raw", ["123", "not a phone", "+44 1234", "+999 123456789"])
def test_invalid_phone_numbers_are_refused(raw):
    with refused("phone"):
        customer(phone=raw)


def test_empty_email_and_phone_mean_none():
    ada = customer(email="", phone="")
    assert (ada.email, ada.phone) == (None, None)


def test_a_name_is_required_and_trimmed():
    assert customer(name="  Ada  ").name == "Ada"
    for blank in ("", "   ", None):
        with refused("name"):
            customer(name=blank)
    with refused("name"):
        customer(name="x" * 201)


@pytest.mark.parametrize("amount, currency, expected", [
    ("12.5", "gbp", (Decimal("12.50"), "GBP")),
    ("10", "EUR", (Decimal("10.00"), "EUR")),
    (7, "usd", (Decimal("7.00"), "USD")),
    ("0", "JPY", (Decimal("0.00"), "JPY")),
    (Decimal("0.10"), "GBP", (Decimal("0.10"), "GBP")),
    ("1000000000", "GBP", (MAX_AMOUNT, "GBP")),
])
def test_money_is_an_exact_two_place_decimal_with_an_iso_currency(amount, currency, expected):
    value, code = money(amount, currency)
    assert (value, code) == expected
    assert value.as_tuple().exponent == -2


@pytest.mark.parametrize("amount, currency, field", [
    ("-0.01", "GBP", "amount"),
    ("-5", "GBP", "amount"),
    ("1.234", "GBP", "amount"),
    ("abc", "GBP", "amount"),
    ("NaN", "GBP", "amount"),
    ("Infinity", "GBP", "amount"),
    ("1000000000.01", "GBP", "amount"),
    ("5.00", "XYZ", "currency"),
    ("5.00", "EURO", "currency"),
    ("5.00", "", "currency"),
])
def test_bad_money_is_refused(amount, currency, field):
    with refused(field):
        money(amount, currency)


@settings(max_examples=100, deadline=None)
@given(cents=st.integers(min_value=0, max_value=int(MAX_AMOUNT * 100)),
       currency=st.sampled_from(sorted(CURRENCIES)), lower=st.booleans())
def test_money_round_trips_every_amount_of_whole_cents(cents, currency, lower):
    text = f"{cents // 100}.{cents % 100:02d}"
    value, code = money(text, currency.lower() if lower else currency)
    assert value == Decimal(cents) / 100
    assert str(value) == text
    assert code == currency


@settings(max_examples=100, deadline=None)
@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=4,
                         min_value=Decimal("-1000"), max_value=Decimal("1000")))
def test_money_refuses_what_it_cannot_hold_exactly(value):
    exact = value == value.quantize(Decimal("0.01"))
    if value >= 0 and exact:
        assert money(value, "GBP")[0] == value
    else:
        with refused("amount"):
            money(value, "GBP")


def test_times_must_be_timezone_aware_and_become_utc():
    assert utc(datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))) == \
        datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert utc(datetime(2026, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))).utcoffset() == timedelta(0)
    with refused("occurred_at"):
        utc(datetime(2026, 3, 1, 12, 0))
    assert utc(None).tzinfo is not None  # "now", aware


# -- customer -----------------------------------------------------------------------------


def test_registering_records_one_event_with_the_normalised_profile():
    ada = customer(email="Ada@Example.com", phone="07911 123456", source=" etsy ")
    [registered] = ada.collect_events()
    assert event_type(registered) == "Customer.Registered"
    assert event_data(registered) == {"name": "Ada Potter", "email": "Ada@example.com",
                                      "phone": "+447911123456", "source": "etsy"}
    assert ada.version == 1 and ada.tenant_id == "tenant-1"


def test_naive_times_are_refused_on_communications_and_orders():
    ada = customer()
    with refused("occurred_at"):
        ada.log_communication(META, "email", "inbound", "Hi", None, datetime(2026, 3, 1, 12, 0))
    with refused("occurred_at"):
        ada.record_order(META, "A-1", "5.00", "GBP", 1, datetime(2026, 3, 1, 12, 0))
    assert ada.version == 1  # nothing recorded


def test_a_communication_needs_a_known_channel_and_direction():
    ada = customer()
    with refused("channel"):
        ada.log_communication(META, "fax", "inbound", None, None, NOW)
    with refused("direction"):
        ada.log_communication(META, "email", "sideways", None, None, NOW)
    ada.log_communication(META, "whatsapp", "outbound", " Hello ", "Asked about mugs", NOW)
    assert event_data(ada.collect_events()[-1]) == {
        "channel": "whatsapp", "direction": "outbound", "subject": "Hello",
        "summary": "Asked about mugs", "occurred_at": NOW}


def test_an_order_records_normalised_money():
    ada = customer()
    assert ada.record_order(META, "A-1", "24.5", "gbp", 2, NOW) is True
    order = ada.collect_events()[-1]
    assert event_data(order) == {"order_id": "A-1", "amount": Decimal("24.50"), "currency": "GBP",
                                 "item_count": 2, "occurred_at": NOW}


@pytest.mark.parametrize("amount, currency, items, field", [
    ("-1.00", "GBP", 1, "amount"), ("1.001", "GBP", 1, "amount"), ("1.00", "ZZZ", 1, "currency"),
    ("1.00", "GBP", 0, "item_count"), ("1.00", "GBP", 100_001, "item_count"),
])
def test_a_bad_order_is_refused_and_records_nothing(amount, currency, items, field):
    ada = customer()
    with refused(field):
        ada.record_order(META, "A-1", amount, currency, items, NOW)
    assert ada.version == 1 and "A-1" not in ada.order_ids


def test_the_same_order_id_twice_is_a_no_op():
    ada = customer()
    assert ada.record_order(META, "A-1", "10.00", "GBP", 1, NOW) is True
    version = ada.version
    assert ada.record_order(META, "A-1", "99.00", "EUR", 5, NOW) is False
    assert ada.record_order(META, " A-1 ", "10.00", "GBP", 1, NOW) is False  # trimmed: the same id
    assert ada.version == version
    assert [event_type(e) for e in ada.collect_events()] == ["Customer.Registered", "Customer.OrderRecorded"]


def test_updating_the_profile_records_only_what_changed():
    ada = customer(phone="+447911123456")
    ada.collect_events()
    ada.update_profile(META, name="Ada Potter", email="ADA@example.com", phone=None)
    [updated] = ada.collect_events()
    # the email normalises to what it was: unchanged; the name is the same; the phone is cleared
    assert event_data(updated) == {"changes": {"email": "ADA@example.com", "phone": None}}
    ada.update_profile(META, name=" Ada Potter ")
    assert ada.collect_events() == []


def test_updating_the_profile_validates_each_field():
    ada = customer()
    with refused("name"):
        ada.update_profile(META, name=None)
    with refused("email"):
        ada.update_profile(META, email="nope")
    with refused("phone"):
        ada.update_profile(META, phone="12")
    with refused("archived"):
        ada.update_profile(META, archived=True)
    assert ada.version == 1


def test_an_archived_customer_refuses_every_change():
    ada = customer()
    ada.record_order(META, "A-1", "10.00", "GBP", 1, NOW)
    ada.archive(META, "asked to be forgotten")
    assert ada.archived
    version = ada.version
    for change in (lambda: ada.update_profile(META, name="Other"),
                   lambda: ada.add_note(META, "hello"),
                   lambda: ada.log_communication(META, "email", "inbound", None, None, NOW),
                   lambda: ada.record_order(META, "A-2", "10.00", "GBP", 1, NOW),
                   lambda: ada.change_tags(META, ["vip"], []),
                   lambda: ada.archive(META)):
        with pytest.raises(InvalidTransition):
            change()
    # an order it already has stays a no-op rather than an error: a retried import is harmless
    assert ada.record_order(META, "A-1", "10.00", "GBP", 1, NOW) is False
    assert ada.version == version


def test_a_note_must_have_text():
    ada = customer()
    with refused("text"):
        ada.add_note(META, "   ")
    ada.add_note(META, " Prefers unglazed ")
    assert ada.note_count == 1
    assert event_data(ada.collect_events()[-1]) == {"text": "Prefers unglazed"}


def test_tags_are_trimmed_lower_cased_and_kept_once():
    ada = customer()
    ada.change_tags(META, [" VIP ", "local", "vip", "Gift-Buyer"], [])
    assert ada.tags == ["vip", "local", "gift-buyer"]
    ada.change_tags(META, ["wholesale"], ["LOCAL", "never-had"])
    assert ada.tags == ["vip", "gift-buyer", "wholesale"]
    events = ada.collect_events()
    assert [event_data(e)["tags"] for e in events[1:]] == [
        ["vip", "local", "gift-buyer"], ["vip", "gift-buyer", "wholesale"]]
    ada.change_tags(META, ["VIP"], ["absent"])  # no effect: no event
    assert ada.collect_events() == []


def test_bad_tags_are_refused_by_position():
    ada = customer()
    with refused("add[1]"):
        ada.change_tags(META, ["ok", "  "], [])
    with refused("remove[0]"):
        ada.change_tags(META, [], ["x" * 51])
    with refused("add"):
        ada.change_tags(META, [f"t{n}" for n in range(MAX_TAGS + 1)], [])
    assert ada.tags == [] and ada.version == 1


tag = st.text(alphabet="abcXYZ- ", min_size=1, max_size=6).filter(lambda t: t.strip())


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.lists(tag, max_size=5), st.lists(tag, max_size=3)), max_size=6))
def test_tags_behave_as_an_ordered_set(steps):
    ada = customer()
    model: list[str] = []
    for add, remove in steps:
        before, previous = ada.version, model
        ada.change_tags(META, add, remove)
        gone = {t.strip().lower() for t in remove}
        model = [t for t in dict.fromkeys(model + [t.strip().lower() for t in add]) if t not in gone]
        assert ada.tags == model
        assert (ada.version > before) == (model != previous)  # an event exactly when the set changed
        ada.change_tags(META, add, remove)                     # the same change again: nothing new
        assert ada.tags == model
    replayed = None
    for event in ada.collect_events():
        replayed = event.mutate(replayed)
    assert replayed.tags == ada.tags


# -- opportunity --------------------------------------------------------------------------


def deal(**fields) -> Opportunity:
    return Opportunity.open(META, **{"customer_id": uuid4(), "title": "Café mugs", "value": "1200",
                                     "currency": "gbp", **fields})


def test_an_opportunity_opens_at_the_first_stage_with_normalised_money():
    opened = deal(expected_close=date(2026, 6, 1), owner=" tom ")
    assert (opened.status, opened.stage, opened.value, opened.currency, opened.owner) == \
        ("open", "lead", Decimal("1200.00"), "GBP", "tom")


@pytest.mark.parametrize("fields, field", [
    ({"value": "-1"}, "value"), ({"value": "1.999"}, "value"), ({"currency": "XXX"}, "currency"),
    ({"stage": "won"}, "stage"), ({"title": " "}, "title"),
])
def test_opening_refuses_bad_input(fields, field):
    with refused(field):
        deal(**fields)


def test_moving_stage_records_the_previous_stage_and_ignores_no_moves():
    opened = deal()
    opened.move_stage(META, "proposal")
    opened.move_stage(META, "proposal")
    opened.move_stage(META, "qualified")
    moves = [event_data(e) for e in opened.collect_events()[1:]]
    assert [(m["previous_stage"], m["stage"]) for m in moves] == [("lead", "proposal"),
                                                                  ("proposal", "qualified")]
    with refused("stage"):
        opened.move_stage(META, "closed")


def test_changing_value_records_the_previous_value():
    opened = deal()
    opened.change_value(META, "1200.00")          # same value: nothing
    opened.change_value(META, "900", "eur")
    [changed] = opened.collect_events()[1:]
    assert event_data(changed)["previous_value"] == Decimal("1200.00")
    assert (opened.value, opened.currency) == (Decimal("900.00"), "EUR")
    with refused("value"):
        opened.change_value(META, "-3")


def test_a_won_deal_is_closed():
    won = deal()
    won.win(META)
    assert won.status == "won"
    assert event_data(won.collect_events()[-1]) == {"customer_id": won.customer_id,
                                                    "value": Decimal("1200.00"), "currency": "GBP",
                                                    "reason": None, "pipeline_id": None,
                                                    "previous_stage": "lead",
                                                    "stage": "lead", "occurred_at": None}
    for change in (lambda: won.win(META), lambda: won.lose(META, "price"),
                   lambda: won.move_stage(META, "proposal"), lambda: won.change_value(META, "1")):
        with pytest.raises(InvalidTransition):
            change()


def test_a_lost_deal_needs_a_reason_and_is_closed():
    lost = deal()
    with refused("reason"):
        lost.lose(META, "  ")
    lost.lose(META, "went with another maker")
    assert lost.status == "lost"
    with pytest.raises(InvalidTransition):
        lost.win(META)


# -- campaign -----------------------------------------------------------------------------


def campaign(channel: str = "email", subject: str | None = "Winter range") -> Campaign:
    return Campaign.draft(META, "Winter preview", channel, subject, "Hello!",
                          sample=sample_context({}))


def drive(c: Campaign, path: list[str]) -> None:
    for step in path:
        {"schedule": lambda: c.schedule(META, NOW + timedelta(days=1), NOW),
         "launch": lambda: c.launch(META, [uuid4()]),
         "complete": lambda: c.complete(META),
         "cancel": lambda: c.cancel(META, "changed our mind")}[step]()


def test_a_draft_checks_channel_and_subject():
    with refused("channel"):
        campaign(channel="pigeon")
    with refused("subject"):
        campaign(channel="email", subject=None)   # an email needs a subject
    assert campaign(channel="sms", subject=None).status == "draft"


@pytest.mark.parametrize("path, status", [
    ([], "draft"), (["schedule"], "scheduled"), (["schedule", "schedule"], "scheduled"),
    (["launch"], "running"), (["schedule", "launch"], "running"),
    (["launch", "complete"], "completed"), (["cancel"], "cancelled"),
    (["schedule", "cancel"], "cancelled"), (["launch", "cancel"], "cancelled"),
])
def test_the_campaign_state_machine_allows(path, status):
    c = campaign()
    drive(c, path)
    assert c.status == status


@pytest.mark.parametrize("path, refused_step", [
    (["cancel"], "launch"), (["launch", "complete"], "launch"),   # no launching a cancelled/completed one
    ([], "complete"), (["schedule"], "complete"),                 # nothing to complete before a launch
    (["launch"], "schedule"), (["launch"], "launch"),
    (["launch", "complete"], "cancel"), (["cancel"], "cancel"), (["cancel"], "schedule"),
])
def test_the_campaign_state_machine_refuses(path, refused_step):
    c = campaign()
    drive(c, path)
    version = c.version
    with pytest.raises(InvalidTransition):
        drive(c, [refused_step])
    assert c.version == version


def test_a_schedule_must_be_in_the_future_and_timezone_aware():
    c = campaign()
    with refused("scheduled_for"):
        c.schedule(META, NOW, NOW)
    with refused("scheduled_for"):
        c.schedule(META, NOW - timedelta(minutes=1), NOW)
    with refused("scheduled_for"):
        c.schedule(META, datetime(2030, 1, 1, 9, 0), NOW)
    c.schedule(META, datetime(2026, 3, 1, 15, 0, tzinfo=timezone(timedelta(hours=2))), NOW)
    assert c.scheduled_for == datetime(2026, 3, 1, 13, 0, tzinfo=timezone.utc)


def test_launching_freezes_a_de_duplicated_audience():
    c = campaign()
    a, b = uuid4(), uuid4()
    c.launch(META, [a, b, a])
    assert c.audience_size == 2
    assert event_data(c.collect_events()[-1]) == {"customer_ids": [a, b]}
    with refused("customer_ids"):
        campaign().launch(META, [])


# -- metadata -----------------------------------------------------------------------------


def test_every_event_carries_tenant_actor_and_correlation_and_when_it_occurred():
    ada = customer()
    ada.update_profile(META, name="Ada P")
    ada.add_note(META, "hi")
    ada.log_communication(META, "sms", "inbound", None, None, NOW)
    ada.record_order(META, "A-1", "1.00", "GBP", 1, NOW)
    ada.change_tags(META, ["vip"], [])
    ada.archive(META)
    opened = deal()
    opened.move_stage(META, "qualified")
    opened.change_value(META, "5")
    opened.win(META)
    lost = deal()
    lost.lose(META, "price")
    c = campaign()
    drive(c, ["schedule", "launch", "complete"])
    cancelled = campaign()
    drive(cancelled, ["cancel"])
    events = [e for agg in (ada, opened, lost, c, cancelled) for e in agg.collect_events()]
    assert len({event_type(e) for e in events}) == 17  # every event class of the three
    for event in events:
        assert event.meta == {"tenant_id": "tenant-1", "actor": "maya", "correlation_id": "corr-1",
                              "causation_id": None}, event_type(event)
        assert event.timestamp.utcoffset() == timedelta(0)


def test_events_of_one_meta_share_a_correlation_id_even_when_none_was_given():
    meta = Meta(tenant_id="tenant-1", actor="cli")
    ada = Customer.register(meta, "Ada")
    ada.add_note(meta, "first")
    ada.add_note(meta, "second")
    ids = {e.meta["correlation_id"] for e in ada.collect_events()}
    assert len(ids) == 1 and ids != {""}
    assert Meta("tenant-1", "cli").correlation_id != meta.correlation_id  # but not across requests
