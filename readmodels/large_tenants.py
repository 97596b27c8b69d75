"""How late a large tenant may see the figures that depend on all of its customers.

A customer's RFM scores are relative to quintiles over every customer of the tenant, and a
dynamic segment whose rule uses RFM, a lead score or "within N days" can change for customers
no event was about. Keeping those exact means a pass over the tenant after every change:
milliseconds on a small shop, about 0.1 s at 100k customers and 0.5-1 s at 1M, where a shop
takes orders every few seconds, so every 360 view and every batch of the projector would pay
it. A tenant with :data:`CUSTOMERS` customers or more therefore sees those figures up to
:data:`LAG` late, and one order does not visibly move the quintiles of that many customers:

* its RFM breakpoints are reused for that long after its orders change (readmodels/rfm.py);
* a segment whose rule depends on other customers or on time is evaluated for everyone at most
  that often, and for the customers of each batch in between
  (readmodels/segment_membership.py).

Smaller tenants stay exact. Each customer's own figures (spend, orders, last order) are always
current.
"""

from __future__ import annotations

from datetime import datetime, timedelta

CUSTOMERS = 20_000
LAG = timedelta(seconds=30)


def within_lag(since: datetime | None, now: datetime) -> bool:
    """Whether a figure of a large tenant computed at ``since`` may still stand at ``now``."""
    return since is not None and timedelta(0) <= now - since < LAG
