"""Typed, frozen run configuration, its validation, and named presets.

The resolved config is written to ``<run_dir>/config.json`` and is enough to rebuild the run
(``coopo resume RUN_DIR``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from coopo import algos as A
from coopo import extras
from coopo.algos import ALGORITHMS, algorithms_for
from coopo.algos.base import Learner, config_errors
from coopo.envs import VECTOR_MODES, VectorMode
from coopo.networks import NetworkConfig
from coopo.presets import PRESET_NAMES

Method = Literal["coopo", "o2o", "offline", "online"]
OfflineData = Literal["dataset", "dataset+online"]

# The --offline / --online choices come from the registry's roles. Every offline algorithm
# can also run the online phase: that is how the "X fine-tuning" baselines (AWAC, IQL, Cal-QL)
# keep their own algorithm in both phases.
if TYPE_CHECKING:
    OfflineName = str
    OnlineName = str
else:
    OfflineName = Literal[algorithms_for("offline")]
    OnlineName = Literal[algorithms_for("online")]


def algorithm(name: str) -> Learner:
    """The registered algorithm called ``name``."""
    return ALGORITHMS[name]


class ConfigError(ValueError):
    """A config value that cannot work, naming the option."""


@dataclass(frozen=True)
class RunConfig:
    """The run-wide options of a :class:`TrainConfig`: everything but each algorithm's own."""

    env_id: str = "HalfCheetah-v5"
    """Gymnasium env id (training and evaluation)."""
    env_kwargs: dict[str, str] = field(default_factory=dict)
    """Extra gymnasium.make kwargs as KEY VALUE pairs; values are parsed as JSON when they can be."""
    dataset: str = "build:halfcheetah-medium"
    """D4RL .hdf5, .npz, Minari dir or id; 'build:TASK-QUALITY' (a recipe, e.g. build:hopper-medium), 'build:random' or 'build:POLICY.npz' builds one (cached); 'none' for no dataset."""
    build_size: int = 50_000
    """Transitions in a dataset built by 'build:...'."""
    build_noise: float = 0.1
    """Gaussian action noise (pre-squash) of a 'build:POLICY.npz' behaviour policy."""
    method: Method = "coopo"
    """coopo: cycles of offline+online; o2o: offline then online; offline; online (from scratch)."""
    offline: OfflineName = "awac_kl"
    """Offline algorithm of the anchoring phases."""
    online: OnlineName = "cal_ql"
    """Online optimizer of the fine-tuning phases. The default, cal_ql, is Cal-QL's update run online: SAC's actor on a critic that keeps Cal-QL's conservative term (with 2 sampled actions, --cal-ql.num-samples), chosen over sac because it halves the score drop at a switch (docs/results/handoffs.md)."""
    cycles: int = 2
    """Number of (offline, online) cycles; the other methods get the same total budgets."""
    offline_steps: int = 5_000
    """Gradient steps per offline phase."""
    online_steps: int = 6_000
    """Environment steps per online phase (per seed)."""
    offline_data: OfflineData = "dataset+online"
    """Data of the offline phases: the dataset only, or uniform over dataset plus all online data so far (the default, so an anchoring phase also learns from what the online phases found; docs/results/handoffs.md)."""
    offline_online_fraction: float | None = None
    """With offline_data=dataset+online: the fraction of each offline batch drawn from the online data once there is any, whatever its size (None: uniform over the union, so the share grows with the online data, 1 in 11 rows after 10k env steps on a 100k dataset)."""
    drift_switch_mse: float = 0.0
    """method=coopo: end an online phase early, at the first mid-phase evaluation where the policy's eval/data_action_mse (mean over seeds) is above this, and go back to anchoring; the unused env steps go to the next online phase, so the online budget is unchanged, and the last online phase always runs to its end (0: off)."""
    drift_switch_drop: float = 0.0
    """method=coopo: as --drift-switch-mse, at the first mid-phase evaluation whose mean normalised score is more than this many points below the end of the preceding offline phase (needs D4RL reference scores; 0: off)."""
    online_dataset_fraction: float = 0.5
    """Fraction of each online-phase batch drawn from the dataset (the rest from the replay buffer)."""
    scratch_uses_dataset: bool = False
    """method=online: mix the dataset into the batches (RLPD-style) instead of pure SAC from scratch."""
    utd_ratio: int = 1
    """Gradient updates per online environment step."""
    update_every: int = 50
    """Env steps collected between jitted update calls (utd_ratio * update_every updates each)."""
    batch_size: int = 256
    """Batch size of every gradient update."""
    replay_capacity: int = 1_000_000
    """Online replay buffer capacity (FIFO) per seed."""
    random_steps: int = 5_000
    """method=online with an off-policy optimizer: uniform random actions (and no updates) for the first env steps."""
    normalize_observations: bool = True
    """Fit an observation normaliser on the dataset and apply it everywhere (saved with the policy)."""
    reward_scale: float = 1.0
    """Multiplier on rewards before learning (returns are reported unscaled)."""
    eval_episodes: int = 5
    """Deterministic evaluation episodes per seed."""
    eval_interval: int = 0
    """Evaluate every this many online env steps (multiple of update_every) and at every phase end."""
    offline_eval_interval: int = 0
    """Evaluate every this many offline gradient steps (0: at phase ends only)."""
    scan_length: int = 1_000
    """Offline gradient updates per jitted lax.scan call."""
    seeds: tuple[int, ...] = (0,)
    """Seeds trained together in one process (vmapped updates, one env per seed)."""
    vector_env: VectorMode = "sync"
    """How the seeds' training envs step: sync (one after another in this process) or async (one process per env, which pays off only with cores to spare; docs/guides/performance.md). Same transitions either way."""
    run_dir: str = ""
    """Run directory (default: runs/<time>-<method>-<env>)."""
    keep_checkpoints: int = 2
    """Checkpoints kept (the newest ones, phase boundaries and inside phases alike)."""
    checkpoint_every: int = 0
    """Checkpoint inside a phase every this many updates (offline phases) or env steps per seed (online phases); 0: every --checkpoint-minutes of wall time instead, which bounds the work a crash loses on any machine (a fixed count of updates takes very different times on a CPU and a GPU)."""
    checkpoint_minutes: float = 10.0
    """With --checkpoint-every 0: checkpoint inside a phase at the first jitted call that ends this many minutes after the last checkpoint, so a crash loses at most about this much work (0: only at phase boundaries)."""
    max_phases: int = 0
    """Stop, resumably, after this many phases in this invocation (0: run to the end)."""
    progress: bool = True
    """Show a live progress display."""
    wandb: bool = False
    """Also log to Weights & Biases (pip install 'coopo[wandb]'; WANDB_MODE=offline needs no network)."""
    wandb_project: str = "coopo"
    """W&B project."""
    wandb_entity: str | None = None
    """W&B entity (user or team; default: your default entity)."""
    wandb_group: str = ""
    """W&B group of the seeds' runs (default: the run directory's name)."""
    wandb_tags: tuple[str, ...] = ()
    """W&B tags."""
    network: NetworkConfig = NetworkConfig()

    def algo_config(self, name: str) -> Any:
        """The config of algorithm ``name``: its field (``--NAME.OPTION``) when the algorithm
        was registered before this module was imported, else its ``Config`` defaults."""
        if name in {f.name for f in dataclasses.fields(self)}:
            return getattr(self, name)
        return algorithm(name).Config()

    def parsed_env_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.env_kwargs.items():
            try:
                out[k] = json.loads(v) if isinstance(v, str) else v
            except json.JSONDecodeError:
                out[k] = v
        return out


