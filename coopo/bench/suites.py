"""Benchmark suites: methods x datasets x seeds, all under one budget.

A suite is data: a base :class:`~coopo.config.TrainConfig` holding the shared budgets, the
datasets (coopo recipes such as ``hopper-medium``, built once per results directory, or any
dataset the runner accepts), and the methods, each a set of config overrides on the base.
Every method inherits the same ``cycles * offline_steps`` offline gradient steps and
``cycles * online_steps`` online environment steps (see :mod:`coopo.schedule`), so the grid
compares methods at equal online interactions.

``expand(suite)`` turns a suite into :class:`RunSpec` s, one per (dataset, method, seed group);
the seeds of a group train together in one process (vmapped).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from coopo.config import TrainConfig, config_from_dict, config_to_dict
from coopo.networks import NetworkConfig


@dataclass(frozen=True)
class MethodSpec:
    """One column of a suite: a label and the config overrides that define it."""

    name: str
    overrides: dict[str, Any]
    description: str
    baseline: bool = True
    """False for COOPO variants (the method under test); True for the baselines."""
    offline_to_online: bool = False
    """A baseline that fine-tunes after offline pre-training (used for the 'best O2O' target)."""


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    base: TrainConfig
    datasets: tuple[str, ...]
    methods: tuple[MethodSpec, ...]
    seeds: tuple[int, ...]
    dataset_size: int = 100_000
    """Transitions per built recipe (medium-replay keeps its whole replay buffer)."""
    seeds_per_run: int = 0
    """Seeds trained together in one process (0: all of them)."""
    budget_note: str = ""
    estimated_hours: str = ""
    """Wall-time estimate, stated in ``coopo bench --list`` and the report."""
    targets: tuple[float, ...] = (30.0, 50.0)
    """Normalised-score targets for interactions-to-target (fractions of the expert reference x
    100). The defaults suit reduced budgets on medium data (a medium policy scores about 33)."""
    gpu: bool = False
    reference: str = ""
    """A COOPO variant the others are compared with (ablations); baselines otherwise."""


@dataclass(frozen=True)
class RunSpec:
    """One process of the grid: a dataset, a method and a group of seeds."""

    suite: str
    dataset: str
    method: str
    seeds: tuple[int, ...]
    config: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return f"{self.dataset}/{self.method}/seeds-{'_'.join(map(str, self.seeds))}"

    @property
    def cost(self) -> float:
        """Estimated compute: the bench starts the most expensive runs first so the parallel
        workers finish together."""
        return estimate_seconds(self)

    def train_config(self, dataset_path: str, run_dir: str) -> TrainConfig:
        cfg = config_from_dict(self.config)
        return dataclasses.replace(cfg, dataset=dataset_path, run_dir=run_dir, progress=False)


# Per-seed rates on this project's 2-core CPU, one process (benchmarks/throughput.py, 256-256
# networks): offline AWAC-KL updates/s, online SAC env steps/s at UTD 1 (collection included).
# Evaluation env steps/s and the ensemble factor are rough; `coopo report` prints the measured
# wall time of each run next to this estimate.
CPU_RATES = {"offline_updates": 478.0, "online_steps": 429.0, "eval_steps": 5_000.0}


def estimate_seconds(spec: RunSpec, rates: dict[str, float] = CPU_RATES) -> float:
    """Single-process CPU seconds a run should take at ``rates`` (vmapped seeds cost linearly
    on a CPU; see the README's Performance section)."""
    c = spec.config
    online = c["cycles"] * c["online_steps"]
    offline = 0 if c["method"] == "online" else c["cycles"] * c["offline_steps"]
    critics = c["rlpd"]["num_critics"] / 2 if c["online"] == "rlpd" else 1.0
    extra_updates = online * max(0.0, c["utd_ratio"] * critics - 1)
    evals = (online // c["eval_interval"] if c["eval_interval"] else 0) + 2 * c["cycles"]
    per_seed = (
        (offline + extra_updates) / rates["offline_updates"]
        + online / rates["online_steps"]
        + evals * c["eval_episodes"] * 1_000 / rates["eval_steps"]
    )
    return per_seed * len(spec.seeds)


def _with(cfg: TrainConfig, overrides: dict[str, Any]) -> TrainConfig:
    nested = {k: v for k, v in overrides.items() if isinstance(v, dict) and k != "env_kwargs"}
    flat = {k: v for k, v in overrides.items() if k not in nested}
    cfg = dataclasses.replace(cfg, **flat)
    for k, v in nested.items():
        cfg = dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v)})
    return cfg


