"""Run results: learning curves per fit, test files and pictures, complete W&B runs (offline only)."""

import csv
import json
import subprocess
from pathlib import Path

import pytest
import torch

from sermodels import results
from sermodels.cli import cli_main
from sermodels.plots import plot_learning_curves, plot_recall_bars, read_learning_curves
from sermodels.results import WANDB_KEY, figure_title, git_commit
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

PNG = b"\x89PNG\r\n\x1a\n"


def _args(cache: Path, runs: Path, model: str = "strl_ser") -> list[str]:
    return [
        *config_args(model),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={cache}", "--data.batch_size=8",
        "--data.progress=false", "--data.extract_workers=0", f"--trainer.logger.init_args.save_dir={runs}",
        "--trainer.enable_progress_bar=false",
    ]


def test_learning_curves_from_metrics_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "metrics.csv"
    csv_file.write_text(
        "epoch,step,train/loss_step,train/loss_epoch,val/loss,val/ua,val/wa\n"
        "0,0,1.5,,,,\n0,1,,,1.2,0.4,0.5\n0,1,,1.4,,,\n1,2,1.1,,,,\n1,3,,,1.0,0.6,0.65\n1,3,,1.05,,,\n"
    )
    history = read_learning_curves(csv_file)
    assert history == [
        {"epoch": 0, "train_loss": 1.4, "val_loss": 1.2, "val_ua": 0.4, "val_wa": 0.5},
        {"epoch": 1, "train_loss": 1.05, "val_loss": 1.0, "val_ua": 0.6, "val_wa": 0.65},
    ]
    assert plot_learning_curves(history, tmp_path / "c.png", "STRLSER: x").read_bytes()[:8] == PNG
    with pytest.raises(FileNotFoundError, match="metrics.csv a CSVLogger writes"):
        read_learning_curves(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="at least one epoch"):
        plot_learning_curves([], tmp_path / "d.png", "t")


def test_recall_bars(tmp_path: Path) -> None:
    series = {"STRLSER": {"a": (0.8, 0.05), "b": (0.4, 0.1)}, "baseline": {"a": (0.6, 0.0), "b": (0.5, 0.0)}}
    assert plot_recall_bars(series, ["a", "b"], tmp_path / "r.png", "t").read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="at least one series"):
        plot_recall_bars({}, ["a"], tmp_path / "x.png", "t")


def test_figure_title_names_model_split_n_and_scores() -> None:
    split = {"corpus": "ravdess", "protocol": "speaker", "fold": 3, "seed": 0, "test_is_val": False}
    title = figure_title("test confusion matrix (utterances)", "STRLSER", split, "96 test utterances", {"wa": 0.6123, "ua": 0.5})
    assert title == ("STRLSER: test confusion matrix (utterances)\nravdess, speaker protocol fold 3 (seed 0), held-out test "
                     "set; N = 96 test utterances; WA 61.2 %, UA 50.0 %")
    assert "WA" not in figure_title("learning curves", "STACNN", split, "?")


def test_git_commit_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    commit = git_commit()
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)  # a checkout, or e.g. an unpacked sdist

    def no_git(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise FileNotFoundError("git")

    monkeypatch.setattr(results.subprocess, "run", no_git)
    assert git_commit() is None
    monkeypatch.setattr(results.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 128, "", "not a repo"))
    assert git_commit() is None


