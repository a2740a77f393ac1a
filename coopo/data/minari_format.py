"""Minari dataset directories (HDF5 backend, format of minari 0.5): read and write.

Layout: ``<root>/<namespace>/<name>-vN/data/{metadata.json, main_data.hdf5}``; the hdf5 file
holds one group ``episode_i`` per episode with T+1 ``observations`` (the reset observation,
then every next observation), T ``actions``, ``rewards``, ``terminations``, ``truncations``.
Ids resolve under ``$MINARI_DATASETS_PATH``, else ``~/.minari/datasets``.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from coopo import extras
from coopo.data.dataset import (
    Dataset,
    DatasetError,
    DatasetMetadata,
    check_declared,
    check_reference_scores,
    flags,
    make_dataset,
)
from coopo.data.hdf5 import open_hdf5, read_array
from coopo.paths import replace_dir

MINARI_VERSION = "0.5.4"  # the storage format version we write (read by minari 0.5.x)


def minari_root() -> Path:
    env = os.environ.get("MINARI_DATASETS_PATH")
    return Path(env) if env else Path.home() / ".minari" / "datasets"


def resolve_minari(path_or_id: str) -> Path | None:
    """The dataset directory for a path or a Minari id (under the Minari root, then coopo's own
    data root in its cache directory), or None."""
    from coopo.paths import coopo_data_root

    p = Path(path_or_id).expanduser()
    for cand in (p, minari_root() / path_or_id, coopo_data_root() / path_or_id):
        # main_data.hdf5 without metadata.json is a damaged dataset: found, so that reading
        # it names the missing file (not "not found ... minari download")
        if any((cand / "data" / f).is_file() for f in ("metadata.json", "main_data.hdf5")):
            return cand
    return None


def _box_json(shape: int, low: Any, high: Any) -> str:
    low = np.broadcast_to(np.asarray(low, np.float64), (shape,))
    high = np.broadcast_to(np.asarray(high, np.float64), (shape,))
    return json.dumps(
        {
            "type": "Box",
            "dtype": "float32",
            "shape": [shape],
            "low": low.tolist(),
            "high": high.tolist(),
        }
    )


def read_minari(directory: str | os.PathLike[str]) -> Dataset:
    # Over 60 lines: the Minari layout field by field, each with its own validation error.
    d = Path(directory)
    meta_path, data_path = d / "data" / "metadata.json", d / "data" / "main_data.hdf5"
    if not meta_path.is_file():
        raise DatasetError(
            str(meta_path), None, "missing: a Minari dataset needs its metadata.json"
        )
    try:
        meta = json.loads(meta_path.read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"expected a JSON object, got {type(meta).__name__}")
    except (OSError, ValueError) as e:
        raise DatasetError(str(meta_path), None, f"unreadable Minari metadata ({e})") from e
    fmt = meta.get("data_format", "hdf5")
    if fmt != "hdf5":  # another backend (arrow): through the minari package
        if not extras.available("minari"):
            raise DatasetError(
                str(meta_path),
                "data_format",
                f"{fmt!r} datasets are read through the minari package: pip install 'coopo[minari]'",
            )
        return _assemble(str(d / "data"), meta, d, _package_episodes(d))
    src = str(data_path)
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "no", "a", "r", "te", "tr")}
    with open_hdf5(src, data_path) as f:
        try:
            names = [k for k in f if k.startswith("episode_")]
            names = sorted(names, key=lambda k: int(k.split("_")[1]))
        except (ValueError, IndexError) as e:
            raise DatasetError(src, None, f"episode groups are not named episode_<i> ({e})") from e
        if not names:
            raise DatasetError(src, None, "no episode_i groups")
        for name in names:
            for k, v in _read_episode(src, f, name).items():
                if parts[k] and v.shape[1:] != parts[k][0].shape[1:]:
                    field = {"o": "observations", "a": "actions", "r": "rewards"}.get(k, k)
                    raise DatasetError(
                        src,
                        f"{name}/{field}",
                        f"row shape {v.shape[1:]} differs from {names[0]}'s {parts[k][0].shape[1:]}",
                    )
                parts[k].append(v)
    metadata = _minari_metadata(meta, d, meta_path)
    return _concatenated(src, metadata, parts)


def _read_episode(src: str, f: h5py.File, name: str) -> dict[str, np.ndarray]:
    """One ``episode_i`` group, its shapes checked before its data are read."""
    g = f[name]
    if not isinstance(g, h5py.Group):
        raise DatasetError(src, name, "expected an episode group")
    d: dict[str, h5py.Dataset] = {}
    for key in ("observations", "actions", "rewards", "terminations", "truncations"):
        if key not in g:
            raise DatasetError(src, f"{name}/{key}", "missing")
        if not isinstance(g[key], h5py.Dataset) or g[key].ndim < 1:
            raise DatasetError(src, f"{name}/{key}", "expected an array with one row per step")
        d[key] = g[key]
    t = d["actions"].shape[0]
    if d["observations"].ndim != 2:
        raise DatasetError(src, f"{name}/observations", "only flat Box observations are supported")
    if d["observations"].shape[0] != t + 1:
        raise DatasetError(
            src,
            f"{name}/observations",
            f"expected {t + 1} rows (T+1), got {d['observations'].shape[0]}",
        )
    for key in ("rewards", "terminations", "truncations"):
        if d[key].shape[0] != t:
            raise DatasetError(src, f"{name}/{key}", f"length {d[key].shape[0]} != {t} actions")
        if d[key].ndim != 1:
            raise DatasetError(
                src, f"{name}/{key}", f"expected one value per step, shape {d[key].shape}"
            )
    raw = {}
    for key, ds in d.items():
        check_declared(src, f"{name}/{key}", ds.shape, ds.dtype)
        raw[key] = read_array(src, f"{name}/{key}", ds)
    te = flags(src, f"{name}/terminations", raw["terminations"])
    tr = flags(src, f"{name}/truncations", raw["truncations"])
    if t and not (te[-1] or tr[-1]):
        tr = tr.copy()
        tr[-1] = True  # an episode group is a whole episode: its last step ends it
    obs = raw["observations"]
    return {
        "o": obs[:-1],
        "no": obs[1:],
        "a": raw["actions"],
        "r": raw["rewards"],
        "te": te,
        "tr": tr,
    }


def read_with_minari(directory: str | os.PathLike[str]) -> Dataset:
    """Read a Minari dataset directory through the ``minari`` package, whatever its backend."""
    extras.require("minari", "reading a Minari dataset through the minari package")
    d = Path(directory)
    meta = json.loads((d / "data" / "metadata.json").read_text())
    return _assemble(str(d / "data"), meta, d, _package_episodes(d))


Episode = tuple[str, Any, Any, Any, Any, Any]  # name, observations (T+1), actions, rewards, te, tr


def _package_episodes(d: Path) -> Iterator[Episode]:
    from minari import MinariDataset

    try:
        dataset = MinariDataset(d / "data")
    except Exception as e:  # the package's own reason (backend missing, bad metadata, ...)
        raise DatasetError(str(d / "data"), None, f"minari cannot open it ({e})") from e
    for ep in dataset.iterate_episodes():
        yield (
            f"episode_{ep.id}",
            ep.observations,
            ep.actions,
            ep.rewards,
            ep.terminations,
            ep.truncations,
        )


def _assemble(src: str, meta: dict[str, Any], d: Path, episodes: Iterable[Episode]) -> Dataset:
    # Over 60 lines: the Minari layout field by field, each with its own validation error.
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("o", "no", "a", "r", "te", "tr")}
    for name, obs, actions, rewards, te, tr in episodes:
        if not isinstance(obs, np.ndarray) or obs.ndim != 2:
            raise DatasetError(
                src, f"{name}/observations", "only flat Box observations are supported"
            )
        t = len(actions)
        if obs.shape[0] != t + 1:
            raise DatasetError(
                src, f"{name}/observations", f"expected {t + 1} rows (T+1), got {obs.shape[0]}"
            )
        parts["o"].append(obs[:-1])
        parts["no"].append(obs[1:])
        parts["a"].append(np.asarray(actions))
        parts["r"].append(np.asarray(rewards))
        te = flags(src, f"{name}/terminations", te)
        tr = flags(src, f"{name}/truncations", tr)
        if t and not (te[-1] or tr[-1]):
            tr = tr.copy()
            tr[-1] = True  # an episode group is a whole episode: its last step ends it
        parts["te"].append(te)
        parts["tr"].append(tr)
    if not parts["o"]:
        raise DatasetError(src, None, "no episodes")
    metadata = _minari_metadata(meta, d, d / "data" / "metadata.json")
    return _concatenated(src, metadata, parts)


def write_minari(ds: Dataset, dataset_id: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Write ``ds`` as Minari dataset ``dataset_id`` under ``root`` (default: the Minari root).

    The directory is written in full next to its destination and renamed into place, so an
    existing dataset is never left half-overwritten.
    """
    root_path = Path(root) if root is not None else minari_root()
    if not dataset_id or dataset_id.startswith("/") or ".." in dataset_id.split("/"):
        raise ValueError(f"invalid dataset id {dataset_id!r}")
    dest = root_path / dataset_id
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        (tmp / "data").mkdir(parents=True)
    except OSError as e:
        raise DatasetError(str(root_path), None, f"data root is not writable ({e})") from e
    episodes = _write_episodes(ds, tmp / "data" / "main_data.hdf5")
    meta = _metadata_json(ds, dataset_id, episodes)
    meta["dataset_size"] = _dataset_size(tmp / "data", meta)
    (tmp / "data" / "metadata.json").write_text(json.dumps(meta, indent=1, allow_nan=False))
    ns = dataset_id.split("/")[0]
    ns_meta = root_path / ns / "namespace_metadata.json"
    if "/" in dataset_id and not ns_meta.exists():
        ns_meta.write_text("{}")
    replace_dir(tmp, dest)
    return dest


