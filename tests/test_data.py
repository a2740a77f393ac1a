from __future__ import annotations

import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from coopo import data
from coopo.data import Dataset, DatasetError, build_dataset
from coopo.data.dataset import FIELDS, validate_against_env

from .conftest import write_policy_file


def assert_same(a: Dataset, b: Dataset) -> None:
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f), err_msg=f)


# ---------------------------------------------------------------- round trips
@pytest.mark.parametrize("suffix", [".npz", ".hdf5"])
def test_file_round_trip(pendulum_dataset: Dataset, tmp_path: Path, suffix: str):
    path = data.save(pendulum_dataset, tmp_path / f"ds{suffix}")
    back = data.load(path)
    assert_same(pendulum_dataset, back)
    assert back.metadata.env_id == "InvertedPendulum-v5"
    assert back.metadata.extra["seed"] == 3


def test_minari_round_trip_by_id_and_path(pendulum_dataset: Dataset):
    dest = data.write_minari(pendulum_dataset, "coopo/invertedpendulum/random-v0")
    assert dest == data.minari_root() / "coopo/invertedpendulum/random-v0"
    for ref in ("coopo/invertedpendulum/random-v0", str(dest)):
        back = data.load(ref)
        assert_same(pendulum_dataset, back)
        assert back.metadata.env_id == "InvertedPendulum-v5"
        assert back.metadata.action_low == pendulum_dataset.metadata.action_low


def test_minari_written_by_coopo_loads_in_minari(pendulum_dataset: Dataset):
    minari = pytest.importorskip("minari")
    data.write_minari(pendulum_dataset, "coopo/invertedpendulum/random-v0")
    ds = minari.load_dataset("coopo/invertedpendulum/random-v0")
    assert ds.total_steps == pendulum_dataset.size
    eps = list(ds.iterate_episodes())
    assert len(eps) == len(pendulum_dataset.episode_slices())
    first = pendulum_dataset.episode_slices()[0]
    np.testing.assert_allclose(eps[0].observations[:-1], pendulum_dataset.observations[first])
    np.testing.assert_allclose(eps[0].actions, pendulum_dataset.actions[first])
    assert bool(eps[0].terminations[-1]) == bool(pendulum_dataset.terminated[first.stop - 1])


def test_minari_overwrite_is_atomic_and_complete(pendulum_dataset: Dataset):
    data.write_minari(pendulum_dataset, "coopo/x/a-v0")
    smaller = build_dataset("InvertedPendulum-v5", "random", size=50, seed=9)
    dest = data.write_minari(smaller, "coopo/x/a-v0")
    assert data.load(str(dest)).size == 50
    assert not any(p.name.endswith((".tmp", ".old")) for p in dest.parent.iterdir())


# ---------------------------------------------------------------- D4RL semantics
def write_raw_d4rl(
    path: Path, with_next: bool, n: int = 8, obs_dim: int = 3
) -> dict[str, np.ndarray]:
    obs = np.arange(n * obs_dim, dtype=np.float64).reshape(n, obs_dim)  # float64 input
    raw = {
        "observations": obs,
        "actions": np.zeros((n, 1)),
        "rewards": np.arange(n, dtype=np.float64)[:, None],  # (N, 1)
        "terminals": np.array([0, 0, 1, 0, 0, 0, 0, 0], bool),
        "timeouts": np.array([0, 0, 0, 0, 1, 0, 0, 0], bool),
    }
    if with_next:
        raw["next_observations"] = obs + 100
    with h5py.File(path, "w") as f:
        for k, v in raw.items():
            f.create_dataset(k, data=v)
    return raw


def test_d4rl_timeouts_are_truncations_not_terminals(tmp_path: Path):
    write_raw_d4rl(tmp_path / "d.hdf5", with_next=True)
    ds = data.load(tmp_path / "d.hdf5")
    assert ds.observations.dtype == np.float32 and ds.rewards.shape == (8,)
    np.testing.assert_array_equal(ds.terminated, [0, 0, 1, 0, 0, 0, 0, 0])
    np.testing.assert_array_equal(ds.truncated, [0, 0, 0, 0, 1, 0, 0, 1])  # last row: end of data
    np.testing.assert_array_equal(ds.next_observations, ds.observations + 100)


