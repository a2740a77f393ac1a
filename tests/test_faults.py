"""Fault injection: for each fault, the command, the one line it prints, its exit code, and
what is on disk afterwards (nothing lost or changed except as stated).

The messages are checked in stdout and stderr together, and every failure's exit code as
nonzero (1): where coopo prints its errors is not what these tests guard.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import h5py
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coopo import checkpoint as ckpt
from coopo import data
from coopo.api import train
from coopo.cli import main
from coopo.config import PRESETS, config_to_dict
from coopo.resume_point import pack

SMOKE = dataclasses.replace(PRESETS["smoke"], progress=False)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    """A finished smoke run, trained from inside ``base`` with the dataset typed as a path
    relative to it (so every resume below, from the test's working directory, needs the
    recorded absolute path)."""
    base = tmp_path_factory.mktemp("faults")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COOPO_CACHE_DIR", str(base / "cache"))
        mp.setenv("MINARI_DATASETS_PATH", str(base / "minari"))
        ds = data.build_dataset("InvertedPendulum-v5", "random", size=1_000, seed=0)
        data.write_npz(ds, base / "pendulum.npz")
        cwd = os.getcwd()
        os.chdir(base)
        try:
            train(dataclasses.replace(SMOKE, dataset="pendulum.npz", run_dir=str(base / "full")))
        finally:
            os.chdir(cwd)
        yield {"full": base / "full", "dataset": base / "pendulum.npz", "base": base}


def copy_run(runs: dict[str, Path], dest: Path) -> Path:
    shutil.copytree(runs["full"], dest, ignore=shutil.ignore_patterns("lock"))
    return dest


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative name -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """``coopo ARGS`` in this process: (exit code, stdout and stderr together)."""
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out + out.err


def one_error_line(out: str) -> str:
    lines = [line for line in out.strip().splitlines() if line.strip()]
    assert "Traceback" not in out and len(lines) == 1, out
    return lines[0]


def same_outcome(a: Path, b: Path) -> None:
    for f in ("results.json", "metrics.jsonl"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


# ----------------------------------------------------------------------------- 1. no checkpoint
def test_a_run_that_died_before_its_first_checkpoint_restarts_from_the_beginning(
    runs, tmp_path: Path, capsys
):
    """coopo resume RUN on a run with no checkpoint: it starts again (same config, same
    dataset, checked as on any resume), says so in one line, and keeps what was there in
    RUN/restart-<time>; the outcome is the unbroken run's."""
    run = copy_run(runs, tmp_path / "run")
    for name in ("checkpoints", "policy", "results.json"):  # as if killed in its first phase
        p = run / name
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    (run / "bench.json").write_text("{}")  # another tool's file (coopo bench's) stays put
    before = snapshot(run)
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 0, out
    said = [line for line in out.splitlines() if "no usable checkpoint" in line]
    assert len(said) == 1 and "starting it again from the beginning" in said[0]
    # the dataset was typed relative to another directory: its recorded absolute path is used
    assert f"dataset: {runs['dataset']}, its recorded absolute path" in out
    aside = [p for p in run.iterdir() if p.name.startswith("restart-")]
    assert len(aside) == 1 and aside[0].name in said[0]
    for name, content in before.items():  # nothing lost: moved aside or kept in place
        if name == "provenance.json":  # kept, with this invocation's record appended
            old = json.loads(content)
            assert json.loads((run / name).read_text())[: len(old)] == old
        elif name in ("config.json", "dataset.json", "versions.json", "bench.json"):
            assert (run / name).read_bytes() == content, name
        else:
            assert (aside[0] / name).read_bytes() == content, name
    same_outcome(runs["full"], run)


