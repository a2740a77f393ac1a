"""What a checkpoint costs: seconds and peak memory to write and to restore one, at 1 and 10
seeds with a 1M-row replay buffer per seed (Hopper sizes: 11-dim observations, 3-dim actions;
AWAC-KL + SAC states, 256-256 networks), the previous format and the current one side by side,
and orbax-checkpoint (installed with flax) for reference.

    python benchmarks/checkpoint_cost.py            # writes benchmarks/results/checkpoint-cost-<device>.json
    python benchmarks/checkpoint_cost.py --seeds 1  # one size only

Every cell runs in a fresh process: the state is built, the process's resident memory is
read, the kernel's peak counter is reset (``/proc/self/clear_refs``), the checkpoint is written
(or restored), and the peak (VmHWM) minus the resident memory before is the cost. Restore
starts from nothing: the previous format needs a freshly initialised state as its template,
the current one only the shapes. Files go to a temporary directory on the disk that holds the
repository, fsynced as in a run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"
ROWS = 1_000_000
WAYS = (
    "previous (one msgpack string)",
    "current (streamed, CRC-32)",
    "orbax (StandardCheckpointer)",
)


# ----------------------------------------------------------------------------- child process
def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def build_state(seeds: int, fill: bool) -> Any:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from coopo.algos import awac_kl, sac
    from coopo.buffers import replay_init
    from coopo.networks import NetworkConfig
    from coopo.runner import RunState
    from coopo.types import EnvSpec

    spec, net = EnvSpec(obs_dim=11, act_dim=3), NetworkConfig(hidden_dims=(256, 256))
    keys = jax.vmap(jax.random.PRNGKey)(jnp.arange(seeds))
    # vmapped like the runner's init (not jitted: a jitted, vmapped init of 4 or more seeds
    # of 256-256 networks stalled in XLA's CPU runtime with jax 0.10.2 on this machine)
    offline = jax.vmap(lambda k: awac_kl.init(k, spec, net, awac_kl.Config()))(keys)
    online = jax.vmap(lambda k: sac.init(k, spec, net, sac.Config()))(keys)
    buffer = replay_init(spec.obs_dim, spec.act_dim, ROWS, batch_shape=(seeds,))
    if fill:  # random contents, field by field (numpy: jax.random.normal of a 10-seed field,
        # 110M values, stalled in XLA's CPU runtime here)
        rng = np.random.default_rng(0)
        data = buffer.data
        for name in ("observations", "next_observations", "actions", "rewards"):
            x = getattr(data, name)
            data = data.replace(**{name: jnp.asarray(rng.standard_normal(x.shape, x.dtype))})
            del x
        buffer = buffer.replace(data=data, size=jnp.full_like(buffer.size, ROWS))
    return RunState(offline=offline, online=online, buffer=buffer, key=keys)


def child(way: str, op: str, seeds: int, directory: Path) -> dict[str, Any]:
    import jax
    from flax import serialization

    from coopo import checkpoint as ckpt

    counters = ckpt.Counters(next_phase=1)
    path = directory / "checkpoints" / "phase-001"
    if op == "save":
        state = build_state(seeds, fill=True)
        jax.block_until_ready(state)
    else:
        import jax.numpy as jnp  # noqa: F401  (runtime initialised before the baseline)

        jax.block_until_ready(jax.numpy.zeros(1))
    gc.collect()
    before = _status("VmRSS")
    _reset_peak()
    t = time.perf_counter()
    if op == "save":
        if way == "previous":  # the previous checkpoint.save, verbatim in effect
            path.mkdir(parents=True, exist_ok=True)
            blob = serialization.to_bytes(state)
            ckpt._write_atomic(path / "state.msgpack", blob)
            del blob
            (path / "counters.json").write_text(json.dumps(counters.__dict__))
        elif way == "current":
            ckpt.save(directory, state, counters, keep=1)
        else:
            import orbax.checkpoint as ocp

            with ocp.StandardCheckpointer() as c:
                c.save((directory / "orbax").absolute(), state)
                c.wait_until_finished()
    else:
        # The template a resume needs: the previous format restores onto an initialised
        # state (built and allocated), the current one and orbax onto shapes only.
        if way == "previous":
            template = jax.block_until_ready(build_state(seeds, fill=False))
        else:
            template = jax.eval_shape(lambda: build_state(seeds, fill=False))
        template_seconds = time.perf_counter() - t
        if way == "previous":
            restored, _ = ckpt.restore(path, template)
        elif way == "current":
            restored, _, _ = ckpt.restore_latest(directory, template)
        else:
            import orbax.checkpoint as ocp

            with ocp.StandardCheckpointer() as c:
                restored = c.restore((directory / "orbax").absolute(), template)
        jax.block_until_ready(restored)
    seconds = time.perf_counter() - t
    peak = _status("VmHWM")
    size = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    state_bytes = sum(
        x.nbytes for x in jax.tree_util.tree_leaves(state if op == "save" else restored)
    )
    return {
        "template_seconds": template_seconds if op == "restore" else 0.0,
        "seconds": seconds,
        "peak_extra_bytes": max(0, peak - before),
        "state_bytes": state_bytes,
        "file_bytes": size,
    }


# ----------------------------------------------------------------------------- driver
def run_child(way: str, op: str, seeds: int, directory: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", way, op, str(seeds), str(directory)]
    env = {
        **os.environ,
        "JAX_COMPILATION_CACHE_DIR": str(directory.parent / "jax-cache"),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
    }
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode:
        raise RuntimeError(f"{way} {op} {seeds}: {out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 10])
    p.add_argument("--ways", nargs="+", default=["previous", "current", "orbax"])
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args()
    if args.child:
        way, op, seeds, directory = args.child
        print(json.dumps(child(way, op, int(seeds), Path(directory))))
        return

    scratch = Path(tempfile.mkdtemp(prefix="coopo-ckpt-cost-", dir=Path(__file__).parent))
    rows = []
    try:
        for seeds in args.seeds:
            for way in args.ways:
                d = scratch / f"{way}-{seeds}"
                save = run_child(way, "save", seeds, d)
                restore = run_child(way, "restore", seeds, d)
                shutil.rmtree(d, ignore_errors=True)
                rows.append({"way": way, "seeds": seeds, "save": save, "restore": restore})
                print(
                    f"{seeds:>2} seeds {way:<9} state {save['state_bytes'] / 2**20:7.0f} MiB  "
                    f"save {save['seconds']:6.2f} s +{save['peak_extra_bytes'] / 2**20:6.0f} MiB  "
                    f"restore {restore['seconds']:6.2f} s (template {restore['template_seconds']:.2f} s) "
                    f"+{restore['peak_extra_bytes'] / 2**20:6.0f} MiB",
                    flush=True,
                )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print()
    print(
        "| seeds | format | state | write: seconds | write: peak memory added | restore: seconds (of which template) | restore: peak memory added |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        s, rs = r["save"], r["restore"]
        print(
            f"| {r['seeds']} | {r['way']} | {s['state_bytes'] / 2**20:.0f} MiB | {s['seconds']:.2f} | "
            f"{s['peak_extra_bytes'] / 2**20:.0f} MiB | {rs['seconds']:.2f} ({rs['template_seconds']:.2f}) | "
            f"{rs['peak_extra_bytes'] / 2**20:.0f} MiB |"
        )
    if args.no_write:
        return
    from coopo import provenance

    device = provenance.device_tag()
    record = {
        "benchmark": "checkpoint_cost",
        "command": "python benchmarks/checkpoint_cost.py " + " ".join(sys.argv[1:]),
        "replay_rows_per_seed": ROWS,
        "ways": {w: desc for w, desc in zip(("previous", "current", "orbax"), WAYS, strict=True)},
        "rows": rows,
        "device": device,
        "load_average_at_write": list(os.getloadavg()),
        "provenance": provenance.collect(provenance.PACKAGES + ("orbax-checkpoint", "msgpack")),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"checkpoint-cost-{device}.json"
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
