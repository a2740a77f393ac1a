"""The run configuration: round trip, validation naming the option, registry-derived choices."""

from __future__ import annotations

import dataclasses
import json

import pytest

from coopo.config import (
    PRESETS,
    ConfigError,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    validate_config,
)

from .conftest import SMOKE


def test_config_dict_round_trip():
    c = dataclasses.replace(PRESETS["d4rl"], seeds=(3, 4), env_kwargs={"a": "1"})
    assert config_from_dict(json.loads(json.dumps(config_to_dict(c)))) == c


@pytest.mark.parametrize(
    "change, option",
    [
        ({"cycles": 0}, "--cycles"),
        ({"online_dataset_fraction": 1.5}, "--online-dataset-fraction"),
        (
            {"offline_data": "dataset+online", "offline_online_fraction": -0.1},
            "--offline-online-fraction",
        ),
        (
            {"offline_data": "dataset", "offline_online_fraction": 0.5},
            "--offline-online-fraction.*dataset\\+online",
        ),
        ({"eval_interval": 75}, "--eval-interval"),
        ({"seeds": (1, 1)}, "--seeds"),
        ({"dataset": "none"}, "--dataset"),
        ({"batch_size": 0}, "--batch-size"),
    ],
)
def test_bad_config_values_name_the_option(change, option):
    with pytest.raises(ConfigError, match=option):
        validate_config(dataclasses.replace(SMOKE, **change))


def test_cli_choices_match_the_registries():
    import typing

    from coopo.algos import ALGORITHMS, algorithms_for
    from coopo.config import OfflineName, OnlineName

    offline = ("awac_kl", "iql", "cql", "cal_ql", "td3_bc")
    assert typing.get_args(OfflineName) == algorithms_for("offline") == offline
    # the online optimizers first, then the offline algorithms that can also fine-tune
    online = ("sac", "td3", "rlpd", "ppo", *offline)
    assert typing.get_args(OnlineName) == algorithms_for("online") == online
    assert algorithms_for("on-policy") == ("ppo",)
    assert [f.name for f in dataclasses.fields(TrainConfig)][-len(ALGORITHMS) :] == [*ALGORITHMS]
    hints = typing.get_type_hints(TrainConfig)
    for name, algo in ALGORITHMS.items():
        assert hints[name] is algo.Config  # a static field of the algorithm's own Config
        assert isinstance(getattr(TrainConfig(), name), algo.Config)


def test_preset_baselines_parse_and_validate():
    for name in ("awac-ft", "iql-ft", "calql-ft", "rlpd"):
        validate_config(PRESETS[name])
    assert PRESETS["rlpd"].utd_ratio == 20 and PRESETS["iql-ft"].online == "iql"


def test_a_recorded_config_with_a_removed_option_switched_off_rebuilds():
    """Runs recorded before an option was removed hold its "off" value: they rebuild as they
    ran. A run that used the option is refused, naming the commit that still has it."""
    from coopo.config import REMOVED_AT, config_from_dict, config_to_dict

    recorded = config_to_dict(TrainConfig())
    recorded["sac"] = {**recorded["sac"], "anchor_kl_coef": 0.0, "critic_warmup_steps": 0}
    recorded["awac_kl"] = {**recorded["awac_kl"], "mc_lower_bound": False}
    assert config_from_dict(recorded) == TrainConfig()
    recorded["sac"]["anchor_kl_coef"] = 1.0
    with pytest.raises(
        ConfigError, match=f"'sac.anchor_kl_coef' = 1.0: option removed.*{REMOVED_AT}"
    ):
        config_from_dict(recorded)
