"""D4RL hdf5 files (gym_mujoco v2 layout): read and write.

Read: ``observations``, ``actions``, ``rewards`` ((N,) or (N, 1)), ``terminals``, ``timeouts``
and optional ``next_observations``. A time-out step is *truncated*, not terminal. Without
``next_observations`` the next observation is ``observations[i + 1]`` and, as in d4rl's own
``qlearning_dataset``, steps whose successor is not in the file (time-outs and the last row)
are dropped; the step before each dropped one is then marked truncated.

Write: the same keys (all float32 / bool, gzip), plus coopo's metadata as a JSON attribute so
a round trip keeps it. As in D4RL's files, ``terminals`` and ``timeouts`` are never both set on
one row, so d3rlpy's ``MDPDataset`` and CORL read these files as they read D4RL's.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import h5py
import numpy as np

from coopo.data.dataset import (
    Dataset,
    DatasetError,
    DatasetMetadata,
    check_declared,
    flags,
    make_dataset,
    saved_metadata,
)
from coopo.data.hdf5 import open_hdf5, read_array

META_ATTR = "coopo_metadata"


KEYS = ("observations", "actions", "rewards", "terminals", "timeouts", "next_observations")


def read_d4rl(path: str | os.PathLike[str]) -> Dataset:
    """A D4RL ``.hdf5`` file as a :class:`Dataset`; every problem is a :class:`DatasetError`
    naming the field. Without ``next_observations`` (the original D4RL layout), each row's
    successor is the next row, and rows whose successor is not in the file are dropped."""
    src = str(path)
    with open_hdf5(src, path) as f:
        raw, n = _read_fields(src, f)
        try:
            meta_json = f.attrs.get(META_ATTR)
        except (OSError, ValueError, TypeError) as e:
            raise DatasetError(src, META_ATTR, f"unreadable attribute ({e})") from e
    obs, actions, rewards = raw["observations"], raw["actions"], raw["rewards"]
    if not n:
        raise DatasetError(src, "observations", f"needs at least one row, shape {obs.shape}")
    terminals = flags(src, "terminals", raw["terminals"])
    timeouts = flags(src, "timeouts", raw["timeouts"]) if "timeouts" in raw else np.zeros(n, bool)
    if terminals.ndim != 1 or timeouts.ndim != 1:
        bad = "terminals" if terminals.ndim != 1 else "timeouts"
        raise DatasetError(src, bad, f"expected shape ({n},), got {raw[bad].shape}")
    metadata = saved_metadata(src, META_ATTR, meta_json)  # absent in D4RL's own files
    if np.ndim(rewards) == 2 and np.shape(rewards)[1] == 1:
        rewards = rewards[:, 0]
    next_obs = raw.get("next_observations")
    if next_obs is None:
        return _successors_from_next_rows(src, metadata, obs, actions, rewards, terminals, timeouts)
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


def _read_fields(src: str, f: h5py.File) -> tuple[dict[str, np.ndarray], int | None]:
    """The D4RL fields of an open file and their common length. Shapes first, data second: a
    field of another length, or one too large to load, is refused before anything is read."""
    for key in ("observations", "actions", "rewards", "terminals"):
        if key not in f:
            raise DatasetError(src, key, "missing (not a D4RL file?)")
    n = None
    for key in KEYS:
        if key not in f:
            continue
        d = f[key]
        if not isinstance(d, h5py.Dataset):
            raise DatasetError(src, key, "is an HDF5 group, expected an array")
        if d.ndim < 1:
            raise DatasetError(src, key, f"expected one row per step, got shape {d.shape}")
        n = d.shape[0] if n is None else n
        if d.shape[0] != n:
            raise DatasetError(src, key, f"length {d.shape[0]} != observations length {n}")
        check_declared(src, key, d.shape, d.dtype)
    return {key: read_array(src, key, f[key]) for key in KEYS if key in f}, n


def _successors_from_next_rows(
    src: str,
    metadata: DatasetMetadata,
    obs: np.ndarray,
    actions: np.ndarray,
    rewards: np.ndarray,
    terminals: np.ndarray,
    timeouts: np.ndarray,
) -> Dataset:
    """Transitions of a file without ``next_observations``: a row's successor is the next row;
    timeout rows and the last row (no successor in the file) are dropped."""
    n = len(terminals)
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


def write_d4rl(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` as a D4RL hdf5 file (atomically: a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp")  # one per writer
    with h5py.File(tmp, "w") as f:
        kw = {"compression": "gzip"}
        f.create_dataset("observations", data=ds.observations, **kw)
        f.create_dataset("next_observations", data=ds.next_observations, **kw)
        f.create_dataset("actions", data=ds.actions, **kw)
        f.create_dataset("rewards", data=ds.rewards, **kw)
        f.create_dataset("terminals", data=ds.terminated, **kw)
        # D4RL's convention: a step that terminates is never also a timeout (an episode that
        # fails on its last allowed step is terminal). d3rlpy's MDPDataset refuses files with
        # both set; the time limit is not needed to bootstrap a terminal step.
        f.create_dataset("timeouts", data=ds.truncated & ~ds.terminated, **kw)
        f.attrs[META_ATTR] = json.dumps(ds.metadata.to_json())
    os.replace(tmp, path)
    return path