def test_d4rl_without_next_observations_follows_qlearning_dataset(tmp_path: Path):
    write_raw_d4rl(tmp_path / "d.hdf5", with_next=False)
    ds = data.load(tmp_path / "d.hdf5")
    # rows 4 (timeout) and 7 (last) have no successor in the file and are dropped
    np.testing.assert_array_equal(ds.rewards, [0, 1, 2, 3, 5, 6])
    np.testing.assert_array_equal(ds.next_observations[0], ds.observations[1])
    np.testing.assert_array_equal(ds.terminated, [0, 0, 1, 0, 0, 0])
    np.testing.assert_array_equal(
        ds.truncated, [0, 0, 0, 1, 0, 1]
    )  # row 3 preceded a dropped timeout


# ---------------------------------------------------------------- validation errors
def arrays(n: int = 5) -> dict[str, np.ndarray]:
    return {
        "observations": np.zeros((n, 4)),
        "actions": np.zeros((n, 1)),
        "rewards": np.zeros(n),
        "next_observations": np.zeros((n, 4)),
        "terminated": np.zeros(n, bool),
        "truncated": np.zeros(n, bool),
    }


def save_npz(path: Path, **over: object) -> Path:
    a = {**arrays(), **over}
    np.savez(path, **{k: v for k, v in a.items() if v is not None})
    return path


@pytest.mark.parametrize(
    "override, fld, problem",
    [
        ({"actions": None}, "actions", "missing"),
        ({"rewards": np.zeros(4)}, "rewards", "shape"),
        ({"observations": np.zeros((5, 4, 1))}, "observations", "shape"),
        ({"next_observations": np.zeros((5, 3))}, "next_observations", "shape"),
        ({"observations": np.array([[0, 0, np.nan, 0]] * 5)}, "observations", "non-finite"),
        ({"rewards": np.array([0, 0, np.inf, 0, 0])}, "rewards", "non-finite"),
        ({"actions": np.array([["a"]] * 5)}, "actions", "numeric"),
        ({"terminated": np.array([0, 2, 0, 0, 0])}, "terminated", "booleans"),
    ],
)
def test_malformed_npz_names_file_field_and_problem(tmp_path: Path, override, fld, problem):
    path = save_npz(tmp_path / "bad.npz", **override)
    with pytest.raises(DatasetError) as e:
        data.load(path)
    msg = str(e.value)
    assert str(path) in msg and f"'{fld}'" in msg and problem in msg


