"""ser-export bundles and the Lightning-free loader: ONNX vs PyTorch for every net, batch 1 and > 1;
bundle predictions vs ``ser predict`` from the checkpoint alone (synthetic audio only)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from sermodels.cli import cli_main
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

ROOT = Path(__file__).resolve().parents[1]
# (config folder, extra fit arguments): STA-CNN reads 1 s waveform segments, the baseline utterance HSFs. STA-CNN
# runs with its opt-in masking and per-input normalisation, its front end set explicitly (a nested class_path in the
# stored config): the bundle, the export and the fast predict path must all rebuild it.
NET = "--model.init_args.net.init_args"
MODELS = {
    "strl_ser": [],
    "sta_cnn": ["--data.segment_length=1.0", f"{NET}.freq_masks=1", f"{NET}.time_masks=1",
                f"{NET}.frontend=sermodels.frontends.SpectralFrontEnd", f"{NET}.frontend.init_args.instance_norm=mean"],
    "baseline": [],
}


def _fit_args(model: str, cache: Path, runs: Path) -> list[str]:
    return [
        *config_args(model),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.batch_size=8",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={runs}",
        f"--trainer.default_root_dir={runs}",
        "--trainer.enable_progress_bar=false",
        "--trainer.max_epochs=1",
        "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=1",
        *MODELS[model],
    ]


@pytest.fixture(scope="module")
def checkpoints(ser_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One briefly trained checkpoint per model type (ser fit on the tiny synthetic corpus)."""
    runs = tmp_path_factory.mktemp("export-runs")
    out = {}
    for model in MODELS:
        cli_main(["fit", *_fit_args(model, ser_cache, runs)])
        out[model] = runs / model / "synthetic" / "checkpoints" / "last.ckpt"
        assert out[model].is_file()
    return out


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """A 5.3 s clip (several segments, a padded tail) and a 0.6 s one (shorter than a segment)."""
    folder = tmp_path_factory.mktemp("clips")
    rng = np.random.default_rng(3)
    files = []
    for name, seconds in (("long.wav", 5.3), ("short.wav", 0.6)):
        t = np.arange(int(16000 * seconds)) / 16000
        wave = 0.2 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.5 * t)) * t) + 0.02 * rng.standard_normal(t.size)
        sf.write(folder / name, wave.astype(np.float32), 16000)
        files.append(folder / name)
    return files


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
def test_bundle_matches_pytorch_and_ser_predict(model: str, checkpoints: dict[str, Path], audio: list[Path],
                                                tmp_path: Path, ser_cache: Path) -> None:
    import onnxruntime as ort

    from sermodels.bundle import Bundle
    from sermodels.checkpoint import build_model, read_checkpoint
    from sermodels.export import export_bundle

    ckpt = checkpoints[model]
    out = export_bundle(str(ckpt), output=str(tmp_path / "bundle"))
    assert sorted(p.name for p in out.iterdir()) == [
        "bundle.json", "model.onnx", "model_card.json", "model_card.md", "normalization.npz"]
    meta = json.loads((out / "bundle.json").read_text())
    assert meta["class_names"] == ["neutral", "happy", "angry", "sad"]
    assert all(i["shape"][0] == "batch" for i in meta["inputs"])
    card = json.loads((out / "model_card.json").read_text())
    assert card["training"]["split"]["protocol"] == "paper" and card["corpus"]["name"] == "synthetic"
    assert "## Training protocol" in (out / "model_card.md").read_text()
    with pytest.raises(FileExistsError, match="already holds a bundle"):
        export_bundle(str(ckpt), output=str(out))

    # ONNX vs PyTorch on the real (normalised) features of both clips: batch 1 and batch > 1.
    bundle = Bundle(out)
    net = build_model(read_checkpoint(ckpt), ckpt).net
    from datamodules.features import compute_features

    inputs = [bundle.inputs(compute_features(a, bundle.features)) for a in audio]
    batch = {k: np.concatenate([x[k] for x in inputs]) for k in bundle.input_names}
    session = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"])
    diffs = {}
    for name, feed in (("batch_1", {k: v[:1] for k, v in batch.items()}), (f"batch_{len(batch[bundle.input_names[0]])}", batch)):
        got = session.run(["logits"], feed)[0]
        with torch.no_grad():
            ref = net(*[torch.from_numpy(feed[k]) for k in bundle.input_names]).numpy()
        assert got.shape == ref.shape
        diffs[name] = float(np.abs(got - ref).max())
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)
    print(f"{model}: max |ONNX - PyTorch| logits {diffs}")
    assert len(batch[bundle.input_names[0]]) > 1

    # The bundle predicts what `ser predict --ckpt_path` (checkpoint alone, no configs) predicts.
    results = bundle.predict(audio)
    cli_main(["predict", f"--ckpt_path={ckpt}", f"--data.predict_paths={json.dumps([str(a) for a in audio])}",
              f"--data.cache_dir={ser_cache}", "--data.extract_workers=0", "--data.progress=false",
              f"--output={tmp_path / 'predict'}", "--timeline=true", "--trainer.enable_progress_bar=false"])
    rows = list(csv.DictReader((tmp_path / "predict" / "predictions.csv").open()))
    assert [r["path"] for r in rows] == [str(a) for a in audio]
    for row, result in zip(rows, results):
        assert row["prediction"] == result.label
        np.testing.assert_allclose([float(row[f"p_{c}"]) for c in bundle.class_names], result.probs, atol=2e-4)
    timeline = list(csv.DictReader((tmp_path / "predict" / "timeline.csv").open()))
    assert len(timeline) == sum(len(r.segment_probs) for r in results)
    assert [float(r["start_s"]) for r in timeline] == pytest.approx([s for r in results for s in r.starts], abs=1e-3)

    # `ser predict --bundle` (the launcher's Lightning-free path) writes the same predictions.
    import sys

    from sermodels.launcher import main as ser

    argv = sys.argv
    sys.argv = ["ser", "predict", "--bundle", str(out), f"--data.predict_paths={json.dumps([str(a) for a in audio])}",
                "--output", str(tmp_path / "via-ser")]
    try:
        ser()
    finally:
        sys.argv = argv
    fast = list(csv.DictReader((tmp_path / "via-ser" / "predictions.csv").open()))
    assert [(r["path"], r["prediction"]) for r in fast] == [(r["path"], r["prediction"]) for r in rows]


