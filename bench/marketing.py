"""The marketing side of a populated store: how long the marketing workers take to start, and
how long a campaign launch to many recipients takes, both through the code the service runs.

The workers' first read grows with the log: on start, each reads the events its jobs want
from the whole history (the sender, every message's; the webhooks, the subscriptions'), so a
node restarted on a store of millions of events is not sending until that read is done.

A launch freezes the audience, reads every recipient (consent, tenant) and queues one
Message per recipient in one transaction: its time grows with the audience, and the request
that launches waits for all of it.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from commands import campaigns
from commands.application import Crm
from commands.marketing_settings import MarketingSettings
from commands.settings import Settings
from domain.base import Meta
from domain.campaign import Campaign
from domain.catalog import event_topics
from domain.rendering import sample_context
from workers.marketing import NAMES, build

LAUNCH_RECIPIENTS = 12_000  # a large shop's newsletter; fewer where the scale has fewer customers


def workers_first_read_s(url: str) -> dict[str, float]:
    """Seconds each marketing worker (``crm worker sender|scheduler|webhooks``) takes to read
    the log on start, built as ``crm worker`` builds it, on a connection of its own.

    Each is timed twice: reading the whole log (its first start ever, or one after its
    code changed what its checkpoint keeps), and restarted from the checkpoint that read
    saved (every later start; workers/checkpoints.py)."""
    seconds = {}
    with tempfile.TemporaryDirectory(prefix="crm-bench-workers-") as data_dir:
        settings = Settings(data_dir=Path(data_dir), event_store=url)
        for kind in NAMES:
            for restart in (False, True):
                crm = Crm(url)
                try:
                    worker = build(kind, crm, settings, MarketingSettings())
                    log_worker = getattr(worker, "worker", worker)  # the scheduler wraps one
                    checkpoints = log_worker.checkpoints
                    if not restart:  # the whole log, as on the first start ever
                        log_worker.checkpoints = None
                    started = time.perf_counter()
                    log_worker.catch_up()
                    seconds[f"{kind} restarted" if restart else kind] = (time.perf_counter()
                                                                         - started)
                    if not restart:  # what the restart starts from
                        log_worker.checkpoints = checkpoints
                        log_worker.save_checkpoint()
                finally:
                    crm.close()
    return seconds


def audience(url: str, tenant_id: str, recipients: int) -> list:
    """The first ``recipients`` customers registered in the tenant, in log order."""
    crm = Crm(url)
    try:
        found, position = [], 0
        topic = event_topics()["Customer.Registered"]
        while len(found) < recipients:
            batch = crm.recorder.select_notifications(start=position + 1, limit=5_000,
                                                      topics=[topic])
            if not batch:
                break
            position = batch[-1].id
            for n in batch:
                if crm.mapper.to_domain_event(n).meta["tenant_id"] == tenant_id:
                    found.append(n.originator_id)
        return found[:recipients]
    finally:
        crm.close()


def launch_s(url: str, tenant_id: str, customer_ids: list) -> float:
    """Seconds a launch to ``customer_ids`` takes through the service layer: a campaign drafted
    for it, then ``commands.campaigns.launch`` (what POST .../launch calls) timed alone."""
    crm = Crm(url)
    try:
        meta = Meta(tenant_id, "bench")
        campaign = Campaign.draft(meta, "Bench newsletter", "email", "News",
                                  "Hello {{ customer.first_name }}", sample=sample_context({}))
        crm.save(campaign)
        started = time.perf_counter()
        campaigns.launch(crm, meta, campaign.id, campaigns.LaunchCampaign(customer_ids=customer_ids))
        return time.perf_counter() - started
    finally:
        crm.close()
