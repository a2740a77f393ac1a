"""The D4RL export follows D4RL's convention and other libraries read it."""

from __future__ import annotations

import dataclasses
import os
import subprocess
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


# d3rlpy pins gymnasium 1.0 and coopo needs >= 1.1, so d3rlpy lives in an environment of its own
# (benchmarks/requirements-d3rlpy.txt): the test writes the export here and reads it there.
D3RLPY_PYTHON = os.environ.get(
    "COOPO_D3RLPY_PYTHON", str(Path(__file__).parent.parent / ".venv-bench" / "bin" / "python")
)
READ_AND_TRAIN = """
import sys, h5py, numpy as np, d3rlpy
with h5py.File(sys.argv[1]) as f:
    dataset = d3rlpy.dataset.MDPDataset(
        observations=f["observations"][()],
        actions=f["actions"][()],
        rewards=f["rewards"][()],
        terminals=f["terminals"][()],
        timeouts=f["timeouts"][()],
    )
    obs = f["observations"][:1]
iql = d3rlpy.algos.IQLConfig(batch_size=64).create(device="cpu")
iql.fit(dataset, n_steps=20, n_steps_per_epoch=20, show_progress=False, save_interval=10**9,
        logger_adapter=d3rlpy.logging.NoopAdapterFactory())
action = iql.predict(obs)
print(dataset.transition_count, action.shape[1], bool(np.all(np.isfinite(action))))
"""


@pytest.mark.skipif(
    not Path(D3RLPY_PYTHON).exists(),
    reason=f"no d3rlpy environment at {D3RLPY_PYTHON} (set COOPO_D3RLPY_PYTHON, or: python3 -m "
    "venv .venv-bench && .venv-bench/bin/pip install -r benchmarks/requirements-d3rlpy.txt)",
)
def test_d3rlpy_builds_an_mdpdataset_from_a_recipe_export_and_trains(tmp_path: Path):
    from coopo.recipes import DEFAULT_SIZE, build_recipe

    # Full size by default, as users export it; COOPO_D4RL_EXPORT_SIZE makes it quicker.
    size = int(os.environ.get("COOPO_D4RL_EXPORT_SIZE", DEFAULT_SIZE))
    ds = build_recipe("hopper", "medium", size, 0, None)
    ds, _ = with_terminal_on_last_allowed_step(ds)  # whatever this build's episodes did
    path = data.write_d4rl(ds, tmp_path / "hopper-medium.hdf5")
    out = subprocess.run(
        [D3RLPY_PYTHON, "-c", READ_AND_TRAIN, str(path)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    count, act_dim, finite = out.stdout.split()[-3:]
    # d3rlpy keeps every row of an episode that terminates and all but the last of one that
    # times out (that row's next observation is not in D4RL's format)
    timeouts = int(np.sum(ds.truncated & ~ds.terminated))
    assert (int(count), int(act_dim), finite) == (ds.size - timeouts, ds.act_dim, "True")