# Where coopo's default differs from an algorithm's reference setting (the algorithm's own
# Config keeps the reference; presets and bench suites that reproduce a baseline pin it).
# Cal-QL online with 2 sampled actions instead of 10: the conservative term costs ~3x a SAC
# step instead of ~10x, and the handoff measurements in docs/results/handoffs.md used 2.
COOPO_CALQL_SAMPLES = 2
COOPO_ALGO_DEFAULTS: dict[str, dict[str, Any]] = {"cal_ql": {"num_samples": COOPO_CALQL_SAMPLES}}


@dataclass(frozen=True)
class TrainConfig(RunConfig):
    """A COOPO run: which env and dataset, which method and algorithms, and the budgets.

    Budgets are shared by all methods so comparisons are fair: every method gets
    ``cycles * offline_steps`` offline gradient steps and ``cycles * online_steps`` online env
    steps in total (``offline`` and ``online`` only their half). ``coopo`` interleaves them as
    ``cycles`` x (offline phase, online phase); ``o2o`` runs one offline then one online phase.

    Each registered algorithm's options are a field named after it (``--sac.init-temperature``,
    ``"sac": {...}`` in config.json), in registry order; ``tests/test_config.py`` checks that the
    fields and the registry agree. An algorithm registered without a field here runs with its
    ``Config`` defaults (:meth:`RunConfig.algo_config`).
    """

    awac_kl: A.awac_kl.Config = A.awac_kl.Config()
    iql: A.iql.Config = A.iql.Config()
    cql: A.cql.Config = A.cql.Config()
    cal_ql: A.cal_ql.Config = A.cal_ql.Config(num_samples=COOPO_CALQL_SAMPLES)
    td3_bc: A.td3_bc.Config = A.td3_bc.Config()
    sac: A.sac.Config = A.sac.Config()
    td3: A.td3.Config = A.td3.Config()
    rlpd: A.rlpd.Config = A.rlpd.Config()
    ppo: A.ppo.Config = A.ppo.Config()


