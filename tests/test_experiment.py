"""The experiment runner: trials planned from seeds, corpus folds and a grid; resumable; aggregates checked by hand."""

import json
import shutil
from pathlib import Path

import pytest

from sermodels import experiment
from sermodels.experiment import Trial, aggregate, grid_points, plan_trials, summary_markdown
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


def _passthrough(cache: Path, model: str = "baseline") -> list[str]:
    return [
        *config_args(model),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.extract_workers=0",
        "--trainer.enable_progress_bar=false",
    ]


def test_grid_points_from_sweep_file_and_sets(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("parameters:\n  model.init_args.net.init_args.num_heads: {values: [1, 8]}\n  data.root: {value: /x}\n")
    points = grid_points(str(sweep), ["data.segment_length=1.2,2.0"])
    assert [p for p, _ in points] == ["num_heads1-segment_length1.2", "num_heads1-segment_length2.0",
                                      "num_heads8-segment_length1.2", "num_heads8-segment_length2.0"]
    assert "data.root" not in points[0][1]  # a W&B constant is not swept
    assert grid_points(None, []) == [("default", {})]
    ratios = grid_points(None, ["data.ratios=[0.6,0.2,0.2],[0.8,0.2]"])
    assert [o["data.ratios"] for _, o in ratios] == [[0.6, 0.2, 0.2], [0.8, 0.2]]
    single = grid_points(None, ["data.ratios=[0.6,0.2,0.2]"])
    assert single == [("default", {"data.ratios": [0.6, 0.2, 0.2]})]
    with pytest.raises(ValueError, match="key=value"):
        grid_points(None, ["nonsense"])


def test_fold_count_comes_from_the_corpus(ser_cache: Path) -> None:
    trials = plan_trials(_passthrough(ser_cache), [("default", {})], seeds=[0, 1], folds=True, fold_seeds=[0])
    # TINY_SYNTHETIC has 3 speakers: 3 leave-one-speaker-group-out folds, never typed.
    assert [t.name for t in trials] == ["paper-seed0", "paper-seed1", "speaker-fold0-seed0", "speaker-fold1-seed0", "speaker-fold2-seed0"]
    args = trials[3].args()
    assert "--data.protocol=speaker" in args and "--data.fold=1" in args and "--seed_everything=0" in args
    assert "--data.seed=1" in trials[1].args() and "--seed_everything=1" in trials[1].args()


def _result(point: str, protocol: str, name: str, wa: float, ua: float, cm: list[list[int]], history: list | None = None,
            test_is_val: bool = True) -> dict:
    return {
        "point": point, "overrides": {}, "protocol": protocol, "name": name, "test_is_val": test_is_val,
        "selection": "last epoch" if test_is_val else "best val/wa on the validation split",
        "val_history": history or [],
        "metrics": {"wa": wa, "ua": ua, "macro_f1": wa, "weighted_f1": wa, "macro_precision": wa, "weighted_precision": wa,
                    "paper_macro_f1": wa, "paper_weighted_f1": wa, "recall/a": ua, "recall/b": wa,
                    "class_names": ["a", "b"], "confusion_matrix": cm},
    }


def test_aggregate_by_hand() -> None:
    rows = [
        _result("p", "paper", "paper-seed0", 0.6, 0.5, [[3, 1], [2, 4]], [{"epoch": 0, "wa": 0.4, "ua": 0.3}, {"epoch": 1, "wa": 0.7, "ua": 0.6}]),
        _result("p", "paper", "paper-seed1", 0.8, 0.7, [[1, 0], [0, 5]], [{"epoch": 0, "wa": 0.9, "ua": 0.8}, {"epoch": 1, "wa": 0.8, "ua": 0.7}]),
        _result("p", "speaker", "speaker-fold0-seed0", 0.5, 0.5, [[1, 1], [1, 1]], [{"epoch": 0, "wa": 0.5, "ua": 0.4}], False),
    ]
    groups = {g["protocol"]: g for g in aggregate(rows)}
    paper = groups["paper"]
    assert paper["n"] == 2
    assert paper["metrics"]["wa"]["mean"] == pytest.approx(0.7)
    assert paper["metrics"]["wa"]["std"] == pytest.approx(0.1414213562)  # sample std of 0.6, 0.8
    assert paper["recall"]["a"]["mean"] == pytest.approx(0.6)
    assert paper["confusion_matrix"] == [[4, 1], [2, 9]]  # pooled: summed over trials
    # Leaky diagnostic only where test = validation: max over epochs of each trial's curve, averaged.
    assert paper["best_epoch_on_reported_set"]["ua"]["mean"] == pytest.approx(0.7)  # (0.6 + 0.8) / 2
    assert "LEAKY" in paper["best_epoch_on_reported_set"]["note"]
    speaker = groups["speaker"]
    assert speaker["metrics"]["ua"]["std"] == 0.0 and "best_epoch_on_reported_set" not in speaker
    assert speaker["val_ua"]["mean"] == pytest.approx(0.4)
    md = summary_markdown(list(groups.values()), "t", "cmd")
    assert "| p | paper | 2 | 70.00 ± 14.14 | 60.00 ± 14.14 |" in md
    assert "LEAKY" in md


def _member(tmp_path: Path, fold: int, seed: int, rows: list[tuple[int, str, float]], paper: bool = False) -> dict:
    """A speaker-fold trial (``paper``: split seed ``fold``, initialisation seed ``seed``) whose test_predictions.csv
    holds (utt_index, label, p_a) per utterance."""
    name = f"paper-seed{fold}-init{seed}" if paper else f"speaker-fold{fold}-seed{seed}"
    csv_path = tmp_path / f"{name}.csv"
    csv_path.write_text("utt_index,utt_id,label,prediction,p_a,p_b\n" + "".join(
        f"{u},u{u},{label},{'a' if pa > 0.5 else 'b'},{pa},{1 - pa:.4f}\n" for u, label, pa in rows))
    r = _result("p", "paper" if paper else "speaker", name, 0.0, 0.0, [[0, 0], [0, 0]], [], paper)
    ids = {"seed": fold, "init_seed": seed, "fold": None} if paper else {"fold": fold, "seed": seed}
    return {**r, **ids, "test_predictions": str(csv_path)}


def test_seed_ensemble_by_hand(tmp_path: Path) -> None:
    """Two folds x two training seeds: per fold the seeds' probabilities are averaged per utterance and scored."""
    rows = [
        # fold 0, labels a b b: seed 0 predicts a a b (UA 0.75), seed 1 b b b (UA 0.5); averaged a b b (UA 1)
        _member(tmp_path, 0, 0, [(0, "a", 0.6), (1, "b", 0.7), (2, "b", 0.2)]),
        _member(tmp_path, 0, 1, [(0, "a", 0.45), (1, "b", 0.2), (2, "b", 0.45)]),
        # fold 1, labels a b: seed 0 predicts a a, seed 1 b b; averaged (0.6, 0.6): a a (UA 0.5, WA 0.5)
        _member(tmp_path, 1, 0, [(5, "a", 0.9), (6, "b", 0.8)]),
        _member(tmp_path, 1, 1, [(5, "a", 0.3), (6, "b", 0.4)]),
    ]
    (group,) = aggregate(rows)
    e = group["ensemble"]
    assert e["members"] == 2 and e["seeds"] == [0, 1] and group["n"] == 4  # the single-seed reading keeps every trial
    assert e["trial_ua"] == pytest.approx({"speaker-fold0-seed0": 1.0, "speaker-fold1-seed0": 0.5})
    assert e["trial_wa"] == pytest.approx({"speaker-fold0-seed0": 1.0, "speaker-fold1-seed0": 0.5})
    assert e["ua"]["mean"] == pytest.approx(0.75) and e["ua"]["std"] == pytest.approx(0.3535533906)
    assert "ensemble of the 2 training seeds per split" in summary_markdown([group], "t", "cmd")
    # one seed per fold: nothing to ensemble; unequal members: not scored, and said so
    assert "ensemble" not in aggregate(rows[::2])[0]
    with pytest.warns(UserWarning, match="splits have"):
        assert "ensemble" not in aggregate(rows[:3])[0]
    # a member's labels disagree with the others': refused; a member without predictions: skipped, and said so
    other = _member(tmp_path / "x", 1, 1, [(5, "b", 0.3), (6, "b", 0.4)]) if (tmp_path / "x").mkdir() is None else None
    with pytest.raises(ValueError, match="other utterances or labels"):
        aggregate([*rows[:3], other])
    Path(rows[3]["test_predictions"]).unlink()
    with pytest.warns(UserWarning, match=r"no test_predictions.csv for \['speaker-fold1-seed1'\]"):
        assert "ensemble" not in aggregate(rows)[0]
    # the paper protocol with --init-seeds: the same per-split averaging, keyed by the split's one-seed name
    paper = [_member(tmp_path, 4, 0, [(0, "a", 0.6), (1, "b", 0.7), (2, "b", 0.2)], paper=True),
             _member(tmp_path, 4, 1, [(0, "a", 0.45), (1, "b", 0.2), (2, "b", 0.45)], paper=True)]
    (group,) = aggregate(paper)
    assert group["ensemble"]["trial_ua"] == pytest.approx({"paper-seed4": 1.0}) and group["ensemble"]["seeds"] == [0, 1]


def test_init_seeds_train_each_paper_split_once_per_seed() -> None:
    trials = plan_trials(["-c", "x.yaml"], [("default", {})], seeds=[3], folds=False, fold_seeds=[0], init_seeds=[0, 7])
    assert [t.name for t in trials] == ["paper-seed3-init0", "paper-seed3-init7"]
    assert ["--data.seed=3" in t.args() and f"--seed_everything={k}" in t.args() for t, k in zip(trials, (0, 7))] == [True, True]
    (plain,) = plan_trials(["-c", "x.yaml"], [("default", {})], seeds=[3], folds=False, fold_seeds=[0])
    assert plain.name == "paper-seed3" and "--seed_everything=3" in plain.args()  # without them: as before


@pytest.mark.parametrize("argv, message", [
    (["--folds", "--init-seeds", "0", "1"], "give --seeds too"),
    (["--seeds", "0", "--init-seeds", "1", "1"], "--init-seeds 1 1: a seed is repeated"),
    (["--folds", "--fold-seeds", "0", "0"], "--fold-seeds 0 0: a seed is repeated"),
])
def test_bad_seed_lists_are_refused(argv: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        experiment.main(["--out", str(tmp_path / "x"), *argv, "--", "-c", "x.yaml"])
    assert message in capsys.readouterr().err


def test_no_grid_winner_on_the_reported_set() -> None:
    rows = [_result(p, "paper", "paper-seed0", wa, wa, [[1, 0], [0, 1]]) for p, wa in (("a", 0.5), ("b", 0.9))]
    assert "no grid winner is named" in summary_markdown(aggregate(rows), "t", "cmd")
    rows = [_result(p, "speaker", "speaker-fold0-seed0", wa, wa, [[1, 0], [0, 1]], [{"epoch": 0, "wa": v, "ua": v}], False)
            for p, wa, v in (("a", 0.9, 0.3), ("b", 0.5, 0.6))]
    assert "chosen on validation UA (never on test): **b**" in summary_markdown(aggregate(rows), "t", "cmd")


def test_leaky_points_are_labelled_and_never_win() -> None:
    """A point run on the leaky segment-level split (data.split_unit=segment) says so in the table and is left out
    of the grid's choice, however well it scores on validation."""
    rows = []
    for point, ua, val, leaky in (("utterance", 0.6, 0.5, False), ("segment", 0.9, 0.95, True), ("other", 0.5, 0.4, False)):
        r = _result(point, "paper", "paper-seed0", ua, ua, [[1, 0], [0, 1]], [{"epoch": 0, "wa": val, "ua": val}], False)
        r["metrics"]["split"] = {"leaky": leaky}
        rows.append(r)
    groups = {g["point"]: g for g in aggregate(rows)}
    assert groups["segment"]["leaky"] is True and groups["utterance"]["leaky"] is False
    md = summary_markdown(list(groups.values()), "t", "cmd")
    assert "| segment | paper (**LEAKY** segment-level split) | 1 |" in md and "| utterance | paper | 1 |" in md
    assert "chosen on validation UA (never on test): **utterance**" in md


@pytest.mark.slow
def test_runner_end_to_end_resumes(ser_cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "exp"
    argv = ["--out", str(out), "--seeds", "0", "1", "--folds", "--jobs", "2", "--", *_passthrough(ser_cache)]
    experiment.main(argv)
    agg = json.loads((out / "aggregate.json").read_text())
    groups = {g["protocol"]: g for g in agg["groups"]}
    assert groups["paper"]["n"] == 2 and groups["speaker"]["n"] == 3
    results = [json.loads(p.read_text()) for p in sorted(out.glob("default/*/result.json"))]
    assert len(results) == 5
    # where each trial's test ran (the model's device), and its threads (--jobs 2 on this machine's cores)
    assert all(r["device"] == r["metrics"]["device"] == "cpu" and r["threads"] >= 1 for r in results)
    # The aggregate is the plain mean of the trials' own test_metrics.json values.
    paper_wa = [r["metrics"]["wa"] for r in results if r["protocol"] == "paper"]
    assert groups["paper"]["metrics"]["wa"]["mean"] == pytest.approx(sum(paper_wa) / 2)
    assert (out / "summary.md").is_file() and (out / "default" / "confusion_speaker.png").is_file()
    assert all("nothing selected on it" in r["selection"] for r in results if r["protocol"] == "paper")
    # Interrupted: one trial lost its result (killed during test), another its whole fit record.
    kept = out / "default" / "paper-seed0" / "result.json"
    mtime = kept.stat().st_mtime
    (out / "default" / "speaker-fold1-seed0" / "result.json").unlink()
    shutil.rmtree(out / "default" / "speaker-fold2-seed0")
    capsys.readouterr()
    experiment.main(argv)
    printed = capsys.readouterr().out
    assert "5 trials, 3 already done, 2 to run" in printed
    assert kept.stat().st_mtime == mtime  # finished trials are not re-run
    assert json.loads((out / "aggregate.json").read_text())["groups"] == agg["groups"]  # deterministic

    # Carried to another machine: results and predictions only, none of this machine's folders.
    carry, other = tmp_path / "carry", tmp_path / "elsewhere" / "exp"
    experiment.main(["--out", str(out), "--export-finished", str(carry)])
    files = sorted(p for p in carry.rglob("*") if p.is_file())
    assert {p.name for p in files} == {"result.json", "test_predictions.csv"} and len(files) == 10
    assert not any(experiment.MACHINE_PATH.search(text) or str(tmp_path) in text or str(ser_cache) in text
                   for text in (p.read_text() for p in files))
    carried = json.loads((carry / "default" / "paper-seed0" / "result.json").read_text())
    assert "--data.cache_dir=CACHE_DIR" in carried["args"] and not Path(carried["checkpoint"]).is_absolute()
    shutil.rmtree(carry / "default" / "speaker-fold0-seed0")  # a trial that had not finished there
    experiment.main(["--out", str(other), "--import-finished", str(carry)])
    assert Path(json.loads((other / "default" / "paper-seed0" / "result.json").read_text())["checkpoint"]).is_relative_to(other.resolve())
    capsys.readouterr()
    experiment.main(["--out", str(other), *argv[2:]])
    assert "5 trials, 4 already done, 1 to run" in capsys.readouterr().out
    assert json.loads((other / "aggregate.json").read_text())["groups"] == agg["groups"]  # the same results
    experiment.main(["--out", str(other), "--import-finished", str(carry)])  # again: the same trials are kept
    experiment.main(["--out", str(out), "--import-finished", str(carry)])  # and on the machine that exported them
    assert kept.stat().st_mtime == mtime
    # A finished trial is never counted for a command that would have run it differently.
    before = (other / "experiment.json").read_text()
    with pytest.raises(SystemExit, match="run with other arguments"):
        experiment.main(["--out", str(other), *argv[2:], "--model.init_args.label_smoothing=0.1"])
    assert (other / "experiment.json").read_text() == before


def test_side_by_side_trials_fill_a_cold_feature_cache_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With --jobs 2 on a cold cache, one process extracts every file first (the first pending trial's data
    setting), so the trials find the features cached instead of each computing them."""
    cache = tmp_path / "cache"
    argv = ["--seeds", "0", "1", "--jobs", "2", "--", *_passthrough(cache)]
    experiment.main(["--out", str(tmp_path / "a"), *argv])
    printed = capsys.readouterr().out
    assert printed.count("filling the feature cache once") == 1 and "... done in" in printed
    log = (tmp_path / "a" / "default" / "paper-seed0" / "log.txt").read_text()
    computed = int(log.split("feature cache filled for paper-seed0's data setting: ")[1].split(" files computed")[0])
    assert computed == 4 * 2 * TINY_SYNTHETIC["num_speakers"]  # every file of the corpus, before any trial ran
    assert printed.index("... done in") < printed.index("[1/2]")
    experiment.prepare_trial(tmp_path / "a" / "default" / "paper-seed1")  # the same data setting again: all cached
    assert f"0 files computed, {computed} already cached" in capsys.readouterr().out


@pytest.mark.slow
def test_fold_seeds_give_a_seed_ensemble_end_to_end(ser_cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "exp"
    experiment.main(["--out", str(out), "--folds", "--fold-seeds", "0", "1", "--jobs", "2", "--", *_passthrough(ser_cache)])
    (group,) = json.loads((out / "aggregate.json").read_text())["groups"]
    results = [json.loads(p.read_text()) for p in sorted(out.glob("default/*/result.json"))]
    assert group["n"] == len(results) == 6  # 3 speaker folds x 2 seeds
    # recorded relative to the trial folder: a moved study still finds them
    assert all(not Path(r["test_predictions"]).is_absolute() and (out / "default" / r["name"] / r["test_predictions"]).is_file()
               for r in results)
    e = group["ensemble"]
    assert e["members"] == 2 and sorted(e["trial_ua"]) == [f"speaker-fold{f}-seed0" for f in range(3)]
    # the linear baseline fits the same model whatever the seed: its ensemble scores what each seed scores
    by_name = {r["name"]: r["metrics"]["ua"] for r in results}
    for name, ua in e["trial_ua"].items():
        assert ua == pytest.approx(by_name[name], abs=1e-6) == pytest.approx(by_name[name.replace("seed0", "seed1")], abs=1e-6)


@pytest.mark.slow
def test_killed_fit_resumes_from_last_checkpoint(ser_cache: Path, tmp_path: Path) -> None:
    trial = Trial("default", {"trainer.max_epochs": 2, "data.batch_size": 8}, "paper", 0, None, _passthrough(ser_cache, "strl_ser"))
    d = tmp_path / "t"
    d.mkdir()
    spec = {"point": trial.point, "overrides": trial.overrides, "protocol": "paper", "seed": 0, "fold": None,
            "name": trial.name, "args": trial.args()}
    (d / "trial.json").write_text(json.dumps(spec))
    first = experiment.run_trial(d)
    assert first["epochs"] == 2 and len(first["val_history"]) == 2
    # A kill between fit and its record: last.ckpt is there, fit_done.json is not.
    (d / "fit_done.json").unlink()
    (d / "result.json").unlink()
    second = experiment.run_trial(d)
    assert second["metrics"]["wa"] == pytest.approx(first["metrics"]["wa"])  # restored, not retrained
    assert second["epochs"] == 2


@pytest.mark.slow
def test_selected_checkpoint_is_reported_and_the_last_epoch_tested_beside_it(ser_cache: Path, tmp_path: Path) -> None:
    """A model that selects its checkpoint on validation (STA-CNN, test held out) also gets its last epoch tested:
    a second reading that selects nothing; the reported metrics stay those of the selected checkpoint."""
    overrides = {"trainer.max_epochs": 3, "data.batch_size": 8, "data.ratios": [0.6, 0.2, 0.2]}
    trial = Trial("default", overrides, "paper", 0, None, _passthrough(ser_cache, "sta_cnn"))
    d = tmp_path / "t"
    d.mkdir()
    spec = {"point": trial.point, "overrides": trial.overrides, "protocol": "paper", "seed": 0, "fold": None,
            "name": trial.name, "args": trial.args()}
    (d / "trial.json").write_text(json.dumps(spec))
    result = experiment.run_trial(d)
    assert result["selection"].startswith("best val/") and "validation split" in result["selection"]
    monitored = result["selection"].split()[1].removeprefix("val/")  # STA-CNN: val/wa
    assert Path(result["last_checkpoint"]).name == "last.ckpt" and result["checkpoint"] != result["last_checkpoint"]
    last = result["last_epoch_metrics"]
    assert set(last) >= {"wa", "ua", "confusion_matrix"}
    # The run's test_metrics.json is the selected checkpoint's (tested last), as result.json reports.
    (written,) = d.rglob("test_metrics.json")  # both tests write one run folder's file
    on_disk = json.loads(written.read_text())
    assert on_disk["ua"] == pytest.approx(result["metrics"]["ua"])
    # The best epoch on validation and the last one: equal metrics when they are the same epoch.
    best_epoch = max(result["val_history"], key=lambda h: h[monitored])["epoch"]
    if best_epoch == result["epochs"] - 1:
        assert last["ua"] == pytest.approx(result["metrics"]["ua"])
    group = aggregate([result])[0]
    assert group["last_epoch"]["ua"]["mean"] == pytest.approx(last["ua"]) and "nothing selected" in group["last_epoch"]["note"]
    assert "last epoch (nothing selected)" in summary_markdown([group], "t", "cmd")
    # A trial fitted before fit_done.json recorded the last epoch (resumed after an upgrade): the run folder's
    # last.ckpt is found and tested, giving the same readings again without refitting.
    done = d / "fit_done.json"
    info = json.loads(done.read_text())
    info.pop("last_checkpoint")
    done.write_text(json.dumps(info))
    (d / "result.json").unlink()
    again = experiment.run_trial(d)
    assert again["last_epoch_metrics"]["ua"] == pytest.approx(last["ua"])
    assert again["metrics"]["ua"] == pytest.approx(result["metrics"]["ua"]) and again["epochs"] == result["epochs"]


def test_aggregate_only_rebuilds_from_result_files(tmp_path: Path) -> None:
    out = tmp_path / "exp"
    for name, wa in (("paper-seed0", 0.6), ("paper-seed1", 0.8)):
        (out / "p" / name).mkdir(parents=True)
        row = _result("p", "paper", name, wa, wa, [[1, 1], [0, 2]])
        row["metrics"]["split"] = {"corpus": "synthetic"}
        (out / "p" / name / "result.json").write_text(json.dumps(row))
    experiment.main(["--out", str(out), "--aggregate-only", "--title", "two seeds"])
    group = json.loads((out / "aggregate.json").read_text())["groups"][0]
    assert group["n"] == 2 and group["metrics"]["wa"]["mean"] == pytest.approx(0.7) and group["corpus"] == "synthetic"
    assert (out / "summary.md").read_text().startswith("# two seeds")
    with pytest.raises(SystemExit):
        experiment.main(["--out", str(tmp_path / "empty"), "--aggregate-only"])


def test_the_cache_fill_covers_every_pending_trials_speed_copies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With speed perturbation each split copies its own training files: the fill extracts them for every
    pending trial of the setting, so the trials find their copies cached."""
    from sermodels.cli import cli_main

    trials = plan_trials([*_passthrough(tmp_path / "cache"), "--data.speed_perturb=[1.1]"], [("default", {})],
                         seeds=[0, 1], folds=False, fold_seeds=[0])
    dirs = []
    for t in trials:
        d = tmp_path / t.name
        d.mkdir()
        (d / "trial.json").write_text(json.dumps({"args": t.args()}))
        dirs.append(d)
    experiment.prepare_setting(dirs)
    assert "speed copies filled for the training splits of 2 trials" in capsys.readouterr().out
    for d in dirs:
        dm = cli_main(experiment._trial_args(d, json.loads((d / "trial.json").read_text())), run=False).datamodule
        train = set((dm.split or dm._make_split()).train)
        paths = [str(u.path) for u in dm.corpus.utterances if u.utt_id in train]
        assert paths and all(dm._cache(1.1).has(p) for p in paths)  # this trial's own copies, all cached


def test_export_refuses_a_folder_only_this_machine_has(tmp_path: Path) -> None:
    """A finished trial that names a folder outside --out, the corpus, the cache, the working folder and the home
    folder cannot be carried without it: refused, naming the file, instead of committing a machine path."""
    out = tmp_path / "exp"
    (out / "p" / "paper-seed0").mkdir(parents=True)
    row = _result("p", "paper", "paper-seed0", 0.6, 0.6, [[1, 1], [0, 2]])
    row["args"] = ["--data.root", "/mnt/corpora/EMODB", "--trainer.default_root_dir=/scratch/elsewhere"]
    (out / "p" / "paper-seed0" / "result.json").write_text(json.dumps(row))
    with pytest.raises(SystemExit, match=r"paper-seed0/result.json: would carry a folder of this machine"):
        experiment.main(["--out", str(out), "--export-finished", str(tmp_path / "carry")])
    row["args"] = row["args"][:2]  # the corpus root alone becomes CORPUS_DIR
    (out / "p" / "paper-seed0" / "result.json").write_text(json.dumps(row))
    experiment.main(["--out", str(out), "--export-finished", str(tmp_path / "carry")])
    carried = json.loads((tmp_path / "carry" / "p" / "paper-seed0" / "result.json").read_text())
    assert carried["args"] == ["--data.root", "CORPUS_DIR"] and carried["metrics"] == row["metrics"]
    with pytest.raises(SystemExit, match="holds no"):
        experiment.main(["--out", str(out), "--import-finished", str(tmp_path / "nothing")])


def test_carried_run_paths_are_relative_to_the_trial_whatever_the_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--out given relative (as the study scripts do): Lightning writes the run paths relative to the working folder;
    carried, they are relative to the trial folder, and imported, they name the new trial folder's files."""
    monkeypatch.chdir(tmp_path)
    trial = Path("runs") / "exp" / "p" / "speaker-fold0-seed0"
    (trial / "run" / "run-test").mkdir(parents=True)
    (tmp_path / "corpus").mkdir()
    corpus = tmp_path / "corpus"
    (trial / "run" / "run-test" / "test_predictions.csv").write_text(
        f"utt_index,utt_id,path,label,prediction\n0,a/b,{corpus}/a/b.wav,happy,sad\n1,a/c,{corpus}/a/c.wav,sad,sad\n")
    row = _result("p", "speaker", "speaker-fold0-seed0", 0.5, 0.5, [[1, 0], [1, 0]], test_is_val=False)
    row |= {"log_dir": str(trial / "run" / "run"), "checkpoint": str(trial / "run" / "run" / "checkpoints" / "e3.ckpt"),
            "test_predictions": "run/run-test/test_predictions.csv", "args": ["-c", "configs/x.yaml", "--data.root", str(corpus)]}
    (trial / "result.json").write_text(json.dumps(row))
    experiment.main(["--out", "runs/exp", "--export-finished", "carry"])
    carried = json.loads(Path("carry/p/speaker-fold0-seed0/result.json").read_text())
    assert carried["log_dir"] == "run/run" and carried["checkpoint"] == "run/run/checkpoints/e3.ckpt"
    assert "CORPUS_DIR/a/b.wav" in Path("carry/p/speaker-fold0-seed0/run/run-test/test_predictions.csv").read_text()
    experiment.main(["--out", str(tmp_path / "other"), "--import-finished", "carry"])
    imported = json.loads((tmp_path / "other" / "p" / "speaker-fold0-seed0" / "result.json").read_text())
    assert imported["log_dir"] == str(tmp_path.resolve() / "other" / "p" / "speaker-fold0-seed0" / "run" / "run")
    found = experiment.trial_predictions_csv(imported, tmp_path / "other" / "p" / "speaker-fold0-seed0")
    assert found is not None and found.read_text().count("\n") == 3
    # a trial started here with other arguments is not resumed under these
    trial.joinpath("result.json").unlink()
    (trial / "trial.json").write_text(json.dumps({"args": experiment.Trial("p", {}, "speaker", 0, 0, ["-c", "configs/y.yaml"]).args()}))
    (trial / "fit_done.json").write_text("{}")
    planned = [experiment.Trial("p", {}, "speaker", 0, 0, ["-c", "configs/x.yaml"])]
    with pytest.raises(SystemExit, match="this started trial was run with other arguments.*configs/y.yaml"):
        experiment.check_finished(planned, Path("runs/exp"))
