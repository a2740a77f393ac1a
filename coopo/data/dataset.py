"""The in-memory dataset (numpy), its metadata, and validation.

Every reader returns a :class:`Dataset` in the one transition vocabulary
(``observations, actions, rewards, next_observations, terminated, truncated``) and every
problem is a :class:`DatasetError` that names the source, the field and what is wrong.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

FIELDS = ("observations", "actions", "rewards", "next_observations", "terminated", "truncated")


class DatasetError(ValueError):
    """A dataset that cannot be used, with the file, the field and the problem."""

    def __init__(self, source: str, fld: str | None, problem: str) -> None:
        where = f"{source}: field '{fld}'" if fld else str(source)
        super().__init__(f"{where}: {problem}")
        self.source, self.field, self.problem = source, fld, problem


@dataclass(frozen=True)
class DatasetMetadata:
    """Where a dataset comes from and how to score it."""

    env_id: str = ""
    """Gymnasium id of the env the data was collected in ('' if unknown, e.g. raw D4RL)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    ref_min_score: float | None = None
    """Return of a random policy (D4RL REF_MIN_SCORE / Minari ref_min_score)."""
    ref_max_score: float | None = None
    """Return of an expert policy (D4RL REF_MAX_SCORE / Minari ref_max_score)."""
    dataset_id: str = ""
    source: str = ""
    """Where it was read from or how it was built."""
    action_low: tuple[float, ...] | None = None
    action_high: tuple[float, ...] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    """Free-form provenance: recipe, seed, policy hash, coopo version, ..."""

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DatasetMetadata:
        known = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        for k in ("action_low", "action_high"):
            if kw.get(k) is not None:
                kw[k] = tuple(float(x) for x in kw[k])
        return cls(**kw)


@dataclass(frozen=True)
class Dataset:
    observations: np.ndarray  # (N, obs_dim) float32
    actions: np.ndarray  # (N, act_dim) float32, env units
    rewards: np.ndarray  # (N,) float32
    next_observations: np.ndarray  # (N, obs_dim) float32
    terminated: np.ndarray  # (N,) bool
    truncated: np.ndarray  # (N,) bool
    metadata: DatasetMetadata = field(default_factory=DatasetMetadata)

    @property
    def size(self) -> int:
        return int(self.rewards.shape[0])

    @property
    def obs_dim(self) -> int:
        return int(self.observations.shape[1])

    @property
    def act_dim(self) -> int:
        return int(self.actions.shape[1])

    def episode_slices(self) -> list[slice]:
        """Contiguous episodes; an episode ends at a terminated or truncated step."""
        ends = np.flatnonzero(self.terminated | self.truncated)
        starts = np.concatenate([[0], ends[:-1] + 1])
        return [slice(int(s), int(e) + 1) for s, e in zip(starts, ends, strict=True)]

    def episode_returns(self) -> np.ndarray:
        ends = np.flatnonzero(self.terminated | self.truncated)
        csum = np.concatenate([[0.0], np.cumsum(self.rewards, dtype=np.float64)])
        starts = np.concatenate([[0], ends[:-1] + 1])
        return csum[ends + 1] - csum[starts]

    def content_hash(self) -> str:
        h = hashlib.sha256()
        for name in FIELDS:
            h.update(np.ascontiguousarray(getattr(self, name)).tobytes())
        return h.hexdigest()[:16]

    def with_metadata(self, **changes: Any) -> Dataset:
        return dataclasses.replace(self, metadata=dataclasses.replace(self.metadata, **changes))


def check_reference_scores(source: str, prefix: str, ref_min: Any, ref_max: Any) -> None:
    """Reference scores as read from metadata: each absent (None) or a finite number, and
    ``ref_max_score > ref_min_score`` when both are given (normalised scores divide by the
    difference). ``prefix`` leads the field names (``coopo_metadata/`` in a D4RL file)."""
    for name, value in (("ref_min_score", ref_min), ("ref_max_score", ref_max)):
        if value is None:
            continue
        number = isinstance(value, int | float | np.integer | np.floating)
        if isinstance(value, bool | np.bool_) or not number or not np.isfinite(value):
            raise DatasetError(
                source, prefix + name, f"must be a finite number or absent, got {value!r}"
            )
    if ref_min is not None and ref_max is not None and not float(ref_max) > float(ref_min):
        raise DatasetError(
            source,
            prefix + "ref_max_score",
            f"must be greater than ref_min_score ({float(ref_min)!r}), got {float(ref_max)!r}",
        )