Check = tuple[bool, str, str]
"""(whether an option's value can work, the option, what is wrong with it otherwise)."""


def validate_config(cfg: TrainConfig) -> None:
    """Refuse a config that cannot work: a :class:`ConfigError` naming the first option whose
    value is wrong, and why. The checks run in order, so a later one may rely on an earlier."""
    for group in (_phase_checks, _drift_checks, _loop_checks, _run_checks):
        _raise_first(group(cfg))
    if cfg.wandb:  # a missing extra is not a bad value: MissingExtra, exit code 1
        extras.require("wandb", "--wandb")
    _raise_first(_algorithm_checks(cfg))


def _raise_first(checks: Iterator[Check]) -> None:
    for ok, option, msg in checks:
        if not ok:
            raise ConfigError(f"--{option.replace('_', '-')}: {msg}")


def _phase_checks(cfg: TrainConfig) -> Iterator[Check]:
    """The method's algorithms, budgets and data mixing."""
    yield cfg.offline in algorithms_for("offline"), "offline", f"unknown algorithm {cfg.offline!r}"
    yield cfg.online in algorithms_for("online"), "online", f"unknown optimizer {cfg.online!r}"
    yield cfg.cycles >= 1, "cycles", f"must be >= 1, got {cfg.cycles}"
    yield cfg.offline_steps >= 0, "offline_steps", f"must be >= 0, got {cfg.offline_steps}"
    yield cfg.online_steps >= 0, "online_steps", f"must be >= 0, got {cfg.online_steps}"
    fraction = cfg.online_dataset_fraction
    yield 0.0 <= fraction <= 1.0, "online_dataset_fraction", f"must be in [0, 1], got {fraction}"
    if cfg.offline_online_fraction is not None:
        fraction = cfg.offline_online_fraction
        yield (
            0.0 <= fraction <= 1.0,
            "offline_online_fraction",
            f"must be in [0, 1], got {fraction}",
        )
        yield (
            cfg.offline_data == "dataset+online",
            "offline_online_fraction",
            "applies only with --offline-data dataset+online (the offline phases sample the "
            f"dataset only with --offline-data {cfg.offline_data})",
        )


