"""Handoff analysis of a bench results directory (the `handoffs` suite, or any suite with COOPO
runs): what happens to the policy and the critic around every offline -> online switch.

    python benchmarks/handoff_analysis.py benchmarks/results/handoffs [--out docs/figures]

Prints, per dataset and method (mean over seeds):
- drop: end-of-offline score minus the worst evaluation in the following online window, the
  window being the first ``window`` env steps of the online phase (COOPO's phase length), so
  every method is judged on the same number of evaluations after a switch;
- the end-of-offline score of every cycle (does anchoring keep online progress?);
- final: mean of the last 3 evaluations;
- the same for each seed's first switch only (comparable between full runs and runs stopped
  after their first cycle), with the score at the end of the window;
- the dataset's mean discounted return-to-go, next to which to read the critic's Q values;
- the criteria of each cycled method against its one-switch control (``--pairs``): mean drop
  at most 5, end-of-offline scores that never fall, final score paired by seed against the
  control's;
- for each such pair, the control's drop from a matched score (``matched_drops``): how much
  the control's own online phase loses over the same window, measured from its evaluations
  that score within ``MATCH`` points of where each of the cycled run's switches started, so a
  drop caused by the handoff can be told from one that online learning shows from any policy
  at that level;
- at the switch: data_action_mse, Q on dataset actions and on policy actions, and the first
  online critic loss, temperature and entropy.
Writes `handoff-summary.json` into the results directory and, with ``--out``, one PNG per
dataset of the probe curves of the selected methods.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Collection
from pathlib import Path

import numpy as np


def run_dirs(results: Path) -> list[Path]:
    """The run directories of a results directory that hold metrics (plain while a run
    trains, compressed once it has finished)."""
    return sorted({f.parent for f in results.glob("runs/*/*/*/metrics.jsonl*")})


def unfinished(results: Path) -> set[tuple[str, str]]:
    """(dataset, method) cells with a run that has no ``results.json`` (in progress or
    stopped): their "final" is only their latest evaluations, marked "(unfinished)"."""
    return {
        (d.parts[-3], d.parts[-2]) for d in run_dirs(results) if not (d / "results.json").exists()
    }


def load_runs(results: Path, finished_only: bool = False) -> dict[tuple[str, str], list[dict]]:
    """Every run's metrics by (dataset, method), the seeds of a cell's run directories
    together; ``finished_only`` leaves out run directories without ``results.json``."""
    from coopo.jsonfile import read_metrics

    runs: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for d in run_dirs(results):
        if finished_only and not (d / "results.json").exists():
            continue
        dataset, method = d.parts[-3], d.parts[-2]
        for r in read_metrics(d):
            if "eval/q_policy" in r:  # how far above the data's actions the critic rates pi's
                r["eval/q_gap"] = r["eval/q_policy"] - r["eval/q_data"]
            runs[(dataset, method)].append(r)
    return runs


def by_seed(rows: list[dict]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = defaultdict(list)
    for r in rows:
        out[r["seed"]].append(r)
    return out


def evals(rows: list[dict]) -> list[dict]:
    return [r for r in rows if "eval/return" in r]


def score(r: dict) -> float:
    return r.get("eval/normalized_score", r["eval/return"])


def switches(rows: list[dict], window: int) -> list[dict]:
    """One record per offline -> online switch of one seed."""
    ev = evals(rows)
    out = []
    for i, r in enumerate(ev):
        if r["phase"] != "offline" or not r.get("eval/phase_end"):
            continue
        after = [
            e
            for e in ev[i + 1 :]
            if e["phase"] == "online" and e["env_steps"] <= r["env_steps"] + window
        ]
        after = [e for e in after if e["cycle"] == (after[0]["cycle"] if after else -1)]
        if not after:
            continue
        online = [
            x
            for x in rows
            if x["phase"] == "online"
            and "online/critic_loss" in x
            and x["cycle"] == after[0]["cycle"]
        ]
        first = online[0] if online else {}
        out.append(
            {
                "cycle": r["cycle"],
                "end_of_offline": score(r),
                "worst_after": min(score(e) for e in after),
                "first_after": score(after[0]),
                "last_after": score(after[-1]),
                "evaluations": len(after),
                "mse_before": r.get("eval/data_action_mse"),
                "mse_after": after[0].get("eval/data_action_mse"),
                "q_data_before": r.get("eval/q_data"),
                "q_policy_before": r.get("eval/q_policy"),
                "q_data_after": after[0].get("eval/q_data"),
                "q_policy_after": after[0].get("eval/q_policy"),
                "critic_loss_after": first.get("online/critic_loss"),
                "alpha_after": first.get("online/alpha"),
                "entropy_after": first.get("online/entropy"),
            }
        )
    return out


def final_score(rows: list[dict], last: int = 3) -> float:
    return float(np.mean([score(e) for e in evals(rows)[-last:]]))


def summarise(
    runs: dict[tuple[str, str], list[dict]],
    window: int,
    in_progress: Collection[tuple[str, str]] = (),
) -> dict:
    summary: dict = {}
    for (dataset, method), rows in sorted(runs.items()):
        # seeds of a run that has only started (training metrics, no evaluation yet) do not count
        seeds = {k: r for k, r in by_seed(rows).items() if evals(r)}
        sw = {s: switches(r, window) for s, r in seeds.items()}
        drops = [x["end_of_offline"] - x["worst_after"] for v in sw.values() for x in v]
        n_cycles = max((len(v) for v in sw.values()), default=0)
        eoo = [
            float(np.mean([v[c]["end_of_offline"] for v in sw.values() if len(v) > c]))
            for c in range(n_cycles)
        ]

        def mean_of(key: str, sw=sw) -> float | None:
            vals = [x[key] for v in sw.values() for x in v if x.get(key) is not None]
            return float(np.mean(vals)) if vals else None

        firsts = [v[0] for v in sw.values() if v]  # each seed's first switch

        def first_mean(fn, firsts=firsts) -> float | None:
            vals = [fn(x) for x in firsts if fn(x) is not None]
            return float(np.mean(vals)) if vals else None

        def gap(x: dict) -> float | None:
            if x.get("q_policy_after") is None:
                return None
            return x["q_policy_after"] - x["q_data_after"]

        first_switch = {
            "end_of_offline": first_mean(lambda x: x["end_of_offline"]),
            "drop": first_mean(lambda x: x["end_of_offline"] - x["worst_after"]),
            "mse_after": first_mean(lambda x: x["mse_after"]),
            "q_gap_after": first_mean(gap),
            "score_at_window_end": first_mean(lambda x: x["last_after"]),
        }
        finals = [final_score(r) for r in seeds.values()]
        summary.setdefault(dataset, {})[method] = {
            "seeds": len(seeds),
            "finished": (dataset, method) not in in_progress,
            "final_by_seed": {str(k): final_score(r) for k, r in sorted(seeds.items())},
            "end_of_offline_by_seed": {
                str(k): [x["end_of_offline"] for x in v] for k, v in sorted(sw.items())
            },
            "drop_mean": float(np.mean(drops)) if drops else None,
            "drop_by_seed": {
                str(k): float(np.mean([x["end_of_offline"] - x["worst_after"] for x in v]))
                for k, v in sorted(sw.items())
                if v
            },
            "drop_per_seed_switch": drops,
            "end_of_offline_by_cycle": eoo,
            "final_mean": float(np.mean(finals)),
            "final_per_seed": finals,
            "first_switch": first_switch,
            **{
                k: mean_of(k)
                for k in (
                    "mse_before",
                    "mse_after",
                    "q_data_before",
                    "q_policy_before",
                    "q_data_after",
                    "q_policy_after",
                    "critic_loss_after",
                    "alpha_after",
                    "entropy_after",
                )
            },
        }
    return summary


def fmt(x: float | None, nd: int = 1) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def print_table(summary: dict) -> None:
    for dataset, methods in summary.items():
        print(f"\n## {dataset}\n")
        print(
            "| method | seeds | drop at switch | end-of-offline by cycle | final (last 3 evals) "
            "| data mse before -> after | Q(data) / Q(pi) before | Q(data) / Q(pi) after "
            "| critic loss / alpha / entropy after |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for m, s in methods.items():
            eoo = " -> ".join(fmt(x) for x in s["end_of_offline_by_cycle"])
            m = m if s["finished"] else f"{m} (unfinished)"
            print(
                f"| {m} | {s['seeds']} | {fmt(s['drop_mean'])} | {eoo or '-'} | {fmt(s['final_mean'])} "
                f"| {fmt(s['mse_before'], 2)} -> {fmt(s['mse_after'], 2)} "
                f"| {fmt(s['q_data_before'])} / {fmt(s['q_policy_before'])} "
                f"| {fmt(s['q_data_after'])} / {fmt(s['q_policy_after'])} "
                f"| {fmt(s['critic_loss_after'])} / {fmt(s['alpha_after'], 3)} / {fmt(s['entropy_after'])} |"
            )


def data_returns_to_go(results: Path, discount: float = 0.99) -> dict[str, float]:
    """Mean discounted return-to-go of each dataset in ``results/datasets`` (what a critic of
    the behaviour policy would converge to on the data's own actions, on average)."""
    from coopo.data.dataset import discounted_returns_to_go
    from coopo.data.io import load

    out = {}
    for f in sorted(results.glob("datasets/*.npz")):
        name = f.stem.rsplit("-n", 1)[0]
        out[name] = float(discounted_returns_to_go(load(f), discount).mean())
    return out


def print_first_switch(summary: dict) -> None:
    """The first switch of every seed only: comparable between full runs and runs stopped
    after their first cycle."""
    for dataset, methods in summary.items():
        print(f"\n## {dataset}, first switch only\n")
        print(
            "| method | end of offline | drop | data mse after 1st eval | Q(pi) - Q(data) after "
            "1st eval | score at the window's end |"
        )
        print("|---|---|---|---|---|---|")
        for m, s in methods.items():
            f = s["first_switch"]
            print(
                f"| {m} | {fmt(f['end_of_offline'])} | {fmt(f['drop'])} | {fmt(f['mse_after'], 2)} "
                f"| {fmt(f['q_gap_after'])} | {fmt(f['score_at_window_end'])} |"
            )


DEFAULT_PAIRS = (
    "coopo:coopo-1cycle",
    "coopo-online-calql:coopo-1cycle-online-calql",
    "coopo-online-calql-data+online:coopo-1cycle-online-calql",
    "coopo-online-calql-kl1:coopo-1cycle-online-calql",
)
MAX_DROP = 5.0  # the handoff criterion: average drop at a switch of at most 5 points


def never_falls(values: list[float]) -> bool:
    return all(b >= a for a, b in itertools.pairwise(values))


def paired_by_seed(x: dict[str, float], y: dict[str, float], prefix: str) -> dict:
    """``coopo.bench.stats.paired_difference`` of two per-seed values over their shared seeds,
    as ``PREFIXseeds``, ``PREFIXdifference``, ``PREFIXlow``, ``PREFIXhigh`` and ``PREFIXp``."""
    from coopo.bench.stats import paired_difference

    shared = sorted(set(x) & set(y), key=int)
    d = paired_difference([x[s] for s in shared], [y[s] for s in shared])
    return {
        f"{prefix}seeds": d.n,
        f"{prefix}difference": d.mean,
        f"{prefix}low": d.low,
        f"{prefix}high": d.high,
        f"{prefix}p": d.p_value,
    }


def criteria(summary: dict, pairs: list[tuple[str, str]]) -> dict:
    """The handoff criteria of a cycled method against its one-switch control, per dataset:
    its mean drop at a switch (at most ``MAX_DROP``), whether its mean end-of-offline score
    never falls from one cycle to the next (and on how many seeds), and its final score against
    the control's, paired by seed (``coopo.bench.stats.paired_difference``: mean difference,
    95% t interval, two-sided p, and p Holm-adjusted over every paired test in the table)."""
    from coopo.bench.stats import holm

    out: dict = {}
    # a row is keyed by the cycled method, or "CYCLED vs CONTROL" when it has several controls
    n_controls = Counter(cycled for cycled, _ in pairs)
    for dataset, methods in summary.items():
        if not isinstance(methods, dict):
            continue
        for cycled, control in pairs:
            if cycled not in methods:
                continue
            c = methods[cycled]
            eoo = c["end_of_offline_by_cycle"]
            by_seed = c["end_of_offline_by_seed"].values()
            rising = [never_falls(v) for v in by_seed if len(v) > 1]
            row: dict = {
                "control": control,
                "drop_mean": c["drop_mean"],
                "drop_ok": c["drop_mean"] is not None and c["drop_mean"] <= MAX_DROP,
                "end_of_offline_by_cycle": eoo,
                "end_of_offline_never_falls": len(eoo) > 1 and never_falls(eoo),
                "seeds_never_falling": f"{sum(rising)}/{len(rising)}",
                "final": c["final_mean"],
                "finished": c["finished"],
            }
            if control in methods:
                k = methods[control]
                row.update(
                    control_finished=k["finished"],
                    control_final=k["final_mean"],
                    **paired_by_seed(c["final_by_seed"], k["final_by_seed"], "paired_"),
                )
                # the drop too, each seed's mean over its switches (not in the Holm family,
                # which holds the final-score tests)
                if len(set(c["drop_by_seed"]) & set(k["drop_by_seed"])) >= 2:
                    row.update(
                        control_drop=k["drop_mean"],
                        **paired_by_seed(c["drop_by_seed"], k["drop_by_seed"], "drop_paired_"),
                    )
            key = cycled if n_controls[cycled] == 1 else f"{cycled} vs {control}"
            out.setdefault(dataset, {})[key] = row
    # Holm over every paired test in the table (all datasets and pairs together)
    tested = [r for rows in out.values() for r in rows.values() if "paired_p" in r]
    for r, p in zip(tested, holm([r["paired_p"] for r in tested]), strict=True):
        r["paired_p_holm"] = float(p)
    return out


MATCH = 10.0  # points: a control evaluation "matches" a switch that started this close to it


def online_drops(rows: list[dict], window: int) -> list[tuple[float, float]]:
    """(score, score minus the worst of the evaluations in the next ``window`` env steps) for
    every online evaluation of one seed whose whole window lies in the same online phase."""
    ev = [e for e in evals(rows) if e["phase"] == "online"]
    out = []
    for i, e in enumerate(ev):
        phase = [x for x in ev[i + 1 :] if x["cycle"] == e["cycle"]]
        if not phase or phase[-1]["env_steps"] < e["env_steps"] + window:
            continue  # the phase ends before the window does
        nxt = [x for x in phase if x["env_steps"] <= e["env_steps"] + window]
        out.append((score(e), score(e) - min(score(x) for x in nxt)))
    return out


def matched_drops(
    runs: dict[tuple[str, str], list[dict]],
    pairs: list[tuple[str, str]],
    window: int,
    match: float = MATCH,
) -> dict:
    """Per dataset and pair: the cycled method's drop at each of its switches beside the
    control's drop from evaluations that scored within ``match`` points of that switch's
    end-of-offline score, each averaged over the matched switches (a switch without such an
    evaluation is left out of both). Twice: matching within the same seed (``same_seed``), and
    against every seed of the control (``any_seed``: more matches; a seed number carries
    nothing about how a policy at a given score behaves next)."""
    out: dict = {}
    for (dataset, cycled), rows in sorted(runs.items()):
        for cyc, control in pairs:
            if cyc != cycled or (dataset, control) not in runs:
                continue
            ctrl = {k: online_drops(r, window) for k, r in by_seed(runs[dataset, control]).items()}
            everyone = [x for v in ctrl.values() for x in v]
            row: dict = {}
            for how in ("same_seed", "any_seed"):
                own, theirs, total = [], [], 0
                for seed, r in by_seed(rows).items():
                    pool = ctrl.get(seed, []) if how == "same_seed" else everyone
                    for x in switches(r, window):
                        total += 1
                        near = [d for sc, d in pool if abs(sc - x["end_of_offline"]) <= match]
                        if near:
                            own.append(x["end_of_offline"] - x["worst_after"])
                            theirs.append(float(np.mean(near)))
                row[how] = {
                    "switches_matched": len(own),
                    "switches": total,
                    "drop": float(np.mean(own)) if own else None,
                    "control_drop_matched": float(np.mean(theirs)) if theirs else None,
                }
            out.setdefault(dataset, {})[f"{cycled} vs {control}"] = row
    return out


def print_matched(matched: dict) -> None:
    for dataset, rows in matched.items():
        print(f"\n## {dataset}, drop against the control's drop from a matched score\n")
        print(
            f"| pair | control evaluations matched (within {MATCH:g} points) | switches matched "
            "| cycled drop at them | control's drop from those scores |"
        )
        print("|---|---|---|---|---|")
        for pair, r in rows.items():
            for how, m in r.items():
                print(
                    f"| {pair} | {how.replace('_', ' ')} | {m['switches_matched']} of "
                    f"{m['switches']} | {fmt(m['drop'])} | {fmt(m['control_drop_matched'])} |"
                )


def print_criteria(crit: dict) -> None:
    for dataset, rows in crit.items():
        print(f"\n## {dataset}, criteria against each control\n")
        print(
            f"| method | drop (<= {MAX_DROP:g}) | end-of-offline by cycle (never falls; seeds) "
            "| final | control | final - control, paired (95% CI, p, Holm p) |"
        )
        print("|---|---|---|---|---|---|")
        for m, r in rows.items():
            eoo = " -> ".join(fmt(x) for x in r["end_of_offline_by_cycle"])
            ok = "yes" if r["end_of_offline_never_falls"] else "no"
            paired = "-"
            if "paired_difference" in r:
                paired = (
                    f"{fmt(r['paired_difference'])} ({fmt(r['paired_low'])} to "
                    f"{fmt(r['paired_high'])}, p {fmt(r['paired_p'], 2)}, "
                    f"Holm {fmt(r['paired_p_holm'], 2)}; "
                    f"{r['paired_seeds']} seeds)"
                )
            if "drop_paired_difference" in r:
                paired += (
                    f"; drop - control's drop {fmt(r['drop_paired_difference'])} "
                    f"({fmt(r['drop_paired_low'])} to {fmt(r['drop_paired_high'])}, "
                    f"p {fmt(r['drop_paired_p'], 2)})"
                )
            wip = {True: "", False: " (unfinished)"}
            print(
                f"| {m}{wip[r['finished']]} | {fmt(r['drop_mean'])} "
                f"({'met' if r['drop_ok'] else 'not met'}) "
                f"| {eoo} ({ok}; {r['seeds_never_falling']}) | {fmt(r['final'])} "
                f"| {r['control']}{wip[r.get('control_finished', True)]} "
                f"{fmt(r.get('control_final'))} | {paired} |"
            )


PROBES = (
    ("eval/normalized_score", "normalised score"),
    ("eval/data_action_mse", "data_action_mse"),
    ("eval/q_data", "Q(s, a_data)"),
    ("eval/q_gap", "Q(s, pi(s)) - Q(s, a_data)"),
    ("online/critic_loss", "online critic loss"),
    ("online/entropy", "online entropy"),
)


def plot(runs: dict[tuple[str, str], list[dict]], methods: list[str], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in sorted({d for d, _ in runs}):
        fig, axes = plt.subplots(2, 3, figsize=(15, 7.5), sharex=True)
        styles = ["-", "--", "-.", ":"]
        for j, method in enumerate(m for m in methods if (dataset, m) in runs):
            rows = runs[(dataset, method)]
            for ax, (key, title) in zip(axes.flat, PROBES, strict=True):
                xs: dict = defaultdict(list)
                for r in rows:
                    if key in r:
                        xs[r["env_steps"], r["grad_steps"], r["phase"]].append(r[key])
                if not xs:
                    continue
                pts = sorted(xs, key=lambda p: (p[1], p[0]))
                # x axis: gradient updates of both phases (= offline updates + env steps at
                # UTD 1), so offline and online phases both take room on the axis.
                x = [g for _, g, _ in pts]
                y = [float(np.mean(xs[p])) for p in pts]
                ax.plot(x, y, styles[j % 4], marker=".", ms=3, label=method, color=f"C{j}")
                ax.set_title(title)
        for ax in axes.flat:
            ax.set_xlabel("gradient updates (offline + online)")
            ax.grid(alpha=0.3)
        axes.flat[0].legend(fontsize=8)
        fig.suptitle(f"{dataset}: around each handoff (mean over seeds)")
        fig.tight_layout()
        path = out / f"handoffs-{dataset}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", type=Path)
    ap.add_argument(
        "--window", type=int, default=10_000, help="online env steps judged after a switch"
    )
    ap.add_argument("--out", type=Path, default=None, help="directory for the PNG figures")
    ap.add_argument("--methods", nargs="*", default=None, help="methods in the figures")
    ap.add_argument(
        "--pairs",
        nargs="*",
        default=list(DEFAULT_PAIRS),
        help="CYCLED:CONTROL method pairs judged by the criteria table",
    )
    ap.add_argument(
        "--finished-only",
        action="store_true",
        help="leave out run directories that have not finished (no results.json)",
    )
    args = ap.parse_args()
    runs = load_runs(args.results, args.finished_only)
    in_progress = set() if args.finished_only else unfinished(args.results)
    summary = summarise(runs, args.window, in_progress)
    print_table(summary)
    print_first_switch(summary)
    crit = criteria(summary, [tuple(p.split(":", 1)) for p in args.pairs])
    print_criteria(crit)
    pairs = [tuple(p.split(":", 1)) for p in args.pairs]
    matched = matched_drops(runs, pairs, args.window)
    print_matched(matched)
    rtg = data_returns_to_go(args.results)
    for dataset, value in rtg.items():
        print(f"\n{dataset}: the data's mean discounted return-to-go (gamma 0.99) is {value:.1f}")
    summary["data_mean_return_to_go"] = rtg
    summary["criteria"] = crit
    summary["matched_drops"] = matched
    (args.results / "handoff-summary.json").write_text(json.dumps(summary, indent=1))
    if args.out:
        methods = args.methods or sorted({m for _, m in runs})
        for p in plot(runs, methods, args.out):
            print("wrote", p)


if __name__ == "__main__":
    main()