def saved_metadata(source: str, fld: str, text: Any) -> DatasetMetadata:
    """coopo's own metadata record as a D4RL or npz file keeps it, a JSON object (``text``:
    None where the file has none), as the :class:`DatasetMetadata` of ``source``; a problem is
    a :class:`DatasetError` naming ``fld``, where the record is kept."""
    try:
        saved = json.loads(text) if text is not None else {}
        if not isinstance(saved, dict):
            raise ValueError(f"expected a JSON object, got {type(saved).__name__}")
        check_reference_scores(
            source, f"{fld}/", saved.get("ref_min_score"), saved.get("ref_max_score")
        )
        return DatasetMetadata.from_json({**saved, "source": source})
    except (ValueError, TypeError) as e:
        raise DatasetError(source, fld, f"unreadable metadata ({e})") from e


def flags(source: str, fld: str, a: Any) -> np.ndarray:
    """``terminated``/``truncated``/``terminals``/``timeouts`` as booleans; any value other than
    0/1 (a 7, a NaN, a string) is refused rather than read as "true"."""
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return a
    if a.dtype.kind not in "iuf":
        raise DatasetError(source, fld, f"expected booleans (0/1), got dtype {a.dtype}")
    bad = ~((a == 0) | (a == 1))
    if bad.any():
        row = int(np.argwhere(bad)[0][0]) if a.ndim else 0
        value = a.reshape(-1)[int(np.flatnonzero(bad.reshape(-1))[0])]
        raise DatasetError(
            source,
            fld,
            f"expected booleans (0/1), found {value!r} ({int(bad.sum())} such values, first at row {row})",
        )
    return a.astype(bool)


