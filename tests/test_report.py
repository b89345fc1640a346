"""ser-report: sweep tables and heatmaps (local aggregate and W&B CSV export), recall bars vs the baseline."""

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
