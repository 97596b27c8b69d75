"""The parts of the customer 360 view beyond the directory and summary counters.

Each is read from its own read model; ``extras`` gathers them for
:func:`readmodels.customers.customer_360`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from readmodels import consent, custom_fields, lead_scores, leads, rfm, segments, tasks


def extras(db, tenant_id: str, customer_id: UUID) -> dict[str, Any]:
    return {
        "open_tasks": tasks.open_tasks_of_customer(db, customer_id),
        "custom_fields": custom_fields.values_of_customer(db, tenant_id, customer_id),
        "preferences": consent.preferences_of_customer(db, customer_id),
        "consent": consent.consent_of_customer(db, customer_id),
        "lead": leads.lead_of_customer(db, customer_id),
        "lead_score": lead_scores.score_of_customer(db, tenant_id, customer_id,
                                                    datetime.now(timezone.utc), history=False),
        "rfm": rfm.of_customer(db, tenant_id, customer_id, None),  # now
        "segments": segments.segments_of_customer(db, customer_id),
    }
