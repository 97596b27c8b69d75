"""Every event type the domain defines: its name (``Message.Queued``, as envelopes and jobs
call it) and the topic the event store files it under.

A worker that follows the log for a few types asks the store for those topics
only (workers/log_worker.py): on a log of millions of orders and notes, the
sender's start-up read then returns its messages' events instead of every row.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from eventsourcing.domain import Aggregate

import domain


@cache
def event_topics() -> dict[str, str]:
    """Event type name -> stored topic, for every event class of every domain module.

    The aggregate metaclass re-creates an aggregate's nested event classes, so
    a name can have two class objects; the topic (module and qualified name)
    is the same for both, and that is what the store holds.
    """
    for module in pkgutil.iter_modules(domain.__path__):
        importlib.import_module(f"{domain.__name__}.{module.name}")
    found: dict[str, str] = {}
    classes = [Aggregate.Event]
    while classes:
        for cls in classes.pop().__subclasses__():
            if cls.__module__.startswith(f"{domain.__name__}."):
                found[cls.__qualname__] = f"{cls.__module__}:{cls.__qualname__}"
            classes.append(cls)
    return found
