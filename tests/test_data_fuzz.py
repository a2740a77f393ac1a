"""Property-based tests of the dataset readers (D4RL hdf5, Minari, npz).

A valid file of random size loads with its values intact. A file with one thing wrong (a flag
that is not 0/1, NaN/inf, a field of another shape, length or dtype, a missing or misspelt key,
a truncated file, a header claiming a huge length) is a :class:`DatasetError` that names the
file and, where one field is wrong, that field: never another exception, never accepted.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopo import data
from coopo.data import DatasetError

FAST = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
FORMATS = ("d4rl", "npz", "minari")
# coopo's field names -> the names each format stores them under
NAMES = {
    "d4rl": {"terminated": "terminals", "truncated": "timeouts"},
    "npz": {},
    "minari": {"terminated": "terminations", "truncated": "truncations"},
}
FLOAT_FIELDS = ("observations", "actions", "rewards", "next_observations")
FLAG_FIELDS = ("terminated", "truncated")


@st.composite
def transitions(draw: st.DrawFn) -> dict[str, np.ndarray]:
    n = draw(st.integers(1, 12))
    obs_dim, act_dim = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    flag_dtype = draw(st.sampled_from([np.bool_, np.int8, np.int64, np.float32, np.uint8]))
    obs_dtype = draw(st.sampled_from([np.float32, np.float64, np.int32]))
    term = rng.random(n) < 0.2
    trunc = (rng.random(n) < 0.2) & ~term
    trunc[-1] = not term[-1]  # the data ends an episode (readers add this; keep it explicit)
    return {
        "observations": (rng.normal(size=(n, obs_dim)) * 10).astype(obs_dtype),
        "actions": rng.uniform(-1, 1, (n, act_dim)).astype(np.float32),
        "rewards": rng.normal(size=n),
        "next_observations": (rng.normal(size=(n, obs_dim)) * 10).astype(obs_dtype),
        "terminated": term.astype(flag_dtype),
        "truncated": trunc.astype(flag_dtype),
    }


# ----------------------------------------------------------------------------- raw writers
def write_raw(fmt: str, a: dict[str, np.ndarray], where: Path) -> Path:
    """Write arrays as ``fmt`` without any validation (so broken content gets through)."""
    if fmt == "npz":
        path = where / "ds.npz"
        np.savez(path, **a)
        return path
    if fmt == "d4rl":
        path = where / "ds.hdf5"
        with h5py.File(path, "w") as f:
            for k, v in a.items():
                f.create_dataset(NAMES["d4rl"].get(k, k), data=v)
        return path
    root = where / "ds-v0"
    (root / "data").mkdir(parents=True)
    (root / "data" / "metadata.json").write_text(json.dumps({"data_format": "hdf5"}))
    n = len(a["actions"])
    ends = sorted({*np.flatnonzero(np.asarray(a["terminated"]) == 1), n - 1})
    with h5py.File(root / "data" / "main_data.hdf5", "w") as f:
        start = 0
        for i, end in enumerate(ends):
            sl = slice(start, end + 1)
            g = f.create_group(f"episode_{i}")
            obs = np.concatenate([a["observations"][sl], a["next_observations"][sl][-1:]])
            g.create_dataset("observations", data=obs)
            for k in ("actions", "rewards", "terminated", "truncated"):
                g.create_dataset(NAMES["minari"].get(k, k), data=a[k][sl])
            start = end + 1
    return root


def expect_error(fmt: str, path: Path, field: str | None) -> str:
    with pytest.raises(DatasetError) as info:
        data.load(path)
    msg = str(info.value)
    assert str(path) in msg, msg
    if field is not None:
        stored = NAMES[fmt].get(field, field)
        assert f"'{stored}'" in msg or f"/{stored}'" in msg, (field, msg)
    return msg


def tmp() -> Path:
    return Path(tempfile.mkdtemp(prefix="coopo-fuzz-"))


# ----------------------------------------------------------------------------- valid files
@FAST
@given(fmt=st.sampled_from(FORMATS), a=transitions())
def test_valid_files_load_with_their_values(fmt: str, a: dict[str, np.ndarray]):
    if fmt == "minari":  # episodes are contiguous: each next observation is the next row's
        a = {
            **a,
            "next_observations": np.concatenate([a["observations"][1:], a["observations"][-1:]]),
        }
        ends = np.flatnonzero(np.asarray(a["terminated"]) == 1)
        a["next_observations"][ends] = a["observations"][ends] + 1
    ds = data.load(write_raw(fmt, a, tmp()))
    assert ds.size == len(a["rewards"])
    for f in FLOAT_FIELDS:
        np.testing.assert_array_equal(getattr(ds, f), a[f].astype(np.float32), err_msg=f)
    np.testing.assert_array_equal(ds.terminated, a["terminated"].astype(bool))


# ----------------------------------------------------------------------------- one thing wrong
@FAST
@given(
    fmt=st.sampled_from(FORMATS),
    a=transitions(),
    field=st.sampled_from(FLAG_FIELDS),
    bad=st.sampled_from([7, 2, -1, 0.5, np.nan, np.inf]),
    row=st.integers(0, 11),
)
def test_flags_other_than_0_1_are_refused(fmt, a, field, bad, row):
    """The issue's example: a D4RL file whose terminals hold 7 is not 'all terminal'."""
    flag = a[field].astype(np.float64)
    flag[row % len(flag)] = bad
    a[field] = flag
    expect_error(fmt, write_raw(fmt, a, tmp()), field)