def test_every_checkpoint_corrupt_restarts_from_the_beginning(runs, tmp_path: Path, capsys):
    """Every checkpoint fails verification: each is reported and moved aside, then the run
    starts again as above (stopped here after its first phase)."""
    run = copy_run(runs, tmp_path / "run")
    (run / "results.json").unlink()
    for p in ckpt.checkpoints(run):
        raw = bytearray((p / "state.bin").read_bytes())
        raw[100] ^= 0xFF
        (p / "state.bin").write_bytes(bytes(raw))
    metrics = (run / "metrics.jsonl").read_bytes()
    rc, out = cli(capsys, "resume", str(run), "--max-phases", "1")
    assert rc == 0 and "Traceback" not in out, out
    assert out.count("is corrupt: checksum mismatch") == 2
    assert "no usable checkpoint: starting it again from the beginning" in out
    (aside,) = (p for p in run.iterdir() if p.name.startswith("restart-"))
    assert (aside / "metrics.jsonl").read_bytes() == metrics
    assert sorted(p.name for p in (aside / "checkpoints").iterdir() if p.is_dir()) == [
        "phase-003.corrupt",
        "phase-004.corrupt",
    ]
    assert [p.name for p in ckpt.checkpoints(run)] == ["phase-001"]


# ----------------------------------------------------------------------------- 2. finished run
def test_resume_of_a_finished_run_changes_nothing_and_says_it_is_finished(
    runs, tmp_path: Path, capsys
):
    run = copy_run(runs, tmp_path / "run")
    before = snapshot(run)
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 0 and "Traceback" not in out
    assert f"{run} has finished; its results are in {run / 'results.json'}" in out
    assert snapshot(run) == before  # no evaluation appended, results.json not rewritten


def test_resume_of_a_finished_run_with_damaged_results_is_one_line(runs, tmp_path: Path, capsys):
    run = copy_run(runs, tmp_path / "run")
    (run / "results.json").write_text('{"final_return": [')
    before = snapshot(run)
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 1
    line = [x for x in out.splitlines() if "results.json" in x]
    assert len(line) == 1 and "Traceback" not in out
    assert f"{run / 'results.json'} is not readable" in line[0] and "has finished" in line[0]
    assert snapshot(run) == before


# ----------------------------------------------------------------------------- 3. manifests
def rename_key(path: Path) -> None:
    text = path.read_text()
    path.write_text(text.replace('"offset"', '"nffset"', 1))


def flip_shape_digit(path: Path) -> None:
    m = json.loads(path.read_text())
    leaf = next(e for e in m["leaves"] if e["shape"])
    leaf["shape"][0] += 1  # what a flipped digit does, in valid JSON
    path.write_text(json.dumps(m))


@pytest.mark.parametrize(
    "damage, reason",
    [(rename_key, "checksum mismatch"), (flip_shape_digit, "checksum mismatch")],
    ids=["offset-renamed", "shape-digit"],
)
def test_a_damaged_manifest_is_moved_aside_and_the_previous_checkpoint_used(
    runs, tmp_path: Path, capsys, damage, reason
):
    """coopo resume RUN with a damaged manifest.json in the newest checkpoint: one line says
    it is corrupt and moved aside; the previous checkpoint continues the run exactly."""
    run = copy_run(runs, tmp_path / "run")
    (run / "results.json").unlink()
    newest = ckpt.latest(run)
    assert newest is not None and newest.name == "phase-004"
    damage(newest / "manifest.json")
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 0 and "Traceback" not in out, out
    (line,) = (x for x in out.splitlines() if "is corrupt" in x)
    assert "manifest.json is unreadable" in line and reason in line
    assert "moved to phase-004.corrupt" in line and "falling back to phase-003" in line
    assert (run / "checkpoints" / "phase-004.corrupt" / "manifest.json").is_file()
    same_outcome(runs["full"], run)


# ----------------------------------------------------------------------------- 4. config.json
def _config(runs: dict[str, Path]) -> dict:
    return json.loads((runs["full"] / "config.json").read_text())


BAD_CONFIGS = {
    "cycles-string": (lambda c: {**c, "cycles": "2"}, "'cycles' = \"2\": expected an integer"),
    "batch-null": (lambda c: {**c, "batch_size": None}, "'batch_size' = null: expected an integer"),
    "seeds-int": (lambda c: {**c, "seeds": 0}, "'seeds' = 0: expected an array"),
    "network-int": (lambda c: {**c, "network": 5}, "'network' = 5: expected a JSON object"),
    "top-level-list": (lambda c: [], "expected a JSON object of config fields, got an array"),
    "cycles-zero": (lambda c: {**c, "cycles": 0}, "--cycles: must be >= 1, got 0"),
}


