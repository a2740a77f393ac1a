"""Cal-QL: Calibrated Offline RL Pre-Training (Nakamoto et al. 2023).

CQL whose policy-action Q values inside the conservative penalty are bounded below by the
behaviour policy's Monte-Carlo return-to-go, max(Q(s, a_pi), V_mc(s)) (``losses.calql_lower_bound``).
This keeps the learned Q calibrated (never far below the data's returns), which is what
avoids the initial unlearning dip when fine-tuning starts.

Returns-to-go come from the dataset (``Transition.mc_returns``, computed by the runner with
this algorithm's discount, per episode, with no bootstrap past the episode end). Online rows
carry ``NO_MC_RETURN`` (their episodes are unfinished when stored), i.e. no bound.
Defaults follow the paper's locomotion setting (CQL's with cql_alpha 5, 10 samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax

from coopo.algos import cql
from coopo.types import Metrics, Transition

NAME = "cal_ql"
ROLES = frozenset({"offline", "online"})
State = cql.State
init, act, handoff, absorb = cql.init, cql.act, cql.handoff, cql.absorb


@dataclass(frozen=True)
class Config(cql.Config):
    """Cal-QL hyperparameters (CQL's; the lower bound has no parameter)."""


def update(state: cql.State, batch: Transition, key: jax.Array) -> tuple[cql.State, Metrics]:
    return cql.conservative_update(state, batch, key, calibrated=True)
