"""Campaign analytics: which orders a message brought, and each campaign's (or automation
step's) funnel audience → sent → delivered → opened → clicked → ordered, with revenue, cost
and ROI.

**Attribution** (last touch): a message *touches* its customer when it is first
clicked, else when first opened, else, for SMS and WhatsApp (which have no
open pixel), when it was delivered or sent. An order is attributed to the
message with the latest touch at or before the order, if the order came
within ``window_days`` of that touch. Computed at query time from the
messages and orders read models, so changing the window needs no rebuild and
the answer never depends on which events arrived first.

**Delivered** counts messages the provider reported delivered, those opened or
clicked (which must have arrived), and emails the SMTP relay took without a
bounce (email has no delivery report).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

TOUCH = ("coalesce(clicked_at, opened_at, CASE WHEN channel <> 'email' "
         "THEN coalesce(delivered_at, sent_at) END)")
DELIVERED = ("(delivered_at IS NOT NULL OR opened_at IS NOT NULL OR clicked_at IS NOT NULL OR "
             "(channel = 'email' AND sent_at IS NOT NULL AND bounced_at IS NULL))")
STAGES = ("audience", "sent", "delivered", "opened", "clicked", "ordered")


def attributed_orders(db, tenant_id: str, window_days: int, *, campaign_id: UUID | None = None,
                      automation_id: UUID | None = None) -> list[dict[str, Any]]:
    """Every order attributed to a message (of the campaign or automation, if given)."""
    where, filters = [], []
    if campaign_id:
        where.append("campaign_id = ?")
        filters.append(campaign_id)
    if automation_id:
        where.append("automation_id = ?")
        filters.append(automation_id)
    result = db.execute(f"""
        WITH touches AS (
            SELECT id AS message_id, campaign_id, automation_id, step, customer_id,
                   {TOUCH} AS touch_at
            FROM campaign_messages WHERE tenant_id = ? AND {TOUCH} IS NOT NULL),
        ranked AS (
            SELECT o.order_id, o.customer_id, o.amount, o.currency, o.occurred_at,
                   t.message_id, t.campaign_id, t.automation_id, t.step, t.touch_at,
                   row_number() OVER (PARTITION BY o.customer_id, o.order_id
                                      ORDER BY t.touch_at DESC, t.message_id) AS latest
            FROM orders o JOIN touches t ON t.customer_id = o.customer_id
             AND o.occurred_at >= t.touch_at
             AND o.occurred_at <= t.touch_at + to_days(CAST(? AS INTEGER))
            WHERE o.tenant_id = ?)
        SELECT order_id, customer_id, amount, currency, occurred_at, message_id, campaign_id,
               automation_id, step, touch_at
        FROM ranked WHERE latest = 1 {''.join(' AND ' + w for w in where)}
        ORDER BY occurred_at, order_id""", [tenant_id, window_days, tenant_id, *filters])
    columns = [d[0] for d in result.description]
    return [dict(zip(columns, row)) for row in result.fetchall()]


def _funnel(db, where: str, params: list, audience: int | None, orders: list[dict[str, Any]],
            unit_costs: dict[str, Decimal], cost_currency: str) -> dict[str, Any]:
    row = db.execute(
        f"SELECT count(*), count(sent_at), count(*) FILTER (WHERE {DELIVERED}), count(opened_at), "
        f"count(clicked_at) FROM campaign_messages WHERE {where}", params).fetchone()
    billed_by_channel = dict(db.execute(
        f"SELECT channel, coalesce(sum(parts) FILTER (WHERE sent_at IS NOT NULL), 0) "
        f"FROM campaign_messages WHERE {where} GROUP BY channel",
        params).fetchall())
    queued, sent, delivered, opened, clicked = row
    counts = {"audience": audience if audience is not None else queued, "sent": sent,
              "delivered": delivered, "opened": opened, "clicked": clicked,
              "ordered": len({order["customer_id"] for order in orders})}
    stages, previous = [], None
    for name in STAGES:
        count = counts[name]
        start = counts["audience"]
        stages.append({"name": name, "count": count,
                       "rate_from_start": round(count / start, 4) if start else None,
                       "rate_from_previous": round(count / previous, 4) if previous else None})
        previous = count
    revenue: dict[str, Decimal] = {}
    for order in orders:
        revenue[order["currency"]] = revenue.get(order["currency"], Decimal("0")) + order["amount"]
    cost = sum((unit_costs.get(channel, Decimal("0")) * count
                for channel, count in billed_by_channel.items()), Decimal("0")).quantize(Decimal("0.01"))
    earned = revenue.get(cost_currency, Decimal("0"))
    return {"stages": stages, "orders": len(orders),
            "revenue": [{"currency": c, "amount": str(a)} for c, a in sorted(revenue.items())],
            "cost": {"currency": cost_currency, "amount": str(cost)},
            "roi": round(float((earned - cost) / cost), 4) if cost else None}


def campaign_analytics(db, tenant_id: str, campaign_id: UUID, window_days: int,
                       unit_costs: dict[str, Decimal], cost_currency: str) -> dict[str, Any] | None:
    found = db.execute("SELECT name, channel, status, audience_size FROM campaigns "
                       "WHERE id = ? AND tenant_id = ?", [campaign_id, tenant_id]).fetchone()
    if found is None:
        return None
    name, channel, status, audience = found
    orders = attributed_orders(db, tenant_id, window_days, campaign_id=campaign_id)
    funnel = _funnel(db, "campaign_id = ? AND tenant_id = ?", [campaign_id, tenant_id],
                     audience or 0, orders, unit_costs, cost_currency)
    return {"id": campaign_id, "name": name, "channel": channel, "status": status,
            "window_days": window_days, **funnel}


def automation_analytics(db, tenant_id: str, automation_id: UUID, window_days: int,
                         unit_costs: dict[str, Decimal], cost_currency: str) -> list[dict[str, Any]]:
    """One funnel per step of a sequence that sends; a step's audience is who reached it."""
    orders = attributed_orders(db, tenant_id, window_days, automation_id=automation_id)
    steps = [row[0] for row in db.execute(
        "SELECT step FROM (SELECT DISTINCT step FROM campaign_messages WHERE automation_id = ? "
        "AND tenant_id = ?) ORDER BY TRY_CAST(step AS INTEGER), step",
        [automation_id, tenant_id]).fetchall()]
    return [{"step": step, **_funnel(
        db, "automation_id = ? AND tenant_id = ? AND step = ?", [automation_id, tenant_id, step],
        None, [o for o in orders if o["step"] == step], unit_costs, cost_currency)}
        for step in steps]
