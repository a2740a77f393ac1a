"""Behaviour policies for dataset building: uniform random, or a plain-MLP policy file.

Policy file format (``.npz``): ``layer{i}/kernel`` (in, out) and ``layer{i}/bias`` (out,)
float32, applied in order with the hidden activation between layers, and ``meta``, a JSON
string with ``obs_dim``, ``act_dim``, ``hidden_activation`` (relu|tanh) and ``output``
(tanh|clip). Outputs are in [-1, 1] and rescaled to the env's action box by the builder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from coopo.data.dataset import DatasetError


@dataclass(frozen=True)
class MLPPolicy:
    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    hidden_activation: str
    output: str
    meta: dict[str, Any]
    sha256: str
    path: str

    @property
    def obs_dim(self) -> int:
        return int(self.kernels[0].shape[0])

    @property
    def act_dim(self) -> int:
        return int(self.kernels[-1].shape[1])

    def pre_activation(self, obs: np.ndarray) -> np.ndarray:
        """The last layer's output before the squash: noise is added here (D4RL recipes)."""
        x = np.asarray(obs, np.float32)
        act = np.tanh if self.hidden_activation == "tanh" else (lambda v: np.maximum(v, 0.0))
        for i, (k, b) in enumerate(zip(self.kernels, self.biases, strict=True)):
            x = x @ k + b
            if i < len(self.kernels) - 1:
                x = act(x)
        return x

    def squash(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x) if self.output == "tanh" else np.clip(x, -1.0, 1.0)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        return self.squash(self.pre_activation(obs))


def load_policy_file(path: str | os.PathLike[str]) -> MLPPolicy:
    src = str(path)
    if not Path(path).is_file():
        raise DatasetError(src, None, "policy file not found")
    raw = Path(path).read_bytes()
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise DatasetError(src, None, f"not a readable policy .npz ({e})") from e
    if "meta" not in arrays:
        raise DatasetError(src, "meta", "missing (not a coopo/shared policy file?)")
    meta = json.loads(str(arrays["meta"]))
    kernels, biases = [], []
    i = 0
    while f"layer{i}/kernel" in arrays:
        if f"layer{i}/bias" not in arrays:
            raise DatasetError(src, f"layer{i}/bias", "missing")
        kernels.append(arrays[f"layer{i}/kernel"].astype(np.float32))
        biases.append(arrays[f"layer{i}/bias"].astype(np.float32))
        if i and kernels[i].shape[0] != kernels[i - 1].shape[1]:
            raise DatasetError(
                src, f"layer{i}/kernel", f"shape {kernels[i].shape} does not follow layer{i - 1}"
            )
        i += 1
    if not kernels:
        raise DatasetError(src, "layer0/kernel", "missing")
    hidden = meta.get("hidden_activation", "relu")
    output = meta.get("output", "tanh")
    if hidden not in ("relu", "tanh"):
        raise DatasetError(src, "meta.hidden_activation", f"unknown activation {hidden!r}")
    if output not in ("tanh", "clip"):
        raise DatasetError(src, "meta.output", f"unknown output {output!r}")
    return MLPPolicy(
        tuple(kernels),
        tuple(biases),
        hidden,
        output,
        meta,
        hashlib.sha256(raw).hexdigest()[:16],
        src,
    )