@FAST
@given(
    fmt=st.sampled_from(FORMATS),
    a=transitions(),
    field=st.sampled_from(("observations", "actions", "rewards")),
    bad=st.sampled_from([np.nan, np.inf, -np.inf, 1e39]),
    row=st.integers(0, 11),
)
def test_nan_and_inf_are_refused(fmt, a, field, bad, row):
    v = a[field].astype(np.float64)
    v.reshape(len(v), -1)[row % len(v), 0] = bad  # 1e39 overflows float32 to inf
    a[field] = v
    expect_error(fmt, write_raw(fmt, a, tmp()), field)


@FAST
@given(
    fmt=st.sampled_from(("d4rl", "npz")),
    a=transitions(),
    field=st.sampled_from(("actions", "rewards", *FLAG_FIELDS)),
    extra=st.integers(1, 5),
    trailing=st.lists(st.integers(2, 3), max_size=2),
)
def test_a_field_of_another_length_or_shape_is_refused(fmt, a, field, extra, trailing):
    n = len(a["rewards"])
    shape = (n + extra,) if not trailing else (n, *trailing)
    if field in ("actions",) and trailing and len(trailing) == 1:
        shape = (n, trailing[0], 2)  # (n, k) is a valid action shape
    a[field] = np.zeros(shape, a[field].dtype)
    msg = expect_error(fmt, write_raw(fmt, a, tmp()), None)
    assert "field '" in msg


@FAST
@given(
    a=transitions(),
    key=st.sampled_from(("observations", "actions", "rewards", "terminations", "truncations")),
    extra=st.integers(1, 5),
    trailing=st.booleans(),
)
def test_a_minari_episode_field_of_another_length_or_shape_is_refused(a, key, extra, trailing):
    path = write_raw("minari", a, tmp())
    with h5py.File(path / "data" / "main_data.hdf5", "a") as f:
        g = f["episode_0"]
        shape = (g[key].shape[0] + extra, *g[key].shape[1:])
        if trailing:
            shape = (g[key].shape[0], 2, 2)
        del g[key]
        g.create_dataset(key, data=np.zeros(shape))
    msg = expect_error("minari", path, None)
    assert "field '" in msg


@FAST
@given(
    fmt=st.sampled_from(("d4rl", "npz")),
    a=transitions(),
    field=st.sampled_from(("observations", "actions", "rewards", *FLAG_FIELDS)),
    dtype=st.sampled_from(["complex64", "S3", "bool"]),
)
def test_a_field_of_a_wrong_dtype_is_refused(fmt, a, field, dtype):
    if dtype == "bool" and field in FLAG_FIELDS:
        dtype = "S3"  # booleans are the right dtype for flags
    a[field] = a[field].astype(dtype)
    expect_error(fmt, write_raw(fmt, a, tmp()), field)


@FAST
@given(
    fmt=st.sampled_from(FORMATS),
    a=transitions(),
    field=st.sampled_from(("observations", "actions", "rewards", "terminated")),
    misspell=st.booleans(),
)
def test_a_missing_or_misspelt_key_is_refused(fmt, a, field, misspell):
    if fmt == "npz" and field == "terminated":  # npz falls back to D4RL's name: drop both
        field = "truncated"
    v = a.pop(field)
    if misspell:
        a[field.upper()] = v
    path = write_raw(fmt, a, tmp()) if fmt != "minari" else None
    if fmt == "minari":  # drop the key inside the episode groups
        a[field] = v
        path = write_raw(fmt, a, tmp())
        with h5py.File(path / "data" / "main_data.hdf5", "a") as f:
            key = "observations" if field == "observations" else NAMES["minari"].get(field, field)
            del f["episode_0"][key]
    expect_error(fmt, path, field)


@FAST
@given(fmt=st.sampled_from(FORMATS), a=transitions(), keep=st.floats(0.0, 0.98))
def test_a_truncated_file_is_refused(fmt, a, keep):
    path = write_raw(fmt, a, tmp())
    target = path / "data" / "main_data.hdf5" if fmt == "minari" else path
    os.truncate(target, int(os.path.getsize(target) * keep))
    expect_error(fmt, path, None)


