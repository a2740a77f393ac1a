"""``.npz`` datasets: the six transition arrays plus a JSON ``metadata`` string."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from coopo.data.dataset import FIELDS, Dataset, DatasetError, DatasetMetadata, make_dataset


def read_npz(path: str | os.PathLike[str]) -> Dataset:
    src = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DatasetError(src, None, f"not a readable .npz file ({e})") from e
    if "terminated" not in arrays and "terminals" in arrays:  # D4RL-style key names
        arrays["terminated"] = arrays.pop("terminals")
        arrays.setdefault("truncated", arrays.pop("timeouts", None))
    meta = DatasetMetadata()
    if "metadata" in arrays:
        meta = DatasetMetadata.from_json(json.loads(str(arrays.pop("metadata"))))
    meta = DatasetMetadata.from_json({**meta.to_json(), "source": src})
    return make_dataset(src, meta, **{k: arrays.get(k) for k in FIELDS})


def write_npz(ds: Dataset, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(
        tmp,
        metadata=np.asarray(json.dumps(ds.metadata.to_json())),
        **{f: getattr(ds, f) for f in FIELDS},
    )
    os.replace(tmp, path)
    return path