def _write_episodes(ds: Dataset, path: Path) -> int:
    """Minari's ``main_data.hdf5``: one group per episode; returns the number of episodes."""
    episodes = ds.episode_slices()
    with h5py.File(path, "w") as f:
        for i, sl in enumerate(episodes):
            g = f.create_group(f"episode_{i}")
            g.attrs["id"] = i
            g.attrs["total_steps"] = sl.stop - sl.start
            obs = np.concatenate([ds.observations[sl], ds.next_observations[sl][-1:]])
            g.create_dataset("observations", data=obs)
            g.create_dataset("actions", data=ds.actions[sl])
            g.create_dataset("rewards", data=ds.rewards[sl].astype(np.float64))
            g.create_dataset("terminations", data=ds.terminated[sl])
            g.create_dataset("truncations", data=ds.truncated[sl])
    return len(episodes)


def _metadata_json(ds: Dataset, dataset_id: str, episodes: int) -> dict[str, Any]:
    """Minari's ``metadata.json`` fields (``dataset_size`` is filled in once the files exist)."""
    m = ds.metadata
    act_low = m.action_low if m.action_low is not None else -1.0
    act_high = m.action_high if m.action_high is not None else 1.0
    meta: dict[str, Any] = {
        "dataset_id": dataset_id,
        "minari_version": MINARI_VERSION,
        "data_format": "hdf5",
        "total_episodes": episodes,
        "total_steps": ds.size,
        "observation_space": _box_json(ds.obs_dim, -np.inf, np.inf),
        "action_space": _box_json(ds.act_dim, act_low, act_high),
        "algorithm_name": str(m.extra.get("recipe", "coopo")),
        "author": ["coopo"],
        "author_email": [],
        "code_permalink": "",
        "description": str(m.extra.get("description", "Dataset written by coopo.")),
        "dataset_size": 0,
        "coopo": {**m.extra, "source": m.source},
    }
    if m.env_id:
        meta["env_spec"] = json.dumps(
            {
                "id": m.env_id,
                "entry_point": None,
                "reward_threshold": None,
                "nondeterministic": False,
                "max_episode_steps": None,
                "order_enforce": True,
                "disable_env_checker": False,
                "kwargs": m.env_kwargs,
                "additional_wrappers": [],
                "vector_entry_point": None,
            }
        )
        _fill_env_spec(meta, m.env_id, m.env_kwargs)
    if m.ref_min_score is not None:
        meta["ref_min_score"] = float(m.ref_min_score)
    if m.ref_max_score is not None:
        meta["ref_max_score"] = float(m.ref_max_score)
    return meta