def _drift_checks(cfg: TrainConfig) -> Iterator[Check]:
    for option in ("drift_switch_mse", "drift_switch_drop"):
        value = getattr(cfg, option)
        yield value >= 0, option, f"must be >= 0 (0: off), got {value}"
        if value > 0:
            yield (
                cfg.method == "coopo" and cfg.cycles >= 2,
                option,
                "switches back to anchoring before a later cycle: needs --method coopo and "
                f"--cycles >= 2 (got --method {cfg.method} --cycles {cfg.cycles})",
            )
            yield (
                0 < cfg.eval_interval < cfg.online_steps,
                option,
                "is checked at mid-phase evaluations: needs 0 < --eval-interval < --online-steps "
                f"(got {cfg.eval_interval} and {cfg.online_steps})",
            )


def _loop_checks(cfg: TrainConfig) -> Iterator[Check]:
    """Updates, collection and evaluation."""
    yield cfg.utd_ratio >= 1, "utd_ratio", f"must be >= 1, got {cfg.utd_ratio}"
    yield cfg.update_every >= 1, "update_every", f"must be >= 1, got {cfg.update_every}"
    yield cfg.batch_size >= 1, "batch_size", f"must be >= 1, got {cfg.batch_size}"
    yield (
        cfg.replay_capacity >= cfg.update_every,
        "replay_capacity",
        f"must be >= update_every ({cfg.update_every})",
    )
    yield cfg.random_steps >= 0, "random_steps", "must be >= 0"
    yield cfg.reward_scale > 0, "reward_scale", f"must be > 0, got {cfg.reward_scale}"
    modes = ", ".join(VECTOR_MODES)
    yield (
        cfg.vector_env in VECTOR_MODES,
        "vector_env",
        f"must be one of {modes}, got {cfg.vector_env!r}",
    )
    yield cfg.eval_episodes >= 1, "eval_episodes", f"must be >= 1, got {cfg.eval_episodes}"
    yield (
        cfg.eval_interval >= 0 and cfg.eval_interval % cfg.update_every == 0,
        "eval_interval",
        f"must be a non-negative multiple of update_every ({cfg.update_every}), "
        f"got {cfg.eval_interval}",
    )
    yield cfg.offline_eval_interval >= 0, "offline_eval_interval", "must be >= 0"
    yield cfg.scan_length >= 1, "scan_length", f"must be >= 1, got {cfg.scan_length}"


def _run_checks(cfg: TrainConfig) -> Iterator[Check]:
    """Seeds, checkpoints, the dataset and the networks."""
    yield len(cfg.seeds) >= 1, "seeds", "give at least one seed"
    yield len(set(cfg.seeds)) == len(cfg.seeds), "seeds", f"duplicate seeds {cfg.seeds}"
    yield all(s >= 0 for s in cfg.seeds), "seeds", "seeds must be >= 0"
    yield cfg.keep_checkpoints >= 1, "keep_checkpoints", "must be >= 1"
    yield cfg.checkpoint_every >= 0, "checkpoint_every", "must be >= 0 (0: by time)"
    yield cfg.checkpoint_minutes >= 0, "checkpoint_minutes", "must be >= 0 (0: phase ends only)"
    yield cfg.max_phases >= 0, "max_phases", "must be >= 0"
    yield cfg.build_size >= 1, "build_size", "must be >= 1"
    yield cfg.build_noise >= 0, "build_noise", "must be >= 0"
    net = cfg.network
    yield net.num_critics >= 1, "network.num_critics", "must be >= 1"
    yield all(h >= 1 for h in net.hidden_dims), "network.hidden_dims", "widths must be >= 1"
    no_data = cfg.dataset.lower() in ("", "none")
    yield (
        not (no_data and cfg.method != "online"),
        "dataset",
        f"method {cfg.method!r} needs a dataset",
    )
    yield not (no_data and cfg.scratch_uses_dataset), "scratch_uses_dataset", "needs a dataset"


