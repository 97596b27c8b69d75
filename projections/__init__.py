"""Projections: one module per read model, mapping envelopes to row changes.

Each module exposes ``NAME`` and ``handle(envelope) -> list[Change]``. They
hold no state and touch no database, so they are tested as plain functions.
"""

from projections import (consent, custom_fields, customer_directory, customer_summary,
                         documents, lead_scoring, leads, opportunities, orders, segments, tasks,
                         timeline)

PROJECTIONS = {module.NAME: module for module in
               (customer_directory, customer_summary, orders, timeline, opportunities,
                tasks, custom_fields, consent, leads, lead_scoring, segments, documents)}

# The sales read models (pipelines, the deal board and history, quotes, contracts, funnels).
from projections import contracts, deals, funnel_events, pipelines, quotes  # noqa: E402

PROJECTIONS.update({module.NAME: module for module in
                    (pipelines, deals, quotes, contracts, funnel_events)})

# The campaign and marketing automation read models (templates, messages, webhooks).
from projections import automations, campaigns, templates, webhooks  # noqa: E402

PROJECTIONS.update({module.NAME: module for module in
                    (templates, campaigns, webhooks, automations)})