@pytest.mark.parametrize("case", [*BAD_CONFIGS, "empty", "cut-short"])
def test_a_bad_config_json_is_one_line_naming_file_field_and_value(
    runs, tmp_path: Path, capsys, case
):
    run = tmp_path / "run"
    run.mkdir()
    cfg_file = run / "config.json"
    if case == "empty":
        cfg_file.write_text("")
        want = "is not readable JSON"
    elif case == "cut-short":
        cfg_file.write_text(json.dumps(_config(runs), indent=1)[:200])
        want = "is not readable JSON"
    else:
        change, want = BAD_CONFIGS[case]
        cfg_file.write_text(json.dumps(change(_config(runs))))
    before = snapshot(run)
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 1
    line = one_error_line(out)
    assert str(cfg_file) in line and want in line, line
    assert snapshot(run) == before


def test_every_problem_of_a_config_json_is_named(runs, tmp_path: Path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    bad = {**_config(runs), "cycles": "2", "seeds": None, "nosuch": 1}
    (run / "config.json").write_text(json.dumps(bad))
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 1 and "Traceback" not in out
    line = one_error_line(out)  # every problem named, in one error
    cfg_file = run / "config.json"
    for problem in (
        "field 'cycles' = \"2\": expected an integer",
        "field 'seeds' = null: expected an array",
        "unknown field 'nosuch'",
    ):
        assert f"{cfg_file}: {problem}" in line, line


# ----------------------------------------------------------------------------- 5. metadata, JSON
def minari_dir(root: Path, ds: data.Dataset, **meta_changes) -> Path:
    d = data.write_minari(ds, "test/pendulum/meta-v0", root)
    meta_file = d / "data" / "metadata.json"
    meta = {**json.loads(meta_file.read_text()), **meta_changes}
    meta_file.write_text(json.dumps(meta))
    return d


@pytest.mark.parametrize(
    "fmt, field, value, problem",
    [
        ("minari", "ref_min_score", [0.0], "must be a finite number or absent, got [0.0]"),
        ("d4rl", "coopo_metadata/ref_min_score", "low", "must be a finite number"),
        ("npz", "metadata/ref_max_score", 5.0, "must be greater than ref_min_score (5.0)"),
        ("minari", "ref_max_score", 5.0, "must be greater than ref_min_score (5.0)"),
    ],
)
def test_bad_reference_scores_are_refused_naming_file_and_field(
    pendulum_dataset, tmp_path: Path, capsys, fmt, field, value, problem
):
    name = field.split("/")[-1]
    scores = {"ref_min_score": 5.0, "ref_max_score": 50.0, name: value}
    if fmt == "minari":
        path = minari_dir(tmp_path, pendulum_dataset, **scores)
        source = path / "data" / "metadata.json"
    else:
        ds = pendulum_dataset.with_metadata(ref_min_score=5.0, ref_max_score=50.0)
        path = source = data.save(ds, tmp_path / f"ds.{'hdf5' if fmt == 'd4rl' else 'npz'}")
        if fmt == "d4rl":
            with h5py.File(path, "r+") as f:
                meta = json.loads(f.attrs["coopo_metadata"])
                f.attrs["coopo_metadata"] = json.dumps({**meta, **scores})
        else:
            with np.load(path) as z:
                arrays = dict(z)
            meta = json.loads(str(arrays["metadata"]))
            arrays["metadata"] = np.asarray(json.dumps({**meta, **scores}))
            np.savez(path, **arrays)
    rc, out = cli(capsys, "data", "info", str(path))
    assert rc == 1
    line = one_error_line(out)
    assert f"{source}: field '{field}': {problem}" in line, line


def strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def test_every_json_file_coopo_writes_is_strict_json(runs, pendulum_dataset, tmp_path: Path):
    """Run directory (config, dataset, versions, provenance, results with no reference
    scores, metrics, checkpoint manifests, the policy) and a Minari dataset's metadata."""
    files = [p for p in runs["full"].rglob("*") if p.suffix in (".json", ".jsonl")]
    names = {p.name for p in files}
    assert {"results.json", "config.json", "manifest.json", "policy.json"} <= names
    for p in files:
        for line in p.read_text().splitlines() if p.suffix == ".jsonl" else [p.read_text()]:
            strict(line)
    results = json.loads((runs["full"] / "results.json").read_text())
    assert results["final_normalized_score"] == {"0": None}  # InvertedPendulum: no references
    d = data.write_minari(pendulum_dataset, "test/pendulum/strict-v0", tmp_path)
    strict((d / "data" / "metadata.json").read_text())


# ----------------------------------------------------------------------------- 6. full disk
FULL_DISK = """
import errno, sys
import coopo.logger
import tensorboardX.record_writer as rw

def full(*args, **kw):
    raise OSError(errno.ENOSPC, "No space left on device")

if sys.argv[1] == "metrics":
    coopo.logger._append = full
else:
    rw.RecordWriter.flush = full
from coopo.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("where", ["metrics", "tensorboard"])
def test_a_full_disk_while_logging_is_one_line_and_exit_1(runs, tmp_path: Path, where):
    """coopo train on a disk that fills while metrics.jsonl or TensorBoard's event file is
    written: one line naming ENOSPC and what is intact, exit 1, no traceback (from coopo,
    tensorboardX's writer thread or its atexit handler); coopo resume then starts it again."""
    run = tmp_path / "run"
    args = ["train", "--preset", "smoke", "--dataset", str(runs["dataset"])]
    args += ["--run-dir", str(run), "--no-progress", "--max-phases", "1"]
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, where, *args], capture_output=True, text=True
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "Traceback" not in out and "Exception" not in out, out
    (line,) = (x for x in out.splitlines() if "ENOSPC" in x)
    what = run / ("metrics.jsonl" if where == "metrics" else "tb")
    assert f"could not write {what}: No space left on device (ENOSPC)" in line
    assert f"there is no checkpoint yet; free some space, then `coopo resume {run}`" in line
    assert ckpt.latest(run) is None and (run / "config.json").is_file()


# ----------------------------------------------------------------------------- 7. smaller ones
def test_a_minari_directory_without_metadata_json_names_it(
    pendulum_dataset, tmp_path: Path, capsys
):
    d = data.write_minari(pendulum_dataset, "test/pendulum/nometa-v0", tmp_path)
    (d / "data" / "metadata.json").unlink()
    rc, out = cli(capsys, "data", "info", str(d))
    assert rc == 1
    line = one_error_line(out)
    assert f"{d / 'data' / 'metadata.json'}: missing" in line and "minari download" not in line


def test_integer_observations_are_cast_with_a_one_line_warning(
    pendulum_dataset, tmp_path: Path, capsys
):
    path = tmp_path / "int8.hdf5"
    with h5py.File(path, "w") as f:
        obs = np.clip(pendulum_dataset.observations * 10, -100, 100).astype(np.int8)
        f.create_dataset("observations", data=obs)
        f.create_dataset("next_observations", data=obs)
        f.create_dataset("actions", data=pendulum_dataset.actions)
        f.create_dataset("rewards", data=pendulum_dataset.rewards)
        f.create_dataset("terminals", data=pendulum_dataset.terminated)
        f.create_dataset("timeouts", data=pendulum_dataset.truncated)
    ds = data.load(path)
    assert ds.observations.dtype == np.float32
    np.testing.assert_array_equal(ds.observations, obs.astype(np.float32))
    err = capsys.readouterr().err
    warned = [x for x in err.splitlines() if "warning" in x]
    assert len(warned) == 2  # observations and next_observations, one line each
    assert f"{path}: field 'observations' has integer dtype int8; cast to float32" in warned[0]


def test_config_json_records_the_datasets_absolute_path_next_to_the_typed_one(runs):
    cfg = json.loads((runs["full"] / "config.json").read_text())
    assert cfg["dataset"] == "pendulum.npz"
    assert cfg["dataset_resolved"] == str(runs["dataset"].resolve())


def test_resume_uses_the_typed_dataset_path_first_then_the_recorded_one(runs, tmp_path: Path):
    from coopo.run_dir import read_run_config

    run = tmp_path / "run"
    run.mkdir()
    recorded = str(runs["dataset"].resolve())
    (run / "config.json").write_text(json.dumps({**_config(runs), "dataset_resolved": recorded}))
    said: list[str] = []
    cwd = os.getcwd()
    try:
        os.chdir(runs["base"])  # where it was typed: found as typed, nothing to say
        assert read_run_config(run, said.append).dataset == "pendulum.npz" and said == []
        (tmp_path / "pendulum.npz").write_bytes(b"")  # another file of that name here
        os.chdir(tmp_path)
        assert read_run_config(run, said.append).dataset == "pendulum.npz"
        assert said == [
            f"dataset: pendulum.npz as typed, from {tmp_path} ({tmp_path / 'pendulum.npz'}; "
            f"the run recorded {recorded})"
        ]
        said.clear()
        os.chdir(run)  # not found as typed: the recorded absolute path
        assert read_run_config(run, said.append).dataset == recorded
        assert said == [
            f"dataset: {recorded}, its recorded absolute path (pendulum.npz as typed is not "
            f"found from {run})"
        ]
    finally:
        os.chdir(cwd)


# ----------------------------------------------------------------------------- the lock first


@pytest.mark.parametrize("state", ["no-checkpoint", "finished"])
def test_a_live_writer_is_named_first_whatever_the_checkpoints(
    runs, tmp_path: Path, capsys, holder, state
):
    """coopo resume RUN and coopo train --run-dir RUN while another process holds RUN: one line
    naming its pid and host, before anything about checkpoints or results."""
    run = copy_run(runs, tmp_path / "run")
    if state == "no-checkpoint":
        shutil.rmtree(run / "checkpoints")
        (run / "results.json").unlink()
    proc = holder(run)
    who = f"in use by pid {proc.pid} on host {socket.gethostname()}"
    before = snapshot(run)
    rc, out = cli(capsys, "resume", str(run))
    assert rc == 1 and who in one_error_line(out)
    rc, out = cli(capsys, "train", "--preset", "smoke", "--run-dir", str(run), "--no-progress")
    assert rc == 1 and who in one_error_line(out)
    assert snapshot(run) == before


def test_config_fields_round_trip_through_the_type_check():
    from coopo.config import TrainConfig, config_from_dict

    for preset in PRESETS.values():
        d = json.loads(json.dumps(config_to_dict(preset)))
        assert config_from_dict(d) == preset
    assert isinstance(config_from_dict({}), TrainConfig)


def test_an_oserror_is_kept_from_tensorboards_thread(tmp_path: Path):
    """The guard on tensorboardX's event file: the error waits for the main thread."""
    from coopo.logger import LoggingError, MetricsLogger

    logger = MetricsLogger(tmp_path, [0], None, None)
    sink = logger.sinks[0]
    guard = sink.guards[0]  # type: ignore[attr-defined]
    guard.error = OSError(errno.EIO, "Input/output error")
    with pytest.raises(LoggingError, match=r"could not write .*tb: Input/output error \(EIO\)"):
        logger.flush()
    logger.close()  # quietly, after the failure


# ----------------------------------------------------------------------------- fuzzing
# Any damage to config.json or a checkpoint manifest, and any value in a dataset's metadata,
# is one of coopo's own errors (naming the file) or is accepted; never another exception.
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(d: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for k, v in d.items():
        out.append((*prefix, k))
        if isinstance(v, dict) and v:
            out += _paths(v, (*prefix, k))
    return out


def _set(d: dict, path: tuple[str, ...], value: object) -> dict:
    d = json.loads(json.dumps(d))
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


@pytest.fixture(scope="module")
def config_text() -> str:
    d = {**config_to_dict(SMOKE), "run_dir": "run", "dataset_resolved": "/nowhere/ds.npz"}
    return json.dumps(d, indent=1)


def _read_config(text: str | bytes) -> None:
    from coopo.config import ConfigError
    from coopo.run_dir import read_run_config

    run = Path(tempfile.mkdtemp(prefix="coopo-fuzz-"))
    (run / "config.json").write_bytes(text if isinstance(text, bytes) else text.encode())
    try:
        read_run_config(run, lambda m: None)
    except ConfigError as e:
        assert str(run / "config.json") in str(e)
        assert all(str(run / "config.json") in line for line in str(e).splitlines()), str(e)
    finally:
        shutil.rmtree(run)


@FUZZ
@given(data=st.data(), value=JSON_VALUES)
def test_fuzz_a_config_json_field_of_any_value(config_text, data, value):
    d = json.loads(config_text)
    path = data.draw(st.sampled_from(_paths(d)))
    _read_config(json.dumps(_set(d, path, value)))


@FUZZ
@given(data=st.data(), doc=JSON_VALUES)
def test_fuzz_a_damaged_config_json(config_text, data, doc):
    raw = config_text.encode()
    how = data.draw(st.sampled_from(["flip", "cut", "document"]))
    if how == "flip":
        at = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    elif how == "cut":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        raw = json.dumps(doc).encode()
    _read_config(raw)


def _small_state() -> dict:
    return {
        "params": {"w": jnp.arange(12.0).reshape(3, 4), "b": jnp.zeros(3, jnp.bfloat16)},
        "step": jnp.zeros((), jnp.int32),
        "key": jax.random.PRNGKey(0),
    }


@pytest.fixture(scope="module")
def saved_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("ckpt")
    host = {"ret": pack(np.array([1.5, np.nan], np.float32))}
    return ckpt.save(run, _small_state(), ckpt.Counters(next_phase=1, phase_host=host), keep=1)


def _restore_damaged(saved: Path, manifest: bytes) -> None:
    """restore() of a copy with ``manifest``: the original state or a CheckpointError;
    restore_latest() then falls back or says no checkpoint is usable, never crashes."""
    run = Path(tempfile.mkdtemp(prefix="coopo-fuzz-"))
    try:
        path = run / "checkpoints" / saved.name
        shutil.copytree(saved, path)
        (path / "manifest.json").write_bytes(manifest)
        template = jax.eval_shape(_small_state)
        try:
            state, _ = ckpt.restore(path, template)
        except ckpt.CheckpointError:
            pass
        else:
            for a, b in zip(
                jax.tree_util.tree_leaves(state),
                jax.tree_util.tree_leaves(_small_state()),
                strict=True,
            ):
                np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        try:
            ckpt.restore_latest(run, template, say=lambda m: None)
        except (ckpt.NoUsableCheckpoint, ckpt.CheckpointMismatch):
            pass
    finally:
        shutil.rmtree(run)


@FUZZ
@given(data=st.data())
def test_fuzz_a_damaged_manifest_bytes(saved_checkpoint, data):
    raw = (saved_checkpoint / "manifest.json").read_bytes()
    if data.draw(st.booleans()):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + bytes([raw[at] ^ data.draw(st.integers(1, 255))]) + raw[at + 1 :]
    else:
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    _restore_damaged(saved_checkpoint, raw)


@FUZZ
@given(data=st.data(), value=JSON_VALUES, checksum=st.booleans())
def test_fuzz_a_manifest_field_of_any_value(saved_checkpoint, data, value, checksum):
    """With its checksum recomputed (or as a format-2 manifest, which has none), so the
    structural checks alone must catch what is wrong."""
    m = json.loads((saved_checkpoint / "manifest.json").read_text())
    path = data.draw(st.sampled_from(_paths(m) + [("leaves", 0, k) for k in m["leaves"][0]]))
    if path[:2] == ("leaves", 0):
        m["leaves"][0][path[2]] = value
    else:
        m = _set(m, path, value)
    if isinstance(m, dict):
        if checksum:
            m["manifest_crc32"] = ckpt.manifest_crc32(m) if _jsonable(m) else 0
        else:
            m.pop("manifest_crc32", None)
            if m.get("format") == 3:
                m["format"] = 2
    _restore_damaged(saved_checkpoint, json.dumps(m).encode())


def _jsonable(m: object) -> bool:
    try:
        json.dumps(m, allow_nan=False)
        return True
    except ValueError:
        return False