@pytest.mark.slow
def test_csv_fit_writes_learning_curves_and_titled_test_files(ser_cache: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    args = _args(ser_cache, tmp_path)
    cli_main(["fit", *args, "--trainer.max_epochs=2"])
    run = tmp_path / "strl_ser" / "synthetic"
    assert (run / "learning_curves.png").read_bytes()[:8] == PNG
    titles: list[str] = []
    draw = results.plot_confusion_matrix
    monkeypatch.setattr(results, "plot_confusion_matrix", lambda cm, names, path, title: titles.append(title) or draw(cm, names, path, title))
    ckpt = run / "checkpoints" / "last.ckpt"
    cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    out = tmp_path / "strl_ser" / "synthetic-test"
    record = json.loads((out / "test_metrics.json").read_text())
    assert record["model"] == "STRLSER" and record["split"]["corpus"] == "synthetic"
    # what was tested, on what, with which code and where
    saved = torch.load(ckpt, map_location="cpu", weights_only=False)
    assert record["checkpoint"] == {"path": str(ckpt.resolve()), "epoch": 1, "global_step": saved["global_step"]}
    assert record["features"]["segment_length"] == 1.4 and record["features"]["inputs"] == ["lld", "hsf"]
    assert record["git_commit"] is None or len(record["git_commit"]) == 40
    assert record["device"] == "cpu" and record["precision"]
    # one row per test utterance, with its id, speaker, true and predicted class and probabilities
    rows = list(csv.DictReader((out / "test_predictions.csv").open()))
    assert len(rows) == record["num_utterances"] and len({r["utt_id"] for r in rows}) == len(rows)
    assert all(r["label"] in record["class_names"] and r["prediction"] in record["class_names"] and r["speaker"] for r in rows)
    assert sum(int(r["correct"]) for r in rows) / len(rows) == pytest.approx(record["wa"])
    assert all(abs(sum(float(r[f"p_{c}"]) for c in record["class_names"]) - 1) < 1e-3 for r in rows)
    # the confusion matrix says model, corpus, protocol, seed, N and the scores
    (title,) = titles
    assert title.startswith("STRLSER: test confusion matrix") and "synthetic, paper protocol (seed 0)" in title
    assert f"N = {record['num_utterances']} test utterances" in title and f"WA {100 * record['wa']:.1f} %" in title
    assert f"UA {100 * record['ua']:.1f} %" in title


@pytest.fixture
def wandb_spy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, list]:
    """Offline W&B (no network, no account) with what each run holds recorded just before it finishes."""
    import wandb
    from wandb.sdk.wandb_run import Run

    for var, sub in (("WANDB_DIR", "wandb-dir"), ("WANDB_DATA_DIR", "wandb-data"), ("WANDB_CACHE_DIR", "wandb-cache"),
                     ("WANDB_CONFIG_DIR", "wandb-config"), ("WANDB_ARTIFACT_DIR", "wandb-artifacts")):
        monkeypatch.setenv(var, str(tmp_path / sub))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    seen: dict[str, list] = {"finished": [], "artifacts": []}
    finish, log_artifact = Run.finish, Run.log_artifact

    def spy_finish(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen["finished"].append({"id": self.id, "config": dict(self.config), "summary": dict(self.summary),
                                 "dir": Path(self.dir)})
        return finish(self, *args, **kwargs)

    def spy_log_artifact(self, artifact, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen["artifacts"].append({"run": self.id, "name": artifact.name, "type": artifact.type,
                                  "files": sorted(artifact.manifest.entries)})
        return log_artifact(self, artifact, *args, **kwargs)

    monkeypatch.setattr(Run, "finish", spy_finish)
    monkeypatch.setattr(Run, "log_artifact", spy_log_artifact)
    yield seen
    if wandb.run is not None:
        wandb.run.finish()


@pytest.mark.slow
def test_wandb_offline_one_run_per_fit_with_test_attached(ser_cache: Path, tmp_path: Path, wandb_spy: dict) -> None:
    """Two fits of one command: two W&B runs, two local folders; the test logs into its fit's run."""
    runs = tmp_path / "runs"
    wandb_args = [*_args(ser_cache, runs), "--trainer.logger=lightning.pytorch.loggers.WandbLogger",
                  "--trainer.logger.init_args.project=ser-test", "--trainer.logger.init_args.log_model=true"]
    fits = [cli_main(["fit", *wandb_args, "--trainer.max_epochs=2"]) for _ in range(2)]
    folders = [Path(f.trainer.log_dir) for f in fits]
    ids = [f.trainer.logger.version for f in fits]
    assert ids[0] != ids[1] and folders[0] != folders[1]  # one run, one folder per fit: nothing overwritten
    assert folders[0] == runs / "strl_ser" / f"synthetic-{ids[0]}"
    assert not (runs / "config.yaml").exists() and not (runs / "test_metrics.json").exists()
    folder, run_id = folders[0], ids[0]
    for name in ("config.yaml", "learning_curves.png", "checkpoints/last.ckpt"):
        assert (folder / name).is_file(), name
    assert list((folder / "wandb").glob(f"offline-run-*-{run_id}"))  # W&B's files live in the run folder too
    state = torch.load(folder / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state[WANDB_KEY]["id"] == run_id and state[WANDB_KEY]["project"] == "ser-test"

    # The W&B run holds the full resolved config; config.yaml and the checkpoints are artifacts.
    fit_run = wandb_spy["finished"][0]
    assert fit_run["id"] == run_id
    config = fit_run["config"]
    net = config["model"]["init_args"]["net"]
    assert net["class_path"] == "sermodels.strl_ser.STRLSER" and net["init_args"]["num_heads"] == 8
    assert config["model"]["init_args"]["optimizer"]["class_path"] == "torch.optim.Adam"
    assert config["model"]["init_args"]["scheduler"]["init_args"]["gamma"] == 0.95
    assert config["trainer"]["max_epochs"] == 2 and config["data"]["corpus"] == "synthetic"
    assert config["seed_everything"] == 0
    artifacts = {(a["run"], a["type"]): a for a in wandb_spy["artifacts"]}
    assert artifacts[(run_id, "config")]["files"] == ["config.yaml"]
    assert artifacts[(run_id, "model")]["files"] == ["model.ckpt"]  # log_model=true: documented artifact logging
    assert "val/ua" in fit_run["summary"]

    # ser test: the fit's run id comes from the checkpoint (W&B resumes that run); own local folder.
    test = cli_main(["test", *wandb_args, f"--ckpt_path={folder / 'checkpoints' / 'last.ckpt'}"])
    assert test.trainer.logger.version == run_id
    test_dir = Path(test.trainer.log_dir)
    assert test_dir == folder.parent / f"synthetic-{run_id}-test"
    assert (test_dir / "test_metrics.json").is_file() and (test_dir / "confusion_matrix.png").is_file()
    test_run = wandb_spy["finished"][-1]
    assert test_run["id"] == run_id
    summary = test_run["summary"]
    assert summary["test/model"] == "STRLSER" and 0 <= summary["test/ua"] <= 1
    assert summary["test/confusion_matrix_table"]["_type"] == "table-file"
    assert summary["test/predictions"]["_type"] == "table-file"  # the per-utterance predictions
    assert summary["test/checkpoint"]["epoch"] == 1 and summary["test/checkpoint"]["path"].endswith("last.ckpt")
    assert (test_run["dir"] / "test_metrics.json").is_file()  # uploaded as a run file
