"""D4RL-style dataset recipes (``coopo data build TASK-QUALITY``): everything in
:mod:`coopo.data.recipes`, plus the ``medium-replay`` quality, which re-runs the shipped
medium policy's recorded behaviour training (:mod:`coopo.recipes.behaviour`, above the runner).
"""

from __future__ import annotations

import functools
from typing import Any

from coopo.data.dataset import Dataset
from coopo.data.recipes import (
    DEFAULT_SIZE,
    EXPERT_NOISE,
    MEDIUM_NOISE,
    QUALITIES,
    REFERENCE_EPISODES,
    TASKS,
    data_root,
    dataset_id,
    parse_recipe,
    policy_return,
    reference_return,
    shipped_policy,
)
from coopo.data.recipes import build_recipe as _build_recipe
from coopo.paths import cache_dir

__all__ = [
    "DEFAULT_SIZE",
    "EXPERT_NOISE",
    "MEDIUM_NOISE",
    "QUALITIES",
    "REFERENCE_EPISODES",
    "TASKS",
    "build_recipe",
    "data_root",
    "dataset_id",
    "parse_recipe",
    "policy_return",
    "reference_return",
    "shipped_policy",
]


def medium_replay(task: str, record: dict[str, Any]) -> Dataset:
    """Every transition of the shipped medium policy's behaviour training, re-run from its
    record (deterministic for a given machine and library versions)."""
    from coopo.recipes.behaviour import train_behaviour

    env_id, kw = TASKS[task]
    _, ds, _ = train_behaviour(
        env_id,
        record["target_return"],
        cache_dir() / "behaviour" / task,
        kw,
        record["max_steps"],
        record["eval_every"],
        record["eval_episodes"],
        record["seed"],
    )
    return ds


build_recipe = functools.partial(_build_recipe, medium_replay=medium_replay)
""":func:`coopo.data.recipes.build_recipe`, every quality included (medium-replay too)."""
