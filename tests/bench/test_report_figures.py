"""Report figures and the command block: each method its own colour and line style, COOPO's
cycle switches marked, every command on its own line in the HTML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coopo.bench import report

from .test_report import fake_results


def coopo_with_cycles(root: Path) -> None:
    """Make the fake `coopo` run a 2-cycle COOPO run: back to the dataset at env step 500."""
    run = root / "runs" / "hopper-medium" / "coopo" / "seeds"
    (run / "config.json").write_text(
        json.dumps(
            {
                "method": "coopo",
                "cycles": 2,
                "offline_steps": 0,
                "online_steps": 500,
                "eval_episodes": 5,
            }
        )
    )
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    for s in {r["seed"] for r in rows}:
        rows.append({"seed": s, "env_steps": 500, "phase": "offline", "cycle": 1,
                     "eval/normalized_score": 10.0, "eval/phase_end": 1.0})  # fmt: skip
    rows.sort(key=lambda r: (r["seed"], r["env_steps"]))
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


@pytest.mark.slow
def test_curves_have_distinct_styles_and_mark_cycle_switches(tmp_path: Path, monkeypatch):
    root = fake_results(
        tmp_path / "r",
        {"coopo": [90.0, 95.0], "awac-ft": [40.0, 45.0], "iql-ft": [30, 35], "rlpd": [50, 55]},
        o2o="awac-ft",
    )
    coopo_with_cycles(root)
    figures: dict[str, object] = {}
    save = report._save

    def keep(fig, path):
        figures[Path(path).name] = fig
        return save(fig, path)

    monkeypatch.setattr(report, "_save", keep)
    report.write_report(root)
    ax = figures["learning_curves.png"].axes[0]  # type: ignore[attr-defined]
    curves = [
        line for line in ax.lines if line.get_label() in ("coopo", "awac-ft", "iql-ft", "rlpd")
    ]
    assert len(curves) == 4
    assert len({line.get_color() for line in curves}) == 4
    assert len({str(line.get_linestyle()) for line in curves}) == 4
    switches = [line for line in ax.lines if list(line.get_xdata()) == [0.5, 0.5]]
    assert len(switches) == 1  # COOPO's return to the dataset at 500 env steps
    profile = figures["performance_profile.png"].axes[0]  # type: ignore[attr-defined]
    assert len({str(line.get_linestyle()) for line in profile.get_legend().get_lines()}) == 4


def test_the_command_block_keeps_one_command_per_line(tmp_path: Path):
    root = fake_results(tmp_path / "r", {"coopo": [90.0, 95.0], "base": [40.0, 45.0]})
    (root / "COMMAND").write_text(
        "coopo bench cpu --out A   (host one)\ncoopo bench cpu --out A --datasets x\n"
    )
    md, html = report.write_report(root)
    text = md.read_text()
    assert (
        "```\ncoopo bench cpu --out A   (host one)\ncoopo bench cpu --out A --datasets x\n" in text
    )
    page = html.read_text()
    assert (
        "<pre><code>coopo bench cpu --out A   (host one)\ncoopo bench cpu --out A --datasets x\n"
        in page
    )
