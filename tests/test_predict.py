"""ser predict: from a checkpoint alone, output folders named after it and never overwritten, timeline,
terminal table; segment aggregation of the bundle loader equals the metrics' (synthetic audio only)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sermodels.cli import cli_main
from sermodels.metrics import UtteranceMetrics
from sermodels.predict_report import aggregate_segments, claim_output_dir, default_output_dir
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

CLASSES = ["neutral", "happy", "angry", "sad"]


@pytest.fixture(scope="module")
def run(ser_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A briefly trained STRL-SER run folder (``<runs>/strl_ser/synthetic``)."""
    runs = tmp_path_factory.mktemp("predict-runs")
    cli_main([
        "fit", *config_args("strl_ser"),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}", "--data.batch_size=8",
        "--data.progress=false", "--data.extract_workers=0", f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.default_root_dir={runs}", "--trainer.enable_progress_bar=false", "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2", "--trainer.limit_val_batches=1",
    ])
    return runs / "strl_ser" / "synthetic"


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("predict-clips")
    rng = np.random.default_rng(5)
    out = []
    for name, seconds in (("a_long_recording.wav", 6.0), ("b.wav", 1.2)):
        sf.write(folder / name, (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32), 16000)
        out.append(folder / name)
    return out


def _predict(ckpt: Path, clips: list[Path], cache: Path, *extra: str) -> None:
    cli_main(["predict", f"--ckpt_path={ckpt}", f"--data.predict_paths={json.dumps([str(c) for c in clips])}",
              f"--data.cache_dir={cache}", "--data.extract_workers=0", "--data.progress=false",
              "--trainer.enable_progress_bar=false", *extra])