def test_d4rl_missing_key_and_bad_file(tmp_path: Path):
    with h5py.File(tmp_path / "x.hdf5", "w") as f:
        f.create_dataset("observations", data=np.zeros((3, 2)))
    with pytest.raises(DatasetError, match="'actions': missing"):
        data.load(tmp_path / "x.hdf5")
    (tmp_path / "y.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        data.load(tmp_path / "y.hdf5")


def test_minari_episode_with_wrong_observation_count(pendulum_dataset: Dataset):
    dest = data.write_minari(pendulum_dataset, "coopo/bad/obs-v0")
    with h5py.File(dest / "data" / "main_data.hdf5", "a") as f:
        obs = f["episode_0/observations"][()]
        del f["episode_0/observations"]
        f.create_dataset("episode_0/observations", data=obs[:-1])
    with pytest.raises(DatasetError, match="episode_0/observations.*T\\+1"):
        data.load("coopo/bad/obs-v0")


def test_unknown_path_or_id():
    with pytest.raises(DatasetError, match="not found"):
        data.load("nope/nothing-v0")


def test_validate_against_env_mismatches(pendulum_dataset: Dataset):
    low, high = np.array([-3.0], np.float32), np.array([3.0], np.float32)
    validate_against_env(pendulum_dataset, (4,), low, high, "InvertedPendulum-v5")
    with pytest.raises(
        DatasetError, match="'observations'.*dimension 4 does not match Hopper-v5.*11"
    ):
        validate_against_env(pendulum_dataset, (11,), low, high, "Hopper-v5")
    with pytest.raises(DatasetError, match="'actions'.*dimension 1 does not match.*3"):
        validate_against_env(pendulum_dataset, (4,), np.zeros(3), np.ones(3), "X-v0")
    with pytest.raises(DatasetError, match="'actions'.*outside.*bounds"):
        validate_against_env(pendulum_dataset, (4,), low / 10, high / 10, "X-v0")


# ---------------------------------------------------------------- builder
def test_builder_is_deterministic_and_records_provenance(tmp_path: Path):
    policy = write_policy_file(tmp_path / "p.npz", obs_dim=4, act_dim=1)
    a = build_dataset("InvertedPendulum-v5", str(policy), size=300, noise_std=0.3, seed=5)
    b = build_dataset("InvertedPendulum-v5", str(policy), size=300, noise_std=0.3, seed=5)
    c = build_dataset("InvertedPendulum-v5", str(policy), size=300, noise_std=0.3, seed=6)
    assert a.content_hash() == b.content_hash() != c.content_hash()
    assert a.metadata.extra["policy_sha256"] and a.metadata.extra["noise_std"] == 0.3
    assert np.all(np.abs(a.actions) <= 3.0)
    # consecutive steps inside an episode chain together
    inner = ~(a.terminated | a.truncated)[:-1]
    np.testing.assert_array_equal(a.next_observations[:-1][inner], a.observations[1:][inner])


def test_builder_records_d4rl_reference_scores():
    ds = build_dataset("Hopper-v5", "random", size=30, seed=0)
    assert (ds.metadata.ref_min_score, ds.metadata.ref_max_score) == (-20.272305, 3234.3)


def test_builder_rejects_mismatched_policy(tmp_path: Path):
    policy = write_policy_file(tmp_path / "p.npz", obs_dim=11, act_dim=1)
    with pytest.raises(DatasetError, match="observations of size 11.*InvertedPendulum-v5 gives 4"):
        build_dataset("InvertedPendulum-v5", str(policy), size=10)
    with pytest.raises(DatasetError, match="policy file not found"):
        build_dataset("InvertedPendulum-v5", str(tmp_path / "missing.npz"), size=10)


def test_builder_rejects_unknown_env():
    from coopo.envs import EnvError

    with pytest.raises(EnvError, match="cannot make Gymnasium env 'Hoper-v5'"):
        build_dataset("Hoper-v5", "random", size=10)


def test_unwritable_data_root(pendulum_dataset: Dataset, tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(DatasetError, match="not writable"):
        data.write_minari(pendulum_dataset, "coopo/x/y-v0", blocker / "root")
    assert blocker.read_text() == "not a directory"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_data_root(pendulum_dataset: Dataset, tmp_path: Path):
    root = tmp_path / "ro"
    root.mkdir()
    root.chmod(0o500)
    try:
        with pytest.raises(DatasetError, match="not writable"):
            data.write_minari(pendulum_dataset, "coopo/x/y-v0", root)
    finally:
        root.chmod(0o700)


def test_discounted_returns_to_go_stop_at_episode_ends():
    from coopo.data import DatasetMetadata
    from coopo.data.dataset import discounted_returns_to_go, make_dataset

    ds = make_dataset(
        "x",
        DatasetMetadata(),
        observations=np.zeros((5, 1)),
        actions=np.zeros((5, 1)),
        rewards=np.array([1.0, 2.0, 3.0, 10.0, 1.0]),
        next_observations=np.zeros((5, 1)),
        terminated=np.array([0, 0, 1, 0, 0], bool),
        truncated=np.zeros(5, bool),
    )
    rtg = discounted_returns_to_go(ds, 0.5, reward_scale=2.0)
    # episode 1: 2 * [1 + .5*2 + .25*3, 2 + .5*3, 3]; episode 2 (truncated by the data end): 2 * [10 + .5, 1]
    np.testing.assert_allclose(rtg, [2 * 2.75, 2 * 3.5, 6.0, 21.0, 2.0])
