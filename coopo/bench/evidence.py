"""The comparisons a report needs to tell methods apart, computed once from a results directory.

Everything here is built from :mod:`coopo.bench.stats` (rliable, scipy, statsmodels):

- the dataset's own normalised return per dataset (:func:`data_levels`: the reference line of
  tables and plots, and the base of the first held target of :func:`coopo.bench.report.analyse`);
- the fixed forgetting window (:func:`forgetting_window`: the suite's shortest online phase);
- per run, the normalised AUC;
- per (COOPO method, baseline, dataset): the paired per-seed difference of the final score and
  of the AUC (scipy t interval and p-value) and rliable's probability of improvement;
  across datasets, the probability of improvement on the (runs x datasets) matrices;
- Holm-adjusted p-values over every paired test in the report (statsmodels).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coopo.bench import stats
from coopo.bench.tables import ci_text, markdown_table
from coopo.schedule import Budget

# The report's Results and Run (coopo.bench.report imports this module, so they are not
# imported here: the import graph stays acyclic).
Results = Any
Run = Any

DATA_MARGIN = 10.0
"""A target above the data: the dataset's own level plus this many points."""


@dataclass
class Comparison:
    """One (method under test, baseline, dataset) comparison; dataset '' = across datasets."""

    method: str
    baseline: str
    dataset: str
    final: stats.PairedDifference | None
    auc: stats.PairedDifference | None
    poi: tuple[float, float, float]
    final_holm: float = float("nan")
    auc_holm: float = float("nan")


@dataclass
class Evidence:
    data_level: dict[str, float]
    auc: dict[tuple[str, str], np.ndarray]  # (dataset, method) -> per-seed AUC
    comparisons: list[Comparison] = field(default_factory=list)


def data_level(root: Path, run_dir: Path) -> float | None:
    """The normalised return of a run's dataset: recorded in its ``dataset.json``, else
    computed from the bench's dataset file (``datasets/``, named in ``bench.json``)."""
    info_file = run_dir / "dataset.json"
    info: dict[str, Any] = json.loads(info_file.read_text()) if info_file.is_file() else {}
    if info.get("normalized_return") is not None:
        return float(info["normalized_return"])
    bench = json.loads((run_dir / "bench.json").read_text())
    name = bench.get("dataset_file")
    path = root / "datasets" / name if name else None
    if path is None or not path.is_file():
        return None
    from coopo.data import load
    from coopo.evaluation import reference_scores

    ds = load(str(path))
    env_id = info.get("env_id") or ds.metadata.env_id
    lo, hi = reference_scores(
        env_id,
        info.get("ref_min_score", ds.metadata.ref_min_score),
        info.get("ref_max_score", ds.metadata.ref_max_score),
    )
    if lo is None or hi is None or not len(ds.episode_returns()):
        return None
    return stats.data_level(ds.episode_returns(), lo, hi)


def online_phase_steps(config: dict[str, Any]) -> int | None:
    """Length of a run's online phases after a switch (None: it never switches)."""
    if config.get("method") not in ("coopo", "o2o"):
        return None
    return Budget.from_config(config).online_phase_steps


def paired(runs_a: list[Run], runs_b: list[Run], value: Any) -> stats.PairedDifference | None:
    """Paired difference over the seeds both have (same seed: same dataset, initialisation key
    and evaluation env seeds)."""
    a = {r.seed: value(r) for r in runs_a}
    b = {r.seed: value(r) for r in runs_b}
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    return stats.paired_difference(np.array([a[s] for s in seeds]), np.array([b[s] for s in seeds]))


def data_levels(res: Results) -> dict[str, float]:
    """Dataset -> its own normalised return (from the first finished run that can tell)."""
    level: dict[str, float] = {}
    for d in res.datasets:
        for m in res.methods:
            run_dir = _run_dir(res, d, m)
            x = data_level(res.root, run_dir) if run_dir is not None else None
            if x is not None:
                level[d] = x
                break
    return level


