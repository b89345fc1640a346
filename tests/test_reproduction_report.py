"""scripts/reproduction_report.py on a tiny hand-made study folder: the ledger synced from it, paired Δ UA against
the baseline on the same splits, fallback cells labelled, leaky rows never compared, docs/results.md's section
replaced in place, and published rows frozen into the ledger and shown again unchanged (marked †)."""

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
    (root / folder / "experiment.json").write_text(json.dumps({"command": f"ser-experiment --out {root / folder}"}))


@pytest.fixture()
def study(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    seeds = {"paper-seed0": None, "paper-seed1": None, "paper-seed2": None}
    _experiment(root, "baseline_emodb_622", "paper", dict(zip(seeds, [(0.80, 0.78), (0.84, 0.80), (0.82, 0.82)])))
    _experiment(root, "sta_emodb_150ep_2s", "paper", dict(zip(seeds, [(0.85, 0.84), (0.83, 0.83), (0.88, 0.86)])),
                val_ua=[0.8, 0.8, 0.9])
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    _experiment(root, "baseline_emodb_8020", "speaker", dict(zip(folds, [(0.7, 0.6), (0.7, 0.7), (0.7, 0.8)])))
    # Only the short-schedule STRL-SER speaker run exists: the 150-epoch candidate is missing.
    _experiment(root, "strl_emodb_speaker", "speaker", dict(zip(folds, [(0.7, 0.72), (0.7, 0.71), (0.7, 0.70)])),
                point="hsf_scopeutterance")
    _experiment(root, "strl_emodb_leaky_segment_split", "paper", {"paper-seed0": (0.99, 0.99)})
    return root


@pytest.fixture()
def ledger(report, study: Path, tmp_path: Path):
    led = report.Ledger(tmp_path / "ledger")
    folders = [s.folder for s in report.STUDY] + sorted({f for f, _ in report.BASELINE.values()})
    assert sorted(led.sync(study, folders)) == sorted(p.name for p in study.iterdir())
    return led


def test_side_by_side_pairs_each_split_with_the_baseline(report, ledger) -> None:
    text = report.side_by_side(ledger)
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines() if line.startswith("| ")}
    # STA-CNN EMO-DB 6:2:2: UA 84/83/86 against the baseline's 78/80/82 on the same seeds (WA 85/83/88) -> Δ +6, +3, +4.
    assert "85.33 ± 2.52 / 84.33 ± 1.53 (n=3, Δ UA +4.33 ± 1.53; defaults, 2.0 s)" in rows["EMO-DB 6:2:2"]
    assert "82.00 ± 2.00 / 80.00 ± 2.00 (n=3)" in rows["EMO-DB 6:2:2"]
    # Speaker folds: the 150-epoch folder is absent, so the labelled short-schedule one stands in; Δ +10, 0, -10.
    speaker = rows["EMO-DB leave one speaker out"]
    assert "70.00 ± 0.00 / 71.00 ± 1.00 (n=3, Δ UA +1.00 ± 11.00; short schedule)" in speaker
    assert "| not run |" in speaker  # STA-CNN speaker folds: no folder
    assert 'STEPS="sta_emodb_2s150"' in text  # the study_recipe.sh step that made the STA-CNN cell


def test_replace_section_keeps_the_rest_of_the_file(report, ledger) -> None:
    before = f"# Results\n\nintro\n\n{report.SIDE_BY_SIDE_HEADING}\n\nold table\n\n## Next section\n\nkept\n"
    after = report.replace_section(before, report.side_by_side(ledger))
    assert after.startswith("# Results\n\nintro\n\n" + report.SIDE_BY_SIDE_HEADING)
    assert "old table" not in after and after.endswith("\n## Next section\n\nkept\n")
    assert report.replace_section(after, report.side_by_side(ledger)) == after  # idempotent
    with pytest.raises(SystemExit, match="has no section"):
        report.replace_section("# Results\n", "x")


def test_render_labels_leaky_rows_and_lists_missing_folders(report, ledger, tmp_path: Path) -> None:
    page = report.render(ledger, figure=tmp_path / "img" / "delta.png")
    leaky = [line for line in page.splitlines() if "strl_emodb" not in line and "**LEAKY** segment-level split" in line]
    assert leaky and all("n/a (leaky)" in line for line in leaky)
    assert "| 83.33 ± 5.77 |" in page  # STA-CNN's val UA column
    assert "`strl_emodb_8020_150ep_bf16`" in page  # not run: listed under "Study folders without results yet"
    assert "| 1 | — | 99.00 | 99.00 |" in page  # one seed: no '± 0.00' spread shown
    assert (tmp_path / "img" / "delta.png").stat().st_size > 0


