"""A CRM-shaped stream of commands for the streaming tests, issued straight to the event store.

Customers are registered first, then random commands touch random customers
and their deals (notes, orders, calls, tags, profile edits, deals opened,
re-valued, won and lost), from a few threads at once so the event store's
group commit batches the writes.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from uuid import UUID

from commands import customers as cu
from commands import opportunities as op
from commands.application import Crm, Outcome
from commands.errors import Conflict, NotFound
from domain.base import DomainError, Meta

TAGS = ["wholesale", "vip", "etsy", "newsletter", "gift", "repeat"]


@dataclass
class Workload:
    crm: Crm
    tenant_id: str
    seed: int = 7
    customers: list[UUID] = field(default_factory=list)
    deals: dict[UUID, UUID] = field(default_factory=dict)     # open deal -> customer
    lost: int = 0
    commands: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def meta(self) -> Meta:
        return Meta(tenant_id=self.tenant_id, actor="workload")

    def register(self, count: int, threads: int = 4) -> None:
        def one(i: int) -> None:
            outcome = cu.register(self.crm, self.meta(), cu.RegisterCustomer(
                name=f"Customer {i:04d}", email=f"c{i}-{self.seed}@example.com", source="etsy"))
            with self._lock:
                self.customers.append(outcome.id)
                self.commands += 1
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(len(self.customers), len(self.customers) + count)))

    def run(self, count: int, threads: int = 4, per_second: float | None = None) -> None:
        """``count`` random commands on the registered customers and their deals."""
        def worker(n: int, seed: int) -> None:
            rnd = random.Random(seed)
            started = time.monotonic()
            for i in range(n):
                if per_second:  # each thread keeps its share of the pace
                    time.sleep(max(0.0, started + i * threads / per_second - time.monotonic()))
                try:
                    self._one(rnd)
                except (Conflict, DomainError, NotFound):
                    pass  # two threads raced for one aggregate, or a deal closed meanwhile
                with self._lock:
                    self.commands += 1
        share = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, share, [self.seed * 1000 + i for i in range(threads)]))

    def _one(self, rnd: random.Random) -> Outcome | None:
        meta = self.meta()
        customer = rnd.choice(self.customers)
        roll = rnd.random()
        if roll < 0.25:
            return cu.add_note(self.crm, meta, customer, cu.AddNote(text=f"note {rnd.random():.6f}"))
        if roll < 0.45:
            return cu.record_order(self.crm, meta, customer, cu.RecordOrder(
                order_id=f"o-{rnd.getrandbits(40):x}", amount=f"{rnd.randint(5, 400)}.{rnd.randint(0, 99):02d}",
                currency=rnd.choice(["GBP", "GBP", "EUR"]), item_count=rnd.randint(1, 5)))
        if roll < 0.55:
            return cu.log_communication(self.crm, meta, customer, cu.LogCommunication(
                channel=rnd.choice(["email", "phone"]), direction="inbound", subject="hello"))
        if roll < 0.62:
            return cu.change_tags(self.crm, meta, customer, cu.ChangeTags(add=rnd.sample(TAGS, 2)))
        if roll < 0.67:
            return cu.update_profile(self.crm, meta, customer, cu.UpdateProfile(
                name=f"Renamed {rnd.getrandbits(20)}"))
        with self._lock:
            deals = list(self.deals.items())
        if roll < 0.80 or not deals:
            outcome = op.open_opportunity(self.crm, meta, op.OpenOpportunity(
                customer_id=customer, title=f"Commission {rnd.getrandbits(16)}",
                value=f"{rnd.randint(100, 5000)}.00", currency="GBP", owner="sam"))
            with self._lock:
                self.deals[outcome.id] = customer
            return outcome
        deal, _ = rnd.choice(deals)
        if roll < 0.88:
            return op.change_value(self.crm, meta, deal, op.ChangeValue(value=f"{rnd.randint(100, 5000)}.50"))
        with self._lock:
            if self.deals.pop(deal, None) is None:
                return None  # another thread closed it
        if roll < 0.94:
            return op.win(self.crm, meta, deal, op.WinOpportunity())
        outcome = op.lose(self.crm, meta, deal, op.LoseOpportunity(reason="went with a cheaper kiln"))
        with self._lock:
            self.lost += 1
        return outcome


def stored_events(crm: Crm) -> int:
    """How many events the event store holds (the log may have gaps in its ids)."""
    count, position = 0, 0
    while batch := crm.recorder.select_notifications(start=position + 1, limit=5000):
        count += len(batch)
        position = batch[-1].id
    return count