def test_bundle_loader_does_not_import_lightning() -> None:
    code = "import sys, sermodels.bundle; bad = [m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')]; print(bad); sys.exit(bool(bad))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


def test_bundle_errors_name_the_folder_and_the_fix(tmp_path: Path) -> None:
    from sermodels.bundle import Bundle, BundleError

    with pytest.raises(BundleError, match="no bundle.json.*ser-export"):
        Bundle(tmp_path)
    (tmp_path / "bundle.json").write_text(json.dumps({"format": "other", "version": 9}))
    with pytest.raises(BundleError, match="re-export"):
        Bundle(tmp_path)


def test_export_refuses_a_missing_checkpoint(tmp_path: Path) -> None:
    from sermodels.checkpoint import CheckpointError
    from sermodels.export import export_bundle

    with pytest.raises(CheckpointError, match="no such file.*ser fit"):
        export_bundle(str(tmp_path / "missing.ckpt"))


@pytest.mark.slow
def test_model_card_takes_the_runs_test_metrics(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    from sermodels.export import export_bundle

    ckpt = checkpoints["baseline"]
    state = torch.load(ckpt, map_location="cpu", weights_only=True)
    split = state["SERDataModule"]["split"]["info"]
    test_dir = ckpt.parent.parent.parent / "synthetic-test"  # where `ser test` of this run writes
    test_dir.mkdir(exist_ok=True)
    metrics = {"wa": 0.5, "ua": 0.25, "macro_f1": 0.2, "recall/neutral": 1.0, "num_utterances": 5,
               "class_names": ["neutral", "happy", "angry", "sad"], "split": split}
    (test_dir / "test_metrics.json").write_text(json.dumps(metrics))
    out = export_bundle(str(ckpt), output=str(tmp_path / "b1"))
    card = json.loads((out / "model_card.json").read_text())
    assert card["test_metrics"]["metrics"] == {"wa": 0.5, "ua": 0.25, "macro_f1": 0.2}
    assert card["test_metrics"]["source"] == "synthetic-test/test_metrics.json"
    assert "| ua | 25.00 |" in (out / "model_card.md").read_text()
    other = tmp_path / "other.json"
    other.write_text(json.dumps(metrics | {"split": split | {"seed": 7}}))
    with pytest.raises(ValueError, match="seed=7"):
        export_bundle(str(ckpt), output=str(tmp_path / "b2"), test_metrics=str(other))
    (test_dir / "test_metrics.json").unlink()


@pytest.mark.slow
@pytest.mark.parametrize("model", list(MODELS))
def test_checkpoint_fast_predict_equals_lightning_predict(model: str, checkpoints: dict[str, Path], audio: list[Path],
                                                          tmp_path: Path, ser_cache: Path) -> None:
    """`ser predict --ckpt_path X --data.predict_paths ...` runs without Lightning and predicts the same."""
    import subprocess
    import sys

    from sermodels.fastpredict import CheckpointPredictor

    ckpt = checkpoints[model]
    paths = json.dumps([str(a) for a in audio])
    cli_main(["predict", f"--ckpt_path={ckpt}", f"--data.predict_paths={paths}", f"--data.cache_dir={ser_cache}",
              "--data.extract_workers=0", "--data.progress=false", f"--output={tmp_path / 'lightning'}",
              "--trainer.enable_progress_bar=false"])
    slow = list(csv.DictReader((tmp_path / "lightning" / "predictions.csv").open()))
    fast = CheckpointPredictor(ckpt).predict(audio)
    assert [r["prediction"] for r in slow] == [r.label for r in fast]
    names = CheckpointPredictor(ckpt).class_names
    for row, result in zip(slow, fast):
        np.testing.assert_allclose([float(row[f"p_{c}"]) for c in names], result.probs, atol=2e-4)
    # Through the `ser` entry point, in a fresh process: no Lightning imported, same files written.
    script = ("import sys; sys.argv = ['ser', *sys.argv[1:]]; from sermodels.launcher import main; main(); "
              "sys.stderr.write('LIGHTNING=%s' % ('lightning' in sys.modules))")
    done = subprocess.run([sys.executable, "-c", script, "predict", "--ckpt_path", str(ckpt), "--data.predict_paths", paths,
                           "--output", str(tmp_path / "fast"), "--timeline", "true"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "SER_CACHE": str(ser_cache)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "LIGHTNING=False" in done.stderr
    rows = list(csv.DictReader((tmp_path / "fast" / "predictions.csv").open()))
    assert [(r["path"], r["prediction"]) for r in rows] == [(r["path"], r["prediction"]) for r in slow]
    assert (tmp_path / "fast" / "timeline.csv").is_file()
    # A second call with the same --output is refused, as on the Lightning path.
    again = subprocess.run([sys.executable, "-c", script, "predict", "--ckpt_path", str(ckpt), "--data.predict_paths", paths,
                            "--output", str(tmp_path / "fast")], capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "already holds predictions.csv" in again.stderr