def test_sync_keeps_every_trials_ua_and_the_command(report, ledger) -> None:
    entry = ledger.entry("sta_emodb_150ep_2s")
    assert entry["trial_ua"] == {"default": {"paper-seed0": 0.84, "paper-seed1": 0.83, "paper-seed2": 0.86}}
    assert entry["command"] == "ser-experiment --out STUDY/sta_emodb_150ep_2s"
    assert ledger.frozen("sta_emodb_150ep_2s") is None and ledger.entry("sta_ravdess_speaker") is None


def test_last_epoch_reading_is_paired_with_the_baseline(report, study: Path, tmp_path: Path) -> None:
    """A folder whose trials also tested their last epoch gets a second, non-leaky row, paired per trial."""
    folder = study / "sta_emodb_150ep_2s"
    agg = json.loads((folder / "aggregate.json").read_text())
    for name, ua in zip(agg["groups"][0]["trials"], (0.80, 0.79, 0.84)):
        path = folder / "default" / name / "result.json"
        path.write_text(json.dumps({**json.loads(path.read_text()), "last_epoch_metrics": {"wa": ua, "ua": ua}}))
    agg["groups"][0]["last_epoch"] = {"wa": _stat([0.80, 0.79, 0.84]), "ua": _stat([0.80, 0.79, 0.84])}
    (folder / "aggregate.json").write_text(json.dumps(agg))
    led = report.Ledger(tmp_path / "led4")
    led.sync(study, ["sta_emodb_150ep_2s", "baseline_emodb_622"])
    page = report.render(led)
    (row,) = [line for line in page.splitlines() if "last epoch (nothing selected)" in line]
    # last-epoch UA 80/79/84 against the baseline's 78/80/82 on the same seeds -> Δ +2, -1, +2.
    assert "| 81.00 ± 2.65 | 81.00 ± 2.65 | 80.00 ± 2.00 | +1.00 ± 1.73 | 80.23 |" in row
    assert "LEAKY" not in row


def test_speaker_norm_rows_pair_with_the_baseline_that_has_it(report, study: Path, tmp_path: Path) -> None:
    """A row with ``versus`` is paired with that baseline folder (same trials), not with BASELINE's; the baseline
    with speaker normalisation is itself paired with the plain baseline, and is a row, not a bar of the figure."""
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    _experiment(study, "baseline_emodb_speaker_norm", "speaker", dict(zip(folds, [(0.8, 0.75), (0.8, 0.80), (0.8, 0.85)])))
    _experiment(study, "strl_emodb_speaker_norm", "speaker", dict(zip(folds, [(0.8, 0.79), (0.8, 0.80), (0.8, 0.87)])))
    led = report.Ledger(tmp_path / "led-sn")
    led.sync(study, ["baseline_emodb_8020", "baseline_emodb_speaker_norm", "strl_emodb_speaker_norm"])
    page = report.render(led, figure=tmp_path / "img" / "delta.png")
    (strl,) = [line for line in page.splitlines() if line.startswith("| STRL-SER | emodb | speaker |") and "speaker normalisation" in line]
    # UA 79/80/87 against the normalised baseline's 75/80/85 on the same folds -> Δ +4, 0, +2 (not against 60/70/80).
    assert "| 80.00 ± 5.00 | +2.00 ± 2.00 |" in strl and report.VERSUS_NOTE in strl
    (base,) = [line for line in page.splitlines() if line.startswith("| linear baseline | emodb | speaker |")]
    assert "| 70.00 ± 10.00 | +10.00 ± 5.00 |" in base  # 75/80/85 against the plain baseline's 60/70/80
    (row,) = [s for s in report.STUDY if s.folder == "strl_emodb_speaker_norm"]
    for suffix in ("", ", last epoch"):  # the bar's label keeps its marks; only the reading is shortened
        label = report._bar_label(row, "speaker", row.reading, suffix)
        assert len(label) <= 95 and label.endswith(suffix + " [Δ vs the baseline with it]")


def test_sync_writes_no_machine_folders(report, study: Path, tmp_path: Path) -> None:
    exp = study / "sta_emodb_150ep_2s" / "experiment.json"
    exp.write_text(json.dumps({"command": f"ser-experiment --out {study}/x -- -c a.yaml --data.root {Path.home()}/EMODB "
                                          f"--trainer.default_root_dir {Path.home()}/runs"}))
    led = report.Ledger(tmp_path / "led3")
    led.sync(study, ["sta_emodb_150ep_2s"])
    assert led.command("sta_emodb_150ep_2s") == ("ser-experiment --out STUDY/sta_emodb_150ep_2s -- -c a.yaml "
                                                 "--data.root CORPUS_DIR --trainer.default_root_dir ~/runs")
    # --opt=value forms, quoted paths with spaces, and the home folder as a prefix of another folder's name.
    home = str(Path.home())
    command = (f"ser-experiment --out='{home}/my study/x' --title 'a b' -- -c {home}/c.yaml "
               f"--data.root=/srv/EMODB --trainer.default_root_dir {home}fs/runs")
    assert report._portable(command, "f") == ("ser-experiment --out=STUDY/f --title 'a b' -- -c ~/c.yaml "
                                              f"--data.root=CORPUS_DIR --trainer.default_root_dir {home}fs/runs")