def memory_bytes() -> int:
    """This machine's physical memory: no dataset larger than it can be loaded."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 1 << 62


def check_declared(source: str, fld: str, shape: tuple[int, ...], dtype: Any) -> None:
    """Refuse an array whose declared size cannot be loaded (a corrupt or hostile header)
    before reading it, instead of failing to allocate it."""
    nbytes = int(np.prod(shape, dtype=object)) * np.dtype(dtype).itemsize
    if nbytes > memory_bytes():
        raise DatasetError(
            source,
            fld,
            f"declares shape {tuple(shape)} {np.dtype(dtype)} ({nbytes / 2**30:.1f} GiB), more than "
            f"this machine's memory ({memory_bytes() / 2**30:.1f} GiB): a corrupt header?",
        )


def make_dataset(source: str, metadata: DatasetMetadata, **arrays: Any) -> Dataset:
    """Validate raw arrays and convert them to the canonical dtypes.

    Checks presence, shapes, dtypes, finiteness and the metadata's reference scores, and
    raises :class:`DatasetError` naming the field. Integer observations or actions (data
    written with the wrong dtype, or a discretised space) are cast to float32 with a one-line
    warning on stderr naming the file and the field, not silently: they load, as they always
    have, but the user learns that the data were not what a continuous-control env gives.
    Rewards may be integers without a warning. A dataset whose last step ends no episode gets
    ``truncated`` set there: the end of the data truncates the last episode.
    """
    check_reference_scores(source, "", metadata.ref_min_score, metadata.ref_max_score)
    missing = [f for f in FIELDS if arrays.get(f) is None]
    if missing:
        raise DatasetError(source, missing[0], "missing")
    raw = {f: np.asarray(arrays[f]) for f in FIELDS}
    n = raw["observations"].shape[0] if raw["observations"].ndim >= 1 else -1
    if n <= 0:
        raise DatasetError(
            source,
            "observations",
            f"needs at least one transition, shape {raw['observations'].shape}",
        )
    if raw["rewards"].ndim == 2 and raw["rewards"].shape[1] == 1:
        raw["rewards"] = raw["rewards"][:, 0]
    for f in ("rewards", "terminated", "truncated"):
        if raw[f].shape != (n,):
            raise DatasetError(source, f, f"expected shape ({n},), got {raw[f].shape}")
    for f in ("observations", "next_observations", "actions"):
        if raw[f].ndim != 2 or raw[f].shape[0] != n:
            raise DatasetError(source, f, f"expected shape ({n}, dim), got {raw[f].shape}")
    if raw["observations"].shape != raw["next_observations"].shape:
        raise DatasetError(
            source,
            "next_observations",
            f"shape {raw['next_observations'].shape} != observations {raw['observations'].shape}",
        )
    out: dict[str, np.ndarray] = {}
    for f in ("observations", "actions", "rewards", "next_observations"):
        a = raw[f]
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise DatasetError(source, f, f"expected a numeric dtype, got {a.dtype}")
        if f != "rewards" and not np.issubdtype(a.dtype, np.floating):
            print(
                f"warning: {source}: field '{f}' has integer dtype {a.dtype}; cast to float32 "
                "(continuous values were expected)",
                file=sys.stderr,
            )
        a = a.astype(np.float32)
        bad = ~np.isfinite(a)
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DatasetError(
                source, f, f"{int(bad.sum())} non-finite values (NaN/inf), first at row {row}"
            )
        out[f] = a
    for f in ("terminated", "truncated"):
        out[f] = flags(source, f, raw[f]).copy()
    if not (out["terminated"][-1] or out["truncated"][-1]):
        out["truncated"][-1] = True
    return Dataset(metadata=metadata, **out)


def validate_against_env(
    ds: Dataset, obs_shape: tuple[int, ...], act_low: np.ndarray, act_high: np.ndarray, env_id: str
) -> None:
    """Check observation/action sizes and action bounds against an env's spaces."""
    src = ds.metadata.source or ds.metadata.dataset_id or "dataset"
    if len(obs_shape) != 1:
        raise DatasetError(
            src, "observations", f"env {env_id} has non-flat observations {obs_shape}"
        )
    if ds.obs_dim != obs_shape[0]:
        raise DatasetError(
            src,
            "observations",
            f"dimension {ds.obs_dim} does not match {env_id}'s observation space ({obs_shape[0]})",
        )
    if ds.act_dim != act_low.shape[0]:
        raise DatasetError(
            src,
            "actions",
            f"dimension {ds.act_dim} does not match {env_id}'s action space ({act_low.shape[0]})",
        )
    tol = 1e-4 * np.maximum(act_high - act_low, 1.0)
    below = ds.actions < act_low - tol
    above = ds.actions > act_high + tol
    if below.any() or above.any():
        row = int(np.argwhere(below | above)[0][0])
        raise DatasetError(
            src,
            "actions",
            f"{int(below.sum() + above.sum())} values outside {env_id}'s action bounds "
            f"[{act_low.min():g}, {act_high.max():g}], first at row {row}: {ds.actions[row].tolist()}",
        )


def concatenate(parts: list[Dataset], metadata: DatasetMetadata) -> Dataset:
    arrays = {f: np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS}
    return Dataset(metadata=metadata, **arrays)


def discounted_returns_to_go(ds: Dataset, discount: float, reward_scale: float = 1.0) -> np.ndarray:
    """sum_{k>=0} discount^k r_{t+k} to the end of each row's episode (no bootstrap past it).

    This is Cal-QL's Monte-Carlo lower bound for the value of the behaviour policy.
    """
    out = np.empty(ds.size, np.float64)
    rewards = ds.rewards.astype(np.float64) * reward_scale
    for sl in ds.episode_slices():
        acc = 0.0
        for t in range(sl.stop - 1, sl.start - 1, -1):
            acc = rewards[t] + discount * acc
            out[t] = acc
    return out.astype(np.float32)
