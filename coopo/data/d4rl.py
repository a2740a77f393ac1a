"""D4RL hdf5 files (gym_mujoco v2 layout): read and write.

Read: ``observations``, ``actions``, ``rewards`` ((N,) or (N, 1)), ``terminals``, ``timeouts``
and optional ``next_observations``. A time-out step is *truncated*, not terminal. Without
``next_observations`` the next observation is ``observations[i + 1]`` and, as in d4rl's own
``qlearning_dataset``, steps whose successor is not in the file (time-outs and the last row)
are dropped; the step before each dropped one is then marked truncated.

Write: the same keys (all float32 / bool, gzip), plus coopo's metadata as a JSON attribute so
a round trip keeps it; d3rlpy and CORL read these files as they read D4RL's.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np

from coopo.data.dataset import Dataset, DatasetError, DatasetMetadata, make_dataset

META_ATTR = "coopo_metadata"


def read_d4rl(path: str | os.PathLike[str]) -> Dataset:
    # Over 60 lines: the D4RL layout field by field, each with its own validation error.
    src = str(path)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise DatasetError(src, None, f"not a readable HDF5 file ({e})") from e
    with f:
        for key in ("observations", "actions", "rewards", "terminals"):
            if key not in f:
                raise DatasetError(src, key, "missing (not a D4RL file?)")
        obs = f["observations"][()]
        actions = f["actions"][()]
        rewards = f["rewards"][()]
        terminals = f["terminals"][()]
        n = len(terminals)
        timeouts = f["timeouts"][()] if "timeouts" in f else np.zeros(n, bool)
        next_obs = f["next_observations"][()] if "next_observations" in f else None
        meta_json = f.attrs.get(META_ATTR)
    if len(timeouts) != n:
        raise DatasetError(src, "timeouts", f"length {len(timeouts)} != terminals length {n}")
    metadata = (
        DatasetMetadata.from_json(json.loads(meta_json))
        if meta_json is not None
        else DatasetMetadata()
    )
    metadata = DatasetMetadata.from_json({**metadata.to_json(), "source": src})
    terminals = np.asarray(terminals).astype(bool)
    timeouts = np.asarray(timeouts).astype(bool)
    if np.ndim(rewards) == 2 and np.shape(rewards)[1] == 1:
        rewards = rewards[:, 0]
    if next_obs is None:
        if obs.ndim != 2 or obs.shape[0] != n:
            raise DatasetError(src, "observations", f"expected ({n}, dim), got {obs.shape}")
        keep = ~timeouts.copy()
        keep[-1] = False  # no successor in the file
        next_obs = np.concatenate([obs[1:], obs[-1:]])
        truncated = np.zeros(n, bool)
        # The step before a dropped one loses its successor's transition: truncate it there.
        dropped = np.flatnonzero(~keep)
        prev = dropped[dropped > 0] - 1
        truncated[prev] = ~terminals[prev]
        idx = np.flatnonzero(keep)
        return make_dataset(
            src,
            metadata,
            observations=obs[idx],
            actions=actions[idx],
            rewards=rewards[idx],
            next_observations=next_obs[idx],
            terminated=terminals[idx],
            truncated=truncated[idx],
        )
    return make_dataset(
        src,
        metadata,
        observations=obs,
        actions=actions,
        rewards=rewards,
        next_observations=next_obs,
        terminated=terminals,
        truncated=timeouts & ~terminals,
    )


def write_d4rl(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a D4RL hdf5 file (atomically: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        kw = {"compression": "gzip"}
        f.create_dataset("observations", data=ds.observations, **kw)
        f.create_dataset("next_observations", data=ds.next_observations, **kw)
        f.create_dataset("actions", data=ds.actions, **kw)
        f.create_dataset("rewards", data=ds.rewards, **kw)
        f.create_dataset("terminals", data=ds.terminated, **kw)
        f.create_dataset("timeouts", data=ds.truncated, **kw)
        f.attrs[META_ATTR] = json.dumps(ds.metadata.to_json())
    os.replace(tmp, path)
    return path
