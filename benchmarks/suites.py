"""This project's benchmark suites: the grids behind benchmarks/results/ and docs/results/.

Run one with ``coopo bench benchmarks/suites.py:NAME`` (``coopo bench --list
benchmarks/suites.py`` lists them with their chunk plans). The suites, their methods and the
per-worker rates measured on this project's hosts live here, beside the library: the package
(:mod:`coopo.bench`) holds only the generic harness, statistics and report.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from coopo.algos import ALGORITHMS
from coopo.bench.suites import MethodSpec, RunSpec, Suite, evaluations
from coopo.config import TrainConfig
from coopo.networks import NetworkConfig
from coopo.schedule import Budget

# ----------------------------------------------------------------------------- costs
# Per-seed rates on this project's 2-core CPU, one process (benchmarks/throughput.py, 256-256
# networks): offline AWAC-KL updates/s, online SAC env steps/s at UTD 1 (collection included).
# Evaluation env steps/s and the ensemble factor are rough. `estimate_seconds` states the paper
# suite's CPU hours; `coopo bench` plans, orders and reports with `worker_seconds` below.
CPU_RATES = {"offline_updates": 478.0, "online_steps": 429.0, "eval_steps": 5_000.0}

# Per-seed costs of one `coopo bench` worker (one process, one XLA thread: what each of two
# workers gets on the 2-core CPU), measured per second of the worker's CPU time with
# `python benchmarks/run_cost.py --suite cpu` (benchmarks/results/run-cost-cpu-cpu-2core.json)
# and, for Cal-QL's sampled actions and RLPD's UTD, `--calql-samples 1 2 4 --rlpd-utd`
# (run-cost-calql-samples-cpu-2core.json), on halfcheetah-medium with 256-256 networks, on the
# 2-core AMD EPYC host that benchmarks/results/throughput-cpu-2core.json records. Seeds cost
# linearly (vmapping adds no throughput on a CPU).
# - A Cal-QL update costs about a + b * num_samples seconds: 55.3 updates/s with 1 sample per
#   source and 9.48 with 10 (the reference setting) give a = 0.0086 s (an AWAC-KL update's
#   cost: 1 / 115.7) and b = 0.0095 s per sample (3 sampled actions, each through both
#   critics). Online, collection adds 1 / 111.4 - 1 / 115.7 s per env step (a SAC step less an
#   AWAC-KL update).
# - RLPD's env step costs c + utd * d: 19.4 steps/s at UTD 1 and 9.89 at UTD 2 give
#   d = 0.0496 s per ten-critic update and c = 0.0019 s of collection.
# - An evaluation of 10 full-length episodes takes 0.85 s per seed (hopper and walker2d
#   episodes that fall end sooner, so evaluations are counted as an upper bound).
CPU_WORKER_RATES: dict[str, Any] = {
    "offline_updates": {"awac_kl": 115.7, "iql": 120.2},
    "online_steps": {"sac": 111.4, "awac_kl": 108.1, "iql": 119.0},
    "calql_update_s": (1 / 115.7, (1 / 9.48 - 1 / 55.3) / 9),
    "calql_collect_s": 1 / 111.4 - 1 / 115.7,
    "rlpd_step_s": 1 / 19.4 - (1 / 9.89 - 1 / 19.4),
    "rlpd_update_s": 1 / 9.89 - 1 / 19.4,
    "eval_s": 0.85,
}


def calql_update_seconds(config: dict[str, Any], rates: dict[str, Any] = CPU_WORKER_RATES) -> float:
    """One worker's seconds per Cal-QL update at the run's ``num_samples`` (a + b * n)."""
    a, b = rates["calql_update_s"]
    return a + b * config["cal_ql"]["num_samples"]


def calql_update_factor(config: dict[str, Any]) -> float:
    """How many AWAC-KL updates one Cal-QL update costs at the run's ``num_samples``, from the
    per-worker measurements in :data:`CPU_WORKER_RATES` (about 3.2 with 2 samples, 12 with
    10)."""
    return calql_update_seconds(config) / CPU_WORKER_RATES["calql_update_s"][0]


def estimate_seconds(spec: RunSpec, rates: dict[str, float] = CPU_RATES) -> float:
    """Single-process CPU seconds a run should take at ``rates`` (vmapped seeds cost linearly
    on a CPU; see docs/guides/performance.md). Cal-QL updates, offline or online, count
    at :func:`calql_update_factor` times an AWAC-KL or SAC update."""
    c, b = spec.config, Budget.from_config(spec.config)
    online, offline = b.online_env_steps, b.offline_updates
    critics = c["rlpd"]["num_critics"] / 2 if c["online"] == "rlpd" else 1.0
    extra_updates = online * max(0.0, c["utd_ratio"] * critics - 1)
    calql = calql_update_factor(c)
    offline_cost = offline * (calql if c["offline"] == "cal_ql" else 1.0)
    online_cost = online * (calql if c["online"] == "cal_ql" else 1.0)
    evals = (online // c["eval_interval"] if c["eval_interval"] else 0) + b.phases
    per_seed = (
        (offline_cost + extra_updates) / rates["offline_updates"]
        + online_cost / rates["online_steps"]
        + evals * c["eval_episodes"] * 1_000 / rates["eval_steps"]
    )
    return per_seed * len(spec.seeds)


def worker_seconds(spec: RunSpec, rates: dict[str, Any] = CPU_WORKER_RATES) -> float:
    """Seconds one `coopo bench` worker (one process, one XLA thread) should take for a run at
    the measured per-algorithm ``rates``; seeds cost linearly (vmapping adds no throughput on a
    CPU). Evaluations count at full episode length, so this is an upper bound."""
    c, b = spec.config, Budget.from_config(spec.config)
    online, offline = b.online_env_steps, b.offline_updates
    calql_update = calql_update_seconds(c, rates)
    t = 0.0
    if offline:
        if c["offline"] == "cal_ql":
            t += offline * calql_update
        else:
            t += offline / rates["offline_updates"][c["offline"]]
    if online:
        if c["online"] == "cal_ql":
            t += online * (calql_update + rates["calql_collect_s"])
        elif c["online"] == "rlpd":
            # Updates start after the random steps; each step beyond them pays utd_ratio
            # ten-critic updates.
            updating = max(0, online - c["random_steps"])
            t += online * rates["rlpd_step_s"]
            t += updating * c["utd_ratio"] * rates["rlpd_update_s"]
        else:
            t += online / rates["online_steps"][c["online"]]
    t += evaluations(c) * rates["eval_s"] * c["eval_episodes"] / 10
    return t * len(spec.seeds)


WORKER_COST_NOTE = (
    "for one `coopo bench` worker on one core of this project's 2-core CPU (`worker_seconds` "
    "in benchmarks/suites.py, from per-algorithm rates measured by benchmarks/run_cost.py; "
    "evaluations counted at full episode length)"
)
"""What the report says of the estimates `worker_seconds` makes."""


# ----------------------------------------------------------------------------- methods
# Each baseline runs with its reference implementation's settings; what differs from them is
# said next to it. Budgets (offline updates, online env steps) come from the suite.
# COOPO as `coopo train` runs it by default (coopo.config): AWAC-KL anchoring on the dataset
# plus all online data so far, Cal-QL fine-tuning with 2 sampled actions per source. Spelled
# out rather than inherited, so a suite's base (which keeps the algorithms' reference
# settings, `_REFERENCE`) cannot change it.
COOPO = MethodSpec(
    "coopo",
    {
        "method": "coopo",
        "offline": "awac_kl",
        "online": "cal_ql",
        "cal_ql": {"num_samples": 2},
        "offline_data": "dataset+online",
    },
    "COOPO: cycles of AWAC-KL anchoring (dataset plus online data) and Cal-QL fine-tuning",
    baseline=False,
)
# The pair the handoff study started from (and the default before it): AWAC-KL anchoring on
# the dataset only, SAC fine-tuning. The handoffs and ablations suites vary it one option at a
# time (docs/results/handoffs.md).
COOPO_SAC = MethodSpec(
    "coopo",
    {"method": "coopo", "offline": "awac_kl", "online": "sac", "offline_data": "dataset"},
    "COOPO: cycles of AWAC-KL anchoring on the dataset and SAC fine-tuning",
    baseline=False,
)
# AWAC (Nair et al. 2020; CORL's awac.py): lambda 1, weights clipped at 100, actor and critic
# lr 3e-4, twin critics, the same algorithm offline and online with the replay buffer holding
# dataset and online data (here: 50/50 batches, `online_dataset_fraction`).
AWAC_FT = MethodSpec(
    "awac-ft",
    {"method": "o2o", "offline": "awac_kl", "online": "awac_kl"},
    "AWAC fine-tuning: AWAC-KL offline, then AWAC-KL online (one cycle)",
    offline_to_online=True,
)
# IQL (Kostrikov et al. 2021, Gym-MuJoCo settings of its reference code and CORL's iql.py):
# expectile 0.7, beta (inverse temperature) 3, weights clipped at 100, lr 3e-4.
IQL_FT = MethodSpec(
    "iql-ft",
    {"method": "o2o", "offline": "iql", "online": "iql"},
    "IQL fine-tuning: IQL offline, then IQL online (one cycle)",
    offline_to_online=True,
)


# Cal-QL (Nakamoto et al. 2023; its reference code and CORL's cal_ql.py, locomotion): CQL(H)
# with alpha 5, 10 sampled actions, actor lr 1e-4, critic lr 3e-4, the Monte-Carlo lower bound
# on policy-action Q values; fine-tuning with 50/50 offline/online batches (their
# mixing_ratio 0.5) at UTD 1. The `calql-ft` preset is the same config.
def calql_ft(num_samples: int = 10) -> MethodSpec:
    """Cal-QL fine-tuning as above; only ``num_samples`` (sampled actions per source in the
    conservative term, reference 10) may depart from it, where a budget cannot pay for 10
    (said in the suite)."""
    departs = "" if num_samples == 10 else f", {num_samples} sampled actions per source"
    return MethodSpec(
        "calql-ft",
        {
            "method": "o2o",
            "offline": "cal_ql",
            "online": "cal_ql",
            "cal_ql": {"num_samples": num_samples},
        },
        f"Cal-QL fine-tuning: Cal-QL offline, then Cal-QL online (one cycle){departs}",
        offline_to_online=True,
    )


CALQL_FT = calql_ft()
# SAC from scratch uses no dataset statistic at all: no dataset rows in its batches
# (`scratch_uses_dataset` off) and no observation normaliser fitted on the dataset
# (`normalize_observations` off: standard SAC (Haarnoja et al. 2018; cleanrl, SB3) normalises
# nothing). The dataset only supplies the reference returns that score every method alike and
# the drift probe's states, neither of which reaches training (tests/test_bench.py).
SAC_SCRATCH = MethodSpec(
    "sac-scratch",
    {"method": "online", "online": "sac", "normalize_observations": False},
    "SAC from scratch (no dataset, no dataset statistics)",
)


COOPO_1CYCLE = MethodSpec(
    "coopo-1cycle",
    {"method": "o2o", "offline": "awac_kl", "online": "cal_ql", "cal_ql": {"num_samples": 2}},
    "The same pair switched once: AWAC-KL offline, then Cal-QL online (isolates cycling)",
    offline_to_online=True,
)
COOPO_SAC_1CYCLE = MethodSpec(
    "coopo-1cycle",
    {"method": "o2o", "offline": "awac_kl", "online": "sac"},
    "The same pair switched once: AWAC-KL offline, then SAC online (isolates cycling)",
    offline_to_online=True,
)


def coopo_variant(name: str, overrides: dict[str, Any], description: str) -> MethodSpec:
    """COOPO's starting pair (AWAC-KL + SAC, cycled, `COOPO_SAC`) with extra config overrides."""
    return MethodSpec(
        f"coopo-{name}", {**COOPO_SAC.overrides, **overrides}, description, baseline=False
    )