def test_sync_refuses_an_entry_that_would_keep_a_machine_folder(report, study: Path, tmp_path: Path) -> None:
    agg = study / "sta_emodb_150ep_2s" / "aggregate.json"
    data = json.loads(agg.read_text())
    data["groups"][0]["note"] = f"features cached under {Path.home()}/.cache/is10"
    agg.write_text(json.dumps(data))
    led = report.Ledger(tmp_path / "led5")
    with pytest.raises(SystemExit, match=r"aggregate.json: its ledger entry would keep a folder of this machine"):
        led.sync(study, ["sta_emodb_150ep_2s"])
    assert led.entry("sta_emodb_150ep_2s") is None


def test_sync_refuses_an_aggregate_whose_trials_are_missing(report, study: Path, tmp_path: Path) -> None:
    (study / "sta_emodb_150ep_2s" / "default" / "paper-seed1" / "result.json").unlink()
    with pytest.raises(SystemExit, match="paper-seed1"):
        report.Ledger(tmp_path / "led2").sync(study, ["sta_emodb_150ep_2s"])


def test_targets_table_scores_every_fixed_configuration(report, study: Path, tmp_path: Path) -> None:
    """Each configuration of TARGETS is a row: its paired Δ against the target of its protocol (a row with
    ``versus`` against that baseline), 'not run' where its folder is missing; nothing is picked among them."""
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    _experiment(study, "strl_emodb_speaker_150ep", "speaker", dict(zip(folds, [(0.7, 0.65), (0.7, 0.75), (0.7, 0.85)])))
    _experiment(study, "baseline_emodb_speaker_norm", "speaker", dict(zip(folds, [(0.8, 0.75), (0.8, 0.80), (0.8, 0.85)])))
    _experiment(study, "strl_emodb_speaker_norm", "speaker", dict(zip(folds, [(0.8, 0.79), (0.8, 0.80), (0.8, 0.87)])))
    seeds = {f"paper-seed{k}": None for k in range(3)}
    _experiment(study, "sta_emodb_622_masking", "paper", dict(zip(seeds, [(0.8, 0.80), (0.8, 0.80), (0.8, 0.82)])),
                point="instance_normmean")
    led = report.Ledger(tmp_path / "led-targets")
    led.sync(study, [p.name for p in study.iterdir()])
    rows = {tuple(report._cells(line)[:5]): report._cells(line)[5:] for line in report.targets_table(led)
            if line.startswith(("| STRL-SER ", "| STA-CNN "))}
    assert len(rows) == sum(len(configs) for *_, configs in report.TARGETS)
    # 65/75/85 against the baseline's 60/70/80 on the same folds: +5 each, above the +3 speaker target.
    assert rows[("STRL-SER", "emodb", "speaker folds", "+3", "defaults, 150 ep")] == ["3", "75.00 ± 10.00", "+5.00 ± 0.00", "**yes**"]
    # 79/80/87 against the normalised baseline's 75/80/85 (not the plain one's 60/70/80): +2.00, 1.00 short.
    assert rows[("STRL-SER", "emodb", "speaker folds", "+3", "speaker normalisation, 30 ep")] == [
        "3", "82.00 ± 4.36", "+2.00 ± 2.00 (vs the baseline with it)", "no (1.00 short)"]
    # 84/83/86 against 78/80/82 on the same 6:2:2 splits: +4.33, short of the +5 paper-protocol target.
    assert rows[("STA-CNN", "emodb", "paper 6:2:2", "+5", "defaults (2.0 s)")] == ["3", "84.33 ± 1.53", "+4.33 ± 1.53", "no (0.67 short)"]
    assert rows[("STA-CNN", "emodb", "paper 6:2:2", "+5", "recipe")] == ["", "not run", "", ""]
    # A configuration named for a normalisation but paired with the plain baseline (no ``versus``) is not marked.
    assert rows[("STA-CNN", "emodb", "paper 6:2:2", "+5", "masking + per-input mean normalisation")] == [
        "3", "80.67 ± 1.15", "+0.67 ± 1.15", "no (4.33 short)"]
    page = report.render(led)
    assert "Met: STRL-SER emodb speaker (defaults, 150 ep)." in page
    assert page.index(report.TARGETS_HEADING) < page.index("## Readings")


