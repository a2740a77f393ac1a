"""Read any supported dataset by path or id, write one by suffix."""

from __future__ import annotations

import os
from pathlib import Path

from coopo import extras
from coopo.data.d4rl import read_d4rl, write_d4rl
from coopo.data.dataset import Dataset, DatasetError
from coopo.data.minari_format import minari_root, read_minari, resolve_minari, write_minari
from coopo.data.npz_format import read_npz, write_npz


def load(path_or_id: str | os.PathLike[str]) -> Dataset:
    """Load a dataset from a file, a Minari directory or a Minari id."""
    s = str(path_or_id)
    p = Path(s).expanduser()
    if p.is_file():
        if p.suffix in (".hdf5", ".h5"):
            return read_d4rl(p)
        if p.suffix == ".npz":
            return read_npz(p)
        raise DatasetError(s, None, "unknown file type (expected .hdf5/.h5 D4RL, .npz)")
    d = resolve_minari(s)
    if d is not None:
        return read_minari(d)
    hint = ""
    if "/" in s and not p.suffix and not s.startswith((".", "/", "~")):
        # Looks like a Minari id (mujoco/hopper/medium-v0): it may be a remote dataset.
        hint = f"; if it is a remote Minari dataset, get it with: minari download {s}" + (
            "" if extras.available("minari") else " (pip install 'coopo[minari]')"
        )
    raise DatasetError(
        s,
        None,
        f"not found: no such file, Minari dataset directory, or Minari id under {minari_root()}"
        + hint,
    )


def save(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    """Write ``ds`` in the format its suffix names (.hdf5/.h5 = D4RL, .npz) or as a Minari dir."""
    p = Path(path)
    if p.suffix in (".hdf5", ".h5"):
        return write_d4rl(ds, p)
    if p.suffix == ".npz":
        return write_npz(ds, p)
    return write_minari(ds, p.name, p.parent)