def rlpd(utd: int) -> MethodSpec:
    """RLPD as published (Ball et al. 2023; github.com/ikostrikov/rlpd, configs/rlpd_config.py
    and the README's D4RL locomotion command): SAC with 10 LayerNorm critics whose TD target is
    the minimum over a random 2, the actor on the ensemble mean, initial temperature 1, target
    entropy -|A|/2 (sac_learner.py's default), symmetric 50/50 dataset/online batches, 5,000
    random-action steps before the first update (`--start_training 5000`) and UTD 20. Only
    ``utd`` may depart from it, where a budget cannot pay for 20 (said in the suite)."""
    return MethodSpec(
        "rlpd",
        {
            "method": "online",
            "online": "rlpd",
            "scratch_uses_dataset": True,
            "online_dataset_fraction": 0.5,
            "utd_ratio": utd,
            "random_steps": 5_000,
            "rlpd": {
                "target_entropy_scale": 0.5,
                "num_critics": 10,
                "num_min_q": 2,
                "critic_layer_norm": True,
                "init_temperature": 1.0,
            },
        },
        f"RLPD: SAC with 10 LayerNorm critics (min over a random 2), target entropy -|A|/2, "
        f"symmetric 50/50 dataset sampling, UTD {utd}",
    )


# ----------------------------------------------------------------------------- suites
# Every suite's base keeps the algorithms' reference settings where coopo's defaults depart
# from them (coopo.config: the offline phases' data, Cal-QL's sampled actions), so a baseline
# runs as published and committed results keep their configs; COOPO's cells set coopo's
# choices explicitly (`COOPO`).
_REFERENCE: dict[str, Any] = {
    # The run-wide defaults these suites were recorded with, where `coopo train`'s own changed
    # since (build_size is unused by bench runs, whose datasets are files, but recorded).
    "build_size": 100_000,
    "offline_data": "dataset",
    "cal_ql": ALGORITHMS["cal_ql"].Config(),
}

