"""What a run is set up with before its first phase: the env's spaces, the dataset (checked
against the env, normalised, on the device), the observation normaliser, the reference
scores, the evaluation envs, and the two phases wired to the run's algorithms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from coopo import phases
from coopo.algos.base import Learner, RolloutLearner
from coopo.config import TrainConfig
from coopo.data import Dataset, DatasetError, resolve_dataset, validate_against_env
from coopo.data.dataset import discounted_returns_to_go
from coopo.envs import ActionScaler, Vector, make_env, make_vector_env
from coopo.evaluation import (
    Evaluator,
    drift_probe,
    normalized_score,
    reference_scores,
    task_name,
)
from coopo.normalization import Normalizer
from coopo.phases import online_sampler, to_device
from coopo.phases.offline import OfflinePhase
from coopo.phases.online import OffPolicyUpdates, OnlinePhase, OnPolicyUpdates, Updates
from coopo.types import EnvSpec, Transition


class RunSetup:
    """Everything fixed for the whole run, derived from its config once."""

    def __init__(self, cfg: TrainConfig, announce: Callable[[str], Any] | None = None) -> None:
        self.cfg, self.seeds = cfg, list(cfg.seeds)
        self.env_kwargs = cfg.parsed_env_kwargs()
        probe = make_env(cfg.env_id, self.env_kwargs)
        self.scaler = ActionScaler.of_env(probe)
        obs_shape = tuple(probe.observation_space.shape or ())
        probe.close()
        self.spec = EnvSpec(obs_dim=int(obs_shape[0]), act_dim=int(self.scaler.low.shape[0]))
        ds = resolve_dataset(
            cfg.dataset, cfg.env_id, self.env_kwargs, cfg.build_size, cfg.build_noise, announce
        )
        if ds is not None:
            check_dataset_env(ds, cfg.env_id, obs_shape, self.scaler, cfg.dataset)
        # Provenance for dataset.json; the host arrays themselves are not kept (memory).
        self.dataset_info: dict[str, Any] | None = (
            {"size": ds.size, "hash": ds.content_hash(), **asdict(ds.metadata)} if ds else None
        )
        self.ref_scores = reference_scores(
            cfg.env_id,
            ds.metadata.ref_min_score if ds else None,
            ds.metadata.ref_max_score if ds else None,
        )
        if ds is not None and self.dataset_info is not None:
            # The data's own level (mean episode return, normalised like every evaluation):
            # the reference line a report puts next to the scores.
            rets = ds.episode_returns()
            if len(rets):
                self.dataset_info["episode_return_mean"] = float(rets.mean())
                if self.ref_scores[0] is not None:
                    self.dataset_info["normalized_return"] = float(
                        normalized_score(rets.mean(), *self.ref_scores)
                    )
        if ds is not None and cfg.normalize_observations:
            self.normalizer = Normalizer.fit(ds.observations)
        else:
            self.normalizer = Normalizer.identity(self.spec.obs_dim)
        self.has_dataset = ds is not None
        self.dataset, self.dataset_size = self._device_dataset(ds)

    def data_level(self) -> float | None:
        """The dataset's own level on the evaluations' scale: its mean episode return,
        normalised when there are reference scores (None without a dataset or an episode)."""
        info = self.dataset_info or {}
        key = "normalized_return" if self.ref_scores[0] is not None else "episode_return_mean"
        return info.get(key)

    def _device_dataset(self, ds: Dataset | None) -> tuple[Transition, int]:
        """The dataset as the phases see it: normalised observations, actions in [-1, 1],
        scaled rewards, returns-to-go (Cal-QL's bound)."""
        if ds is None:  # a one-row placeholder keeps every jitted signature the same
            z = np.zeros((1, self.spec.obs_dim), np.float32)
            return to_device(z, np.zeros((1, self.spec.act_dim)), [0.0], z, [1.0], [0.0]), 1
        cfg, norm = self.cfg, self.normalizer.numpy
        discount = cfg.algo_config(cfg.offline).discount
        rows = to_device(
            norm(ds.observations),
            self.scaler.from_env(ds.actions),
            ds.rewards * cfg.reward_scale,
            norm(ds.next_observations),
            ds.terminated,
            ds.truncated,
            discounted_returns_to_go(ds, discount, cfg.reward_scale),
        )
        return rows, ds.size

    def make_envs(self) -> Vector:
        """One training env per seed, as one vector env (``--vector-env``)."""
        return make_vector_env(
            self.cfg.env_id, self.env_kwargs, len(self.seeds), self.cfg.vector_env
        )

    def make_evaluator(self) -> Evaluator:
        """Separate evaluation envs, with the drift probe when there is a dataset."""
        probe = None
        if self.has_dataset:
            probe = drift_probe(self.dataset, self.dataset_size, len(self.seeds))
        return Evaluator(
            self.cfg.env_id,
            self.env_kwargs,
            self.seeds,
            self.cfg.eval_episodes,
            normalizer=self.normalizer,
            probe=probe,
            ref_scores=self.ref_scores,
        )


def check_dataset_env(
    ds: Dataset, env_id: str, obs_shape: tuple[int, ...], scaler: ActionScaler, spec: str
) -> None:
    """Refuse a dataset collected in another task, or whose shapes/bounds do not fit the env."""
    if ds.metadata.env_id and task_name(ds.metadata.env_id) != task_name(env_id):
        raise DatasetError(
            ds.metadata.source or spec,
            "metadata.env_id",
            f"dataset was collected in {ds.metadata.env_id}, but the run's env is {env_id}",
        )
    validate_against_env(ds, obs_shape, scaler.low, scaler.high, env_id)


def online_updates(cfg: TrainConfig, setup: RunSetup, algo: Learner) -> Updates:
    """The online phase's update strategy: on-policy for a :class:`RolloutLearner`, else
    off-policy on batches mixing dataset and replay data."""
    if isinstance(algo, RolloutLearner):
        return OnPolicyUpdates(algo, cfg.algo_config(cfg.online))
    data_fraction = cfg.online_dataset_fraction if setup.has_dataset else 0.0
    if cfg.method == "online" and not cfg.scratch_uses_dataset:
        data_fraction = 0.0
    return OffPolicyUpdates(
        algo,
        online_sampler(cfg.batch_size, setup.dataset_size, data_fraction),
        setup.dataset,
        cfg.update_every,
        cfg.utd_ratio,
        random_until=cfg.random_steps if cfg.method == "online" else 0,
    )


@dataclass(frozen=True)
class Wiring:
    """The run's two phases and the jitted functions around them, for its two algorithms."""

    offline: OfflinePhase
    online: OnlinePhase
    act: dict[str, Callable[..., Any]]
    """Deterministic actions of each phase kind's policy (evaluation)."""
    q_probe: dict[str, Callable[..., Any]]
    """Each kind's critic on the data's and the policy's actions (docs/results/handoffs.md)."""
    to_online: Callable[[Any, Any], Any]
    """(offline state, online state) -> online state that starts from the offline networks."""
    to_offline: Callable[[Any, Any], Any]


def wire(cfg: TrainConfig, setup: RunSetup, offline: Learner, online: Learner) -> Wiring:
    sample = phases.offline_sampler(
        cfg.batch_size, setup.dataset_size, cfg.offline_data, cfg.offline_online_fraction
    )
    offline_phase = OfflinePhase(
        phases.make_update_chunk(offline, sample),
        setup.dataset,
        cfg.scan_length,
        cfg.offline_eval_interval,
    )
    online_phase = OnlinePhase.of(
        online,
        envs=setup.make_envs(),
        seeds=setup.seeds,
        scaler=setup.scaler,
        normalizer=setup.normalizer,
        reward_scale=cfg.reward_scale,
        updates=online_updates(cfg, setup, online),
        eval_interval=cfg.eval_interval,
    )
    algos = {"offline": offline, "online": online}
    act = {k: phases.make_act(a, deterministic=True) for k, a in algos.items()}
    probe = {k: phases.make_q_probe(a, cfg.network, setup.spec) for k, a in algos.items()}
    if cfg.offline == cfg.online:
        # One algorithm in both phases ("IQL fine-tuning"): its whole state carries over,
        # optimizer moments and all; there is no handoff to convert.
        return Wiring(offline_phase, online_phase, act, probe, _same, _same)
    to_online = phases.make_handoff(offline, online)
    to_offline = phases.make_handoff(online, offline)
    return Wiring(offline_phase, online_phase, act, probe, to_online, to_offline)


def _same(src: Any, dst: Any) -> Any:
    return src