def _fill_env_spec(meta: dict[str, Any], env_id: str, env_kwargs: dict[str, Any]) -> None:
    """Gymnasium's own spec of a registered env id (entry point, max episode steps, the
    dataset's kwargs over the registered ones), so ``minari``'s ``recover_environment`` can
    make the env. An unregistered id keeps the minimal spec written by the caller; any other
    failure is raised, not hidden."""
    import dataclasses

    import gymnasium as gym

    try:
        spec = gym.spec(env_id)
    except gym.error.Error:  # not registered here (NameNotFound, VersionNotFound, ...)
        return
    # dataclasses.replace re-derives the fields that are not init arguments (namespace, name,
    # version); rebuilding with spec.__class__(**spec.__dict__) passes them and fails.
    spec = dataclasses.replace(spec, kwargs={**spec.kwargs, **env_kwargs})
    meta["env_spec"] = spec.to_json()


def _dataset_size(data_dir: Path, meta: dict[str, Any]) -> float:
    """``dataset_size`` as minari computes it: the files under ``data/`` in MB, 1 decimal
    (metadata.json counted at its size with this field's placeholder)."""
    total = sum(p.stat().st_size for p in data_dir.glob("**/*") if p.is_file())
    total += len(json.dumps(meta, indent=1).encode())
    return float(np.round(total / 1e6, 1))


