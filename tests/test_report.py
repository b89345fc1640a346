"""ser-report: sweep tables and heatmaps (local aggregate and W&B CSV export), recall bars vs the baseline, paired errors."""

import csv
import json
from pathlib import Path

import pytest

from sermodels import experiment, report
from sermodels.report import ReportError, load_sweep, render_sweep, sweep_table
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
HEADS = "model.init_args.net.init_args.num_heads"
SEG = "data.segment_length"


def _group(overrides: dict, ua: float, val: float | None, protocol: str = "paper", test_is_val: bool = False) -> dict:
    g = {"point": "-".join(f"{k.split('.')[-1]}{v}" for k, v in overrides.items()), "overrides": overrides,
         "protocol": protocol, "n": 2, "test_is_val": test_is_val, "model": "STRLSER", "corpus": "ravdess", "epochs": [150],
         "metrics": {"wa": {"mean": ua + 0.01, "std": 0.01, "n": 2}, "ua": {"mean": ua, "std": 0.02, "n": 2}},
         "recall": {"a": {"mean": ua, "std": 0.0, "n": 2}}, "class_names": ["a"], "confusion_matrix": [[4]]}
    if val is not None:
        g["val_ua"] = {"mean": val, "std": 0.0, "n": 2}
    return g


def test_heads_table_layout_and_choice_on_validation(tmp_path: Path) -> None:
    groups = [_group({HEADS: h, "data.ratios": [0.6, 0.2, 0.2]}, 0.5 + h / 100, 0.9 - h / 100) for h in (1, 8, 32)]
    (tmp_path / "aggregate.json").write_text(json.dumps({"groups": groups}))
    files = render_sweep(tmp_path)
    md = (tmp_path / "sweep_table.md").read_text()
    assert "STRLSER on ravdess, paper protocol, 150 epochs" in md
    assert "| num_heads | val/ua | test/wa | test/ua |" in md
    assert "| **1** | 89.00 | 52.00 ± 1.00 | 51.00 ± 2.00 |" in md  # chosen on validation UA, not on test UA
    assert "Chosen on validation UA (never on test): **num_heads 1**" in md
    assert [f.name for f in files] == ["sweep_table.md", "sweep_val_ua.png"] and files[1].read_bytes()[:8] == PNG


def test_no_choice_where_validation_is_the_reported_set(tmp_path: Path) -> None:
    groups = [_group({HEADS: h}, 0.5, None, test_is_val=True) for h in (1, 8)]
    (tmp_path / "aggregate.json").write_text(json.dumps({"groups": groups}))
    render_sweep(tmp_path)
    md = (tmp_path / "sweep_table.md").read_text()
    assert "No setting is chosen: the validation set is the reported set" in md and "**" not in md.split("\n", 4)[-1]
    assert (tmp_path / "sweep_test_ua.png").is_file()  # only test scores: the heatmap says so in its title


def test_a_leaky_point_is_shown_but_never_chosen(tmp_path: Path) -> None:
    """A point run on the LEAKY segment-level split has the best validation UA (its validation shares recordings
    with training) and is still not chosen; the table labels it."""
    groups = [_group({"data.split_unit": u, "data.ratios": [0.6, 0.2, 0.2]}, 0.6, v) for u, v in
              (("utterance", 0.7), ("segment", 0.99))]
    groups[1]["leaky"] = True
    (tmp_path / "aggregate.json").write_text(json.dumps({"groups": groups}))
    render_sweep(tmp_path)
    md = (tmp_path / "sweep_table.md").read_text()
    assert "Chosen on validation UA (never on test): **split_unit utterance**" in md
    assert "| segment (LEAKY split) |" in md
    groups[0]["leaky"] = True
    (tmp_path / "aggregate.json").write_text(json.dumps({"groups": groups}))
    render_sweep(tmp_path)
    assert "every setting ran on the LEAKY segment-level split" in (tmp_path / "sweep_table.md").read_text()