def test_met_line_flags_a_target_crossed_within_the_spread(report, study: Path, tmp_path: Path) -> None:
    """A mean that crosses its target by less than the paired std is listed as met *within the spread*."""
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    # 64/71/87 against the baseline's 60/70/80 on the same folds: +4, +1, +7 -> +4.00 ± 3.00; 4 - 3 < the +3 target.
    _experiment(study, "strl_emodb_speaker_150ep", "speaker", dict(zip(folds, [(0.7, 0.64), (0.7, 0.71), (0.7, 0.87)])))
    led = report.Ledger(tmp_path / "led-spread")
    led.sync(study, [p.name for p in study.iterdir()])
    lines = report.targets_table(led)
    row = next(line for line in lines if line.startswith("| STRL-SER | emodb | speaker folds | +3 | defaults, 150 ep |"))
    assert report._cells(row)[5:] == ["3", "74.00 ± 11.79", "+4.00 ± 3.00", "**yes**"]
    met = next(line for line in lines if line.startswith("Met: "))
    assert met.startswith("Met: STRL-SER emodb speaker (defaults, 150 ep; within the spread).")


def test_frozen_rows_are_shown_as_published(report, ledger, tmp_path: Path) -> None:
    """A study whose files are lost: its published page, frozen into an empty ledger, renders the same rows
    (marked †), the same side-by-side cells and the same Δ bars; a synced entry wins over a frozen one."""
    page = report.render(ledger)
    empty = report.Ledger(tmp_path / "frozen")
    frozen = report.freeze(page, empty)
    assert sorted(frozen) == sorted(p.stem for p in ledger.root.iterdir())
    again = report.render(empty, figure=tmp_path / "img" / "d.png")
    table = [line for line in page.splitlines() if line.startswith("| ") and "earlier single run" not in line]
    assert [line.replace(" †", "") for line in again.splitlines()
            if line.startswith("| ") and "earlier single run" not in line] == table
    assert "| STA-CNN | emodb | 6:2:2 | 2.0 s segments, best on val. † |" in again
    assert report.FROZEN_NOTE in again and report.FROZEN_NOTE not in page
    cells = report.side_by_side(empty)
    assert "85.33 ± 2.52 / 84.33 ± 1.53 (n=3, Δ UA +4.33 ± 1.53; defaults, 2.0 s) †" in cells
    assert "82.00 ± 2.00 / 80.00 ± 2.00 (n=3) †" in cells
    assert report.freeze(page, empty) == []  # nothing left to freeze
    # Freezing the page that shows frozen rows (marked †) gives the same ledger again.
    twice = report.Ledger(tmp_path / "twice")
    assert sorted(report.freeze(again, twice)) == sorted(frozen)
    assert report.render(twice) == report.render(empty)


def test_sync_over_a_frozen_entry_keeps_only_what_it_does_not_rerun(report, ledger, study: Path, tmp_path: Path) -> None:
    """Rerunning a lost folder replaces its published rows; rows of grid points or protocols the rerun did not
    cover stay frozen (marked †) instead of vanishing."""
    frozen = report.Ledger(tmp_path / "frozen")
    report.freeze(report.render(ledger), frozen)
    path = frozen.root / "sta_emodb_150ep_2s.json"
    entry = json.loads(path.read_text())
    other = json.loads(json.dumps(entry["frozen"]["rows"][0]))
    other["point"] = "segment_length1.0"
    other["cells"][3] = "2.0 s segments, best on val., segment_length=1.0"
    entry["frozen"]["rows"].append(other)
    path.write_text(json.dumps(entry))
    assert frozen.sync(study, ["sta_emodb_150ep_2s"]) == ["sta_emodb_150ep_2s"]
    page = report.render(frozen)
    assert "| STA-CNN | emodb | 6:2:2 | 2.0 s segments, best on val. |" in page  # rerun: live, unmarked
    assert "| STA-CNN | emodb | 6:2:2 | 2.0 s segments, best on val., segment_length=1.0 † |" in page  # not rerun
    assert [r["point"] for r in frozen.frozen("sta_emodb_150ep_2s")] == ["segment_length1.0"]


def test_speaker_rows_are_frozen_into_their_speaker_folder(report) -> None:
    """A speaker-protocol row goes to the speaker study of its reading, not to a paper-protocol study with the
    same reading and schedule that comes first."""
    cells = ["STRL-SER", "emodb", "speaker", "defaults, bf16", "150 ep, lr x0.95 (paper)"]
    assert report.STUDY[report._study_for_row(cells, 0)].folder == "strl_emodb_speaker_150ep"
    cells = ["STRL-SER", "emodb", "speaker", "fusion tokens = branches, hsf_scope=utterance", "30 ep, lr x0.9"]
    assert report.STUDY[report._study_for_row(cells, 0)].folder == "strl_emodb_speaker"


def test_freeze_refuses_a_row_it_cannot_place(report, tmp_path: Path) -> None:
    page = ("## Readings\n\n| model | corpus |\n|---|---|\n"
            "| STRL-SER | emodb | 80/20 | a reading no study folder has | 30 ep, lr x0.9 | 3 | — | 1 | 1 | 1 | +0 ± 0 | — |\n")
    with pytest.raises(SystemExit, match="cannot tell which study folder"):
        report.freeze(page, report.Ledger(tmp_path / "l"))