def _concatenated(
    src: str, metadata: DatasetMetadata, parts: dict[str, list[np.ndarray]]
) -> Dataset:
    """The episodes' fields, read one list per field, as one validated dataset."""
    return make_dataset(
        src,
        metadata,
        observations=np.concatenate(parts["o"]),
        actions=np.concatenate(parts["a"]),
        rewards=np.concatenate(parts["r"]),
        next_observations=np.concatenate(parts["no"]),
        terminated=np.concatenate(parts["te"]),
        truncated=np.concatenate(parts["tr"]),
    )


def _minari_metadata(meta: dict[str, Any], d: Path, meta_path: Path) -> DatasetMetadata:
    """A Minari ``metadata.json``'s env spec, reference scores, action bounds and coopo's
    own record, as :class:`DatasetMetadata` of the dataset directory ``d``."""
    check_reference_scores(str(meta_path), "", meta.get("ref_min_score"), meta.get("ref_max_score"))
    try:
        env_spec = meta.get("env_spec")
        env_id, env_kwargs = "", {}  # type: tuple[str, dict[str, Any]]
        if isinstance(env_spec, str):
            spec = json.loads(env_spec)
            env_id, env_kwargs = spec.get("id", ""), spec.get("kwargs", {}) or {}
        extra = meta.get("coopo", {}) if isinstance(meta.get("coopo"), dict) else {}
        act_space = (
            json.loads(meta["action_space"]) if isinstance(meta.get("action_space"), str) else {}
        )
        return DatasetMetadata.from_json(
            {
                "env_id": env_id,
                "env_kwargs": dict(env_kwargs),
                "ref_min_score": meta.get("ref_min_score"),
                "ref_max_score": meta.get("ref_max_score"),
                "dataset_id": meta.get("dataset_id", ""),
                "source": str(d),
                "action_low": act_space.get("low"),
                "action_high": act_space.get("high"),
                "extra": extra,
            }
        )
    except (ValueError, TypeError, AttributeError) as e:
        raise DatasetError(str(meta_path), None, f"unreadable Minari metadata ({e})") from e
