"""``coopo report RESULTS_DIR``: a self-contained Markdown + HTML report of a bench.

Everything is computed from the run directories' ``metrics.jsonl`` (or ``.gz``; see
:mod:`coopo.bench.stats` for the measures and their intervals):

1. final normalised score per method and dataset (mean, 95% stratified-bootstrap CI), with
   IQM and mean across datasets and performance profiles (rliable);
2. the datasets' own level, the area under the learning curve, and COOPO against each
   baseline: paired per-seed differences, Holm-adjusted p-values over the report, probability
   of improvement (:mod:`coopo.bench.evidence`);
3. online interactions to a held target (the dataset's level + 10, fractions of the expert
   reference, the final score of the best offline-to-online baseline), read on the online
   evaluation grid every method shares: the fraction of runs that held it and the median over
   those runs, and COOPO's reduction of the survival median against each baseline;
4. learning curves (normalised score against online env steps, mean and 95% CI band, the
   data level as a dashed line);
5. forgetting at each offline->online switch, in the suite's shortest online phase;
6. drift from the data (``eval/data_action_mse`` at every evaluation; the offline phases'
   ``offline/kl_to_previous`` and ``offline/data_log_likelihood``);
7. a plain-language summary generated from those numbers.

Figures are PNG files beside ``report.md`` and embedded (base64) in ``report.html``.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from coopo.bench import evidence, stats
from coopo.bench.evidence import Evidence
from coopo.bench.stats import Curve
from coopo.bench.styles import cycle_switches, method_styles
from coopo.bench.tables import ci_text, markdown_table
from coopo.jsonfile import read_metrics
from coopo.schedule import Budget

SCORE = "eval/normalized_score"
DRIFT = "eval/data_action_mse"


@dataclass
class Run:
    dataset: str
    method: str
    seed: int
    rows: list[dict[str, Any]]
    curve: Curve
    config: dict[str, Any]


@dataclass
class Results:
    root: Path
    suite: dict[str, Any]
    runs: list[Run]
    missing: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        order = self.suite.get("datasets") or []
        have = {r.dataset for r in self.runs}
        return [d for d in order if d in have] + sorted(have - set(order))

    @property
    def methods(self) -> list[str]:
        order = [m["name"] for m in self.suite.get("methods", [])]
        have = {r.method for r in self.runs}
        return [m for m in order if m in have] + sorted(have - set(order))

    def method_info(self, name: str) -> dict[str, Any]:
        for m in self.suite.get("methods", []):
            if m["name"] == name:
                return dict(m)
        return {"name": name, "baseline": True, "offline_to_online": False, "description": name}

    def select(self, dataset: str, method: str) -> list[Run]:
        return sorted(
            (r for r in self.runs if r.dataset == dataset and r.method == method),
            key=lambda r: r.seed,
        )

    def online_budget(self, dataset: str, method: str) -> int:
        runs = self.select(dataset, method)
        cfg = runs[0].config
        return Budget.from_config(cfg).online_env_steps


def load_results(root: str | Path) -> Results:
    """Read every finished run under ``root/runs`` (a `coopo bench` results directory).

    A (dataset, method, seed) finished in two run directories is refused: counting it twice
    would weight that seed double in every statistic."""
    root = Path(root)
    suite_file = root / "suite.json"
    if not suite_file.is_file():
        raise FileNotFoundError(f"{root} has no suite.json: not a coopo bench results directory")
    suite = json.loads(suite_file.read_text())
    runs: list[Run] = []
    missing, failed = [], []
    seen: dict[tuple[str, str, int], str] = {}
    for bench in sorted((root / "runs").rglob("bench.json")):
        path = bench.parent
        rel = str(path.relative_to(root / "runs"))
        if (path / "error.txt").is_file():
            failed.append(rel)
            continue
        if not (path / "results.json").is_file():
            missing.append(rel)
            continue
        spec = json.loads(bench.read_text())
        config = json.loads((path / "config.json").read_text())
        by_seed: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in read_metrics(path):
            by_seed[int(row["seed"])].append(row)
        for seed in spec["seeds"]:
            key = (spec["dataset"], spec["method"], int(seed))
            if key in seen:
                raise ValueError(
                    f"seed {seed} of {spec['method']} on {spec['dataset']} was trained in two run "
                    f"directories ({seen[key]} and {rel}): counting it twice would weight it "
                    "double; move one of them out of runs/ (coopo bench --seeds picks the seeds "
                    "a run trains)"
                )
            seen[key] = rel
            rows = by_seed.get(int(seed), [])
            curve = Curve.of(rows, SCORE if any(SCORE in r for r in rows) else "eval/return")
            runs.append(Run(spec["dataset"], spec["method"], int(seed), rows, curve, config))
    if not runs:
        raise FileNotFoundError(f"{root} has no finished runs yet (run coopo bench first)")
    return Results(root, suite, runs, missing, failed)


# ----------------------------------------------------------------------------- tables
def _steps(x: float) -> str:
    if not math.isfinite(x):
        return "never"
    return f"{x / 1000:.1f}k"


@dataclass
class Analysis:
    """All numbers of the report, computed once (figures and text read from here)."""

    final: dict[tuple[str, str], tuple[float, float, float]]
    final_runs: dict[tuple[str, str], np.ndarray]
    aggregate: dict[str, dict[str, tuple[float, float, float]]]
    matrices: dict[str, np.ndarray]  # method -> runs x datasets final scores
    targets: dict[str, list[tuple[str, float]]]  # dataset -> [(label, target score)]
    interactions: dict[
        tuple[str, str, str], tuple[np.ndarray, int]
    ]  # (ds, method, label) -> per-run steps, budget
    forgetting: dict[
        tuple[str, str], tuple[np.ndarray, np.ndarray]
    ]  # first switch, mean over switches
    best_o2o: dict[str, str]
    data_level: dict[str, float] = field(default_factory=dict)
    """Dataset -> its own normalised return (the reference line)."""
    window: int | None = None
    """Env steps after a switch in which forgetting is measured (the shortest online phase)."""
    evidence: Evidence | None = None
    """AUCs, paired differences, Holm-adjusted p-values, probabilities of improvement."""
    _reductions: dict[tuple[str, str, str, str], tuple[float, float, float]] = field(
        default_factory=dict
    )

    def reduction(self, d: str, c: str, b: str, label: str) -> tuple[float, float, float]:
        """1 - median(c)/median(b) of the steps to the target on dataset d over all runs, a
        run that never held it counting as never (:func:`coopo.bench.stats.survival_median`),
        with its interval (memoised: the summary and the tables both read it)."""
        key = (d, c, b, label)
        if key not in self._reductions:
            xc, _ = self.interactions[(d, c, label)]
            xb, _ = self.interactions[(d, b, label)]
            self._reductions[key] = stats.ratio_interval(xc, xb, center=stats.survival_median)
        return self._reductions[key]


def analyse(res: Results) -> Analysis:
    final: dict[tuple[str, str], tuple[float, float, float]] = {}
    final_runs: dict[tuple[str, str], np.ndarray] = {}
    for d in res.datasets:
        for m in res.methods:
            runs = res.select(d, m)
            if runs:
                x = np.array([stats.final_score(r.curve) for r in runs])
                final_runs[(d, m)] = x
                final[(d, m)] = stats.interval(x)
    # Across datasets: a runs x datasets matrix per method (seeds aligned by rank).
    aggregate: dict[str, dict[str, tuple[float, float, float]]] = {}
    matrices: dict[str, np.ndarray] = {}
    for m in res.methods:
        cols = [final_runs[(d, m)] for d in res.datasets if (d, m) in final_runs]
        if len(cols) != len(res.datasets):
            continue
        n = min(len(c) for c in cols)
        mat = np.stack([c[:n] for c in cols], axis=1)
        matrices[m] = mat
        aggregate[m] = {
            "iqm": stats.interval(mat, stats.iqm),
            "mean": stats.interval(mat, lambda x: float(np.mean(x))),
        }
    best_o2o: dict[str, str] = {}
    targets: dict[str, list[tuple[str, float]]] = {}
    suite_targets = res.suite.get("targets") or [50.0, 75.0]
    level = evidence.data_levels(res)
    for d in res.datasets:
        o2o = [
            m
            for m in res.methods
            if res.method_info(m).get("offline_to_online") and (d, m) in final
        ]
        # Targets above the data: a target the data's own level already meets says nothing.
        targets[d] = []
        if d in level:
            targets[d].append(
                (f"data level + {evidence.DATA_MARGIN:g}", level[d] + evidence.DATA_MARGIN)
            )
        targets[d] += [(f"{t:g}% of expert", float(t)) for t in suite_targets]
        if o2o:
            best = max(o2o, key=lambda m: final[(d, m)][0])
            best_o2o[d] = best
            targets[d].append((f"final score of {best}", final[(d, best)][0]))
    interactions: dict[tuple[str, str, str], tuple[np.ndarray, int]] = {}
    forgetting: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
    window = evidence.forgetting_window(res)
    for d in res.datasets:
        for m in res.methods:
            runs = res.select(d, m)
            if not runs:
                continue
            budget = res.online_budget(d, m)
            for label, t in targets[d]:
                x = np.array([stats.interactions_to_held_target(r.curve, t) for r in runs])
                interactions[(d, m, label)] = (x, budget)
            drops = [stats.forgetting(r.curve, window) for r in runs]
            if all(drops):
                forgetting[(d, m)] = (
                    np.array([x[0] for x in drops]),
                    np.array([np.mean(x) for x in drops]),
                )
    an = Analysis(
        final,
        final_runs,
        aggregate,
        matrices,
        targets,
        interactions,
        forgetting,
        best_o2o,
        level,
        window,
    )
    an.evidence = evidence.gather(
        res, _coopo_methods(res), _baselines(res), final_runs, matrices, level
    )
    return an


def interactions_cell(x: np.ndarray, budget: int) -> str:
    """Runs that held the target / runs, and the median steps [95% CI] over those runs; a run
    that never held it gets no count (it is not averaged in at the budget)."""
    h = stats.held_summary(x)
    if h.held == 0:
        return f"never (0/{h.runs})"
    return (
        f"{h.held}/{h.runs} held, median {h.median / 1000:.1f}k "
        f"[{h.low / 1000:.1f}k, {h.high / 1000:.1f}k]"
    )


def _median_text(x: np.ndarray) -> str:
    """A cell's survival median as text, with how many runs held the target."""
    held = int(np.isfinite(x).sum())
    return f"median {_steps(stats.survival_median(x))}, {held}/{len(x)} held"


