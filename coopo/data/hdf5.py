"""The HDF5 steps that the D4RL and Minari readers share: open a file, read one array."""

from __future__ import annotations

import os

import h5py
import numpy as np

from coopo.data.dataset import DatasetError


def open_hdf5(src: str, path: str | os.PathLike[str]) -> h5py.File:
    """``path`` opened for reading; a file HDF5 cannot open is a :class:`DatasetError`."""
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as e:
        raise DatasetError(src, None, f"not a readable HDF5 file ({e})") from e


def read_array(src: str, fld: str, d: h5py.Dataset) -> np.ndarray:
    """The whole of ``d`` in memory; a read that fails is a :class:`DatasetError` naming
    ``fld`` (check the declared size first: :func:`coopo.data.dataset.check_declared`)."""
    try:
        return np.asarray(d[()])
    except (OSError, ValueError, TypeError, MemoryError) as e:
        raise DatasetError(src, fld, f"unreadable ({e})") from e