def test_segment_x_kernels_grid_from_wandb_csv(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    cols = ["Name", "State", "model.init_args.net.class_path", "data.corpus", "data.protocol", "data.fold", "trainer.max_epochs",
            SEG, "model.init_args.net.init_args.freq_kernel", "model.init_args.net.init_args.time_kernel", "val/ua"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for seg in (1.2, 1.4):
            for tk in (3, 5):
                for fold in (0, 1):  # two folds per setting: averaged
                    w.writerow([f"r{seg}{tk}{fold}", "finished", "sermodels.strl_ser.STRLSER", "ravdess", "speaker", fold, 150,
                                seg, 7, tk, 0.4 + seg / 10 + tk / 100 + fold / 100])
        w.writerow(["crashed", "crashed", "sermodels.strl_ser.STRLSER", "ravdess", "speaker", 0, 150, 2.2, 7, 3, 0.99])
    cells = load_sweep(path)
    assert len(cells) == 4 and {c.context["n"] for c in cells} == {2}  # folds averaged; crashed run dropped
    sweep = ROOT / "configs" / "sweeps" / "strl_ser_ravdess_segment_kernels.yaml"
    render_sweep(path, tmp_path / "out", sweep_file=sweep)
    md = (tmp_path / "out" / "sweep_table.md").read_text()
    assert "speaker protocol, 150 epochs, 2 run(s) per setting" in md
    assert "| segment_length \\ kernels (freq x 1 + 1 x time) | 7x1+1x3 | 7x1+1x5 |" in md
    assert "| 1.4 | 57.50 ± 0.71 | **59.50 ± 0.71** |" in md
    assert (tmp_path / "out" / "sweep_val_ua.png").read_bytes()[:8] == PNG
    table = sweep_table(cells, [SEG], ["model.init_args.net.init_args.time_kernel"])
    assert "| 1.2 | 55.50 ± 0.71 | 57.50 ± 0.71 |" in table


def test_a_leaky_run_in_a_wandb_csv_is_labelled_and_never_chosen(tmp_path: Path) -> None:
    """The W&B-export branch marks a run leaky from its config (data.split_unit=segment), as the aggregate branch does."""
    path = tmp_path / "export.csv"
    cols = ["Name", "State", "model.init_args.net.class_path", "data.corpus", "data.protocol", "data.ratios",
            "trainer.max_epochs", "data.split_unit", "val/ua", "test/ua"]
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for unit, val in (("utterance", 0.70), ("segment", 0.99)):
            w.writerow([unit, "finished", "sermodels.sta_cnn.STACNN", "ravdess", "paper", "[0.6, 0.2, 0.2]", 150, unit, val, 0.6])
    cells = load_sweep(path)
    assert {c.context["leaky"] for c in cells} == {False, True}
    render_sweep(path, tmp_path / "out", rows=["data.split_unit"])
    md = (tmp_path / "out" / "sweep_table.md").read_text()
    assert "Chosen on validation UA (never on test): **split_unit utterance**" in md
    assert "| segment (LEAKY split) |" in md


def test_report_errors_name_the_input_and_fix(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ReportError, match="no aggregate.json"):
        load_sweep(tmp_path)
    with pytest.raises(SystemExit):
        report.main(["sweep", str(tmp_path / "nothing.txt")])
    assert "ser-report: error" in capsys.readouterr().err
    (tmp_path / "aggregate.json").write_text(json.dumps({"groups": [_group({HEADS: 8}, 0.5, 0.5)]}))
    with pytest.raises(ReportError, match="--sweep configs/sweeps"):
        render_sweep(tmp_path)


@pytest.mark.slow
def test_sweep_and_recall_bars_from_real_experiments(ser_cache: Path, tmp_path: Path) -> None:
    """The baseline over a 2-point grid on a 6:2:2 split, then the sweep summary and recall bars."""
    passthrough = [*config_args("baseline"),
                   f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
                   "--data.extract_workers=0"]
    out = tmp_path / "exp"
    experiment.main(["--out", str(out), "--seeds", "0", "--set", "model.init_args.C=0.01,1.0",
                     "--set", "data.ratios=[0.6,0.2,0.2]", "--", *passthrough])
    files = render_sweep(out)
    md = files[0].read_text()
    assert "LinearClassifier on synthetic, paper protocol, 1 epochs" in md and "| C | val/ua | test/wa | test/ua |" in md
    assert "Chosen on validation UA (never on test)" in md
    png = report.recall_figure(out, out, tmp_path / "recall.png", point="C0.01", baseline_point="C1.0")
    assert png.read_bytes()[:8] == PNG
    agg = json.loads((out / "aggregate.json").read_text())["groups"][0]
    assert agg["model"] == "LinearClassifier" and agg["corpus"] == "synthetic"
    assert (out / "C0.01" / "confusion_paper.png").is_file()
    with pytest.raises(ReportError, match="Pick one with --protocol and --point"):
        report.recall_figure(out, out)
    # the two grid points on the same split, utterance by utterance: the counts agree with each trial's own WA
    pair = report.paired_errors(out, out, point="C0.01", other_point="C1.0")
    (trial,) = pair["trials"]
    results = {c: json.loads((out / f"C{c}" / "paper-seed0" / "result.json").read_text())["metrics"]["wa"]
               for c in ("0.01", "1.0")}
    assert trial["model_wrong"] == round(trial["n"] * (1 - results["0.01"]))
    assert trial["other_wrong"] == round(trial["n"] * (1 - results["1.0"]))
    assert trial["only_model_wrong"] - trial["only_other_wrong"] == trial["model_wrong"] - trial["other_wrong"]
    with pytest.raises(ReportError, match="Pick one with --protocol and --other-point"):
        report.paired_errors(out, out, point="C0.01")  # the second folder's grid point is ambiguous: its own flag


def _experiment(folder: Path, preds: dict[str, list[tuple[str, str, str]]], corpus: str = "emodb") -> Path:
    """A finished ser-experiment folder by hand: per trial, (utt_id, label, prediction) rows of its test."""
    group = {"point": "default", "protocol": "paper", "trials": list(preds), "n": len(preds), "model": "M",
             "corpus": corpus, "class_names": ["angry", "happy", "sad"]}
    for trial, rows in preds.items():
        d = folder / "default" / trial
        (d / "run" / "run-test").mkdir(parents=True)
        (d / "result.json").write_text(json.dumps({"name": trial, "test_predictions": "run/run-test/test_predictions.csv"}))
        with (d / "run" / "run-test" / "test_predictions.csv").open("w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["utt_index", "utt_id", "label", "prediction", "correct"])
            w.writerows([i, u, lab, pred, int(lab == pred)] for i, (u, lab, pred) in enumerate(rows))
    (folder / "aggregate.json").write_text(json.dumps({"groups": [group]}))
    return folder


def test_paired_errors_counts_discordant_pairs_by_hand(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    labels = [("u1", "angry"), ("u2", "angry"), ("u3", "happy"), ("u4", "happy"), ("u5", "sad"), ("u6", "sad")]
    # seed0: the model errs on u1 (both) and u5 (only it); the other on u1, u2, u3, u4 (u2-u4 only it)
    model0 = ["happy", "angry", "happy", "happy", "angry", "sad"]
    other0 = ["happy", "happy", "angry", "sad", "sad", "sad"]
    # seed1 (another split: u1 and u7): both right on u1, both wrong on u7
    model = _experiment(tmp_path / "m", {"paper-seed0": [(u, lab, p) for (u, lab), p in zip(labels, model0)],
                                          "paper-seed1": [("u1", "angry", "angry"), ("u7", "sad", "happy")]})
    other = _experiment(tmp_path / "b", {"paper-seed0": [(u, lab, p) for (u, lab), p in zip(labels, other0)],
                                          "paper-seed1": [("u1", "angry", "angry"), ("u7", "sad", "angry")],
                                          "paper-seed2": [("u9", "sad", "sad")]})
    pair = report.paired_errors(model, other)
    t0, t1 = pair["trials"]
    assert (t0["n"], t0["model_wrong"], t0["other_wrong"], t0["both_wrong"], t0["only_model_wrong"],
            t0["only_other_wrong"]) == (6, 2, 4, 1, 1, 3)
    assert t0["mcnemar_p"] == pytest.approx(0.625)  # 1 vs 3 discordant: 2 * P(X <= 1), X ~ Bin(4, 1/2) = 2 * 5/16
    assert (t1["both_wrong"], t1["only_model_wrong"], t1["only_other_wrong"], t1["mcnemar_p"]) == (1, 0, 0, 1.0)
    assert pair["pooled"] == {"n": 8, "model_wrong": 3, "other_wrong": 5, "both_wrong": 2, "only_model_wrong": 1,
                              "only_other_wrong": 3, "mcnemar_p": pytest.approx(0.625)}
    assert pair["unmatched"] == ["paper-seed2"]  # in one folder only: left out, and said so
    assert [(e["utt_id"], e["label"], e["model"], e["other"], e["trials"], e["tested"]) for e in pair["both_wrong"]] == [
        ("u1", "angry", ["happy"], ["happy"], 1, 2), ("u7", "sad", ["happy"], ["angry"], 1, 1)]
    report.main(["errors", str(model), str(other)])
    assert ("A = m, B = b: 8 test readings; A wrong 3, B wrong 5, both 2, only A 1, only B 3 (McNemar p 0.625)"
            in capsys.readouterr().out)
    # the errors' confusions: only the model's (u5 sad -> angry), only the other's, both (the model's prediction)
    assert pair["confusions"] == {"only_model": {"sad -> angry": 1},
                                  "only_other": {"angry -> happy": 1, "happy -> angry": 1, "happy -> sad": 1},
                                  "both": {"angry -> happy": 1, "sad -> happy": 1}}
    md = (model / "errors_vs_b_paper.md").read_text()
    assert "| paper-seed0 | 6 | 2 | 4 | 1 | 1 | 3 | 0.625 |" in md and "| u7 | sad | happy | angry | 1 of 1 |" in md
    assert "| only A wrong | sad -> angry 1 |" in md
    assert "fixes 3 and makes 1 new ones (net +2 of 8 test readings)" in md and "left out): paper-seed2" in md
    assert not pair["disjoint"] and "share utterances (random splits)" in md  # u1 was tested in both trials
    assert json.loads((model / "errors_vs_b_paper.json").read_text())["pooled"]["both_wrong"] == 2
    assert [p.name for p in report.render_errors(pair, tmp_path / "run.v2.md")] == ["run.v2.md", "run.v2.json"]
    report.main(["errors", str(model), str(other), "--protocol", "paper", "--point", "default", "--other-point", "default",
                 "--out", str(tmp_path / "out" / "pair")])  # every flag, spelled out
    assert "wrote " + str(tmp_path / "out" / "pair.md") in capsys.readouterr().out
    assert json.loads((tmp_path / "out" / "pair.json").read_text())["pooled"] == pair["pooled"]


def test_paired_errors_refuses_pairs_that_are_not_the_same_splits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _experiment(tmp_path / "m", {"paper-seed0": [("u1", "sad", "sad"), ("u2", "sad", "sad")]})
    other = _experiment(tmp_path / "b", {"paper-seed0": [("u1", "sad", "sad"), ("u3", "sad", "sad")]})
    # speaker folds: disjoint test sets, so the pooled test covers every utterance once, and says so
    folds = {"speaker-fold0": [("u1", "sad", "happy"), ("u2", "sad", "sad")], "speaker-fold1": [("u3", "happy", "sad")]}
    a, b = _experiment(tmp_path / "fa", folds), _experiment(tmp_path / "fb", {k: [(u, lab, lab) for u, lab, _ in v]
                                                                            for k, v in folds.items()})
    pair = report.paired_errors(a, b)
    assert pair["disjoint"] and pair["pooled"]["only_model_wrong"] == 2 and pair["pooled"]["mcnemar_p"] == 0.5
    md = report.render_errors(pair, tmp_path / "folds")[0].read_text()
    assert "Every utterance was tested once (disjoint test sets), so the pooled p tests them all." in md
    with pytest.raises(ReportError, match=r"trial paper-seed0: .* not the same ones \(2 in one only, e.g. u2, u3\).*same split"):
        report.paired_errors(model, other)
    relabelled = _experiment(tmp_path / "l", {"paper-seed0": [("u1", "happy", "sad"), ("u2", "sad", "sad")]})
    with pytest.raises(ReportError, match="utterance u1 is labelled 'sad' in .* and 'happy' in .*same data config"):
        report.paired_errors(model, relabelled)
    unnamed = _experiment(tmp_path / "p", {"paper-seed0": [("", "sad", "sad"), ("", "sad", "sad")]})
    with pytest.raises(ReportError, match="empty utt_id values; the utterances cannot be paired"):
        report.paired_errors(unnamed, model)
    elsewhere = _experiment(tmp_path / "x", {"paper-seed1": [("u1", "sad", "sad")]})
    with pytest.raises(ReportError, match="share no trial: run both with the same --seeds / --folds"):
        report.paired_errors(model, elsewhere)
    ravdess = _experiment(tmp_path / "r", {"paper-seed0": [("u1", "sad", "sad")]}, corpus="ravdess")
    with pytest.raises(ReportError, match="not the same corpus and classes"):
        report.paired_errors(model, ravdess)
    csv_path = model / "default" / "paper-seed0" / "run" / "run-test" / "test_predictions.csv"
    csv_path.write_text("utt_index,label\n0,sad\n")
    with pytest.raises(ReportError, match=r"no column\(s\) \['prediction', 'utt_id'\]"):
        report.paired_errors(model, other)
    csv_path.unlink()
    with pytest.raises(SystemExit):
        report.main(["errors", str(model), str(other)])
    err = capsys.readouterr().err
    assert "no test_predictions.csv for trial 'paper-seed0'" in err and "delete" in err