def expand(suite: Suite, seeds: tuple[int, ...] | None = None) -> list[RunSpec]:
    from coopo.config import validate_config
    from coopo.recipes import TASKS, parse_recipe

    seeds = seeds or suite.seeds
    group = suite.seeds_per_run or len(seeds)
    groups = [tuple(seeds[i : i + group]) for i in range(0, len(seeds), group)]
    specs = []
    for ds in suite.datasets:
        task, _ = parse_recipe(ds)
        env_id, kw = TASKS[task]
        for m in suite.methods:
            cfg = _with(suite.base, {"env_id": env_id, **m.overrides})
            cfg = dataclasses.replace(cfg, env_kwargs={k: str(v).lower() for k, v in kw.items()})
            for g in groups:
                run = dataclasses.replace(cfg, seeds=g, dataset=f"recipe:{ds}", progress=False)
                validate_config(run)
                specs.append(RunSpec(suite.name, ds, m.name, g, config_to_dict(run)))
    return specs


# ----------------------------------------------------------------------------- methods
COOPO = MethodSpec(
    "coopo",
    {"method": "coopo", "offline": "awac_kl", "online": "sac"},
    "COOPO: cycles of AWAC-KL anchoring on the dataset and SAC fine-tuning",
    baseline=False,
)
AWAC_FT = MethodSpec(
    "awac-ft",
    {"method": "o2o", "offline": "awac_kl", "online": "awac_kl"},
    "AWAC fine-tuning: AWAC-KL offline, then AWAC-KL online (one cycle)",
    offline_to_online=True,
)
IQL_FT = MethodSpec(
    "iql-ft",
    {"method": "o2o", "offline": "iql", "online": "iql"},
    "IQL fine-tuning: IQL offline, then IQL online (one cycle)",
    offline_to_online=True,
)
SAC_SCRATCH = MethodSpec(
    "sac-scratch",
    {"method": "online", "online": "sac"},
    "SAC from scratch (no dataset)",
)


COOPO_1CYCLE = MethodSpec(
    "coopo-1cycle",
    {"method": "o2o", "offline": "awac_kl", "online": "sac"},
    "The same pair switched once: AWAC-KL offline, then SAC online (isolates cycling)",
    offline_to_online=True,
)


def coopo_variant(name: str, overrides: dict[str, Any], description: str) -> MethodSpec:
    """COOPO (AWAC-KL + SAC, cycled) with extra config overrides."""
    return MethodSpec(
        f"coopo-{name}", {**COOPO.overrides, **overrides}, description, baseline=False
    )


def rlpd(utd: int) -> MethodSpec:
    return MethodSpec(
        "rlpd",
        {
            "method": "online",
            "online": "rlpd",
            "scratch_uses_dataset": True,
            "online_dataset_fraction": 0.5,
            "utd_ratio": utd,
        },
        f"RLPD: SAC with a 10-critic LayerNorm ensemble, symmetric 50/50 dataset sampling, UTD {utd}",
    )


