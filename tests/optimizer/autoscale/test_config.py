"""AutoscaleConfig is validated once, when it is built; each error names its field."""

from __future__ import annotations

import math

import pytest

from controlplane.optimizer.autoscale import AutoscaleConfig
from controlplane.optimizer.errors import ConfigError


def test_defaults_are_valid_and_sourced() -> None:
    config = AutoscaleConfig()
    # Knative KPA: stable 60 s, panic 6 s (10 %), panic at 200 %; HPA's tolerance 10 %; a
    # stabilization window that brings a quiet service back within 5 minutes (60 + 180 s).
    assert (config.stable_window_s, config.panic_window_s, config.panic_threshold) == (
        60.0,
        6.0,
        2.0,
    )
    assert (config.scale_down_stabilization_s, config.tolerance) == (180.0, 0.1)
    assert config.stable_window_s + config.scale_down_stabilization_s < 300.0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stable_window_s", 0.0),
        ("stable_window_s", math.nan),
        ("panic_window_s", 120.0),  # longer than the stable window
        ("panic_threshold", 0.5),
        ("scale_down_stabilization_s", -1.0),
        ("tolerance", 1.0),
        ("tolerance", -0.1),
        ("max_scale_up_rate", 1.0),
        ("max_scale_down_rate", math.inf),
        ("target_concurrency", 0.0),
        ("prior_rate_per_replica_rps", -3.0),
        ("learn_cut", 1.0),
        ("learn_raise", 2.0),
        ("slack_ratio", 0.0),
        ("prior_cold_start_s", -5.0),
        ("cold_start_alpha", 0.0),
        ("season_alpha", 1.5),
        ("season_clip", 1.0),
        ("trend_bucket_s", 0.5),
        ("prediction", 1),  # a bool field given a number
        ("tolerance", "0.1"),  # a number field given a string
        ("tolerance", True),  # a number field given a bool
    ],
)
def test_bad_value_names_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigError) as caught:
        AutoscaleConfig(**{field: value})  # type: ignore[arg-type]
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert isinstance(caught.value, ValueError)
