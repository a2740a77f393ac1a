"""Datasets a run builds itself ('build:random', 'build:POLICY.npz', 'build:TASK-QUALITY'),
cached by a key that names everything they depend on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coopo.data.builder import BUILDER_VERSION, build_dataset
from coopo.data.dataset import Dataset, DatasetError
from coopo.data.io import load
from coopo.data.minari_format import read_minari, write_minari
from coopo.evaluation import task_name
from coopo.paths import cache_dir


def _short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:10]


def cache_id(
    env_id: str, behaviour: str, size: int, noise: float, env_kwargs: dict[str, Any]
) -> str:
    """The Minari id a built dataset is cached under. The behaviour policy file's content
    hash and the builder version are part of it: a cache made from another policy or by
    another builder is never reused."""
    if behaviour == "random":
        tag = "random"
    else:
        tag = f"policy-{_short_hash(Path(behaviour).read_bytes())}-noise{noise:g}"
    kw_tag = (
        _short_hash(json.dumps(env_kwargs, sort_keys=True).encode()) if env_kwargs else "default"
    )
    return f"coopo-cache/{task_name(env_id)}/{tag}-{kw_tag}-n{size}-builder{BUILDER_VERSION}-v0"


def resolve_dataset(
    spec: str,
    env_id: str,
    env_kwargs: dict[str, Any],
    build_size: int,
    build_noise: float,
    announce: Callable[[str], None] | None = None,
) -> Dataset | None:
    """A run's dataset: None for 'none'/'', a built (and cached) one for 'build:random',
    'build:POLICY.npz' or 'build:TASK-QUALITY' (a recipe at ``build_size`` transitions,
    ``coopo data build --help``), else whatever :func:`coopo.data.load` reads. ``announce`` is
    told when a dataset is about to be built."""
    if spec.lower() in ("", "none"):
        return None
    if not spec.startswith("build:"):
        return load(spec)
    behaviour = spec[len("build:") :]
    if behaviour != "random" and not Path(behaviour).is_file():
        if is_recipe(behaviour):
            return _built_recipe(behaviour, env_id, env_kwargs, build_size, announce)
        raise DatasetError(
            behaviour,
            None,
            "behaviour policy file not found (use build:random, build:PATH.npz or "
            "build:TASK-QUALITY, a recipe such as build:halfcheetah-medium)",
        )
    dataset_id = cache_id(env_id, behaviour, build_size, build_noise, env_kwargs)
    root = cache_dir() / "datasets"
    if (root / dataset_id / "data" / "metadata.json").is_file():
        return read_minari(root / dataset_id)
    if announce:
        announce(f"[bold]building dataset[/] {dataset_id} ({build_size} transitions, once) ...")
    noise = build_noise if behaviour != "random" else 0.0
    ds = build_dataset(env_id, behaviour, build_size, noise, 0, env_kwargs)
    write_minari(ds, dataset_id, root)
    return read_minari(root / dataset_id)


def is_recipe(name: str) -> bool:
    """Whether ``name`` is a dataset recipe TASK-QUALITY (``hopper-medium``)."""
    from coopo.tasks import parse_recipe

    try:
        parse_recipe(name)
    except ValueError:
        return False
    return True


def _built_recipe(
    recipe: str,
    env_id: str,
    env_kwargs: dict[str, Any],
    size: int,
    announce: Callable[[str], None] | None,
) -> Dataset:
    """Recipe ``recipe`` at ``size`` transitions (seed 0), built once and cached."""
    from coopo.data.recipes import TASKS, build_recipe, parse_recipe, shipped_policy

    task, quality = parse_recipe(recipe)
    recipe_env, recipe_kwargs = TASKS[task]
    if recipe_env != env_id:
        raise DatasetError(
            f"build:{recipe}", None, f"recipe {recipe} runs in {recipe_env}, not --env-id {env_id}"
        )
    if {**recipe_kwargs, **env_kwargs} != recipe_kwargs:
        raise DatasetError(
            f"build:{recipe}",
            None,
            f"recipe {recipe} is built with env kwargs {recipe_kwargs}, not {env_kwargs}",
        )
    if quality in ("expert", "medium-expert", "medium-replay"):
        why = "needs an expert policy" if "expert" in quality else "re-runs a behaviour training"
        extra = " --expert-policy FILE" if "expert" in quality else ""
        raise DatasetError(
            f"build:{recipe}",
            None,
            f"{why}: build it with `coopo data build {recipe}{extra}` and pass its id "
            f"(coopo/{task}/{quality}-v0) to --dataset",
        )
    # The shipped medium policy's hash is part of the key: another policy, another dataset.
    tag = (
        ""
        if quality == "random"
        else f"-policy-{_short_hash(shipped_policy(task)[0].read_bytes())}"
    )
    dataset_id = f"coopo-cache/{task}/{quality}{tag}-n{size}-builder{BUILDER_VERSION}-v0"
    root = cache_dir() / "datasets"
    if (root / dataset_id / "data" / "metadata.json").is_file():
        return read_minari(root / dataset_id)
    if announce:
        announce(f"[bold]building dataset[/] {recipe} ({size} transitions, once) ...")
    write_minari(build_recipe(task, quality, size), dataset_id, root)
    return read_minari(root / dataset_id)
