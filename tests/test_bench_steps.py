"""`python -m bench --steps`: a step brings the earlier steps whose results it uses."""

from __future__ import annotations

import pytest

from bench.run import chosen_steps


def test_the_end_to_end_step_brings_its_load_tenant_and_the_embedded_node():
    assert chosen_steps("query node and end to end") == [
        "population", "tenants", "embedded node", "query node and end to end"]


def test_all_steps_by_default_and_an_unknown_one_is_refused():
    assert chosen_steps(None)[0] == "population" and len(chosen_steps(None)) == 10
    with pytest.raises(ValueError, match="no step e2e"):
        chosen_steps("e2e")