# ----------------------------------------------------------------------------- figures
def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _colors(methods: list[str]) -> dict[str, Any]:
    return {m: style["color"] for m, style in method_styles(methods).items()}


def _curve_band(
    runs: list[Run], key: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Mean and 95% CI over seeds of a step-function curve on the union of eval env steps."""
    curves = [r.curve if key is None else Curve.of(r.rows, key) for r in runs]
    grid = np.unique(np.concatenate([c.env_steps for c in curves]))
    mat = np.stack([stats.on_grid(c, grid) for c in curves])  # runs x grid
    ok = ~np.isnan(mat).any(axis=0)
    grid, mat = grid[ok], mat[:, ok]
    mean, lo, hi = stats.bootstrap(mat, lambda x: np.mean(x, axis=0), reps=1000)
    return grid, mean, lo, hi


def fig_learning_curves(
    res: Results,
    path: Path,
    key: str | None = None,
    ylabel: str = "normalized score",
    levels: dict[str, float] | None = None,
) -> Path:
    """Mean curve and 95% CI band per method, one panel per dataset; ``levels``: the
    datasets' own normalised returns, drawn as a dashed reference line."""
    plt = _plt()
    ds = res.datasets
    styles = method_styles(res.methods)
    rows_of_legend = math.ceil(len(res.methods) / 5)
    fig, axes = plt.subplots(
        1, len(ds), figsize=(max(7.0, 4.2 * len(ds)), 3.4 + 0.3 * rows_of_legend), squeeze=False
    )
    switches: set[int] = set()
    drew_switches = False
    for ax, d in zip(axes[0], ds, strict=True):
        for m in res.methods:
            runs = res.select(d, m)
            if not runs:
                continue
            if key is not None and not any(key in row for r in runs for row in r.rows):
                continue
            grid, mean, lo, hi = _curve_band(runs, key)
            st = styles[m]
            ax.step(
                grid / 1000,
                mean,
                where="post",
                color=st["color"],
                linestyle=st["linestyle"],
                label=m,
                lw=1.6,
            )
            ax.fill_between(grid / 1000, lo, hi, step="post", color=st["color"], alpha=0.14)
            if runs[0].config.get("method") == "coopo":  # where it went back to the dataset
                switches.update(x for r in runs for x in cycle_switches(r.rows))
        for x in sorted(switches):
            ax.axvline(x / 1000, color="0.45", lw=0.8, linestyle=(0, (2, 3)), zorder=0)
            drew_switches = True
        switches.clear()
        if levels:
            evidence.add_data_level(ax, levels.get(d))
        ax.set_title(d)
        ax.set_xlabel("online env steps (thousands)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    handles, labels = axes[0][0].get_legend_handles_labels()
    for ax in axes[0][1:]:  # methods missing on the first dataset
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if drew_switches:
        handles.append(plt.Line2D([0], [0], color="0.45", lw=0.8, linestyle=(0, (2, 3))))
        labels.append("COOPO back to the dataset (cycle switch)")
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8)
    fig.tight_layout(rect=(0, 0.07 * rows_of_legend + 0.02, 1, 1))
    return _save(fig, path)


def fig_performance_profile(res: Results, an: Analysis, path: Path) -> Path:
    """Fraction of runs above each score, per method, with rliable's bands."""
    methods = list(an.aggregate)
    plt = _plt()
    from rliable import plot_utils

    scores = {m: an.matrices[m] for m in methods}
    allv = np.concatenate([s.ravel() for s in scores.values()])
    taus = np.linspace(min(0.0, float(allv.min())), float(allv.max()) + 1, 81)
    profiles, cis = stats.performance_profile(scores, taus)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = method_styles(res.methods)
    colors = {m: styles[m]["color"] for m in methods}
    plot_utils.plot_performance_profiles(
        profiles,
        taus,
        performance_profile_cis=cis,
        colors=colors,
        linestyles={m: styles[m]["linestyle"] for m in methods},
        xlabel="normalized score τ",
        ylabel="fraction of runs with score > τ",
        ax=ax,
        labelsize="medium",
        ticklabelsize="small",
    )
    ax.legend(
        [plt.Line2D([0], [0], color=colors[m], linestyle=styles[m]["linestyle"]) for m in methods],
        methods,
        fontsize=8,
    )
    fig.tight_layout()
    return _save(fig, path)


def fig_aggregate(res: Results, an: Analysis, path: Path) -> Path:
    """IQM and mean normalised score across datasets (95% CI bars), per method."""
    methods = list(an.aggregate)
    plt = _plt()
    colors = _colors(res.methods)
    fig, axes = plt.subplots(1, 2, figsize=(8, 0.5 + 0.45 * len(methods)), squeeze=False)
    for ax, name in zip(axes[0], ("iqm", "mean"), strict=True):
        for i, m in enumerate(methods):
            p, lo, hi = an.aggregate[m][name]
            ax.barh(i, hi - lo, left=lo, color=colors[m], alpha=0.75, height=0.6)
            ax.plot([p, p], [i - 0.3, i + 0.3], color="k", lw=1.5)
        ax.set_yticks(range(len(methods)), methods if name == "iqm" else [""] * len(methods))
        ax.set_title(
            f"{name.upper() if name == 'iqm' else 'Mean'} normalized score (95% CI)", fontsize=9
        )
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(fig, path)


# ----------------------------------------------------------------------------- text
def _reference(res: Results) -> str | None:
    ref = res.suite.get("reference")
    return str(ref) if ref and ref in res.methods else None


def _coopo_methods(res: Results) -> list[str]:
    """The methods under test: COOPO variants, less the suite's reference variant (if any)."""
    return [
        m
        for m in res.methods
        if not res.method_info(m).get("baseline", True) and m != _reference(res)
    ]


def _baselines(res: Results) -> list[str]:
    """What the methods under test are compared with: the baselines and the reference."""
    return [m for m in res.methods if m not in _coopo_methods(res)]


# ----------------------------------------------------------------------------- analysis
# Pure functions from (Results, Analysis) to the numbers of each table; the Markdown below
# only formats them.


@dataclass
class Comparison:
    """One method under test against one baseline, dataset by dataset."""

    method: str
    baseline: str
    better: list[str] = field(default_factory=list)  # datasets: final score clearly higher
    worse: list[str] = field(default_factory=list)
    tie: list[tuple[str, float, float]] = field(default_factory=list)  # (dataset, c, b)
    # (dataset, method's steps, baseline's steps), steps as text ('>12.0k' when censored)
    faster: list[tuple[str, str, str]] = field(default_factory=list)
    slower: list[tuple[str, str, str]] = field(default_factory=list)
    unclear: list[tuple[str, str, str]] = field(default_factory=list)
    neither: list[str] = field(default_factory=list)  # datasets where neither reached it


def _paired_final(an: Analysis, c: str, b: str, d: str) -> tuple[float, float] | None:
    """(mean paired difference, Holm-adjusted p) of c against b on d, when seeds pair."""
    for x in an.evidence.comparisons if an.evidence else ():
        if (x.method, x.baseline, x.dataset) == (c, b, d) and x.final is not None:
            if math.isfinite(x.final_holm):
                return x.final.mean, x.final_holm
    return None


def _compare_final(res: Results, an: Analysis, cmp: Comparison) -> None:
    """Final score: the Holm-adjusted paired test at 5% where the seeds pair (the same test
    as the verdicts above the summary), else whether the two cells' 95% intervals overlap;
    a cell of one seed has a point for an interval, so it is never called different."""
    c, b = cmp.method, cmp.baseline
    for d in res.datasets:
        if (d, c) not in an.final or (d, b) not in an.final:
            continue
        pc, loc, hic = an.final[(d, c)]
        pb, lob, hib = an.final[(d, b)]
        paired = _paired_final(an, c, b, d)
        if paired is not None:
            diff, holm_p = paired
            if holm_p < 0.05:
                (cmp.better if diff > 0 else cmp.worse).append(d)
            else:
                cmp.tie.append((d, pc, pb))
        elif min(len(res.select(d, c)), len(res.select(d, b))) < 2:
            cmp.tie.append((d, pc, pb))
        elif loc > hib:
            cmp.better.append(d)
        elif hic < lob:
            cmp.worse.append(d)
        else:
            cmp.tie.append((d, pc, pb))


def _compare_interactions(res: Results, an: Analysis, cmp: Comparison) -> None:
    """Interactions to the first target: a difference counts when the 95% interval of the
    reduction excludes zero (never with a cell of one seed, whose interval is a point)."""
    c, b = cmp.method, cmp.baseline
    for d in res.datasets:
        for label, _ in an.targets[d][:1]:
            if (d, c, label) not in an.interactions or (d, b, label) not in an.interactions:
                continue
            xc, _ = an.interactions[(d, c, label)]
            xb, _ = an.interactions[(d, b, label)]
            if not np.isfinite(xc).any() and not np.isfinite(xb).any():
                cmp.neither.append(d)
                continue
            mc, mb = stats.survival_median(xc), stats.survival_median(xb)
            sc, sb = _median_text(xc), _median_text(xb)
            if min(len(xc), len(xb)) < 2:
                cmp.unclear.append((d, sc, sb))
                continue
            _, lo, hi = an.reduction(d, c, b, label)
            if mb > 0 and lo > 0:
                cmp.faster.append((d, sc, sb))
            elif mb > 0 and hi < 0 or mb == 0 and mc > 0:
                cmp.slower.append((d, sc, sb))
            else:
                cmp.unclear.append((d, sc, sb))


def comparisons(res: Results, an: Analysis) -> list[Comparison]:
    """Every method under test (COOPO, or each ablation variant) against every baseline."""
    out = []
    for c in _coopo_methods(res):
        for b in _baselines(res):
            cmp = Comparison(c, b)
            _compare_final(res, an, cmp)
            _compare_interactions(res, an, cmp)
            out.append(cmp)
    return out


# A reduction table cell: an interval (1 - method/baseline of the survival medians), or why
# there is none.
ReductionCell = tuple[float, float, float] | str


def _median_reduction(
    r: tuple[float, float, float], xc: np.ndarray, xb: np.ndarray
) -> ReductionCell:
    """The reduction of the survival medians as it may be stated: a median is "never" when at
    most half the runs held the target, and a ratio with "never" is no number."""
    mc, mb = stats.survival_median(xc), stats.survival_median(xb)
    if math.isinf(mb) and math.isinf(mc):
        return f"neither median held ({_median_text(xc)} vs {_median_text(xb)})"
    if math.isinf(mb):
        return f"baseline's median never ({_median_text(xc)} vs {_median_text(xb)})"
    if math.isinf(mc):
        return f"median never ({_median_text(xc)} vs {_median_text(xb)})"
    return r


def reduction_rows(res: Results, an: Analysis, d: str) -> list[tuple[str, list[ReductionCell]]]:
    """Per (method, baseline) on dataset d: the reduction in online interactions per target."""
    labels = [label for label, _ in an.targets[d]]
    rows: list[tuple[str, list[ReductionCell]]] = []
    for c in _coopo_methods(res):
        for b in _baselines(res):
            if (d, b, labels[0]) not in an.interactions or (
                d,
                c,
                labels[0],
            ) not in an.interactions:
                continue
            cells: list[ReductionCell] = []
            for lab in labels:
                xc, _ = an.interactions[(d, c, lab)]
                xb, _ = an.interactions[(d, b, lab)]
                if not np.isfinite(xb).any() and not np.isfinite(xc).any():
                    cells.append("neither reached it")
                elif stats.survival_median(xb) == 0:
                    cells.append("baseline needs 0")
                else:
                    cells.append(_median_reduction(an.reduction(d, c, b, lab), xc, xb))
            rows.append((f"{c} vs {b}", cells))
    return rows


Interval = tuple[float, float, float]


def forgetting_rows(res: Results, an: Analysis) -> list[tuple[str, str, Interval, Interval]]:
    """(dataset, method, drop at the first switch, mean drop over all switches)."""
    rows = []
    for d in res.datasets:
        for m in res.methods:
            if (d, m) in an.forgetting:
                first, avg = an.forgetting[(d, m)]
                rows.append((d, m, stats.interval(first), stats.interval(avg)))
    return rows


def _last_values(runs: list[Run], key: str) -> list[list[float]]:
    return [[row[key] for row in r.rows if key in row] for r in runs]


def drift_rows(res: Results) -> list[tuple[str, str, Interval, Interval | None, Interval | None]]:
    """(dataset, method, final action MSE to the data, last offline KL to the previous policy,
    last offline data log-likelihood); None where the method has no offline phase."""
    rows = []
    for d in res.datasets:
        for m in res.methods:
            runs = res.select(d, m)
            kl = _last_values(runs, "offline/kl_to_previous")
            ll = _last_values(runs, "offline/data_log_likelihood")
            mse = [Curve.of(r.rows, DRIFT).score for r in runs]
            if not runs or not all(len(x) for x in mse):
                continue

            def last(xs: list[Any]) -> Interval:
                return stats.interval(np.array([x[-1] for x in xs]))

            rows.append(
                (d, m, last(mse), last(kl) if all(kl) else None, last(ll) if all(ll) else None)
            )
    return rows


def compute_rows(res: Results) -> list[tuple[str, str, float, float, str]]:
    """Measured wall time of each finished run (wall_time.json) next to the estimate its
    suite's cost gave (``estimated_seconds`` in its bench.json; NaN where there is none):
    (dataset, method, seconds, estimated seconds, where it ran)."""
    rows = []
    for bench in sorted((res.root / "runs").rglob("bench.json")):
        wall = bench.parent / "wall_time.json"
        # a running or interrupted run's time is not its cost yet
        if not wall.is_file() or not (bench.parent / "results.json").is_file():
            continue
        spec = json.loads(bench.read_text())
        timing = json.loads(wall.read_text())
        hosts = ", ".join(timing.get("hosts", [])) or "not recorded"
        est = float(spec.get("estimated_seconds", float("nan")))
        rows.append((spec["dataset"], spec["method"], timing["seconds"], est, hosts))
    return rows


# ----------------------------------------------------------------------------- Markdown
def summary_lines(res: Results, an: Analysis) -> list[str]:
    """Plain-language verdicts: COOPO (each non-baseline method) against each baseline."""
    lines: list[str] = []
    tally = dict.fromkeys(("better", "worse", "tie", "faster", "slower", "unclear"), 0)
    first_target = next(iter(an.targets.values()))[0][0] if an.targets else ""
    for cmp in comparisons(res, an):
        parts = []
        if cmp.better:
            parts.append(f"higher final score on {', '.join(cmp.better)}")
        if cmp.worse:
            parts.append(f"**lower** final score on {', '.join(cmp.worse)}")
        if cmp.tie:
            ties = [f"{d} ({pc:.0f} vs {pb:.0f})" for d, pc, pb in cmp.tie]
            parts.append(f"no clear difference on {', '.join(ties)}")
        faster, slower, unclear = (
            [f"{d} ({sc} vs {sb})" for d, sc, sb in x]
            for x in (cmp.faster, cmp.slower, cmp.unclear)
        )
        if faster:
            parts.append(f"reached {first_target} in fewer online steps on {', '.join(faster)}")
        if slower:
            parts.append(
                f"needed **more** online steps to reach {first_target} on {', '.join(slower)}"
            )
        if unclear:
            parts.append(
                f"no clear difference in online steps to {first_target} on {', '.join(unclear)}"
            )
        if cmp.neither:
            parts.append(f"neither reached {first_target} on {', '.join(cmp.neither)}")
        lines.append(f"- **{cmp.method} vs {cmp.baseline}**: " + "; ".join(parts) + ".")
        tally["better"] += len(cmp.better)
        tally["worse"] += len(cmp.worse)
        tally["tie"] += len(cmp.tie)
        tally["faster"] += len(cmp.faster)
        tally["slower"] += len(cmp.slower)
        tally["unclear"] += len(cmp.unclear) + len(cmp.neither)
    if lines:
        n = tally["better"] + tally["worse"] + tally["tie"]
        lines.insert(
            0,
            f"**Bottom line:** over {n} (method, baseline, dataset) comparisons, the final "
            f"score was clearly higher (Holm-adjusted paired test at 5% where seeds pair, else "
            f"non-overlapping 95% CIs of at least 2 seeds each) in {tally['better']}, clearly "
            f"lower in {tally['worse']} and not distinguishable in {tally['tie']}; online "
            f"interactions to the first target were clearly fewer in {tally['faster']}, clearly "
            f"more in {tally['slower']} and not distinguishable in {tally['unclear']}.\n",
        )
    return lines


def cost_note(res: Results) -> str:
    """How the runs' estimates were made: the suite's ``cost_note`` as recorded."""
    return str(res.suite.get("cost_note") or DEFAULT_COST_NOTE)


DEFAULT_COST_NOTE = "the suite's cost gave for one `coopo bench` worker (bench.json)"


def compute_section(res: Results) -> list[str]:
    """The Compute table (empty without wall_time.json files)."""
    rows = compute_rows(res)
    if not rows:
        return []
    total = sum(r[2] for r in rows)
    return [
        "",
        "## Compute",
        "",
        f"Wall time of each run (all its seeds, vmapped in one process; summed over resumes), "
        f"{total / 3600:.2f} h in all, next to the estimate {cost_note(res)}. A run that "
        "shared its core with other work takes longer.",
        "",
        markdown_table(
            ["dataset", "method", "wall minutes", "estimate minutes", "ran on"],
            [[d, m, f"{sec / 60:.1f}", f"{est / 60:.1f}", hosts] for d, m, sec, est, hosts in rows],
        ),
    ]


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def provenance_line(root: Path) -> str:
    """Commits, machines (with their x86 family and model numbers where recorded) and every
    version of the key packages that produced a results directory (from the runs' and the
    bench's ``provenance.json``); '' when none is recorded."""
    records: list[dict[str, Any]] = []
    for f in [root / "provenance.json", *sorted((root / "runs").rglob("provenance.json"))]:
        if f.is_file():
            records += json.loads(f.read_text())
    if not records:
        return ""
    commits = sorted(
        {
            r["git_commit"][:10] + ("+changes" if r["git_commit"].endswith("+dirty") else "")
            for r in records
            if r.get("git_commit")
        }
    )

    def machine(r: dict[str, Any]) -> str:
        host = r.get("host") or {}
        cpu, gpus = host.get("cpu") or {}, host.get("gpu") or []
        family = (
            f" (family {cpu['family']}, model {cpu.get('model_number')})"
            if cpu.get("family") is not None
            else ""
        )
        return f"{cpu.get('model')}{family} x{cpu.get('cores')}" + (
            f" + {', '.join(gpus)}" if gpus else ""
        )

    machines = sorted({machine(r) for r in records})

    def seen(package: str) -> str:
        """Every version of a package across the records, in the order first seen: results
        gathered over several invocations may mix them, and the report must not hide that."""
        found = [
            str(r["versions"][package]) for r in records if (r.get("versions") or {}).get(package)
        ]
        return " / ".join(dict.fromkeys(found))

    seen_versions = {k: seen(k) for k in ("coopo", "jax", "flax", "optax", "gymnasium", "mujoco")}
    versions = ", ".join(f"{k} {v}" for k, v in seen_versions.items() if v)
    return (
        f"commit {', '.join(commits) or 'unknown'}; {'; '.join(machines)}; {versions} "
        "(every record in `provenance.json` and `runs/*/*/*/provenance.json`)"
    )


def _seeds_line(res: Results) -> str:
    """Finished seeds per (method, dataset) cell, naming the cells when they differ and the
    suite's cells (its methods x datasets) that have no finished seed yet."""
    runs = res.runs
    cells = Counter((r.method, r.dataset) for r in runs)
    counts = sorted(set(cells.values()))
    total = f"{len(runs)} finished seed-runs"
    planned = [
        (m["name"], d) for m in res.suite.get("methods", []) for d in res.suite.get("datasets", [])
    ]
    empty = [c for c in planned if c not in cells]
    if empty:
        total += (
            f"; no finished seed yet in {len(empty)} of the suite's {len(planned)} cells: "
            + ", ".join(f"{m} on {d}" for m, d in empty)
        )
    if len(counts) == 1:
        return f"{counts[0]} per method and dataset ({total})"
    by = ", ".join(f"{m} on {d}: {n}" for (m, d), n in sorted(cells.items()))
    return f"{counts[0]} to {counts[-1]} per method and dataset, not yet equal ({total}; {by})"


def _md_header(res: Results, an: Analysis) -> list[str]:
    s = res.suite
    md: list[str] = [f"# coopo bench report: suite `{s.get('name')}`", ""]
    md += [s.get("description", ""), ""]
    commands = (
        (res.root / "COMMAND").read_text().split("\n")
        if (res.root / "COMMAND").is_file()
        else [f"coopo bench {s.get('name')}"]
    )
    md += [
        "- **Command:** (the block below; one command per line, as run)",
        f"- **Budgets:** {s.get('budget_note', '')}",
        f"- **Datasets:** {', '.join(res.datasets)}",
        f"- **Seeds:** {_seeds_line(res)}",
        "- **Scores:** D4RL-style normalized score, 100 x (return - random) / (expert - random), "
        "using the dataset's reference returns (docs/guides/datasets.md); each evaluation is the mean of "
        f"{res.runs[0].config.get('eval_episodes')} deterministic episodes.",
        "- **Intervals:** 95% stratified-bootstrap percentile intervals over seeds (rliable); "
        "reductions use arch's independent-samples bootstrap.",
    ]
    produced = provenance_line(res.root)
    if produced:
        md += [f"- **Produced by:** {produced}"]
    if res.missing or res.failed:
        md += [
            f"- **Incomplete:** {len(res.missing)} runs unfinished, {len(res.failed)} failed: "
            + ", ".join(res.missing + res.failed)
        ]
    # A fenced block keeps every command on its own line in the HTML too.
    md += [
        "",
        "```",
        *(c.strip() for c in commands if c.strip()),
        f"coopo report {res.root}",
        "```",
    ]
    notes = res.root / "NOTES.md"
    if notes.is_file():
        md += ["", "## Notes on this run", "", notes.read_text().strip()]
    md += ["", "## Summary", ""]
    if _reference(res):
        md += [f"Each variant against the reference configuration `{_reference(res)}`:", ""]
    verdicts = evidence.verdict_lines(an.evidence, _coopo_methods(res)) if an.evidence else []
    if verdicts:
        md += ["Final scores, paired per seed, Holm-adjusted over every test in this report:", ""]
        md += [*verdicts, "Per comparison, with online interactions to the first target:", ""]
    md += summary_lines(res, an) or ["(no COOPO method in this suite)"]
    md += ["", "## Methods", ""]
    md += [f"- `{m}`: {res.method_info(m).get('description', '')}" for m in res.methods]
    return md


def _md_final(res: Results, an: Analysis, figs: dict[str, Path | None]) -> list[str]:
    md = ["", "## Final normalized score", ""]
    md += [
        f"A run's final score is the mean of its last {stats.FINAL_EVALUATIONS} evaluations "
        "(one evaluation swings by tens of points); mean over seeds [95% CI]. The *data level* "
        "row is the dataset's own normalised return.",
        "",
    ]
    rows = []
    if an.data_level:
        rows.append(["*data level*", *(_level(an.data_level.get(d)) for d in res.datasets)])
    rows += [
        [m, *(ci_text(*an.final[(d, m)]) if (d, m) in an.final else "-" for d in res.datasets)]
        for m in res.methods
    ]
    md.append(markdown_table(["method", *res.datasets], rows))
    if an.aggregate:
        md += ["", "Across datasets (runs x datasets, stratified bootstrap):", ""]
        md.append(
            markdown_table(
                ["method", "IQM", "mean"],
                [[m, ci_text(*v["iqm"]), ci_text(*v["mean"])] for m, v in an.aggregate.items()],
            )
        )
        for k in ("aggregate", "profile"):
            fig = figs[k]
            if fig:
                md += ["", f"![{k}]({fig.name})"]
    return md


def _level(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def _reduction_cell(cell: ReductionCell) -> str:
    if isinstance(cell, str):
        return cell
    r, lo, hi = cell
    return ci_text(100 * r, 100 * lo, 100 * hi, digits=0) + " %"


def _md_interactions(res: Results, an: Analysis) -> list[str]:
    md = ["", "## Online interactions to a held target", ""]
    md += [
        "Online env steps at the first evaluation from which the next two also stay at or "
        "above the target (a target touched once by a noisy evaluation is not held), read on "
        "the evaluation grid every method shares: the online evaluations and the pre-trained "
        "policy's evaluation at step 0. COOPO's later end-of-offline evaluations, which a "
        "one-switch method does not have, neither reach nor hold a target. Each cell gives the "
        "runs that held the target out of all runs, and the median [95% CI] over the runs that "
        "held it; a run that never held it gets no count (it is not averaged in at the budget). "
        "Targets lie above the data: the dataset's own normalised return + "
        f"{evidence.DATA_MARGIN:g} points, the suite's fractions of the expert score, and the "
        "best offline-to-online baseline's final score. COOPO's and the O2O baselines' counts "
        "include no offline steps (those are free of interactions); a pre-trained policy "
        "already holding the target needs 0.",
        "",
    ]
    for d in res.datasets:
        md += [f"**{d}**", ""]
        labels = [label for label, _ in an.targets[d]]
        header = ["method", *(f"{lab} ({t:.1f})" for lab, t in an.targets[d])]
        rows = []
        for m in res.methods:
            if (d, m, labels[0]) in an.interactions:
                rows.append(
                    [m, *(interactions_cell(*an.interactions[(d, m, lab)]) for lab in labels)]
                )
        md += [markdown_table(header, rows), ""]
        red_rows = [
            [name, *map(_reduction_cell, cells)] for name, cells in reduction_rows(res, an, d)
        ]
        if red_rows:
            md += [
                "Reduction in online interactions, 1 - COOPO/baseline of the median over all "
                "runs, a run that never held the target counting as never (the Kaplan-Meier "
                "median: finite only when more than half the runs held it); positive = COOPO "
                "needs fewer [95% independent-samples bootstrap CI]:",
                "",
            ]
            md += [markdown_table(["comparison", *labels], red_rows), ""]
    return md


def _figure_section(title: str, text: str, alt: str, fig: Path | None) -> list[str]:
    """A section that opens with its heading, a paragraph and a figure the report always draws."""
    assert fig is not None
    return [f"## {title}", "", text, "", f"![{alt}]({fig.name})", ""]


def _md_curves_and_forgetting(
    res: Results, an: Analysis, figs: dict[str, Path | None]
) -> list[str]:
    md = _figure_section(
        "Learning curves",
        "Normalized score against online env steps: mean over seeds and 95% CI band; the "
        "dashed line is the dataset's own normalised return. Offline phases add no env steps, "
        "so a COOPO offline phase shows as a vertical step.",
        "learning curves",
        figs["curves"],
    )
    md += ["## Forgetting at the offline-to-online switch", ""]
    window = (
        f"in the first {an.window / 1000:g}k online env steps after the switch (the suite's "
        "shortest online phase, so every method's switches are judged on the same number of "
        "evaluations)"
        if an.window
        else "in the online phase that follows"
    )
    md += [
        f"End-of-offline score minus the lowest evaluation {window} (positive = the policy got "
        "worse after the switch), mean [95% CI]; at the first switch, and averaged over all of "
        "a run's switches (COOPO has one per cycle).",
        "",
    ]
    rows = [[d, m, ci_text(*first), ci_text(*avg)] for d, m, first, avg in forgetting_rows(res, an)]
    md += [
        markdown_table(["dataset", "method", "first switch", "all switches"], rows)
        if rows
        else "(no method switches from offline to online)",
        "",
    ]
    return md


def _md_drift(res: Results, figs: dict[str, Path | None]) -> list[str]:
    md = _figure_section(
        "Drift from the data",
        "Mean squared distance between the policy's deterministic action and the dataset's "
        "action on 1,000 fixed dataset states (actions scaled to [-1, 1]), at every evaluation. "
        "Lower = closer to the behaviour policy.",
        "drift",
        figs["drift"],
    )
    rows = [
        [
            d,
            m,
            ci_text(*mse, digits=3),
            ci_text(*kl, digits=2) if kl else "-",
            ci_text(*ll, digits=2) if ll else "-",
        ]
        for d, m, mse, kl, ll in drift_rows(res)
    ]
    header = [
        "dataset",
        "method",
        "final action MSE to data",
        "last offline KL to previous policy",
        "last offline data log-likelihood",
    ]
    return [*md, markdown_table(header, rows), ""]


def render_markdown(res: Results, an: Analysis, figs: dict[str, Path | None]) -> str:
    """The report's Markdown from the analysis and the figures' paths."""
    md = _md_header(res, an)
    md += _md_final(res, an, figs)
    if an.evidence is not None:
        md += ["", *evidence.markdown(res, an.evidence)]
    md += _md_interactions(res, an)
    md += _md_curves_and_forgetting(res, an, figs)
    md += _md_drift(res, figs)
    md += compute_section(res)
    return "\n".join(md) + "\n"


def write_report(results_dir: str | Path, out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and the figures; returns (md, html) paths."""
    res = load_results(results_dir)
    out = Path(out) if out else res.root / "report"
    out.mkdir(parents=True, exist_ok=True)
    an = analyse(res)
    across = bool(an.aggregate)  # the figures across datasets need the aggregate scores
    figs: dict[str, Path | None] = {
        "curves": fig_learning_curves(res, out / "learning_curves.png", levels=an.data_level),
        "aggregate": fig_aggregate(res, an, out / "aggregate.png") if across else None,
        "profile": (
            fig_performance_profile(res, an, out / "performance_profile.png") if across else None
        ),
        "drift": fig_learning_curves(
            res, out / "drift.png", key=DRIFT, ylabel="mean squared action distance to data"
        ),
    }
    text = render_markdown(res, an, figs)
    md_path = out / "report.md"
    md_path.write_text(text)
    html_path = out / "report.html"
    html_path.write_text(_html(text, out, str(res.suite.get("name"))))
    return md_path, html_path


def _html(md_text: str, folder: Path, title: str) -> str:
    import markdown

    body = markdown.markdown(md_text, extensions=["tables", "fenced_code"])
    for png in folder.glob("*.png"):
        body = body.replace(f'src="{png.name}"', f'src="{_data_uri(png)}"')
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "pre{background:#f3f3f3;padding:0.6em;overflow-x:auto;white-space:pre}"
        "table{border-collapse:collapse;margin:0.5em 0;font-size:0.9em}"
        "td,th{border:1px solid #ccc;padding:3px 8px}th{background:#f3f3f3}"
        "img{max-width:100%}code{background:#f3f3f3;padding:1px 3px}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>coopo report: {title}</title>"
        f"<style>{style}</style></head><body>{body}</body></html>\n"
    )
