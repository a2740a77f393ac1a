"""The D4RL export follows D4RL's convention and other libraries read it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from coopo import data
from coopo.data import Dataset


def with_terminal_on_last_allowed_step(ds: Dataset) -> tuple[Dataset, int]:
    """A copy where one episode fails on its last allowed step: terminated and truncated, as
    Gymnasium reports it (the 100k hopper-medium export had one such row)."""
    end = ds.episode_slices()[0].stop - 1
    terminated, truncated = ds.terminated.copy(), ds.truncated.copy()
    terminated[end] = truncated[end] = True
    return dataclasses.replace(ds, terminated=terminated, truncated=truncated), end


def test_a_terminal_row_is_never_also_a_timeout(pendulum_dataset: Dataset, tmp_path: Path):
    ds, row = with_terminal_on_last_allowed_step(pendulum_dataset)
    path = data.write_d4rl(ds, tmp_path / "d.hdf5")
    with h5py.File(path) as f:
        terminals, timeouts = f["terminals"][()], f["timeouts"][()]
    assert not np.any(terminals & timeouts)
    assert terminals[row] and not timeouts[row]
    # every other episode end is kept: time-outs stay time-outs
    np.testing.assert_array_equal(timeouts, ds.truncated & ~ds.terminated)
    back = data.load(path)
    np.testing.assert_array_equal(back.terminated, ds.terminated)
    assert len(back.episode_slices()) == len(ds.episode_slices())


def test_d3rlpy_builds_an_mdpdataset_from_a_recipe_export_and_trains(tmp_path: Path):
    d3rlpy = pytest.importorskip(
        "d3rlpy",
        reason="d3rlpy is only in the bench extra: pip install -e '.[bench]' in a separate env",
    )
    from coopo.recipes import DEFAULT_SIZE, build_recipe

    # Full size by default, as users export it; COOPO_D4RL_EXPORT_SIZE makes it quicker.
    size = int(os.environ.get("COOPO_D4RL_EXPORT_SIZE", DEFAULT_SIZE))
    ds = build_recipe("hopper", "medium", size, 0, None)
    ds, _ = with_terminal_on_last_allowed_step(ds)  # whatever this build's episodes did
    path = data.write_d4rl(ds, tmp_path / "hopper-medium.hdf5")
    with h5py.File(path) as f:
        dataset = d3rlpy.dataset.MDPDataset(
            observations=f["observations"][()],
            actions=f["actions"][()],
            rewards=f["rewards"][()],
            terminals=f["terminals"][()],
            timeouts=f["timeouts"][()],
        )
    assert dataset.transition_count == ds.size
    iql = d3rlpy.algos.IQLConfig(batch_size=64).create(device="cpu")
    iql.fit(
        dataset,
        n_steps=20,
        n_steps_per_epoch=20,
        show_progress=False,
        save_interval=10**9,
        logger_adapter=d3rlpy.logging.NoopAdapterFactory(),
    )
    action = iql.predict(ds.observations[:1])
    assert action.shape == (1, ds.act_dim) and np.all(np.isfinite(action))