def test_main_renders_from_the_ledger_alone(report, ledger, tmp_path: Path) -> None:
    out = tmp_path / "r.md"
    report.main(["--ledger", str(ledger.root), "--out", str(out)])
    assert "| 83.33 ± 5.77 |" in out.read_text()
    with pytest.raises(SystemExit, match="no such folder"):
        report.main(["--study", str(tmp_path / "nope"), "--ledger", str(ledger.root), "--out", str(out)])


def test_committed_pages_match_the_committed_ledger(report, tmp_path: Path) -> None:
    """docs/reproduction.md and docs/results.md's summary are what `make report` renders from docs/study/:
    nobody edits a number by hand, and a ledger change without regenerating the pages fails here."""
    led = report.Ledger(ROOT / "docs" / "study")
    page = report.render(led, figure=tmp_path / "img" / "reproduction_delta_ua.png")
    assert page == (ROOT / "docs" / "reproduction.md").read_text(), "run `make report` and commit the pages"
    results = (ROOT / "docs" / "results.md").read_text()
    assert report.replace_section(results, report.side_by_side(led)) == results, "run `make report`"


def test_carried_unfinished_experiments_await_their_rest(report) -> None:
    """docs/study/unfinished/<folder>/ holds the finished trials of an experiment a session could not finish
    (`ser-experiment --export-finished`), for the next machine to import: a study folder the report knows and the
    ledger does not hold yet (once it does, the carry is stale), each trial a result with its test predictions and
    none of a machine's folders."""
    from sermodels.experiment import MACHINE_PATH, trial_predictions_csv

    carried = ROOT / "docs" / "study" / "unfinished"
    known = {s.folder for s in report.STUDY} | {f for f, _ in report.BASELINE.values()}
    for folder in sorted(carried.iterdir()) if carried.is_dir() else []:
        assert folder.name in known, f"{folder}: not a folder of the study"
        assert not (ROOT / "docs" / "study" / f"{folder.name}.json").exists(), f"{folder.name} is in the ledger: delete {folder}"
        results = sorted(folder.glob("*/*/result.json"))
        assert results, f"{folder}: no trial"
        for path in results:
            text = path.read_text()
            result = json.loads(text)
            assert 0 <= result["metrics"]["ua"] <= 1 and trial_predictions_csv(result, path.parent) is not None
            assert not MACHINE_PATH.search(text + trial_predictions_csv(result, path.parent).read_text())


def test_rows_run_on_a_gpu_are_marked_and_named(report, study: Path, tmp_path: Path) -> None:
    """sync keeps where each folder's trials ran (result.json's ``device``); rows run on a GPU carry ‡ in every
    table with the note, the commands list names the device, and entries synced before devices existed are CPU."""
    for d in (study / "sta_emodb_150ep_2s" / "default").iterdir():  # where the test ran, as test_metrics.json says
        r = json.loads((d / "result.json").read_text())
        r["metrics"]["device"] = "cuda:0 (NVIDIA H100 80GB HBM3)"
        (d / "result.json").write_text(json.dumps({**r, "last_epoch_metrics": {"ua": 0.8}}))
    agg = json.loads((study / "sta_emodb_150ep_2s" / "aggregate.json").read_text())
    agg["groups"][0]["last_epoch"] = {"wa": _stat([0.8, 0.8, 0.8]), "ua": _stat([0.8, 0.8, 0.8])}
    (study / "sta_emodb_150ep_2s" / "aggregate.json").write_text(json.dumps(agg))
    d = study / "baseline_emodb_622" / "default" / "paper-seed0"
    r = json.loads((d / "result.json").read_text())
    r["metrics"]["device"] = "cpu"
    (d / "result.json").write_text(json.dumps({**r, "device": "NVIDIA H100 80GB HBM3"}))  # a CPU trial on a GPU box
    led = report.Ledger(tmp_path / "led-gpu")
    led.sync(study, [p.name for p in study.iterdir()])
    assert led.devices("sta_emodb_150ep_2s") == ["NVIDIA H100 80GB HBM3"]
    assert led.devices("baseline_emodb_622") == ["CPU"]  # where the test ran (cpu) counts, not what the box had
    entry = json.loads((tmp_path / "led-gpu" / "strl_emodb_speaker.json").read_text())
    del entry["devices"]  # an entry synced before devices were recorded
    (tmp_path / "led-gpu" / "strl_emodb_speaker.json").write_text(json.dumps(entry))
    assert led.devices("strl_emodb_speaker") == ["CPU"]
    page = report.render(led)
    gpu_rows = [line for line in page.splitlines() if report.GPU_MARK in line and line.startswith("| ")]
    assert gpu_rows and all("| STA-CNN | emodb |" in line for line in gpu_rows)
    folder_rows = [line for line in page.splitlines() if line.startswith("| STA-CNN | emodb | 6:2:2 | 2.0 s segments")]
    assert len(folder_rows) == 2 and all(report.GPU_MARK in line for line in folder_rows)  # its last-epoch row too
    assert page.count(report.GPU_NOTE) == 2  # under the targets table and under the readings table
    assert "- `sta_emodb_150ep_2s`: `scripts/study_recipe.sh (sta_emodb_2s150)`, on NVIDIA H100 80GB HBM3" in page
    assert "- `strl_emodb_speaker`: `scripts/study_more.sh`\n" in page
    side = report.side_by_side(led)
    assert report.GPU_NOTE in side and any(report.GPU_MARK in line for line in side.splitlines() if "EMO-DB 6:2:2" in line)