# ----------------------------------------------------------------------------- suites
_SMOKE_BASE = TrainConfig(
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
# each); RLPD at UTD 1 like every other method here instead of its 20: its 10-critic ensemble
# runs ~30 updates/s for 3 vmapped seeds on this CPU, so UTD 20 would take ~9 h per dataset.
_CPU_BASE = TrainConfig(
    cycles=3,
    offline_steps=10_000,
    online_steps=10_000,
    eval_interval=2_500,
    eval_episodes=5,
    random_steps=5_000,
    keep_checkpoints=1,
)

_PAPER_BASE = TrainConfig(
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
            **COOPO.overrides,
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
        description=(
            "Does cycling pay at CPU scale? COOPO against AWAC and IQL fine-tuning, RLPD and SAC "
            "from scratch on four D4RL-style datasets, 3 seeds."
        ),
        base=_CPU_BASE,
        datasets=("hopper-medium", "hopper-medium-replay", "halfcheetah-medium", "walker2d-medium"),
        methods=(COOPO, AWAC_FT, IQL_FT, rlpd(1), SAC_SCRATCH),
        seeds=(0, 1, 2),
        dataset_size=100_000,
        budget_note=(
            "Reduced budgets: 30k offline gradient steps and 30k online env steps per run "
            "(COOPO: 3 cycles of 10k + 10k; the O2O baselines: 30k then 30k), 100k-transition "
            "medium datasets (hopper-medium-replay: the whole 46k-transition replay buffer), "
            "one gradient update per env step for every method, RLPD included (its paper uses "
            "UTD 20), evaluation every 2.5k env steps with 5 episodes."
        ),
        estimated_hours="~2.7 h on 2 CPU cores (measured per run, benchmarks/results/cpu)",
    ),
    "ablations": Suite(
        name="ablations",
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
                {**COOPO.overrides, "offline_data": "dataset+online"},
                "COOPO whose offline phases sample dataset plus all online data so far",
                baseline=False,
            ),
            MethodSpec(
                "coopo-no-kl",
                {**COOPO.overrides, "awac_kl": {"kl_coef": 0.0}},
                "COOPO without the KL-to-previous-policy term",
                baseline=False,
            ),
            MethodSpec(
                "coopo-iql",
                {**COOPO.overrides, "offline": "iql"},
                "COOPO with IQL anchoring",
                baseline=False,
            ),
            MethodSpec(
                "coopo-td3",
                {**COOPO.overrides, "online": "td3"},
                "COOPO with TD3 fine-tuning",
                baseline=False,
            ),
            MethodSpec(
                "coopo-ppo",
                {**COOPO.overrides, "online": "ppo"},
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
        description=(
            "What makes COOPO collapse at a switch to SAC, and which handoff option fixes it: "
            "each option alone on the two development datasets, 3 seeds, cpu-suite budgets, "
            "evaluations every 1k env steps (docs/handoffs.md)."
        ),
        base=dataclasses.replace(_CPU_BASE, eval_interval=1_000),
        datasets=("hopper-medium", "walker2d-medium"),
        methods=(
            COOPO,
            coopo_variant(
                "anchor-kl",
                {"sac": {"anchor_kl_coef": 1.0, "anchor_kl_decay_steps": 10_000}},
                "SAC's actor keeps lambda * KL to the handed-over actor (lambda 1, decaying to 0 over the phase)",
            ),
            coopo_variant(
                "anchor-kl-const",
                {"sac": {"anchor_kl_coef": 1.0}},
                "SAC's actor keeps lambda * KL to the handed-over actor for the whole phase (lambda 1)",
            ),
            coopo_variant(
                "plain-q",
                {"sac": {"backup_entropy": False}},
                "SAC learns the plain Q of the offline phase (no entropy in the TD target)",
            ),
            coopo_variant(
                "warmup",
                {"sac": {"critic_warmup_steps": 2_000}},
                "2k critic-only updates after each handoff",
            ),
            coopo_variant(
                "entropy-from-actor",
                {"sac": {"target_entropy_from_actor": True}},
                "SAC's target entropy set from the handed-over actor",
            ),
            coopo_variant(
                "calql",
                {"offline": "cal_ql"},
                "Cal-QL (a conservative critic) anchors instead of AWAC-KL",
            ),
            coopo_variant(
                "kl1",
                {"awac_kl": {"kl_coef": 1.0}},
                "Offline phases hold 10x closer to the policy the online phase ended with (beta 1)",
            ),
            coopo_variant(
                "reset-adam",
                {"sac": {"reset_optimizers_on_handoff": True}},
                "Fresh Adam moments for SAC's actor and critic at each handoff",
            ),
            COOPO_1CYCLE,
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
    "paper": Suite(
        name="paper",
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