_SMOKE_BASE = TrainConfig(
    **_REFERENCE,
    cycles=2,
    offline_steps=100,
    online_steps=100,
    eval_interval=50,
    eval_episodes=2,
    update_every=50,
    random_steps=50,
    batch_size=32,
    scan_length=100,
    replay_capacity=1_000,
    network=NetworkConfig(hidden_dims=(32, 32)),
)

# CPU scale: 30k offline updates and 30k online env steps per run (D4RL-scale O2O uses 1M of
# each).
_CPU_BASE = TrainConfig(
    **_REFERENCE,
    cycles=3,
    offline_steps=10_000,
    online_steps=10_000,
    eval_interval=2_500,
    eval_episodes=5,
    random_steps=5_000,
    keep_checkpoints=1,
)

# The held-out `cpu` suite: the same budgets as above (so its COOPO and coopo-1cycle cells
# also serve the handoff check, docs/results/handoffs.md) with 10 evaluation episodes. Evaluations
# every 2.5k env steps are as dense as the statistics need and no denser: the final score
# averages the last 3 (25k-30k), a held target needs 3 in a row, and the fixed forgetting
# window (one 10k online phase) then holds 4 evaluations for every method.
_CPU_HELDOUT_BASE = dataclasses.replace(_CPU_BASE, eval_episodes=10)