# ----------------------------------------------------------------------------- huge lengths
@pytest.mark.parametrize("fmt", ["d4rl", "minari"])
@pytest.mark.parametrize("everything", [False, True])
def test_hdf5_fields_claiming_huge_lengths_are_refused_before_reading(
    tmp_path: Path, fmt: str, everything: bool
):
    """A field declaring 10^12 rows (no data stored) must not be allocated."""
    huge = 10**12
    if fmt == "d4rl":
        path = tmp_path / "ds.hdf5"
        with h5py.File(path, "w") as f:
            for k in ("observations", "actions", "rewards", "terminals"):
                rows = huge if everything or k == "terminals" else 4
                shape = (rows, 3) if k in ("observations", "actions") else (rows,)
                f.create_dataset(k, shape=shape, dtype="f4", chunks=True)
        msg = expect_error(fmt, path, "terminals" if not everything else None)
    else:
        a = {
            "observations": np.zeros((4, 2)),
            "actions": np.zeros((4, 1)),
            "rewards": np.zeros(4),
            "next_observations": np.zeros((4, 2)),
            "terminated": np.zeros(4),
            "truncated": np.ones(4),
        }
        path = write_raw(fmt, a, tmp_path)
        with h5py.File(path / "data" / "main_data.hdf5", "a") as f:
            g = f["episode_0"]
            for k in ("observations", "actions", "rewards", "terminations", "truncations"):
                if everything or k == "rewards":
                    rows = huge + (k == "observations")
                    shape = (rows, *g[k].shape[1:])
                    del g[k]
                    g.create_dataset(k, shape=shape, dtype="f4", chunks=True)
        msg = expect_error(fmt, path, None)
    assert ("GiB" in msg) == everything or "length" in msg


def test_npz_header_claiming_a_huge_length_is_refused(tmp_path: Path):
    path = tmp_path / "ds.npz"
    np.savez(
        path,
        observations=np.zeros((4, 2)),
        actions=np.zeros((4, 1)),
        rewards=np.zeros(4),
        next_observations=np.zeros((4, 2)),
        terminated=np.zeros(4),
        truncated=np.ones(4),
    )
    for rows, problem in [(10**12, "GiB"), (10**6, "truncated")]:
        with zipfile.ZipFile(path, "a") as z:  # a later member of the same name wins
            header = {"descr": "<f8", "fortran_order": False, "shape": (rows,)}
            body = repr(header).encode()
            body += b" " * (-(10 + len(body) + 1) % 64) + b"\n"
            npy = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(body)) + body + b"\0" * 32
            z.writestr("rewards.npy", npy)
        msg = expect_error("npz", path, "rewards")
        assert problem in msg


# ----------------------------------------------------------------------------- metadata
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)
METADATA_KEYS = (
    "ref_min_score",
    "ref_max_score",
    "env_id",
    "env_kwargs",
    "action_low",
    "action_high",
    "dataset_id",
    "extra",
)
MINARI_KEYS = ("ref_min_score", "ref_max_score", "env_spec", "action_space", "coopo", "dataset_id")


@FAST
@given(
    fmt=st.sampled_from(FORMATS),
    a=transitions(),
    key=st.sampled_from(METADATA_KEYS + MINARI_KEYS),
    value=JSON_VALUES | st.sampled_from([float("inf"), float("nan"), "low", [1.0, 2.0]]),
    whole=st.booleans(),
)
def test_dataset_metadata_of_any_value_loads_or_is_refused_naming_the_file(
    fmt, a, key, value, whole
):
    """A metadata document (or one field of it) of any JSON value: the dataset loads with
    usable reference scores (finite, max > min) or is a DatasetError naming the file."""
    a = {**a, "observations": a["observations"].astype(np.float32)}
    a["next_observations"] = a["next_observations"].astype(np.float32)
    path = write_raw(fmt, a, tmp())
    base = {"ref_min_score": 1.0, "ref_max_score": 10.0, "env_id": "InvertedPendulum-v5"}
    doc = value if whole else {**base, key: value}
    text = json.dumps(doc)
    if fmt == "d4rl":
        with h5py.File(path, "a") as f:
            f.attrs["coopo_metadata"] = text
    elif fmt == "npz":
        with np.load(path) as z:
            arrays = dict(z)
        np.savez(path, **arrays, metadata=np.asarray(text))
    else:
        meta_file = path / "data" / "metadata.json"
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps(value if whole else {**meta, **base, key: value}))
    try:
        ds = data.load(path)
    except DatasetError as e:
        assert str(path) in str(e), str(e)
        return
    lo, hi = ds.metadata.ref_min_score, ds.metadata.ref_max_score
    for v in (lo, hi):
        assert v is None or np.isfinite(float(v))
    if lo is not None and hi is not None:
        assert float(hi) > float(lo)
