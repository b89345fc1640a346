"""scripts/reproduction_report.py on a tiny hand-made study folder: paired Δ UA against the baseline on the
same splits, fallback cells labelled, leaky rows never compared, and docs/results.md's section replaced in place."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("reproduction_report", ROOT / "scripts" / "reproduction_report.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["reproduction_report"] = mod
    spec.loader.exec_module(mod)
    return mod


def _stat(values):
    import statistics

    return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def _experiment(root: Path, folder: str, protocol: str, trials: dict[str, tuple[float, float]], point: str = "default",
                val_ua: list[float] | None = None) -> None:
    """One ser-experiment folder: per-trial result.json and the aggregate over them (trial -> (WA, UA))."""
    for name, (wa, ua) in trials.items():
        d = root / folder / point / name
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"metrics": {"wa": wa, "ua": ua}}))
    group = {"point": point, "protocol": protocol, "overrides": {}, "n": len(trials), "trials": list(trials),
             "metrics": {"wa": _stat([t[0] for t in trials.values()]), "ua": _stat([t[1] for t in trials.values()])}}
    if val_ua:
        group["val_ua"] = _stat(val_ua)
    (root / folder / "aggregate.json").write_text(json.dumps({"groups": [group]}))
    (root / folder / "experiment.json").write_text(json.dumps({"command": f"ser-experiment --out {folder}"}))


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    seeds = {"paper-seed0": None, "paper-seed1": None, "paper-seed2": None}
    _experiment(tmp_path, "baseline_emodb_622", "paper", dict(zip(seeds, [(0.80, 0.78), (0.84, 0.80), (0.82, 0.82)])))
    _experiment(tmp_path, "sta_emodb_150ep_2s", "paper", dict(zip(seeds, [(0.85, 0.84), (0.83, 0.83), (0.88, 0.86)])),
                val_ua=[0.8, 0.8, 0.9])
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    _experiment(tmp_path, "baseline_emodb_8020", "speaker", dict(zip(folds, [(0.7, 0.6), (0.7, 0.7), (0.7, 0.8)])))
    # Only the short-schedule STRL-SER speaker run exists: the 150-epoch candidate is missing.
    _experiment(tmp_path, "strl_emodb_speaker", "speaker", dict(zip(folds, [(0.7, 0.72), (0.7, 0.71), (0.7, 0.70)])),
                point="hsf_scopeutterance")
    _experiment(tmp_path, "strl_emodb_leaky_segment_split", "paper", {"paper-seed0": (0.99, 0.99)})
    return tmp_path


def test_side_by_side_pairs_each_split_with_the_baseline(report, study: Path) -> None:
    text = report.side_by_side(study)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    # STA-CNN EMO-DB 6:2:2: UA 84/83/86 against the baseline's 78/80/82 on the same seeds (WA 85/83/88) -> Δ +6, +3, +4.
    assert "85.33 ± 2.52 / 84.33 ± 1.53 (n=3, Δ UA +4.33 ± 1.53; defaults, 2.0 s)" in rows["EMO-DB 6:2:2"]
    assert "82.00 ± 2.00 / 80.00 ± 2.00 (n=3)" in rows["EMO-DB 6:2:2"]
    # Speaker folds: the 150-epoch folder is absent, so the labelled short-schedule one stands in; Δ +10, 0, -10.
    speaker = rows["EMO-DB leave one speaker out"]
    assert "70.00 ± 0.00 / 71.00 ± 1.00 (n=3, Δ UA +1.00 ± 11.00; short schedule)" in speaker
    assert "| not run |" in speaker  # STA-CNN speaker folds: no folder
    assert 'STEPS="sta_emodb_2s150"' in text  # the study_recipe.sh step that made the STA-CNN cell


def test_replace_section_keeps_the_rest_of_the_file(report, study: Path) -> None:
    before = f"# Results\n\nintro\n\n{report.SIDE_BY_SIDE_HEADING}\n\nold table\n\n## Next section\n\nkept\n"
    after = report.replace_section(before, report.side_by_side(study))
    assert after.startswith("# Results\n\nintro\n\n" + report.SIDE_BY_SIDE_HEADING)
    assert "old table" not in after and after.endswith("\n## Next section\n\nkept\n")
    assert report.replace_section(after, report.side_by_side(study)) == after  # idempotent
    with pytest.raises(SystemExit, match="has no section"):
        report.replace_section("# Results\n", "x")


def test_render_labels_leaky_rows_and_lists_missing_folders(report, study: Path, tmp_path: Path) -> None:
    page = report.render(study, figure=tmp_path / "img" / "delta.png")
    leaky = [line for line in page.splitlines() if "strl_emodb" not in line and "**LEAKY** segment-level split" in line]
    assert leaky and all("n/a (leaky)" in line for line in leaky)
    assert "| 83.33 ± 5.77 |" in page  # STA-CNN's val UA column
    assert "`strl_emodb_8020_150ep_bf16`" in page  # not run: listed under "Study folders without results yet"
    assert (tmp_path / "img" / "delta.png").stat().st_size > 0


def test_main_rejects_a_missing_study_folder(report, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="no such folder"):
        report.main(["--study", str(tmp_path / "nope"), "--out", str(tmp_path / "r.md")])