@pytest.mark.slow
def test_predict_from_checkpoint_alone(run: Path, clips: list[Path], ser_cache: Path,
                                       caplog: pytest.LogCaptureFixture) -> None:
    ckpt = run / "checkpoints" / "last.ckpt"
    with caplog.at_level(logging.INFO):
        _predict(ckpt, clips, ser_cache, "--timeline=true")
    out = run.parent / "synthetic-predict" / "last"  # named after the checkpoint, not a config
    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert [r["path"] for r in rows] == [str(c) for c in clips]
    assert all(abs(sum(float(r[f"p_{c}"]) for c in CLASSES) - 1) < 1e-3 for r in rows)
    # the terminal table: title with the model and checkpoint, one row per file with its segment count
    assert "Predictions of STRLSER (last.ckpt): 2 file(s)" in caplog.text
    assert any(line.startswith("a_long_recording.wav") and line.split()[-5] == "4" for line in caplog.text.splitlines())
    timeline = list(csv.DictReader((out / "timeline.csv").open()))
    long = [r for r in timeline if r["path"] == str(clips[0])]
    assert [(float(r["start_s"]), float(r["end_s"])) for r in long] == [(0.0, 1.4), (1.4, 2.8), (2.8, 4.2), (4.2, 5.6)]
    assert [r["segment"] for r in timeline if r["path"] == str(clips[1])] == ["0"]
    assert (out / "timeline" / "a_long_recording.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (out / "timeline" / "b.png").exists()  # one segment: CSV only
    assert (out / "config.yaml").is_file() and not (run.parent / "lightning_logs").exists()

    # a second call never replaces the first one's results
    first = (out / "predictions.csv").read_text()
    _predict(ckpt, clips[1:], ser_cache)
    assert (out / "predictions.csv").read_text() == first
    assert len(list(csv.DictReader((run.parent / "synthetic-predict" / "last-2" / "predictions.csv").open()))) == 1
    # an explicit --output holding results is refused before predicting, unless --overwrite
    with pytest.raises(FileExistsError, match="--output .* already holds predictions.csv.*--overwrite true"):
        _predict(ckpt, clips[1:], ser_cache, f"--output={out}")
    _predict(ckpt, clips[1:], ser_cache, f"--output={out}", "--overwrite=true")
    assert len(list(csv.DictReader((out / "predictions.csv").open()))) == 1


@pytest.mark.slow
def test_older_checkpoint_uses_the_runs_config_or_says_what_to_pass(run: Path, clips: list[Path], ser_cache: Path,
                                                                   tmp_path: Path) -> None:
    from sermodels.checkpoint import CONFIG_KEY, CheckpointError

    state = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert state[CONFIG_KEY]["model"]["init_args"]["net"]["class_path"] == "sermodels.strl_ser.STRLSER"
    del state[CONFIG_KEY]
    old_run = tmp_path / "old"
    (old_run / "checkpoints").mkdir(parents=True)
    torch.save(state, old_run / "checkpoints" / "last.ckpt")
    with pytest.raises(CheckpointError, match="holds no model config.*-c configs/trainer.yaml -c configs/model/strl_ser.yaml"):
        _predict(old_run / "checkpoints" / "last.ckpt", clips[1:], ser_cache)
    (old_run / "config.yaml").write_text((run / "config.yaml").read_text())  # what LightningCLI saved at fit
    _predict(old_run / "checkpoints" / "last.ckpt", clips[1:], ser_cache)
    assert (tmp_path / "old-predict" / "last" / "predictions.csv").is_file()


@pytest.mark.slow
def test_one_predict_run_extracts_features_once(run: Path, clips: list[Path], ser_cache: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.datamodule as datamodule

    calls: list[list[str]] = []
    real = datamodule.extract_all
    monkeypatch.setattr(datamodule, "extract_all", lambda paths, *a, **k: calls.append([str(p) for p in paths]) or real(paths, *a, **k))
    _predict(run / "checkpoints" / "last.ckpt", clips, ser_cache, f"--output={tmp_path / 'out'}")
    assert calls == [[str(c) for c in clips]]  # prepare_data, setup and the loader used to extract three times
    assert len(list(csv.DictReader((tmp_path / "out" / "predictions.csv").open()))) == len(clips)


def test_default_output_dir_is_named_after_the_checkpoint() -> None:
    assert default_output_dir("runs/strl_ser/ravdess/checkpoints/best.ckpt") == Path("runs/strl_ser/ravdess-predict/best")
    assert default_output_dir("models/emo.ckpt") == Path("models/emo-predict")


def test_claim_output_dir_never_reuses_a_folder_with_results(tmp_path: Path) -> None:
    ckpt = tmp_path / "run" / "checkpoints" / "last.ckpt"
    first = claim_output_dir(None, ckpt)
    assert first == tmp_path / "run-predict" / "last"
    first.mkdir(parents=True)
    (first / "predictions.csv").write_text("x")
    assert claim_output_dir(None, ckpt) == tmp_path / "run-predict" / "last-2"
    assert claim_output_dir(None, ckpt, overwrite=True) == first
    with pytest.raises(FileExistsError, match="--overwrite true"):
        claim_output_dir(first, ckpt)
    with pytest.raises(ValueError, match="--ckpt_path"):
        claim_output_dir(None, None)


@pytest.mark.parametrize("aggregation", ["mean", "vote"])
def test_bundle_aggregation_equals_utterance_metrics(aggregation: str) -> None:
    generator = torch.Generator().manual_seed(0)
    probs = torch.softmax(torch.randn(60, 4, generator=generator) * 2, dim=1)
    utt = torch.randint(0, 12, (60,), generator=generator)
    probs[utt == 3] = torch.tensor([[0.5, 0.5, 0.0, 0.0]])  # ties: the lower class index wins
    metric = UtteranceMetrics(num_classes=4, aggregation=aggregation)
    metric.update(probs, torch.zeros(60, dtype=torch.long), utt)
    ids, mean, preds, _ = metric.utterance_predictions()
    for i, m, p in zip(ids.tolist(), mean, preds.tolist()):
        got_mean, got = aggregate_segments(probs[utt == i].numpy(), aggregation)
        assert got == p
        np.testing.assert_allclose(got_mean, m.numpy(), atol=1e-6)
