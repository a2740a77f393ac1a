"""Every algorithm, one module each, in one explicit registry.

A module satisfies :class:`coopo.algos.base.Learner` and declares the roles it can play in
``ROLES``: ``"offline"`` (an anchoring phase, learning from a fixed buffer), ``"online"`` (a
fine-tuning phase), and ``"on-policy"`` for an online optimizer that learns from its own fresh
rollout (:class:`coopo.algos.base.RolloutLearner`). Adding an algorithm is its module plus one
line below; the run configuration derives the ``--offline`` / ``--online`` choices and the
``--NAME.FIELD`` options from this registry.
"""

from __future__ import annotations

from typing import cast

from coopo.algos import awac_kl, cal_ql, cql, iql, ppo, rlpd, sac, td3, td3_bc
from coopo.algos.base import Learner

PHASES = ("offline", "online")
"""The roles that are phases of a run (``"on-policy"`` qualifies ``"online"``)."""

# Registry order is the order of the run config's per-algorithm options and of config.json.
ALGORITHMS: dict[str, Learner] = {
    awac_kl.NAME: cast(Learner, awac_kl),
    iql.NAME: cast(Learner, iql),
    cql.NAME: cast(Learner, cql),
    cal_ql.NAME: cast(Learner, cal_ql),
    td3_bc.NAME: cast(Learner, td3_bc),
    sac.NAME: cast(Learner, sac),
    td3.NAME: cast(Learner, td3),
    rlpd.NAME: cast(Learner, rlpd),
    ppo.NAME: cast(Learner, ppo),
}


def algorithms_for(role: str) -> tuple[str, ...]:
    """Names of the registered algorithms that can play ``role``: those that play no other
    phase first, then those that play both, each group in registry order (``--online`` lists
    the online optimizers before the offline algorithms that can also fine-tune)."""
    names = [name for name, algo in ALGORITHMS.items() if role in algo.ROLES]
    return tuple(sorted(names, key=lambda n: len(ALGORITHMS[n].ROLES & set(PHASES))))


__all__ = ["ALGORITHMS", "PHASES", "algorithms_for"]