def test_sync_replaces_a_pack_path_in_the_command(report, study: Path, tmp_path: Path) -> None:
    exp = study / "sta_emodb_150ep_2s" / "experiment.json"
    out = tmp_path / "study-on-the-gpu-box" / "x"
    exp.write_text(json.dumps({"command": f"ser-experiment --out {out} -- --data.pack .gpu/sta.npz"}))
    led = report.Ledger(tmp_path / "led-pack")
    led.sync(study, ["sta_emodb_150ep_2s"])
    assert led.command("sta_emodb_150ep_2s") == "ser-experiment --out STUDY/sta_emodb_150ep_2s -- --data.pack CORPUS_PACK"


def test_targets_figure_shows_each_configuration_that_ran(report, ledger, tmp_path: Path, monkeypatch) -> None:
    seen: list = []
    monkeypatch.setattr(report, "targets_figure", lambda panels, path: seen.append((panels, path)))
    lines = report.targets_table(ledger, tmp_path / "img" / "t.png")
    (panels, path), = seen
    assert path == tmp_path / "img" / "t.png" and "![each fixed configuration's paired Δ UA against its target](img/t.png)" in lines
    # the fixture ran one configuration with a baseline on its splits: STA-CNN defaults on EMO-DB 6:2:2 (+4.33)
    assert [(title, target, [b[0] for b in bars]) for title, target, bars in panels] == [
        ("STA-CNN, EMO-DB, 6:2:2 (speaker-dependent)", 5.0, ["defaults (2.0 s)"])]
    (_, mean, std, n), = next(bars for _, _, bars in panels if bars)
    assert (mean, std, n) == (pytest.approx(13 / 300), pytest.approx(0.0153, abs=1e-4), 3)  # 84/83/86 vs 78/80/82
    assert len(panels) == 1  # panels where nothing ran yet are left out of the picture
    monkeypatch.undo()
    page = report.render(ledger, figure=tmp_path / "img" / "delta.png")
    assert (tmp_path / "img" / "delta.png").is_file() and (tmp_path / "img" / report.TARGETS_FIGURE).is_file()
    assert f"](img/{report.TARGETS_FIGURE})" in page


def test_seed_ensemble_is_a_row_and_a_target_paired_per_fold(report, study: Path, tmp_path: Path) -> None:
    """A folder run with 3 training seeds per fold: each seed's reading pairs with the fold's (seed-0) baseline trial,
    and the seeds' ensemble (the runner's per-fold scores) becomes its own row and target configuration."""
    folder = "strl_emodb_recipe_speaker_seeds3"
    uas = {f"speaker-fold{k}-seed{s}": 0.6 + 0.1 * k + 0.01 * s for k in range(3) for s in range(3)}
    _experiment(study, folder, "speaker", {n: (ua, ua) for n, ua in uas.items()})
    agg = json.loads((study / folder / "aggregate.json").read_text())
    ens = {f"speaker-fold{k}-seed0": 0.65 + 0.1 * k for k in range(3)}  # what the runner scored per fold
    agg["groups"][0]["ensemble"] = {"members": 3, "seeds": [0, 1, 2], "wa": _stat(list(ens.values())),
                                    "ua": _stat(list(ens.values())), "trial_ua": ens, "trial_wa": ens, "note": "n"}
    (study / folder / "aggregate.json").write_text(json.dumps(agg))
    led = report.Ledger(tmp_path / "led_ens")
    led.sync(study, [folder, "baseline_emodb_8020"])
    entry = json.loads((tmp_path / "led_ens" / f"{folder}.json").read_text())
    assert entry["trial_ua"]["default" + report.ENSEMBLE] == ens
    page = report.render(led)
    (single,) = [line for line in page.splitlines() if "3 training seeds per split |" in line]
    (ensemble,) = [line for line in page.splitlines() if "the 3 seeds' ensemble (" in line
                   and line.startswith("| STRL-SER | emodb | speaker |")]
    # baseline per fold 0.6 / 0.7 / 0.8: each seed's Δ is +0.00/+0.01/+0.02 on every fold, the ensemble's +0.05
    assert "| 9 |" in single and "| +1.00 ± 0.87 |" in single
    assert "| 3 |" in ensemble and "| 75.00 ± 10.00 | 70.00 ± 10.00 | +5.00 ± 0.00 |" in ensemble
    targets = report.targets_table(led)
    (row,) = [line for line in targets if "recipe, ensemble of 3 seeds" in line and "| emodb | speaker folds |" in line]
    assert "| 3 | 75.00 ± 10.00 | +5.00 ± 0.00 | **yes** |" in row
    # a page with the rows, frozen back (the files lost): each row returns to its own grid point
    fresh = report.Ledger(tmp_path / "led_frozen")
    assert folder in report.freeze(page, fresh)
    points = [r["point"] for r in fresh.frozen(folder)]
    assert points == ["default", "default" + report.ENSEMBLE]