# What the `cpu` suite departs from, and why: a run (5 seeds in one process) must fit one
# 2.5 h chunk at CPU_WORKER_RATES, so RLPD's UTD and Cal-QL's sampled actions are the highest
# that fit (tests/bench/test_harness.py checks that the next one up does not).
# - RLPD, per seed: 30k env steps x 0.0020 s + 25k updating steps x UTD x 0.0496 s + 13
#   evaluations x 0.85 s; UTD 1: 5 x 1,309 s = 1.8 h; UTD 2: 5 x 2,549 s = 3.5 h, more than
#   a chunk; the published UTD 20: 5 x 24,869 s = 35 h per run.
# - Cal-QL, per seed: 60k updates x (0.0086 + 0.0095 x samples) s + 13 evaluations; 2 samples
#   per source: 5 x 1,679 s = 2.3 h; 3: 5 x 2,250 s = 3.1 h; the reference 10: 5 x 6,234 s =
#   8.7 h per run, 52 h for the 30 seed-runs (more than the rest of the grid together).
CPU_RLPD_UTD = 1
CPU_CALQL_SAMPLES = 2

# `gpu`: the offline-to-online literature's online budget (RLPD's 250k env steps) on one GPU
# machine, 10 seeds, all four tasks; 5 cycles of 50k offline updates + 50k env steps.
# Wall time on one H100 with 16 cores, from committed measurements: the `cpu` grid's
# halfcheetah/walker2d runs on the lent H100 (10 workers at once) took 275 s per COOPO run of
# 3 seeds x 30k env steps, 3.05 ms per seed-step with offline phases and evaluations included;
# a run here is 10 seeds x 250k steps = 2.5M seed-steps, ~2.1 h, and its 250k offline
# updates for 10 vmapped seeds take ~64 s at the H100's 39,300 seed-updates/s
# (benchmarks/results/throughput-nvidia-h100-80gb-hbm3.json). The 24 non-RLPD runs on 12
# workers: 2 waves, ~4.5 h (10 evaluation episodes instead of 5 included as +10%). RLPD at
# UTD 20: 4.9M ten-critic updates per run; at the CPU's measured cost ratio of a ten-critic
# update to an AWAC-KL update (6.3x) applied to the H100's 10-seed AWAC-KL rate (3,930
# updates/s), ~620 updates/s, 2.2 h of GPU time per run, 8.8 h for the 4 RLPD runs if they
# share the GPU without overlap. So ~9-10 h in all, RLPD-bound (an upper bound: a GPU runs
# wide ensembles relatively faster than a CPU).
_GPU_BASE = TrainConfig(
    **_REFERENCE,
    cycles=5,
    offline_steps=50_000,
    online_steps=50_000,
    eval_interval=10_000,
    eval_episodes=10,
    random_steps=5_000,
    keep_checkpoints=1,
)

