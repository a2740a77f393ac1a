"""Logging: TensorBoard and Weights & Biases get the same scalars against env steps, and a
resumed run's TensorBoard curves are those of an unbroken run."""

from __future__ import annotations

import dataclasses
import json
import struct
from collections import defaultdict
from pathlib import Path

import pytest

from coopo.api import resume, train
from coopo.config import PRESETS, TrainConfig
from coopo.logger import read_metrics

SMOKE = dataclasses.replace(
    PRESETS["smoke"], progress=False, build_size=1_000, offline_steps=150, online_steps=100
)
Points = dict[str, list[tuple[int, float]]]  # tag -> [(step, value)] in logging order


def cfg(tmp_path: Path, name: str, **kw) -> TrainConfig:
    return dataclasses.replace(SMOKE, run_dir=str(tmp_path / name), **kw)


def _tfrecords(path: Path):
    data, pos = path.read_bytes(), 0
    while pos < len(data):
        (n,) = struct.unpack("<Q", data[pos : pos + 8])
        yield data[pos + 12 : pos + 12 + n]
        pos += 12 + n + 4


def tensorboard_points(directory: Path) -> Points:
    """Scalars as TensorBoard shows them: events at steps >= a later purge step are dropped."""
    from tensorboardX.proto.event_pb2 import Event, SessionLog

    events: list[tuple[str, int, float]] = []
    for f in sorted(directory.glob("events.out.tfevents.*")):
        for raw in _tfrecords(f):
            ev = Event.FromString(raw)
            if ev.HasField("session_log") and ev.session_log.status == SessionLog.START:
                events = [e for e in events if e[1] < ev.step]
            for v in ev.summary.value:
                events.append((v.tag, ev.step, v.simple_value))
    out: Points = defaultdict(list)
    for tag, step, value in events:
        out[tag].append((step, value))
    return dict(out)


def wandb_points(run_file: Path) -> Points:
    """History rows of an offline W&B run file (LevelDB-log framed protobuf records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, pos, block, buf = run_file.read_bytes(), 7, 32768, b""
    out: Points = defaultdict(list)
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        if kind == 0 and length == 0:
            pos += left
            continue
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        buf = chunk if kind in (1, 2) else buf + chunk
        if kind not in (1, 4):
            continue
        record = pb.Record.FromString(buf)
        if record.WhichOneof("record_type") == "history":
            row = {
                i.key or "/".join(i.nested_key): json.loads(i.value_json)
                for i in record.history.item
            }
            for k, v in row.items():
                if "/" in k:
                    out[k].append((row["env_steps"], float(v)))
    return dict(out)


@pytest.mark.slow
def test_tensorboard_and_wandb_log_the_same_metrics_against_env_steps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # no network, no account
    monkeypatch.setenv("WANDB_SILENT", "true")
    result = train(
        cfg(tmp_path, "run", seeds=(0, 1), wandb=True, wandb_project="t", wandb_tags=("ci",))
    )
    run = result.run_dir
    ids = json.loads((run / "wandb.json").read_text())
    assert set(ids) == {"0", "1"}
    records = read_metrics(run)
    total_env = SMOKE.cycles * SMOKE.online_steps
    for seed in (0, 1):
        tb = tensorboard_points(run / "tb" / f"seed_{seed}")
        (run_file,) = (run / "wandb").glob(f"offline-run-*-{ids[str(seed)]}/run-*.wandb")
        wb = wandb_points(run_file)
        assert tb.keys() == wb.keys()
        for tag in tb:
            assert [s for s, _ in tb[tag]] == [s for s, _ in wb[tag]], tag
            assert [v for _, v in tb[tag]] == pytest.approx([v for _, v in wb[tag]], rel=1e-6)
        # the x axis is env steps: it ends at the online budget, not offline + online steps
        assert max(s for pts in tb.values() for s, _ in pts) == total_env
        # offline records sit at the env step count where their phase ran, grad steps beside them
        mine = [r for r in records if r["seed"] == seed]
        offline = [r for r in mine if "offline/critic_loss" in r]
        assert [s for s, _ in tb["offline/critic_loss"]] == [r["env_steps"] for r in offline]
        assert tb["offline/critic_loss"][0][0] == 0
        grad = dict(tb["progress/grad_steps"])
        assert max(grad.values()) == max(r["grad_steps"] for r in mine)
        evals = [r["eval/return"] for r in mine if "eval/return" in r]
        assert [v for _, v in tb["eval/return"]] == pytest.approx(evals, rel=1e-6)


@pytest.mark.slow
def test_a_resumed_run_shows_the_same_tensorboard_curves_as_an_unbroken_one(tmp_path: Path):
    train(cfg(tmp_path, "full"))
    part = cfg(tmp_path, "part", max_phases=2)  # stops after cycle 1's online phase
    assert not train(part).finished
    # an interrupted process logged past the checkpoint: those events must not show
    from tensorboardX import SummaryWriter

    w = SummaryWriter(str(tmp_path / "part" / "tb" / "seed_0"))
    w.add_scalar("eval/return", -1e6, SMOKE.online_steps)
    w.add_scalar("offline/critic_loss", -1e6, SMOKE.online_steps)
    w.close()
    assert resume(tmp_path / "part").finished
    full = tensorboard_points(tmp_path / "full" / "tb" / "seed_0")
    resumed = tensorboard_points(tmp_path / "part" / "tb" / "seed_0")
    assert full.keys() == resumed.keys()
    for tag in full:
        assert [s for s, _ in full[tag]] == [s for s, _ in resumed[tag]], tag
        # values identical up to float32 (the runs are bit-identical; wall-clock free metrics)
        assert [v for _, v in full[tag]] == pytest.approx([v for _, v in resumed[tag]]), tag