def test_best_table_sets_each_models_defaults_beside_its_best_configuration(report, study: Path, tmp_path: Path) -> None:
    """The summary that opens the page: one row per model, corpus and protocol of TARGETS, the defaults and the
    fixed best configuration (BEST) each with its paired Δ; the verdict is the best one's; cells where the defaults
    score higher are named; a best configuration not run is counted as such, never as a miss."""
    folds = {f"speaker-fold{k}-seed0": None for k in range(3)}
    # baseline 60/70/80 per fold (the fixture): defaults 65/75/85 (+5 each), best 61/72/83 (+1, +2, +3 -> +2.00 ± 1.00)
    _experiment(study, "strl_emodb_speaker_150ep", "speaker", dict(zip(folds, [(0.7, 0.65), (0.7, 0.75), (0.7, 0.85)])))
    _experiment(study, "strl_emodb_recipe_speed_speaker_150ep", "speaker",
                dict(zip(folds, [(0.7, 0.61), (0.7, 0.72), (0.7, 0.83)])))
    led = report.Ledger(tmp_path / "led-best")
    led.sync(study, [p.name for p in study.iterdir()])
    lines = report.best_table(led)
    rows = {tuple(report._cells(line)[:3]): report._cells(line)[3:] for line in lines
            if line.startswith(("| STRL-SER ", "| STA-CNN "))}
    assert len(rows) == len(report.TARGETS)
    assert rows[("STRL-SER", "emodb", "speaker folds")] == [
        "+3", "75.00 ± 10.00 (n=3)", "+5.00 ± 0.00", "72.00 ± 11.00 (n=3)", "+2.00 ± 1.00", "no (1.00 short)"]
    # STA-CNN EMO-DB 6:2:2: the fixture's defaults (+4.33 ± 1.53), no best-configuration run
    assert rows[("STA-CNN", "emodb", "paper 6:2:2")] == [
        "+5", "84.33 ± 1.53 (n=3)", "+4.33 ± 1.53", "not run", "", "not run"]
    summary = next(line for line in lines if line.startswith("The best configurations meet"))
    text = " ".join(lines[lines.index(summary):])
    # one cell scored (a miss), the other seven without a best-configuration run: counted apart, never as misses
    assert "meet 0 of 8 targets" in text and "and miss 1;" in text and "7 not run or not finished yet (" in text
    assert "STA-CNN emodb paper 6:2:2" in text.split("not finished yet (")[1]
    assert "The defaults meet 1 of 8." in text
    assert "higher Δ in 1 of the 1 cells where both ran: STRL-SER emodb speaker folds (+5.00 against +2.00)" in text
    page = report.render(led)
    assert page.index(report.BEST_HEADING) < page.index(report.TARGETS_HEADING)


def test_best_names_a_row_of_every_targets_cell_and_an_existing_recipe_file(report) -> None:
    """Each BEST label is a configuration of every TARGETS cell of its model, and its recipe file exists: renaming
    a row or a file without the other fails here, not on the published page."""
    for model, corpus, split, _ in report.TARGETS:
        defaults, best, path = report.BEST[model]
        for label in (defaults, best):
            report._target_of(model, corpus, split, label)
        assert (ROOT / path).is_file(), path
    with pytest.raises(KeyError, match="no row 'nope' for STA-CNN emodb speaker"):
        report._target_of("STA-CNN", "emodb", "speaker", "nope")


def test_best_table_keeps_a_best_run_without_a_paired_baseline_apart(report, study: Path, tmp_path: Path) -> None:
    """A best configuration that ran on splits the baseline has no trials for is neither met, missed nor 'not run':
    its row says so and the summary counts it apart."""
    folds = {f"speaker-fold{k}-seed0": None for k in range(5, 8)}  # the fixture's baseline has folds 0-2 only
    _experiment(study, "strl_emodb_recipe_speed_speaker_150ep", "speaker",
                dict(zip(folds, [(0.7, 0.61), (0.7, 0.72), (0.7, 0.83)])))
    led = report.Ledger(tmp_path / "led-unpaired")
    led.sync(study, [p.name for p in study.iterdir()])
    lines = report.best_table(led)
    row = next(line for line in lines if line.startswith("| STRL-SER | emodb | speaker folds |"))
    assert report._cells(row)[6:] == ["72.00 ± 11.00 (n=3)", "—", "— (no baseline on the same splits)"]
    text = next(line for line in lines if line.startswith("The best configurations meet"))
    assert "meet 0 of 8 targets" in text and "miss 0" in text and "7 not run or not finished yet" in text
    assert "1 without a baseline on the same splits (STRL-SER emodb speaker folds)" in text