def forgetting_window(res: Results) -> int | None:
    """The suite's shortest online phase after a switch (None: no method switches)."""
    lengths = [online_phase_steps(r.config) for r in res.runs]
    return min((x for x in lengths if x), default=None)


def gather(
    res: Results,
    methods_under_test: list[str],
    baselines: list[str],
    final_runs: dict[tuple[str, str], np.ndarray],
    matrices: dict[str, np.ndarray],
    level: dict[str, float],
) -> Evidence:
    """AUCs and the paired comparisons of ``res``; ``final_runs``/``matrices`` are the report's
    per-seed final scores (seed order) and runs x datasets matrices, ``level`` the data levels."""
    budget = {
        (d, m): res.online_budget(d, m)
        for d in res.datasets
        for m in res.methods
        if res.select(d, m)
    }

    def auc_of(r: Run) -> float:
        return stats.normalized_auc(r.curve, budget[(r.dataset, r.method)])

    auc = {k: np.array([auc_of(r) for r in res.select(*k)]) for k in budget}
    ev = Evidence(level, auc)
    for c in methods_under_test:
        for b in baselines:
            for d in res.datasets:
                rc, rb = res.select(d, c), res.select(d, b)
                if not rc or not rb:
                    continue
                ev.comparisons.append(
                    Comparison(
                        c,
                        b,
                        d,
                        paired(rc, rb, lambda r: stats.final_score(r.curve)),
                        paired(rc, rb, auc_of),
                        stats.probability_of_improvement(final_runs[(d, c)], final_runs[(d, b)]),
                    )
                )
            if c in matrices and b in matrices:
                poi = stats.probability_of_improvement(matrices[c], matrices[b])
                ev.comparisons.append(Comparison(c, b, "", None, None, poi))
    # Holm over every paired test in the report (final scores and AUCs together).
    tests = [(cmp, k) for cmp in ev.comparisons for k in ("final", "auc") if getattr(cmp, k)]
    adjusted = stats.holm([getattr(cmp, k).p_value for cmp, k in tests])
    for (cmp, k), p in zip(tests, adjusted, strict=True):
        setattr(cmp, f"{k}_holm", float(p))
    return ev


def _run_dir(res: Results, dataset: str, method: str) -> Path | None:
    base = res.root / "runs" / dataset / method
    for bench in sorted(base.glob("*/bench.json")) if base.is_dir() else []:
        if (bench.parent / "results.json").is_file():
            return bench.parent
    return None


