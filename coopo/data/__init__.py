"""Datasets: one vocabulary, readers and writers for D4RL hdf5, Minari and npz, a builder.

``load(path_or_id)`` accepts a D4RL ``.hdf5``/``.h5`` file, an ``.npz`` file, a Minari dataset
directory, or a Minari id resolved under ``$MINARI_DATASETS_PATH`` (else ``~/.minari/datasets``).
The D4RL-style recipes and behaviour-policy training sit above the runner, in
:mod:`coopo.recipes`.
"""

from __future__ import annotations

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
