"""RLPD-style hybrid SAC (Ball, Smith, Kostrikov & Levine 2023, "Efficient Online
Reinforcement Learning with Offline Data").

SAC with RLPD's three critic choices: LayerNorm in the critics, an ensemble of 10 critics
whose TD target takes the minimum over a random subset of 2, and the actor trained on the
ensemble mean. The other two RLPD ingredients are run-level settings: symmetric sampling
(``--online-dataset-fraction 0.5``) and a high update-to-data ratio (``--utd-ratio 20``); the
``rlpd`` preset sets them all. The update itself is SAC's (:func:`coopo.algos.sac.update`).

Handoff conversion: RLPD's critic ensemble (10 LayerNorm critics) has a different shape from
the other algorithms' twin critics, so when the incoming critics do not match, RLPD takes the
actor only and keeps its own critics, and a receiver with twin critics likewise keeps its own
(:func:`coopo.algos.base.take_critics`). When shapes match (RLPD -> RLPD) it takes everything.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import jax

from coopo.algos import sac
from coopo.networks import NetworkConfig
from coopo.types import EnvSpec

NAME = "rlpd"
ROLES = frozenset({"online"})
State = sac.State
update, act, handoff = sac.update, sac.act, sac.handoff


@dataclass(frozen=True)
class Config(sac.Config):
    """RLPD hyperparameters (the paper's locomotion defaults)."""

    init_temperature: float = 1.0
    """Initial alpha (RLPD: 1.0)."""
    target_entropy_scale: float = 0.5
    """Target entropy = -scale * act_dim (RLPD: -|A|/2, rlpd/agents/sac/sac_learner.py)."""
    num_critics: int = 10
    """Critic ensemble size."""
    critic_layer_norm: bool = True
    """LayerNorm in the critics."""
    num_min_q: int = 2
    """Random subset of critics whose minimum forms the TD target."""
    actor_q_reduction: Literal["min", "mean"] = "mean"
    """The actor maximises the ensemble mean."""


def validate(config: Config, net: NetworkConfig) -> list[tuple[str, str]]:
    """Config errors as (field, message)."""
    if config.num_min_q > config.num_critics:
        return [("num_min_q", "must be <= rlpd.num_critics")]
    return []


def init(key: jax.Array, spec: EnvSpec, net: NetworkConfig, config: Config) -> sac.State:
    own = dataclasses.replace(
        net, num_critics=config.num_critics, critic_layer_norm=config.critic_layer_norm
    )
    return sac.init(key, spec, own, config)


# Conversion: with incompatible incoming critics (twin Q vs RLPD's ensemble), SAC's absorb
# (through ``take_critics``) takes the actor only and keeps RLPD's own critics.
absorb = sac.absorb
