"""``.npz`` datasets: the six transition arrays plus a JSON ``metadata`` string."""

from __future__ import annotations

import json
import os
import uuid
import zipfile
import zlib
from pathlib import Path

import numpy as np

from coopo.data.dataset import (
    FIELDS,
    Dataset,
    DatasetError,
    check_declared,
    flags,
    make_dataset,
    saved_metadata,
)


def _declared(src: str, zf: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype from a member's .npy header, checked against the bytes it holds."""
    info = zf.getinfo(member)
    with zf.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        shape, _, dtype = read_header(fp)
        header = fp.tell()
    key = member[: -len(".npy")] if member.endswith(".npy") else member
    check_declared(src, key, shape, dtype)
    need = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if not dtype.hasobject and need > info.file_size - header:
        raise DatasetError(
            src,
            key,
            f"truncated: shape {shape} {dtype} needs {need} bytes, the file holds "
            f"{info.file_size - header}",
        )
    return shape, dtype


def read_npz(path: str | os.PathLike[str]) -> Dataset:
    src = str(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as e:
        raise DatasetError(src, None, f"not a readable .npz file ({e})") from e
    with zf:
        for member in zf.namelist():
            key = member[: -len(".npy")] if member.endswith(".npy") else member
            try:
                _declared(src, zf, member)
                with zf.open(member) as fp:
                    arrays[key] = np.lib.format.read_array(fp, allow_pickle=False)
            except DatasetError:
                raise
            except (
                OSError,
                ValueError,
                EOFError,
                NotImplementedError,
                MemoryError,
                zipfile.BadZipFile,
                zlib.error,
            ) as e:
                raise DatasetError(src, key, f"unreadable ({e})") from e
    if "terminated" not in arrays and "terminals" in arrays:  # D4RL-style key names
        arrays["terminated"] = flags(src, "terminals", arrays.pop("terminals"))
        if "timeouts" in arrays:
            arrays.setdefault("truncated", flags(src, "timeouts", arrays.pop("timeouts")))
    saved = str(arrays.pop("metadata")) if "metadata" in arrays else None
    meta = saved_metadata(src, "metadata", saved)
    return make_dataset(src, meta, **{k: arrays.get(k) for k in FIELDS})


def write_npz(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:12]}.tmp.npz")  # one per writer
    np.savez_compressed(
        tmp,
        metadata=np.asarray(json.dumps(ds.metadata.to_json())),
        **{f: getattr(ds, f) for f in FIELDS},
    )
    os.replace(tmp, path)
    return path