def _algorithm_checks(cfg: TrainConfig) -> Iterator[Check]:
    """Each algorithm's own checks, then the generic ones (learning rates > 0, discount, tau
    and expectile in (0, 1])."""
    for algo in ALGORITHMS:
        algo_cfg = cfg.algo_config(algo)
        for name, msg in config_errors(algorithm(algo), algo_cfg, cfg.network):
            yield False, f"{algo}.{name}", msg
        for f in dataclasses.fields(algo_cfg):
            value = getattr(algo_cfg, f.name)
            if f.name.endswith("_lr"):
                yield value > 0, f"{algo}.{f.name}", f"must be > 0, got {value}"
            if f.name in ("discount", "tau", "expectile"):
                yield 0 < value <= 1, f"{algo}.{f.name}", f"must be in (0, 1], got {value}"


# Options removed from the algorithms after the handoff study measured them
# (docs/results/handoffs.md), each with its "off" value: what the code does now. A recorded
# config (config.json, bench.json) holding that value still rebuilds; one that used the option
# is refused, naming the commit that has it.
REMOVED_AT = "d03ab3af8a47"
_SAC_HANDOFF_OPTIONS: dict[str, Any] = {
    "anchor_kl_coef": 0.0,
    "anchor_kl_decay_steps": 0,
    "anchor_tau": 0.0,
    "critic_warmup_steps": 0,
    "target_entropy_from_actor": False,
    "reset_optimizers_on_handoff": False,
}
REMOVED_OPTIONS: dict[str, dict[str, Any]] = {
    "awac_kl": {"mc_lower_bound": False},
    "sac": _SAC_HANDOFF_OPTIONS,
    "rlpd": _SAC_HANDOFF_OPTIONS,  # RLPD's config extends SAC's
}


