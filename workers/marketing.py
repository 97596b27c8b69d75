"""Entry points of the marketing workers: ``crm worker sender | scheduler | webhooks``
(also ``python -m workers.marketing <name>``).

Each runs until SIGTERM or SIGINT, then finishes the item in hand and stops.
Any number of each may run against one event store (competing consumers, see
workers/log_worker.py); ``CRM_WORKER_NAME`` names a worker in the events it
records (default: host and process id).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading

from commands.application import Crm
from commands.marketing_settings import MarketingSettings
from commands.settings import Settings
from workers.lifecycle import freeze_start_up, stop_on_signals

log = logging.getLogger("crm.workers")
NAMES = ("sender", "scheduler", "webhooks")


def worker_name(kind: str) -> str:
    return os.environ.get("CRM_WORKER_NAME") or f"{kind}@{socket.gethostname()}:{os.getpid()}"


def build(kind: str, crm: Crm, settings: Settings, marketing: MarketingSettings,
          segment_members=None):
    """The worker object of ``kind`` (has ``run(stopping)``). ``segment_members`` lets the
    scheduler launch campaigns whose audience is a segment (it needs a read store).

    Jobs that judge by the read models (the daily sales sweep, renewal reminders)
    are not here: every node with a read store runs them (workers/node_jobs.py)."""
    name = worker_name(kind)
    rates = {channel: marketing.per_minute(channel) for channel in ("email", "sms", "whatsapp")}
    if kind == "sender":
        from workers.channels import channels
        from workers.log_worker import LogWorker
        from workers.sender import Sender
        sender = Sender(crm, marketing, marketing.secret(settings.data_dir), channels(marketing),
                        worker=name)
        return LogWorker(crm, [sender])
    if kind == "scheduler":
        from workers.drip import AutomationRuns
        from workers.scheduler import SchedulerWorker
        return SchedulerWorker(crm, per_minute=rates, extra_jobs=[AutomationRuns(crm, marketing)],
                               segment_members=segment_members)
    if kind == "webhooks":
        from workers.log_worker import LogWorker
        from workers.webhooks import WebhookDeliveries
        return LogWorker(crm, [WebhookDeliveries(crm, marketing, worker=name)])
    raise ValueError(f"no worker {kind!r}; known: {', '.join(NAMES)}")


def start_embedded(settings: Settings, store=None) -> threading.Event:
    """The embedded mode (``crm serve``): every marketing worker, the automation policies
    following the log (workers/policy_runner.py) and, with CRM_BOUNCE_DOMAIN, the bounce
    receiver, in a thread of this process, with their own
    connection to the event store; ``store``, the process's read store, gives the scheduler
    segment audiences. Set the returned event to stop them."""
    from readmodels.campaigns import segment_lookup
    stopping = threading.Event()
    crm = Crm(settings.event_store_url)
    marketing = MarketingSettings()

    def run(kind: str) -> None:
        try:
            if kind == "automation":
                from workers.automation import log_runner
                log_runner(crm, stopping).run()
            elif kind == "bounces":
                from workers.bounces import receive
                receive(crm, marketing.secret(settings.data_dir), marketing.bounce_host,
                        marketing.bounce_port, stopping)
            else:
                build(kind, crm, settings, marketing, segment_lookup(store)).run(stopping)
        except Exception:
            log.exception("embedded %s worker stopped", kind)
    threads = [threading.Thread(target=run, args=(kind,), name=f"embedded-{kind}", daemon=True)
               for kind in (*NAMES, "automation", *(("bounces",) if marketing.bounce_domain else ()))]
    for thread in threads:
        thread.start()

    def close_when_stopped() -> None:
        for thread in threads:
            thread.join()
        crm.close()
    threading.Thread(target=close_when_stopped, name="embedded-close", daemon=True).start()
    return stopping


def main(kind: str, settings: Settings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = settings or Settings()
    crm = Crm(settings.event_store_url)
    try:
        worker = build(kind, crm, settings, MarketingSettings())
        log.info("%s worker %s started", kind, worker_name(kind))
        freeze_start_up()
        worker.run(stop_on_signals())
        log.info("%s worker stopped", kind)
    finally:
        crm.close()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in NAMES:
        sys.exit(f"usage: python -m workers.marketing {{{'|'.join(NAMES)}}}")
    main(sys.argv[1])