# ----------------------------------------------------------------------------- rendering
def _p(p: float) -> str:
    if not math.isfinite(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _diff(x: stats.PairedDifference | None) -> str:
    return "-" if x is None else ci_text(x.mean, x.low, x.high) + f" (n={x.n})"


def markdown(res: Results, ev: Evidence) -> list[str]:
    """The report's sections for these statistics (Markdown lines)."""
    md = data_level_section(res, ev) + auc_section(res, ev)
    if ev.comparisons:
        md += comparison_section(ev)
        md += verdict_lines(ev, list(dict.fromkeys(c.method for c in ev.comparisons)))
    return md


def data_level_section(res: Results, ev: Evidence) -> list[str]:
    """Each dataset's own normalised level (empty when none is known)."""
    if not ev.data_level:
        return []
    return [
        "## The datasets' own level",
        "",
        "Mean episode return of each dataset, normalised like every evaluation: a policy "
        "that only imitates the data scores about this. It is the dashed line in the "
        "learning curves, a row of the score tables, and the base of the first "
        "interactions target.",
        "",
        markdown_table(
            ["dataset", "data level"],
            [[d, f"{ev.data_level[d]:.1f}"] for d in res.datasets if d in ev.data_level],
        ),
        "",
    ]


def auc_section(res: Results, ev: Evidence) -> list[str]:
    """The area under each method's learning curve per dataset, the data level first."""
    rows = []
    if ev.data_level:
        rows.append(
            ["*data level*", *(f"{ev.data_level.get(d, float('nan')):.1f}" for d in res.datasets)]
        )
    for m in res.methods:
        cells = (
            ci_text(*stats.interval(ev.auc[(d, m)])) if (d, m) in ev.auc else "-"
            for d in res.datasets
        )
        rows.append([m, *cells])
    return [
        "## Area under the learning curve",
        "",
        "Normalised score averaged over the online budget (trapezoid on the evaluations, over "
        "online env steps, divided by the budget): mean over seeds [95% CI]. Unlike the final "
        "score it rewards getting good early and staying good.",
        "",
        markdown_table(["method", *res.datasets], rows),
        "",
    ]


COMPARISON_HEADER = [
    "comparison",
    "dataset",
    "final score difference",
    "p",
    "Holm p",
    "AUC difference",
    "AUC Holm p",
    "P(improvement)",
]


def comparison_section(ev: Evidence) -> list[str]:
    """The paired tests of each method under test against each baseline, per dataset and
    (probability of improvement) across datasets."""
    tests = sum(1 for c in ev.comparisons for k in ("final", "auc") if getattr(c, k))
    md = [
        "## COOPO against each baseline",
        "",
        "Paired per-seed differences (method minus baseline; seeds share the dataset, the "
        "initialisation key and the evaluation env seeds): mean [95% t interval] (n seeds), "
        "with the two-sided paired t-test's p-value and its Holm-adjusted value over all "
        f"{tests} "
        "paired tests in this report. P(improvement) is rliable's probability that a run "
        "of the method scores above a run of the baseline (final score) [95% stratified "
        "bootstrap]; 0.5 = indistinguishable. A difference counts as shown when its Holm "
        "p-value is below 0.05.",
        "",
    ]
    rows = [
        [
            f"{c.method} vs {c.baseline}",
            c.dataset,
            _diff(c.final),
            _p(c.final.p_value) if c.final else "-",
            _p(c.final_holm),
            _diff(c.auc),
            _p(c.auc_holm),
            ci_text(*c.poi, digits=2),
        ]
        for c in ev.comparisons
        if c.dataset
    ]
    md += [markdown_table(COMPARISON_HEADER, rows), ""]
    across = [c for c in ev.comparisons if not c.dataset]
    if across:
        md += [
            "Across datasets (probability of improvement averaged over datasets, runs "
            "resampled within each dataset):",
            "",
            markdown_table(
                ["comparison", "P(improvement)"],
                [[f"{c.method} vs {c.baseline}", ci_text(*c.poi, digits=2)] for c in across],
            ),
            "",
        ]
    return md


def verdict_lines(ev: Evidence, under_test: list[str]) -> list[str]:
    """Plain words: where each method under test is shown better, shown worse, or cannot be
    told apart from each baseline (final score, Holm-adjusted paired test at 5%)."""
    lines = []
    for c in under_test:
        wins, losses, ties = [], [], []
        for cmp in ev.comparisons:
            if cmp.method != c or not cmp.dataset or cmp.final is None:
                continue
            tag = f"{cmp.baseline} on {cmp.dataset} ({cmp.final.mean:+.1f})"
            if cmp.final_holm < 0.05 and cmp.final.mean > 0:
                wins.append(tag)
            elif cmp.final_holm < 0.05 and cmp.final.mean < 0:
                losses.append(tag)
            else:
                ties.append(tag)
        parts = []
        if wins:
            parts.append("higher final score than " + ", ".join(wins))
        if losses:
            parts.append("**lower** final score than " + ", ".join(losses))
        if ties:
            parts.append("cannot be told apart from " + ", ".join(ties))
        if parts:
            lines.append(f"- **{c}** (Holm-adjusted paired tests): " + "; ".join(parts) + ".")
    return [*lines, ""] if lines else []


def add_data_level(ax: Any, level: float | None) -> None:
    """The dataset's own level as a dashed reference line on a score plot."""
    if level is not None and math.isfinite(level):
        ax.axhline(level, color="0.4", ls="--", lw=1.0, label="data level")