def config_to_dict(cfg: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def config_from_dict(d: Any, source: str = "config") -> TrainConfig:
    """Inverse of :func:`config_to_dict` (nested dataclasses, tuples restored).

    ``d`` is checked against the fields' types first (it may come from a hand-edited or
    damaged ``config.json``): the :class:`ConfigError` names every problem (``; ``-separated,
    so the error stays one line), each with ``source``, the field, the value and what the
    field allows."""
    if not isinstance(d, dict):
        raise ConfigError(f"{source}: expected a JSON object of config fields, got {_json_kind(d)}")
    problems: list[str] = []

    def build(cls: Any, data: dict[str, Any], prefix: str) -> Any:
        kwargs: dict[str, Any] = {}
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for name, value in data.items():
            where = f"{prefix}{name}"
            if name not in fields:
                off = REMOVED_OPTIONS.get(prefix.rstrip("."), {})
                if name in off and value == off[name]:
                    continue  # recorded switched off: what the code does now
                problems.append(
                    f"{source}: field {where!r} = {_shown(value)}: option removed; runs that "
                    f"use it need commit {REMOVED_AT} (docs/results/handoffs.md)"
                    if name in off
                    else f"{source}: unknown field {where!r} (not a {cls.__name__} option)"
                )
                continue
            default = fields[name].default
            if dataclasses.is_dataclass(default):
                if not isinstance(value, dict):
                    problems.append(
                        f"{source}: field {where!r} = {_shown(value)}: expected a JSON object "
                        f"of {type(default).__name__} fields"
                    )
                    continue
                value = build(type(default), value, f"{where}.")
            else:
                allowed = _type_problem(value, hints[name])
                if allowed is not None:
                    problems.append(
                        f"{source}: field {where!r} = {_shown(value)}: expected {allowed}"
                    )
                    continue
                if isinstance(value, list):
                    value = tuple(value)
            kwargs[name] = value
        return None if problems else cls(**kwargs)

    cfg = build(TrainConfig, d, "")
    if problems:
        raise ConfigError("; ".join(problems))
    return cfg


def _json_kind(value: Any) -> str:
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def _shown(value: Any) -> str:
    """A value as it reads in config.json, cut short."""
    text = json.dumps(value) if _is_json(value) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
        return True
    except (TypeError, ValueError):
        return False


def _type_problem(value: Any, hint: Any) -> str | None:
    """None if ``value`` (as JSON decodes it) fits the type ``hint``, else what it allows."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return None
    if origin is Literal:
        return (
            None
            if value in args and type(value) is type(args[0])
            else ("one of " + ", ".join(json.dumps(a) for a in args))
        )
    if origin in (typing.Union, types.UnionType):
        wants = [_type_problem(value, a) for a in args]
        return None if None in wants else " or ".join(w for w in wants if w)
    if hint is type(None):
        return None if value is None else "null"
    if hint is bool:
        return None if isinstance(value, bool) else "true or false"
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "an integer"
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return None if ok and math.isfinite(value) else "a finite number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if origin is tuple:
        item = args[0] if len(args) == 2 and args[1] is Ellipsis else None
        if not isinstance(value, list | tuple):
            return "an array" + (f", each item {_type_problem(object(), item)}" if item else "")
        if item is None:
            if len(value) != len(args):
                return f"an array of {len(args)} values"
            probs = [_type_problem(v, a) for v, a in zip(value, args, strict=True)]
        else:
            probs = [_type_problem(v, item) for v in value]
        bad = next((p for p in probs if p is not None), None)
        return None if bad is None else f"an array, each item {bad}"
    if origin is dict:
        ok = isinstance(value, dict) and all(isinstance(k, str) for k in value)
        return None if ok else "a JSON object"
    return None  # a type this check does not know: the dataclass takes it as it is


PRESETS: dict[str, TrainConfig] = {
    # `coopo train` with no arguments: a COOPO run that shows learning within minutes on a CPU,
    # on a medium-quality dataset built from the shipped policy (docs/getting-started.md).
    "default": TrainConfig(),
    # The former default at full strength: 3 x (20k offline updates + 20k env steps).
    "full": TrainConfig(
        env_id="Hopper-v5",
        dataset="build:random",
        build_size=100_000,
        cycles=3,
        offline_steps=20_000,
        online_steps=20_000,
        eval_interval=5_000,
    ),
    # Seconds, for smoke tests and CI.
    "smoke": TrainConfig(
        env_id="InvertedPendulum-v5",
        dataset="build:random",
        build_size=2_000,
        cycles=2,
        offline_steps=200,
        online_steps=200,
        eval_episodes=2,
        eval_interval=0,
        update_every=50,
        network=NetworkConfig(hidden_dims=(64, 64)),
        batch_size=64,
        replay_capacity=10_000,
    ),
    # Baselines the paper compares against, under the same budgets as COOPO.
    "awac-ft": TrainConfig(method="o2o", offline="awac_kl", online="awac_kl"),
    "iql-ft": TrainConfig(method="o2o", offline="iql", online="iql"),
    "calql-ft": TrainConfig(
        method="o2o",
        offline="cal_ql",
        online="cal_ql",
        cal_ql=ALGORITHMS["cal_ql"].Config(),
    ),
    "rlpd": TrainConfig(
        method="online",
        online="rlpd",
        scratch_uses_dataset=True,
        online_dataset_fraction=0.5,
        utd_ratio=20,
        random_steps=5_000,
    ),
    # The offline-to-online literature's scale (CORL / Cal-QL): 1M updates, 1M env steps.
    "d4rl": TrainConfig(
        env_id="Hopper-v5",
        dataset="mujoco/hopper/medium-v0",
        cycles=10,
        offline_steps=100_000,
        online_steps=100_000,
        eval_interval=10_000,
        eval_episodes=10,
        seeds=(0, 1, 2, 3, 4),
    ),
}

assert tuple(PRESETS) == PRESET_NAMES, "coopo/presets.py names the presets, in this order"