def test_carried_trials_of_an_unfinished_experiment_are_listed_as_partial(report, ledger) -> None:
    """A folder the ledger lacks but whose finished trials a session carried (docs/study/unfinished/<folder>/) is
    listed under 'Not yet run' with how many of the protocol's trials finished and each one's test UA beside the
    baseline on the same fold, marked partial, and no table row appears for it."""
    s = next(s for s in report.STUDY if s.folder == "sta_emodb_speaker_recipe_speed_overlap")
    for name, ua in (("speaker-fold0-seed0", 0.65), ("speaker-fold2-seed0", 0.9)):
        d = ledger.root / "unfinished" / s.folder / "default" / name
        d.mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"metrics": {"wa": ua, "ua": ua}}))
    line = ("`sta_emodb_speaker_recipe_speed_overlap`: 2 of 3 folds finished so far, carried in "
            "`docs/study/unfinished/sta_emodb_speaker_recipe_speed_overlap/`; a partial reading, not a row. Test UA: "
            "speaker-fold0-seed0 65.00 against the baseline's 60.00; speaker-fold2-seed0 90.00 against the baseline's 80.00.")
    assert report.carried_so_far(ledger, s) == line
    page = report.render(ledger)
    not_yet = page[page.index("## Not yet run"):]
    assert f"- {line}\n" in not_yet and f"`{s.folder}` ({s.script})" in not_yet
    assert "65.00" not in page[:page.index("## Not yet run")]
    # Both target tables say how far it got instead of "not run", and score nothing.
    assert ("| STA-CNN | emodb | speaker folds | +3 | recipe + speed perturbation + overlapping segments | | "
            "not finished: 2 of 3 folds | | |") in page
    best = page[page.index(report.BEST_HEADING):page.index(report.TARGETS_HEADING)]
    assert "| not finished: 2 of 3 folds |  | not finished |" in best
    listed = best.split("not run or not finished yet (")[1].split("; see 'Not yet run'")[0]
    assert "STA-CNN emodb speaker folds, not finished: 2 of 3 folds" in listed
    assert "STRL-SER ravdess paper 80/20;" in listed  # a plain not-run cell carries no progress
    other = next(s for s in report.STUDY if s.folder == "sta_ravdess_speaker_masking")
    assert report.carried_so_far(ledger, other) == "" and f"`{other.folder}` ({other.script})" in not_yet


def test_carried_trials_count_folds_not_seeds_and_stay_with_their_grid_point(report, ledger) -> None:
    """The progress of a carry: speaker folds counted once whatever the seeds per fold; on the paper protocol no
    whole is claimed (an experiment may run fewer seeds than the baseline's); a grid point's trials count for that
    point's row only."""
    def carry(folder: str, point: str, names: list[str]) -> None:
        for name in names:
            d = ledger.root / "unfinished" / folder / point / name
            d.mkdir(parents=True)
            (d / "result.json").write_text(json.dumps({"metrics": {"wa": 0.7, "ua": 0.7}}))

    carry("sta_emodb_speaker_recipe_speed_overlap", "default", ["speaker-fold1-seed0", "speaker-fold1-seed1"])
    carry("sta_emodb_622_recipe_speed_overlap", "default", ["paper-seed0", "paper-seed1"])
    carry("sta_emodb_622_recipe_bn", "gfe_poolingsum", ["paper-seed0"])
    page = report.render(ledger)
    row = lambda config, split: next(  # noqa: E731
        line for line in page.splitlines() if line.startswith(f"| STA-CNN | emodb | {split} | ") and f"| {config} |" in line)
    assert "| not finished: 1 of 3 folds |" in row("recipe + speed perturbation + overlapping segments", "speaker folds")
    assert "| not finished: 2 trials |" in row("recipe + speed perturbation + overlapping segments", "paper 6:2:2")
    assert "| not finished: 1 trial |" in row("recipe + BatchNorm", "paper 6:2:2")
    assert "| not run |" in row("recipe + BatchNorm + GFE mean", "paper 6:2:2")
    s = next(s for s in report.STUDY if s.folder == "sta_emodb_622_recipe_bn")
    assert "`sta_emodb_622_recipe_bn`: 1 trial finished so far" in report.carried_so_far(ledger, s)
    assert "gfe_poolingsum paper-seed0 70.00 against the baseline's 78.00" in report.carried_so_far(ledger, s)
