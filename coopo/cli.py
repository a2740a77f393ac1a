"""``coopo`` command line: train, resume, eval, export, data, bench, report.

Each verb's options come from typed signatures / dataclasses through tyro, so ``--help`` is the
field docstrings. Heavy modules (JAX, Flax, Gymnasium) are imported inside the verbs, so
``coopo --help`` answers at once; the help of ``coopo train`` (which needs every algorithm's
config) is rendered once per installed version and kept in the cache directory.

Exit codes: 0 success, 1 a failure at run time (a bad dataset, a diverged run, a full disk), 2 a
usage error (an unknown verb or option, a bad option value), 130 interrupted. Every error is one
line on standard error, starting with ``error:``.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from coopo import extras
from coopo.version import __version__

DATA_VERBS = """  data build   a recipe (coopo data build hopper-medium) or any behaviour policy
               (--behaviour random|POLICY.npz) rolled out into a dataset
  data info    print a dataset card (size, episodes, returns, reference scores, provenance)
  data train-behaviour
               train a behaviour policy with coopo's SAC until a target return (medium policies)
"""

USAGE = """usage: coopo VERB [options]   (coopo VERB --help for each verb's options; coopo --version)

verbs:
  train        train a run (COOPO by default; --method o2o|offline|online for the baselines)
  resume       continue a run from its latest checkpoint (phase boundaries and inside phases)
  eval         evaluate a run's final policy on fresh episodes
  export       write a run's final policy as a plain-MLP .npz behaviour-policy file
__DATA__  bench FILE.py:SUITE
               run a benchmark grid (methods x datasets x seeds) into one results directory;
               a suite is written in a Python file (coopo bench --help, coopo bench --list FILE.py)
  report DIR   aggregate a results directory into a Markdown + HTML report with figures
""".replace("__DATA__", DATA_VERBS)

console = Console()
err_console = Console(stderr=True)
RunDir = Annotated[tyro.conf.Positional[Path], tyro.conf.arg(metavar="RUN_DIR")]
HELP_FLAGS = ("-h", "--help")


class UsageError(Exception):
    """A command line that cannot be run as typed (exit code 2)."""


def _cli(f: Any, args: list[str], prog: str, **kwargs: Any) -> Any:
    """``tyro.cli``, with its parse errors turned into one :class:`UsageError` line (tyro
    prints them as a boxed panel on standard error and exits with 2)."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return tyro.cli(f, args=args, prog=prog, **kwargs)
    except SystemExit as e:
        if not e.code:
            raise
        raise UsageError(_one_line(err.getvalue(), prog)) from None


def _one_line(panel: str, prog: str) -> str:
    """The text of tyro's error panel on one line: box drawing and the help hint dropped."""
    words: list[str] = []
    for line in panel.splitlines():
        text = re.sub(r"[\u2500-\u257f]", " ", line).strip()
        if not text or text.startswith("For full helptext"):
            continue
        words.append(text)
    return " ".join(" ".join(words).split()) + f" (see {prog} --help)"


def _help_key(name: str) -> str:
    """What a cached help text depends on: the verb, coopo's sources (paths, sizes, mtimes),
    the versions and the terminal width. Nothing is imported to compute it."""
    h = hashlib.sha256(f"{name} {__version__} {tyro.__version__} {_columns()}".encode())
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        h.update(f"{path.relative_to(root)} {st.st_size} {st.st_mtime_ns}".encode())
    return h.hexdigest()[:20]


def _columns() -> int:
    return shutil.get_terminal_size().columns


def _cached_help(name: str, render: Callable[[], object]) -> int:
    """Print the help ``render`` prints (it exits through SystemExit), from the cache when
    coopo has not changed since it was rendered. The help of a verb whose options are the
    registered algorithms' configs needs JAX and Flax imported to render: about 2 s once,
    then instant."""
    from coopo.paths import cache_dir

    path = cache_dir() / "help" / f"{name.replace(' ', '-')}-{_help_key(name)}.txt"
    if path.is_file():
        sys.stdout.write(path.read_text())
        return 0
    out = io.StringIO()
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(_columns())
    try:
        with contextlib.redirect_stdout(out):
            render()
    except SystemExit as e:
        if e.code:
            raise
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old
    text = out.getvalue()
    sys.stdout.write(text)
    with contextlib.suppress(OSError):  # a read-only cache only costs speed
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return 0


def _train(argv: list[str]) -> int:
    from coopo.presets import PRESET_NAMES

    preset = "default"
    if "--preset" in argv:
        i = argv.index("--preset")
        if i + 1 >= len(argv) or argv[i + 1] not in PRESET_NAMES:
            raise UsageError(f"--preset takes one of {', '.join(PRESET_NAMES)}")
        preset = argv[i + 1]
        argv = argv[:i] + argv[i + 2 :]
    if any(a in HELP_FLAGS for a in argv):
        return _cached_help(f"train {preset}", lambda: _train_config(preset, argv))
    cfg = _train_config(preset, argv)
    from coopo.config import ConfigError, validate_config

    try:
        validate_config(cfg)
    except ConfigError as e:
        raise UsageError(str(e)) from None
    from coopo.api import train

    result = train(cfg, console)
    _print_result(result)
    return 0


def _train_config(preset: str, argv: list[str]) -> Any:
    from coopo.config import PRESETS, TrainConfig
    from coopo.presets import PRESET_HELP

    presets = "\n".join(f"  {name:9s} {text}" for name, text in PRESET_HELP.items())
    description = (
        (TrainConfig.__doc__ or "").strip()
        + "\n\nPresets (--preset NAME; any option given after it overrides it):\n"
        + presets
    )
    return _cli(TrainConfig, argv, "coopo train", default=PRESETS[preset], description=description)


def _print_result(result: object) -> None:
    import numpy as np

    from coopo.run_dir import RunResult

    assert isinstance(result, RunResult)
    if not result.finished:
        return
    scores = np.array(list(result.final_scores.values()))
    returns = np.array(list(result.final_returns.values()))
    msg = f"final return {returns.mean():.1f}"
    has_scores = not np.isnan(scores).all()
    if has_scores:
        msg += f", normalized score {np.nanmean(scores):.1f}"
    if result.data_level is not None:
        msg += f" (the dataset's own level: {result.data_level:.1f})"
    console.print(f"[bold green]done[/]: {msg}; run directory {result.run_dir}", soft_wrap=True)
    run = str(result.run_dir)
    console.print(
        "next:\n"
        f"  coopo eval {run}                 score the final policy on 10 fresh episodes\n"
        f"  tensorboard --logdir {run}/tb    the training curves (pip install tensorboard)\n"
        "  coopo bench FILE.py:SUITE       COOPO and baselines at equal budgets, with a report "
        "(a suite file: docs/guides/benchmarks.md)\n"
        "  coopo train --preset full       the full-strength settings (3 x 20k + 20k steps)",
        soft_wrap=True,
        markup=False,
        highlight=False,
    )


def _resume(argv: list[str]) -> int:
    def resume(run_dir: RunDir, max_phases: int = 0, force: bool = False) -> None:
        """Continue a run from its latest checkpoint (verified; a corrupt one falls back to the
        previous). The dataset's content hash and the package versions must match the run's.

        Args:
            run_dir: The run directory.
            max_phases: Stop, resumably, after this many phases (0: run to the end).
            force: Resume even though the dataset or package versions changed (recorded in
                the run directory's resume-log.jsonl).
        """
        from coopo.api import resume as do_resume

        _print_result(do_resume(run_dir, max_phases, console, force=force))

    _cli(resume, argv, "coopo resume")
    return 0


def _eval(argv: list[str]) -> int:
    def evaluate(
        run_dir: RunDir,
        episodes: int = 10,
        seed: int | None = None,
        env_seed: int = 0,
    ) -> None:
        """Evaluate a run's final policy (deterministic) on fresh episodes.

        Args:
            run_dir: The run directory.
            episodes: Number of episodes.
            seed: Which training seed's policy (default: the run's first seed).
            env_seed: Episode i resets the env with env_seed + i.
        """
        import numpy as np

        from coopo.evaluation import play_policy
        from coopo.policy import load_policy

        policy = load_policy(run_dir, seed)
        ret, norm = play_policy(policy, episodes, env_seed)
        console.print(
            f"{policy.env_id}: return {ret.mean():.1f} ± {ret.std():.1f} over {episodes} episodes",
            end="",
        )
        console.print(
            ""
            if np.isnan(norm).all()
            else f", normalized score {norm.mean():.1f} ± {norm.std():.1f}"
        )

    _cli(evaluate, argv, "coopo eval")
    return 0


def _export(argv: list[str]) -> int:
    def export(run_dir: RunDir, out: Path, seed: int | None = None) -> None:
        """Write a run's final policy as a plain-MLP .npz behaviour-policy file.

        The file is what `coopo data build --behaviour FILE` rolls out (normaliser folded in).

        Args:
            run_dir: The run directory.
            out: Destination .npz file.
            seed: Which training seed's policy (default: the run's first seed).
        """
        from coopo.policy import export_mlp_npz

        console.print(f"wrote {export_mlp_npz(run_dir, out, seed)}")

    _cli(export, argv, "coopo export")
    return 0


def _data_recipe(recipe: str, argv: list[str]) -> int:
    from coopo.tasks import parse_recipe

    try:
        task, quality = parse_recipe(recipe)
    except ValueError as e:
        raise UsageError(str(e)) from None

    def build(
        size: int | None = None,
        seed: int = 0,
        expert_policy: str | None = None,
        root: Path | None = None,
        export_d4rl: Path | None = None,
        vector_env: Literal["sync", "async"] = "sync",
    ) -> None:
        """Build a D4RL-style recipe TASK-QUALITY (tasks: hopper, halfcheetah, walker2d, ant;
        qualities: random, medium, medium-replay, expert, medium-expert) as the Minari dataset
        coopo/TASK/QUALITY-v0 (see docs/guides/datasets.md).

        Args:
            size: Transitions (default 1,000,000 as D4RL; medium-replay keeps its whole buffer).
            seed: Seed of resets and noise; the same seed gives a byte-identical dataset.
            expert_policy: Expert policy .npz (needed by expert and medium-expert; also measures ref_max_score).
            root: Data root (default: $MINARI_DATASETS_PATH, else coopo's cache directory).
            export_d4rl: Also write the dataset as a D4RL .hdf5 file here (for d3rlpy, CORL).
            vector_env: sync (one process) or async (one process per env); the same data either way.
        """
        from coopo.data import write_d4rl, write_minari
        from coopo.recipes import build_recipe, data_root, dataset_id

        ds = build_recipe(task, quality, size, seed, expert_policy, vector_env=vector_env)
        dest = write_minari(ds, dataset_id(task, quality), root or data_root())
        console.print(f"wrote {ds.size} transitions to {dest}")
        if export_d4rl:
            console.print(f"wrote {write_d4rl(ds, export_d4rl)}")

    _cli(build, argv, f"coopo data build {recipe}")
    return 0


def _data_build(argv: list[str]) -> int:
    if argv and not argv[0].startswith("-"):
        return _data_recipe(argv[0], argv[1:])

    def build(
        env_id: str = "Hopper-v5",
        behaviour: str = "random",
        size: int = 100_000,
        noise: float = 0.1,
        seed: int = 0,
        out: str = "",
        format: Literal["minari", "d4rl", "npz"] = "minari",
        root: Path | None = None,
        num_envs: int = 8,
        vector_env: Literal["sync", "async"] = "sync",
    ) -> None:
        """Roll out a behaviour policy in a Gymnasium env and write a D4RL-style dataset.

        Args:
            env_id: Gymnasium env id.
            behaviour: 'random' (uniform actions) or a policy .npz (plain MLP, see docs).
            size: Transitions to collect.
            noise: Gaussian action noise added before the policy's squash (ignored for random).
            seed: Seed of resets and noise; the same seed gives the same dataset.
            out: Minari id (format minari, default coopo/<task>/<behaviour>-v0) or a file path.
            format: minari (directory under the data root), d4rl (.hdf5) or npz.
            root: Minari data root (default: $MINARI_DATASETS_PATH, else ~/.minari/datasets).
            num_envs: Envs stepped in lockstep (part of what the data is: recorded, and the same value gives the same data).
            vector_env: sync (one process) or async (one process per env); the same data either way.
        """
        from coopo.data import build_dataset, write_d4rl, write_minari, write_npz
        from coopo.evaluation import task_name

        noise = noise if behaviour != "random" else 0.0
        ds = build_dataset(
            env_id, behaviour, size, noise, seed, num_envs=num_envs, vector_env=vector_env
        )
        if format == "minari":
            name = "random" if behaviour == "random" else Path(behaviour).stem
            dest = write_minari(ds, out or f"coopo/{task_name(env_id)}/{name}-v0", root)
        elif format == "d4rl":
            dest = write_d4rl(ds, out or f"{task_name(env_id)}-{Path(behaviour).stem}.hdf5")
        else:
            dest = write_npz(ds, out or f"{task_name(env_id)}-{Path(behaviour).stem}.npz")
        console.print(f"wrote {ds.size} transitions to {dest}")

    from coopo.tasks import QUALITIES, TASKS

    recipes = ", ".join(f"{t}-{q}" for t in TASKS for q in QUALITIES)
    description = (
        "Two forms:\n\n"
        "  coopo data build TASK-QUALITY [--size N] [--seed S] [--expert-policy FILE]"
        " [--root DIR] [--export-d4rl FILE.hdf5]\n"
        "      a D4RL-style recipe, written as the Minari dataset coopo/TASK/QUALITY-v0"
        " (coopo data build hopper-medium --help for its options; see docs/guides/datasets.md).\n"
        f"      recipes: {recipes}\n\n"
        "  coopo data build [--env-id ID] [--behaviour random|POLICY.npz] [options below]\n"
        "      " + (build.__doc__ or "").strip().splitlines()[0]
    )
    _cli(build, argv, "coopo data build", description=description)
    return 0


def _data_train_behaviour(argv: list[str]) -> int:
    def train_behaviour(
        env_id: str,
        target_return: float,
        out: Path,
        env_kwargs: str = "{}",
        max_steps: int = 500_000,
        eval_every: int = 2_000,
        seed: int = 0,
    ) -> None:
        """Train a behaviour policy with coopo's SAC, stopping when it reaches a target return.

        Writes OUT/policy.npz (a plain-MLP policy file), OUT/replay.npz (every transition the
        replay buffer collected: a medium-replay dataset), OUT/record.json and OUT/run.

        Args:
            env_id: Gymnasium env id.
            target_return: Stop at the first evaluation (5 episodes) whose mean return reaches this.
            out: Output directory.
            env_kwargs: gymnasium.make kwargs as a JSON object.
            max_steps: Give up after this many env steps.
            eval_every: Env steps between evaluations.
            seed: Seed of the whole run.
        """
        from coopo.data import write_npz
        from coopo.recipes.behaviour import train_behaviour as run

        policy, replay, record = run(
            env_id, target_return, out, json.loads(env_kwargs), max_steps, eval_every, seed=seed
        )
        write_npz(replay, Path(out) / "replay.npz")
        console.print(
            f"{env_id}: return {record['final_eval_return']:.1f} after {record['env_steps']} steps; "
            f"wrote {policy} and {Path(out) / 'replay.npz'} ({replay.size} transitions)"
        )

    _cli(train_behaviour, argv, "coopo data train-behaviour")
    return 0


def _data_info(argv: list[str]) -> int:
    def info(
        path_or_id: Annotated[tyro.conf.Positional[str], tyro.conf.arg(metavar="PATH-OR-ID")],
        json_output: Annotated[bool, tyro.conf.arg(name="json")] = False,
    ) -> None:
        """Print a dataset card.

        Args:
            path_or_id: D4RL .hdf5, .npz, Minari directory or Minari id.
            json_output: Print the card as JSON.
        """
        from coopo.data import dataset_card, load

        card = dataset_card(load(path_or_id))
        if json_output:
            print(json.dumps(card, indent=1, default=str))
            return
        table = Table(title=f"dataset {path_or_id}", show_header=False)
        for k, v in card.items():
            table.add_row(k, json.dumps(v, default=str) if isinstance(v, dict | list) else str(v))
        console.print(table)

    _cli(info, argv, "coopo data info")
    return 0


BENCH_FORM = "coopo bench FILE.py:SUITE [options]"


def _bench(argv: list[str]) -> int:
    if not argv:
        raise UsageError(f"coopo bench needs a suite: {BENCH_FORM} (coopo bench --help)")
    spec = argv[0]
    if spec == "--list":
        return _bench_list(argv[1:])
    if spec in HELP_FLAGS or argv[1:] in (["-h"], ["--help"]):
        # The options are the same for every suite: no suite file is read for the help.
        return _cached_help("bench", lambda: _bench_help(bench_function(None, argv)))
    if spec.startswith("-"):
        raise UsageError(
            f"unknown option {spec!r}: {BENCH_FORM} (coopo bench --help, coopo bench --list FILE.py)"
        )
    (suite,) = _load_suites(spec, whole_file=False)
    return int(_cli(bench_function(suite, argv), argv[1:], f"coopo bench {spec}"))


def _load_suites(spec: str, whole_file: bool) -> list[Any]:
    """The suite ``FILE.py:NAME`` names (or, ``whole_file``, every suite of a ``FILE.py``); a
    missing file or an unknown name is a usage error (listing the file's suites)."""
    from coopo.bench.suites import SuiteSpecError, load_suite, load_suites

    try:
        if whole_file and ":" not in spec and Path(spec).is_file():
            return list(load_suites(spec).values())
        return [load_suite(spec)]
    except SuiteSpecError as e:
        raise UsageError(str(e)) from None


def _bench_list(argv: list[str]) -> int:
    """``coopo bench --list FILE.py[:NAME]``: the suites' grids, cost estimates and chunks."""
    from coopo.bench.suites import chunk_plan, expand

    if len(argv) != 1 or argv[0].startswith("-"):
        raise UsageError("coopo bench --list FILE.py (or FILE.py:SUITE) lists a file's suites")
    file = argv[0].rpartition(":")[0] or argv[0]
    suites = _load_suites(argv[0], whole_file=True)
    table = Table("suite", "runs", "datasets", "methods", "seeds", "worker h (estimate)", "notes")
    for s in suites:
        specs = expand(s)
        hours = f"{sum(map(s.cost, specs)) / 3600:.1f}" if s.cost else "-"
        table.add_row(
            s.name,
            str(len(specs)),
            ", ".join(s.datasets) if len(s.datasets) < 5 else f"{len(s.datasets)} datasets",
            ", ".join(m.name for m in s.methods),
            str(len(s.seeds)),
            hours,
            s.estimated_hours,
        )
    console.print(table)
    for s in suites:
        plan = chunk_plan(s)
        if not plan:
            continue
        console.print(
            f"\n[bold]{s.name}[/] in {len(plan)} chunks of at most {s.chunk_hours:g} h on 2 "
            f"workers ({sum(c.hours for c in plan):.1f} h in all, from the suite's cost "
            "estimate); each command continues its chunk:"
        )
        for i, c in enumerate(plan, 1):
            console.print(
                f"  {i}. ~{c.hours:.1f} h: coopo bench {file}:{s.name} --chunk {i} --out DIR"
                f"   (= {' '.join(c.args(s))})",
                soft_wrap=True,
            )
    return 0


def _bench_help(bench: object) -> int:
    description = (
        f"{BENCH_FORM}: "
        + inspect.cleandoc(getattr(bench, "__doc__", "") or "").split("\n\n")[0].replace("\n", " ")
        + "\n\nSUITE names a suite (coopo.bench.suites.Suite) defined in a Python file: "
        "FILE.py:NAME, e.g. benchmarks/suites.py:cpu in coopo's repository, whose own suites "
        "are there (docs/guides/benchmarks.md shows how to write one). coopo bench --list "
        "FILE.py lists a file's suites with their grids, cost estimates and chunk plans."
    )
    tyro.cli(bench, args=["--help"], prog="coopo bench FILE.py:SUITE", description=description)  # type: ignore[call-overload]
    return 0


def bench_function(suite: object, argv: list[str]) -> Any:
    """The options of ``coopo bench FILE.py:SUITE`` as a function tyro reads (run when
    ``suite`` is set)."""

    def bench(
        out: Path | None = None,
        seeds: tuple[int, ...] = (),
        methods: tuple[str, ...] = (),
        datasets: tuple[str, ...] = (),
        chunk: int = 0,
        workers: int = 0,
        backend: Literal["local", "ray"] = "local",
        ray_address: str | None = None,
        cpus_per_run: float = 1.0,
        gpus_per_run: float = 0.0,
        keep_checkpoints: bool = False,
        expert_policy_dir: Path | None = None,
        report: bool = True,
    ) -> int:
        """Run a benchmark suite's grid (methods x datasets x seeds at equal budgets) into one
        results directory. Finished runs are skipped and interrupted ones resumed, so the same
        command continues a bench; a finished run keeps its final policy and compressed
        metrics, not its checkpoints.

        Args:
            out: Results directory (default: bench/<suite>).
            seeds: Seeds to run instead of the suite's.
            methods: Only these methods of the suite.
            datasets: Only these datasets of the suite.
            chunk: Only chunk N (1-based) of the suite's chunk plan (coopo bench --list FILE.py).
            workers: Local runs in parallel (default: the number of CPU cores).
            backend: local (one process per run) or ray (one Ray task per run; pip install 'coopo[ray]').
            ray_address: Ray cluster address (default: start a local Ray instance, or RAY_ADDRESS).
            cpus_per_run: Ray CPUs requested by each run.
            gpus_per_run: Ray GPUs requested by each run.
            keep_checkpoints: Keep finished runs' checkpoints and plain metrics.jsonl (to resume them for more phases).
            expert_policy_dir: Directory with <task>-expert.npz, for expert and medium-expert recipes.
            report: Write the report (coopo report) when every run has finished.
        """
        from coopo.bench.harness import run_suite
        from coopo.bench.suites import Suite

        assert isinstance(suite, Suite)
        target = out or Path("bench") / suite.name
        target.mkdir(parents=True, exist_ok=True)
        if chunk:
            seeds, datasets, methods = _chunk_selection(suite, chunk)
        summary = run_suite(
            suite,
            target,
            seeds=seeds or None,
            methods=methods,
            datasets=datasets,
            workers=workers,
            backend=backend,
            ray_address=ray_address,
            cpus_per_run=cpus_per_run,
            gpus_per_run=gpus_per_run,
            keep_checkpoints=keep_checkpoints,
            expert_policy_dir=expert_policy_dir,
            console=console,
            command="coopo bench " + " ".join(argv),
        )
        if summary.failed:
            return 1
        if report:
            _bench_report(target)
        return 0

    return bench


def _chunk_selection(
    suite: Any, chunk: int
) -> tuple[tuple[int, ...], tuple[str, ...], tuple[str, ...]]:
    """The seeds, datasets and methods of chunk ``chunk`` (1-based) of the suite's plan."""
    from coopo.bench.suites import chunk_plan

    plan = chunk_plan(suite)
    if not 1 <= chunk <= len(plan):
        raise UsageError(f"--chunk: suite {suite.name} has {len(plan)} chunks; {chunk} is not one")
    c = plan[chunk - 1]
    return c.seeds, c.datasets, c.methods


def _bench_report(target: Path) -> None:
    """The report at the end of a bench, or a line saying what it waits for."""
    if not extras.available("report"):
        # The runs are done and kept; only the report waits for its extra.
        console.print(
            f"report skipped: it needs the 'report' extra (pip install 'coopo[report]'),"
            f" then: coopo report {target}",
            soft_wrap=True,
            markup=False,
        )
        return
    from coopo.bench.report import write_report

    paths = write_report(target)
    console.print(f"report: {paths[0]} and {paths[1]}")


def _report(argv: list[str]) -> int:
    def report(
        results_dir: Annotated[tyro.conf.Positional[Path], tyro.conf.arg(metavar="RESULTS_DIR")],
        out: Path | None = None,
    ) -> None:
        """Aggregate a `coopo bench` results directory into report.md and report.html (figures
        as PNG files next to them and embedded in the HTML).

        Args:
            results_dir: A results directory written by coopo bench.
            out: Report directory (default: RESULTS_DIR/report).
        """
        extras.require("report", "coopo report")
        from coopo.bench.report import write_report

        md, html = write_report(results_dir, out)
        console.print(f"wrote {md} and {html}")

    _cli(report, argv, "coopo report")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the command line ``argv`` (default: ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except UsageError as e:
        _error(str(e))
        return 2
    except (ValueError, OSError, RuntimeError) as e:
        # ValueError covers ConfigError and DatasetError; OSError a missing file or a full
        # disk; RuntimeError a diverged run or a missing extra. One line, printed as is
        # ('coopo[report]' is not rich markup).
        _error(str(e) or type(e).__name__)
        return 1
    except KeyboardInterrupt as e:  # Ctrl-C: say where the run stands, no traceback
        err_console.print(f"[yellow]{escape(str(e) or 'interrupted')}[/]", soft_wrap=True)
        return 130


def _error(message: str) -> None:
    err_console.print(f"[red]error[/]: {escape(' '.join(message.split()))}", soft_wrap=True)


def _dispatch(argv: list[str]) -> int:
    verbs = {
        "train": _train,
        "resume": _resume,
        "eval": _eval,
        "export": _export,
        "bench": _bench,
        "report": _report,
    }
    if not argv or argv[0] in HELP_FLAGS:
        print(USAGE)
        if not argv:
            raise UsageError("no verb given")
        return 0
    if argv[0] in ("-V", "--version"):
        print(f"coopo {__version__}")
        return 0
    if argv[0] in verbs:
        return verbs[argv[0]](argv[1:])
    if argv[0] == "data":
        sub = {"build": _data_build, "info": _data_info, "train-behaviour": _data_train_behaviour}
        if len(argv) < 2 or argv[1] not in sub:
            print(
                "usage: coopo data {build,info,train-behaviour} [options]"
                "   (coopo data VERB --help for each)\n\n" + DATA_VERBS
            )
            if argv[1:2] in (["-h"], ["--help"]):
                return 0
            raise UsageError(
                "coopo data needs a verb: build, info or train-behaviour"
                if len(argv) < 2
                else f"unknown data verb {argv[1]!r}"
            )
        return sub[argv[1]](argv[2:])
    raise UsageError(f"unknown verb {argv[0]!r} (coopo --help lists them)")


if __name__ == "__main__":
    sys.exit(main())
