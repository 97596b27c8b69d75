"""RFM analysis over the ``orders`` read model, as of any moment, in DuckDB SQL.

For the tenant's customers with orders at ``as_of`` (archived customers left
out): recency = whole days since the last order, frequency = number of orders,
monetary = total spent in one currency (the tenant's most used one unless
given). Each is scored 1-5 against its quintile breakpoints — the 20th, 40th,
60th and 80th percentiles (linear interpolation) over those customers: a score
is 1 + the number of breakpoints the customer beats (fewer days beats for
recency, more for frequency and monetary). Equal values get equal scores.
The named segment comes from the R and F scores by :data:`SEGMENTS`
(docs/SEGMENTS.md).

RFM now (``as_of=None``) keeps each tenant's breakpoints in a small in-process
cache, keyed by the day and by the tenant's change token
(:mod:`readmodels.tenant_changes`) read in the same snapshot: one customer's
scores (the 360 view) are then a lookup of that customer instead of a pass over
the whole tenant, and the list skips the quantiles. An order, a new spend or an
archived customer of the tenant renews the token, so the next read recomputes —
except on a large tenant, whose breakpoints are kept for a while after the token
changes (:mod:`readmodels.large_tenants`); the 360 view says when breakpoints that
predate the tenant's last change were computed (``breakpoints_as_of``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from readmodels import cursor as keyset
from readmodels import large_tenants, tenant_changes
from readmodels.snapshot import snapshot

# (segment, recency scores, frequency scores): every (R, F) pair is in exactly one row.
SEGMENTS: tuple[tuple[str, tuple[int, ...], tuple[int, ...]], ...] = (
    ("Champions", (5,), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential Loyalist", (4, 5), (2, 3)),
    ("New", (5,), (1,)),
    ("Promising", (4,), (1,)),
    ("Need Attention", (3,), (3,)),
    ("About to Sleep", (3,), (1, 2)),
    ("At Risk", (1, 2), (3, 4)),
    ("Can't Lose Them", (1, 2), (5,)),
    ("Hibernating", (1, 2), (1, 2)),
)
SEGMENT_NAMES = tuple(name for name, _, _ in SEGMENTS)


def segment_of(r: int, f: int) -> str:
    return next(name for name, rs, fs in SEGMENTS if r in rs and f in fs)


def _segment_case() -> str:
    whens = " ".join(
        f"WHEN r IN ({', '.join(map(str, rs))}) AND f IN ({', '.join(map(str, fs))}) "
        f"THEN '{name.replace(chr(39), chr(39) * 2)}'" for name, rs, fs in SEGMENTS)
    return f"CASE {whens} END"


def _breakpoints(column: str) -> str:
    return (f"list_transform(quantile_cont({column}::DOUBLE, [0.2, 0.4, 0.6, 0.8]), "
            "lambda b: round(b, 6))")


def _days_between(start: str, end: str) -> str:
    """Whole UTC calendar days from ``start`` to ``end`` (date_diff('day') in UTC), by epoch
    arithmetic: date_diff on time zone-aware values costs ten times more on big tables."""
    return f"(floor(epoch({end}) / 86400) - floor(epoch({start}) / 86400))::BIGINT"


def _metrics_from_orders() -> str:
    return f"""
        o AS (SELECT o.customer_id, o.occurred_at, o.amount, o.currency FROM orders o
              JOIN customers c ON c.id = o.customer_id AND c.status = 'active'
              WHERE o.tenant_id = ? AND o.occurred_at <= ?),
        cur AS (SELECT coalesce(?, (SELECT currency FROM o GROUP BY currency
                                    ORDER BY count(*) DESC, currency LIMIT 1)) AS currency),
        metrics AS (
            SELECT customer_id, max(occurred_at) AS last_order_at, count(*) AS frequency,
                   coalesce(sum(amount) FILTER (WHERE currency = (SELECT currency FROM cur)), 0)
                       AS monetary,
                   {_days_between('max(occurred_at)', '?::TIMESTAMPTZ')} AS recency_days
            FROM o GROUP BY customer_id)"""


def _metrics_from_summaries(cur: str | None = None, some: bool = False) -> str:
    """The same metrics from the per-customer summaries (one row per customer rather than per
    order): what every order up to now gives, ten times faster on a big shop. ``cur``: the
    currency's SQL when it is known already (cached breakpoints); ``some``: of a list of
    customers alone (one more parameter, after now's), whose summaries are read first so that
    the joins follow them rather than the tenant."""
    cur = cur or """coalesce(?, (SELECT currency FROM customer_spend WHERE tenant_id = ?
                                    GROUP BY currency ORDER BY sum(orders) DESC, currency
                                    LIMIT 1))"""
    summaries = ("(SELECT * FROM customer_summaries WHERE id IN (SELECT unnest(?::UUID[])))"
                 if some else "customer_summaries")
    return f"""
        cur AS (SELECT {cur} AS currency),
        metrics AS (
            SELECT s.id AS customer_id, s.last_order_at, s.order_count AS frequency,
                   coalesce(sp.total, 0) AS monetary,
                   {_days_between('s.last_order_at', '?::TIMESTAMPTZ')} AS recency_days
            FROM {summaries} s
            JOIN customers c ON c.id = s.id AND c.status = 'active'
            LEFT JOIN customer_spend sp ON sp.customer_id = s.id
                 AND sp.currency = (SELECT currency FROM cur)
            WHERE s.tenant_id = ? AND s.order_count > 0)"""


def rfm_sql(tenant_id: str, as_of: datetime | None, currency: str | None = None,
            breakpoints: Breakpoints | None = None, now: datetime | None = None,
            customers: list | None = None) -> tuple[str, list]:
    """SELECT customer_id, last_order_at, recency_days, frequency, monetary, currency, r, f, m,
    rfm, segment — one row per customer with orders at ``as_of``. ``as_of=None`` means now,
    computed from the summaries (every order recorded so far counts); then ``breakpoints``
    (of that ``now``'s day, see :func:`breakpoints`) spare the quantiles, and with them the rows
    can be those of ``customers`` alone (a segment evaluated for a batch's customers)."""
    now = now or datetime.now(timezone.utc)
    if as_of is None and breakpoints is not None:
        some = customers is not None
        metrics = _metrics_from_summaries("?::VARCHAR", some)
        params = [breakpoints.currency, now, *([customers] if some else []), tenant_id]
        bp = "SELECT ?::DOUBLE[] AS r_bp, ?::DOUBLE[] AS f_bp, ?::DOUBLE[] AS m_bp"
        params += [breakpoints.r, breakpoints.f, breakpoints.m]
    else:
        if as_of is None:
            metrics = _metrics_from_summaries()
            params = [currency, tenant_id, now, tenant_id]
        else:
            metrics = _metrics_from_orders()
            params = [tenant_id, as_of, currency, as_of]
        bp = (f"SELECT {_breakpoints('recency_days')} AS r_bp, {_breakpoints('frequency')} AS f_bp, "
              f"{_breakpoints('monetary')} AS m_bp FROM metrics")
    sql = f"""
        WITH {metrics},
        bp AS ({bp}),
        scored AS (
            SELECT metrics.*, (SELECT currency FROM cur) AS currency,
                   1 + len(list_filter(r_bp, lambda b: b > recency_days)) AS r,
                   1 + len(list_filter(f_bp, lambda b: b < frequency)) AS f,
                   1 + len(list_filter(m_bp, lambda b: b < monetary)) AS m
            FROM metrics, bp)
        SELECT customer_id, last_order_at, recency_days, frequency, monetary, currency, r, f, m,
               r::VARCHAR || f::VARCHAR || m::VARCHAR AS rfm, {_segment_case()} AS segment
        FROM scored"""
    return sql, params


# -- breakpoints of now, cached per tenant ---------------------------------------------------

@dataclass(frozen=True)
class Breakpoints:
    """A tenant's quintile breakpoints now: valid for one day while ``token`` (the tenant's
    change token, :func:`readmodels.tenant_changes.token_sql`) stays the same, and on a large
    tenant for a while after ``computed_at`` whatever the token (:mod:`readmodels.large_tenants`)."""

    token: str | None
    currency: str | None
    r: list[float] | None
    f: list[float] | None
    m: list[float] | None
    computed_at: datetime | None = None
    customers: int = 0  # scored customers they were computed over


CACHED_TENANTS = 1024
_cache: OrderedDict[tuple, Breakpoints] = OrderedDict()
_lock = threading.Lock()


def _day(now: datetime) -> int:
    return int(now.timestamp() // 86400)


def token(db, tenant_id: str) -> str | None:
    return db.execute(f"SELECT {tenant_changes.token_sql()}", [tenant_id]).fetchone()[0]


_UNREAD = object()


def breakpoints(db, tenant_id: str, now: datetime, currency: str | None = None,
                current: Any = _UNREAD) -> Breakpoints:
    """The tenant's breakpoints now, from the cache when ``current`` (the token read in the
    caller's snapshot; read here if not given) matches. Run inside one snapshot
    (:func:`readmodels.snapshot.snapshot`) with the queries that use them."""
    current = token(db, tenant_id) if current is _UNREAD else current
    key = (tenant_id, currency, _day(now))
    with _lock:
        found = _cache.get(key)
        if found is not None and current is not None and (
                found.token == current or _reusable(found, now)):
            _cache.move_to_end(key)
            return found
    sql = (f"WITH {_metrics_from_summaries()} SELECT (SELECT currency FROM cur), "
           f"{_breakpoints('recency_days')}, {_breakpoints('frequency')}, "
           f"{_breakpoints('monetary')}, {tenant_changes.token_sql()}, count(*) FROM metrics")
    cur, r, f, m, computed, scored = db.execute(sql, [currency, tenant_id, now, tenant_id,
                                                      tenant_id]).fetchone()
    found = Breakpoints(computed, cur, r, f, m, now, scored)
    if current is not None and computed == current:
        with _lock:
            _cache[key] = found
            _cache.move_to_end(key)
            while len(_cache) > CACHED_TENANTS:
                _cache.popitem(last=False)
    return found


def _reusable(found: Breakpoints, now: datetime) -> bool:
    """Whether a large tenant's breakpoints may stand although its token changed."""
    return found.customers >= large_tenants.CUSTOMERS and large_tenants.within_lag(
        found.computed_at, now)


def score(bp: Breakpoints, last_order_at: datetime, recency_days: int, frequency: int,
          spend: dict[str, Decimal]) -> dict[str, Any]:
    """One customer's RFM (as a row of :func:`rfm_sql` gives it) against the breakpoints;
    compares as DuckDB does (a DECIMAL against a DOUBLE breakpoint as a DOUBLE)."""
    monetary = spend.get(bp.currency, Decimal("0.00"))
    r = 1 + sum(1 for b in bp.r or () if b > recency_days)
    f = 1 + sum(1 for b in bp.f or () if b < frequency)
    m = 1 + sum(1 for b in bp.m or () if b < float(monetary))
    return {"last_order_at": last_order_at, "recency_days": recency_days, "frequency": frequency,
            "monetary": str(monetary), "currency": bp.currency, "r": r, "f": f, "m": m,
            "rfm": f"{r}{f}{m}", "segment": segment_of(r, f)}


def customer_metrics_sql(now: str = "?") -> str:
    """Columns of one customer's RFM inputs now, over ``customers c`` joined with
    ``customer_summaries s``: rfm_scored (whether RFM covers the customer) and
    rfm_recency_days (parameter: now)."""
    return ("c.status = 'active' AND coalesce(s.order_count, 0) > 0 AS rfm_scored, "
            f"{_days_between('s.last_order_at', f'{now}::TIMESTAMPTZ')} AS rfm_recency_days")


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    row["monetary"] = str(row["monetary"])
    return row


def customers(db, tenant_id: str, as_of: datetime | None, *, currency: str | None = None,
              segment: str | None = None, cursor: str | None = None,
              limit: int = 50) -> dict[str, Any]:
    """Scored customers, biggest spenders first."""
    with snapshot(db):
        return _customers(db, tenant_id, as_of, currency, segment, cursor, limit)


def _customers(db, tenant_id, as_of, currency, segment, cursor, limit) -> dict[str, Any]:
    sql, params = _rfm_sql_now_cached(db, tenant_id, as_of, currency)
    where, more = ["true"], []
    if segment:
        where.append("s.segment = ?")
        more.append(segment)
    if cursor:
        monetary, last_id = keyset.decode(cursor, 2)
        where.append("(s.monetary < ?::DECIMAL(18,2) OR (s.monetary = ?::DECIMAL(18,2) "
                     "AND s.customer_id > ?::UUID))")
        more += [monetary, monetary, last_id]
    result = db.execute(
        f"SELECT s.customer_id AS id, c.name, c.email, s.* EXCLUDE (customer_id) FROM ({sql}) s "
        f"JOIN customers c ON c.id = s.customer_id WHERE {' AND '.join(where)} "
        "ORDER BY s.monetary DESC, s.customer_id LIMIT ?", params + more + [limit + 1])
    columns = [d[0] for d in result.description]
    page = keyset.page([dict(zip(columns, row)) for row in result.fetchall()], limit,
                       ("monetary", "id"))
    page["items"] = [_plain(row) for row in page["items"]]
    return page


def segments(db, tenant_id: str, as_of: datetime | None,
             currency: str | None = None) -> list[dict[str, Any]]:
    """Every named segment (empty ones too): customers, share of customers, monetary total."""
    with snapshot(db):
        sql, params = _rfm_sql_now_cached(db, tenant_id, as_of, currency)
        found = {row[0]: row[1:] for row in db.execute(
            f"SELECT segment, count(*), sum(monetary), any_value(currency) FROM ({sql}) "
            "GROUP BY segment", params).fetchall()}
    total = sum(count for count, _, _ in found.values())
    return [{"segment": name, "customers": found.get(name, (0,))[0],
             "share": round(found[name][0] / total, 4) if name in found else 0.0,
             "monetary": str(found[name][1]) if name in found else "0.00",
             "currency": found[name][2] if name in found else None}
            for name in SEGMENT_NAMES]


def _rfm_sql_now_cached(db, tenant_id: str, as_of: datetime | None,
                        currency: str | None) -> tuple[str, list]:
    """rfm_sql, with the cached breakpoints when ``as_of`` is now (inside the caller's snapshot)."""
    if as_of is not None:
        return rfm_sql(tenant_id, as_of, currency)
    now = datetime.now(timezone.utc)
    return rfm_sql(tenant_id, None, currency, breakpoints(db, tenant_id, now, currency), now)
