"""The aiwo policy runs the controller's own autoscaler core."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from bench.autoscale.aiwo import Aiwo, config_with
from bench.autoscale.demand import DemandError
from bench.autoscale.fluid import Targets
from bench.autoscale.run import Scenario, simulate, size_static
from bench.main import main
from gpumodel.serving import H100_8B
from tests.bench.autoscale_helpers import synthetic


def test_aiwo_follows_a_burst_and_its_numbers_add_up() -> None:
    demand = synthetic([(900, 20.0), (300, 80.0), (900, 20.0)])
    sc = Scenario(demand, H100_8B, Targets(2000.0, 50.0), cold_start_s=60.0, max_replicas=32)
    sizing = size_static(sc)
    policy = Aiwo(sizing, period_s=1, config=config_with(()), start_day=0)
    r = simulate(sc, policy, 0)
    m = r.metrics
    assert m["requests"] == m["requests_served"] + m["requests_failed"]
    assert m["scale_events"] > 0
    assert policy.last_reason  # the core explains its decisions
    assert r.replicas_series[16:20].mean() > r.replicas_series[5:14].mean()


def test_aiwo_set_rejects_unknown_fields_in_one_line() -> None:
    with pytest.raises(DemandError, match="no_such_field"):
        config_with(("no_such_field=1",))
    result = CliRunner().invoke(
        main, ["autoscale", "--policies", "aiwo", "--aiwo-set", "stable_window_s=-5"]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "stable_window_s" in result.output.strip().splitlines()[-1]