_PAPER_BASE = TrainConfig(
    **_REFERENCE,
    cycles=10,
    offline_steps=100_000,
    online_steps=25_000,
    eval_interval=10_000,
    eval_episodes=10,
    random_steps=5_000,
    keep_checkpoints=1,
)

# Ablations at a smaller budget than `cpu` (16k + 16k per run) so that the whole grid fits
# in about an hour on 2 cores; 8 cycles then means phases of 2k updates and 2k env steps.
_ABLATION_BASE = dataclasses.replace(
    _CPU_BASE, cycles=4, offline_steps=4_000, online_steps=4_000, eval_interval=2_000
)


def _cycles(k: int, base: TrainConfig) -> MethodSpec:
    total_off, total_on = base.cycles * base.offline_steps, base.cycles * base.online_steps
    return MethodSpec(
        f"coopo-cycles{k}",
        {
            **COOPO_SAC.overrides,
            "cycles": k,
            "offline_steps": total_off // k,
            "online_steps": total_on // k,
        },
        f"COOPO with {k} cycles at the same total budget",
        baseline=False,
    )


SUITES: dict[str, Suite] = {
    "smoke": Suite(
        name="smoke",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description="A seconds-scale grid for CI: tiny networks and budgets on hopper-random.",
        base=_SMOKE_BASE,
        datasets=("hopper-random",),
        methods=(COOPO, AWAC_FT, SAC_SCRATCH),
        seeds=(0, 1),
        dataset_size=2_000,
        budget_note="2 cycles x (100 offline updates + 100 online env steps); 32-32 networks.",
        estimated_hours="< 0.05",
        targets=(5.0,),
    ),
    "cpu": Suite(
        name="cpu",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description=(
            "Does cycling pay at CPU scale? COOPO against the same pair switched once "
            "(coopo-1cycle), AWAC, IQL and Cal-QL fine-tuning, RLPD and SAC from scratch, on the "
            "three datasets no default was tuned on (halfcheetah-medium, hopper-medium-replay, "
            "walker2d-medium-replay), 10 seeds."
        ),
        base=_CPU_HELDOUT_BASE,
        datasets=("halfcheetah-medium", "hopper-medium-replay", "walker2d-medium-replay"),
        methods=(
            COOPO,
            COOPO_1CYCLE,
            AWAC_FT,
            IQL_FT,
            calql_ft(CPU_CALQL_SAMPLES),
            rlpd(CPU_RLPD_UTD),
            SAC_SCRATCH,
        ),
        seeds=tuple(range(10)),
        seeds_per_run=5,
        dataset_size=100_000,
        budget_note=(
            "30k offline gradient steps and 30k online env steps per run (COOPO: 3 cycles of "
            "10k + 10k; the one-switch methods: 30k then 30k), 100k-transition halfcheetah-medium "
            "(the medium-replay datasets: their whole replay buffers), one update per env step "
            f"except RLPD (UTD {CPU_RLPD_UTD}: its published 20 does not fit this machine), "
            f"Cal-QL with {CPU_CALQL_SAMPLES} sampled actions per source in its conservative "
            "term instead of 10 (10 would cost more than the rest of the grid together; "
            "both are the highest that fit a chunk, see benchmarks/suites.py), evaluation "
            "every 2.5k env steps with 10 episodes."
        ),
        estimated_hours=(
            "~28 h on 2 CPU cores in 12 chunks of <= 2.5 h (coopo bench --list; 55 worker-hours "
            "at the per-worker rates measured by benchmarks/run_cost.py on the 2-core AMD EPYC "
            "host, an upper bound), plus building the two medium-replay datasets (re-running "
            "their behaviour training) in their first chunks"
        ),
        targets=(60.0,),
        chunk_hours=2.5,
    ),
    "cpu-new": Suite(
        name="cpu-new",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description=(
            "Does the default carry to tasks that shared nothing with its choice? COOPO, its "
            "one-switch control (coopo-1cycle) and Cal-QL fine-tuning on ant-medium (an "
            "environment no choice was made on) and halfcheetah-medium-replay, with the cpu "
            "suite's budgets and settings, nothing retuned, 10 seeds."
        ),
        base=_CPU_HELDOUT_BASE,
        datasets=("ant-medium", "halfcheetah-medium-replay"),
        methods=(COOPO, COOPO_1CYCLE, calql_ft(CPU_CALQL_SAMPLES)),
        seeds=tuple(range(10)),
        seeds_per_run=5,
        dataset_size=100_000,
        budget_note=(
            "The cpu suite's: 30k offline gradient steps and 30k online env steps per run "
            "(COOPO: 3 cycles of 10k + 10k; the one-switch methods: 30k then 30k), "
            "100k-transition ant-medium (halfcheetah-medium-replay: its whole replay buffer), "
            f"Cal-QL with {CPU_CALQL_SAMPLES} sampled actions per source, evaluation every 2.5k "
            "env steps with 10 episodes."
        ),
        estimated_hours=(
            "~13 h on 2 CPU cores in 6 chunks of <= 2.5 h (coopo bench --list; 22 worker-hours "
            "at the cpu suite's measured rates, an upper bound), plus building "
            "halfcheetah-medium-replay (re-running its behaviour training) in its first chunk"
        ),
        targets=(60.0,),
        chunk_hours=2.5,
    ),
    "ablations": Suite(
        name="ablations",
        # No cost: TD3's and PPO's per-worker rates were never measured (worker_seconds
        # refuses them), so runs start in grid order and the report states no estimate.
        description=(
            "What in COOPO matters: cycles at a fixed total budget, the offline phase's data, "
            "the KL-to-previous-policy term, and other offline/online algorithms."
        ),
        base=_ABLATION_BASE,
        datasets=("hopper-medium",),
        methods=(
            _cycles(1, _ABLATION_BASE),
            _cycles(2, _ABLATION_BASE),
            _cycles(4, _ABLATION_BASE),
            _cycles(8, _ABLATION_BASE),
            MethodSpec(
                "coopo-data+online",
                {**COOPO_SAC.overrides, "offline_data": "dataset+online"},
                "COOPO whose offline phases sample dataset plus all online data so far",
                baseline=False,
            ),
            MethodSpec(
                "coopo-no-kl",
                {**COOPO_SAC.overrides, "awac_kl": {"kl_coef": 0.0}},
                "COOPO without the KL-to-previous-policy term",
                baseline=False,
            ),
            MethodSpec(
                "coopo-iql",
                {**COOPO_SAC.overrides, "offline": "iql"},
                "COOPO with IQL anchoring",
                baseline=False,
            ),
            MethodSpec(
                "coopo-td3",
                {**COOPO_SAC.overrides, "online": "td3"},
                "COOPO with TD3 fine-tuning",
                baseline=False,
            ),
            MethodSpec(
                "coopo-ppo",
                {**COOPO_SAC.overrides, "online": "ppo"},
                "COOPO with PPO fine-tuning",
                baseline=False,
            ),
        ),
        seeds=(0, 1, 2),
        dataset_size=100_000,
        budget_note=(
            "16k offline gradient steps and 16k online env steps per run on hopper-medium "
            "(100k transitions), evaluation every 2k env steps with 5 episodes; 'coopo-cyclesK' "
            "splits that budget into K cycles, the other variants use 4."
        ),
        estimated_hours="~1 h on 2 CPU cores (estimate); 200 s on an H100 machine (measured)",
        reference="coopo-cycles4",
    ),
    "handoffs": Suite(
        name="handoffs",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description=(
            "What makes COOPO collapse at a switch to SAC, and which handoff option fixes it: "
            "each option alone on the two development datasets, 3 seeds, cpu-suite budgets, "
            "evaluations every 1k env steps (docs/results/handoffs.md). The options the study "
            "rejected are removed from coopo, and their methods with them; they run at commit "
            "d03ab3af8a47."
        ),
        base=dataclasses.replace(_CPU_BASE, eval_interval=1_000),
        datasets=("hopper-medium", "walker2d-medium"),
        methods=(
            COOPO_SAC,
            coopo_variant(
                "plain-q",
                {"sac": {"backup_entropy": False}},
                "SAC learns the plain Q of the offline phase (no entropy in the TD target)",
            ),
            coopo_variant(
                "layernorm",
                {"network": {"critic_layer_norm": True}},
                "LayerNorm critics in both phases: a LayerNorm feature has bounded norm, so Q "
                "cannot extrapolate far beyond the data's values (Ball et al. 2023, RLPD)",
            ),
            coopo_variant(
                "calql",
                {"offline": "cal_ql"},
                "Cal-QL (a conservative critic) anchors instead of AWAC-KL",
            ),
            coopo_variant(
                "calql-n1",
                {"offline": "cal_ql", "cal_ql": {"num_samples": 1}},
                "As calql with 1 sampled action per source (3 per state instead of 30) in the "
                "conservative term: a noisier estimate of the same penalty at a CPU-sized cost",
            ),
            coopo_variant(
                "actor-lr-3e-5",
                {"sac": {"actor_lr": 3e-5}},
                "SAC's actor learns 10x slower than its critic (3e-5 against 3e-4), so the critic "
                "can learn what the actor's new actions do before the actor has moved far",
            ),
            coopo_variant(
                "online-calql",
                {"online": "cal_ql", "cal_ql": {"num_samples": 2}},
                "AWAC-KL anchors, Cal-QL fine-tunes: SAC's actor update on a critic that keeps "
                "Cal-QL's conservative term online (2 sampled actions per source, the cpu "
                "suite's setting)",
            ),
            coopo_variant(
                "online-calql-data+online",
                {
                    "online": "cal_ql",
                    "cal_ql": {"num_samples": 2},
                    "offline_data": "dataset+online",
                },
                "As online-calql, with offline phases that sample the dataset plus all online "
                "data so far, so anchoring also fits what the online phases found",
            ),
            coopo_variant(
                "online-calql-data+online-half",
                {
                    "online": "cal_ql",
                    "cal_ql": {"num_samples": 2},
                    "offline_data": "dataset+online",
                    "offline_online_fraction": 0.5,
                },
                "As online-calql-data+online, with half of each anchoring batch from the online "
                "data (as in the online phase's batches) instead of its share of the union "
                "(1 row in 11, then 1 in 6)",
            ),
            coopo_variant(
                "online-calql-warmup",
                {"online": "cal_ql", "cal_ql": {"num_samples": 2, "critic_warmup_steps": 2_000}},
                "As online-calql, with 2k critic-only updates after each handoff, so the "
                "conservative penalty reshapes the handed-over critic before the actor moves",
            ),
            coopo_variant(
                "online-calql-drift",
                {"online": "cal_ql", "cal_ql": {"num_samples": 2}, "drift_switch_drop": 10.0},
                "As online-calql, back to anchoring early at an evaluation more than 10 points "
                "below the end of anchoring (the unused env steps go to the next online phase)",
            ),
            coopo_variant(
                "drift-mse",
                {"drift_switch_mse": 0.5},
                "Back to anchoring early at an evaluation where the actor's squared distance "
                "from the data's actions is above 0.5 (the unused env steps go to the next "
                "online phase)",
            ),
            coopo_variant(
                "online-calql-kl1",
                {"online": "cal_ql", "cal_ql": {"num_samples": 2}, "awac_kl": {"kl_coef": 1.0}},
                "As online-calql, with offline phases held 10x closer to the policy the online "
                "phase ended with (beta 1)",
            ),
            coopo_variant(
                "kl1",
                {"awac_kl": {"kl_coef": 1.0}},
                "Offline phases hold 10x closer to the policy the online phase ended with (beta 1)",
            ),
            COOPO_SAC_1CYCLE,
            MethodSpec(
                "coopo-1cycle-online-calql",
                {
                    "method": "o2o",
                    "offline": "awac_kl",
                    "online": "cal_ql",
                    "cal_ql": {"num_samples": 2},
                },
                "coopo-online-calql's pair switched once (30k AWAC-KL updates, then 30k env "
                "steps of Cal-QL): its control for cycling",
                offline_to_online=True,
            ),
        ),
        seeds=(0, 1, 2),
        dataset_size=100_000,
        budget_note=(
            "cpu-suite budgets (3 cycles of 10k offline updates + 10k env steps; the control "
            "30k then 30k), 100k-transition medium datasets, evaluation every 1k env steps with "
            "5 episodes."
        ),
        estimated_hours="~2.5 h on 2 CPU cores (estimate)",
        reference="coopo",
    ),
    "gpu": Suite(
        name="gpu",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description=(
            "The cpu suite's methods at the literature's online budget on one GPU machine "
            "(16 cores): 250k offline updates and 250k online env steps, all four tasks, 10 seeds."
        ),
        base=_GPU_BASE,
        datasets=(
            "halfcheetah-medium",
            "hopper-medium-replay",
            "walker2d-medium-replay",
            "ant-medium",
        ),
        methods=(COOPO, COOPO_1CYCLE, AWAC_FT, IQL_FT, CALQL_FT, rlpd(20), SAC_SCRATCH),
        seeds=tuple(range(10)),
        dataset_size=100_000,
        budget_note=(
            "250k offline gradient steps and 250k online env steps per run (COOPO: 5 cycles of "
            "50k + 50k), 100k-transition medium datasets (medium-replay: the whole replay "
            "buffer), RLPD at its published UTD 20, evaluation every 10k env steps with 10 "
            "episodes; run with --workers 12 and XLA_PYTHON_CLIENT_PREALLOCATE=false."
        ),
        estimated_hours=(
            "~9-10 h on one H100 machine with 16 cores (--workers 12): ~4.5 h for the 24 "
            "non-RLPD runs, RLPD's UTD 20 updates up to ~9 h of GPU time (arithmetic in "
            "benchmarks/suites.py, from the committed H100 rates)"
        ),
        gpu=True,
        targets=(60.0,),
    ),
    "paper": Suite(
        name="paper",
        cost=worker_seconds,
        cost_note=WORKER_COST_NOTE,
        description=(
            "D4RL scale for a GPU machine or a Ray cluster: 1M offline updates and 250k online "
            "env steps (run it again with --online-steps 100000 for the 1M-step setting), "
            "all four tasks and five qualities, 5 seeds."
        ),
        base=_PAPER_BASE,
        datasets=tuple(
            f"{t}-{q}"
            for t in ("hopper", "halfcheetah", "walker2d", "ant")
            for q in ("random", "medium", "medium-replay", "medium-expert", "expert")
        ),
        methods=(COOPO, AWAC_FT, IQL_FT, rlpd(20), SAC_SCRATCH),
        seeds=(0, 1, 2, 3, 4),
        dataset_size=1_000_000,
        budget_note="D4RL scale: 10 cycles x (100k offline updates + 25k online env steps), 1M-transition datasets.",
        estimated_hours=(
            "~1,700 h of the 2-core CPU by estimate_seconds. On one H100 machine with ~10 "
            "parallel workers, scaling by the measured cpu half-grid (10 runs in 311 s, 17x the "
            "CPU model): ~15 h for coopo, awac-ft, iql-ft and sac-scratch, plus up to ~85 h for "
            "RLPD at UTD 20 (an upper bound: updates are relatively cheaper on a GPU)"
        ),
        gpu=True,
        targets=(50.0, 75.0, 90.0),
    ),
}
