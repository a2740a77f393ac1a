"""Minari both ways: datasets the minari package's DataCollector writes train in coopo (with and
without infos), read the same with and without the package, and a missing id says how to get it.
(coopo's own datasets loading in minari: tests/test_data.py.)"""

from __future__ import annotations

import dataclasses
import json
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

from coopo import data
from coopo.api import train
from coopo.config import PRESETS
from coopo.data import DatasetError
from coopo.data.minari_format import read_with_minari

minari = pytest.importorskip("minari")


class InfoOnReset(gym.Wrapper):
    """InvertedPendulum's reset info lacks the step info's key; minari records infos only
    when every step's info has the same structure."""

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {"reward_survive": 0.0, **info}


def collect(dataset_id: str, record_infos: bool, episodes: int = 40) -> None:
    env = minari.DataCollector(
        InfoOnReset(gym.make("InvertedPendulum-v5")), record_infos=record_infos
    )
    env.action_space.seed(0)
    for ep in range(episodes):
        env.reset(seed=ep)
        done = False
        while not done:
            _, _, term, trunc, _ = env.step(env.action_space.sample())
            done = term or trunc
    with warnings.catch_warnings():  # minari's reminders to fill in author email, permalink, ...
        warnings.simplefilter("ignore", UserWarning)
        env.create_dataset(dataset_id=dataset_id, algorithm_name="random", author="coopo tests")
    env.close()


@pytest.mark.parametrize("record_infos", [True, False])
def test_a_datacollector_dataset_loads_and_matches_the_package(record_infos: bool):
    dataset_id = f"test/invertedpendulum/collector-infos{int(record_infos)}-v0"
    collect(dataset_id, record_infos)
    d = data.minari_root() / dataset_id
    if record_infos:
        import h5py

        with h5py.File(d / "data" / "main_data.hdf5") as f:
            assert "infos" in f["episode_0"]
    ds = data.load(dataset_id)
    package = minari.load_dataset(dataset_id)
    assert ds.size == package.total_steps
    assert len(ds.episode_slices()) == package.total_episodes
    assert ds.metadata.env_id == "InvertedPendulum-v5"
    assert ds.metadata.action_low == (-3.0,) and ds.metadata.action_high == (3.0,)
    assert ds.terminated.sum() == sum(int(ep.terminations[-1]) for ep in package.iterate_episodes())
    # coopo's reader and the minari package's give the same transitions
    via = read_with_minari(d)
    for f in ("observations", "actions", "rewards", "next_observations", "terminated", "truncated"):
        np.testing.assert_array_equal(getattr(ds, f), getattr(via, f), err_msg=f)
    first = package[0]
    np.testing.assert_allclose(ds.observations[: len(first.actions)], first.observations[:-1])


@pytest.mark.slow
def test_a_datacollector_dataset_trains(tmp_path: Path):
    collect("test/invertedpendulum/collector-v0", record_infos=True, episodes=60)
    cfg = dataclasses.replace(
        PRESETS["smoke"],
        dataset="test/invertedpendulum/collector-v0",
        cycles=1,
        offline_steps=100,
        online_steps=100,
        progress=False,
        run_dir=str(tmp_path / "run"),
    )
    result = train(cfg)
    assert result.finished and np.isfinite(list(result.final_returns.values())).all()
    info = json.loads((tmp_path / "run" / "dataset.json").read_text())
    assert info["dataset_id"] == "test/invertedpendulum/collector-v0"


def test_a_missing_minari_id_says_how_to_download_it():
    with pytest.raises(DatasetError, match=r"minari download mujoco/hopper/medium-v0$"):
        data.load("mujoco/hopper/medium-v0")
    with pytest.raises(DatasetError) as e:
        data.load("missing-file.hdf5")
    assert "minari download" not in str(e.value)


def test_without_the_package_the_hint_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(DatasetError, match=r"pip install 'coopo\[minari\]'"):
        data.load("mujoco/hopper/medium-v0")


def test_another_backend_without_the_package_names_the_extra(
    pendulum_dataset, monkeypatch: pytest.MonkeyPatch
):
    dest = data.write_minari(pendulum_dataset, "test/x/arrow-v0")
    meta_file = dest / "data" / "metadata.json"
    meta = json.loads(meta_file.read_text())
    meta_file.write_text(json.dumps({**meta, "data_format": "arrow"}))
    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(DatasetError, match=r"'arrow'.*pip install 'coopo\[minari\]'"):
        data.load("test/x/arrow-v0")


def test_a_dataset_coopo_wrote_recovers_its_environment_in_minari(pendulum_dataset):
    """The env spec coopo writes is complete (entry point, max episode steps, kwargs), so the
    minari package can make the env; dataset_size is the real size, as minari computes it."""
    ds = pendulum_dataset.with_metadata(env_kwargs={"reset_noise_scale": 0.02})
    dest = data.write_minari(ds, "test/invertedpendulum/recover-v0")
    meta = json.loads((dest / "data" / "metadata.json").read_text())
    spec = json.loads(meta["env_spec"])
    assert spec["entry_point"] and spec["max_episode_steps"] == 1000
    assert spec["kwargs"]["reset_noise_scale"] == 0.02
    package = minari.load_dataset("test/invertedpendulum/recover-v0")
    env = package.recover_environment()
    try:
        assert env.spec.max_episode_steps == 1000
        assert env.unwrapped._reset_noise_scale == 0.02
        obs, _ = env.reset(seed=0)
        obs, reward, term, trunc, _ = env.step(env.action_space.sample())
        assert obs.shape == (ds.obs_dim,) and np.isfinite(reward)
    finally:
        env.close()
    size = sum(p.stat().st_size for p in (dest / "data").glob("**/*") if p.is_file())
    assert meta["dataset_size"] > 0 and abs(meta["dataset_size"] - size / 1e6) <= 0.1
    assert package.storage.metadata["dataset_size"] == meta["dataset_size"]


def test_writing_minari_metadata_does_not_hide_a_failure(pendulum_dataset, monkeypatch):
    """An unregistered env id keeps a minimal spec; any other failure is raised."""
    from coopo.data import minari_format

    dest = data.write_minari(pendulum_dataset.with_metadata(env_id="NoSuchEnv-v0"), "test/x/u-v0")
    spec = json.loads(json.loads((dest / "data" / "metadata.json").read_text())["env_spec"])
    assert spec["id"] == "NoSuchEnv-v0" and spec["entry_point"] is None

    def broken(env_id):
        raise RuntimeError("spec registry broken")

    monkeypatch.setattr(gym, "spec", broken)
    with pytest.raises(RuntimeError, match="spec registry broken"):
        minari_format.write_minari(pendulum_dataset, "test/x/v-v0")
