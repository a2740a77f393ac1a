"""Datasets: one vocabulary, readers and writers for D4RL hdf5, Minari and npz, a builder.

``load(path_or_id)`` accepts a D4RL ``.hdf5``/``.h5`` file, an ``.npz`` file, a Minari dataset
directory, or a Minari id resolved under ``$MINARI_DATASETS_PATH`` (else ``~/.minari/datasets``).
The D4RL-style recipes and behaviour-policy training sit above the runner, in
:mod:`coopo.recipes`.
"""

from __future__ import annotations

<<<<<<< HEAD
=======
import os
from pathlib import Path

from coopo import extras
>>>>>>> 3b20b36 (Minari: DataCollector datasets (with and without infos) load and train, read the same as through the minari package; other backends read through the package (coopo[minari]); a missing id says: minari download ID)
from coopo.data.builder import build_dataset
from coopo.data.cache import resolve_dataset
from coopo.data.card import dataset_card
from coopo.data.d4rl import read_d4rl, write_d4rl
from coopo.data.dataset import (
    Dataset,
    DatasetError,
    DatasetMetadata,
    make_dataset,
    validate_against_env,
)
from coopo.data.io import load, save
from coopo.data.minari_format import minari_root, read_minari, write_minari
from coopo.data.npz_format import read_npz, write_npz

<<<<<<< HEAD
=======

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


from coopo.data.recipes import QUALITIES, TASKS, build_recipe, parse_recipe  # noqa: E402

>>>>>>> 3b20b36 (Minari: DataCollector datasets (with and without infos) load and train, read the same as through the minari package; other backends read through the package (coopo[minari]); a missing id says: minari download ID)
__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetMetadata",
    "build_dataset",
    "dataset_card",
    "load",
    "make_dataset",
    "minari_root",
    "read_d4rl",
    "read_minari",
    "read_npz",
    "resolve_dataset",
    "save",
    "validate_against_env",
    "write_d4rl",
    "write_minari",
    "write_npz",
]
