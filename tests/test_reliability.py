"""Nothing silent (issue 10): every failure visible, every run reproducible, every checkpoint safe.

One test (or more) per defect; each fails on the code before its fix. Synthetic audio only; the
only network is a local HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import http.server
import json
import os
import pickle
import threading
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from datamodules.cache import FeatureCache
from datamodules.corpora import CorpusError, load_corpus, load_ravdess
from datamodules.datamodule import SERDataModule
from datamodules.download import RAVDESS_SPEECH_MD5, DownloadError
from datamodules.extract import ExtractionError, extract_all
from datamodules.features import FeatureConfig, compute_features
from datamodules.features.is10 import extract_lld, extract_lld_chunked, write_lld_config
from sermodels.checkpoint import CheckpointError
from sermodels.cli import checkpoint_class_names, cli_main
from sermodels.metrics import UtteranceMetrics
from sermodels.module import NonFiniteError
from sermodels.predict import prediction_rows
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


def _args(cache: Path, runs: Path, *extra: str) -> list[str]:
    return [
        *config_args("strl_ser"),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={cache}",
        "--data.batch_size=8",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={runs}",
        "--trainer.enable_progress_bar=false",
        *extra,
    ]


def _noise(path: Path, seconds: float = 1.0, seed: int = 0, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(seed).uniform(-0.3, 0.3, int(seconds * rate)), rate, subtype="PCM_16")
    return path


def _corrupt(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    return path


@pytest.fixture(scope="module")
def trained(ser_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], Path]:
    """One short fit shared by the checkpoint tests: (its arguments, last.ckpt)."""
    runs = tmp_path_factory.mktemp("runs")
    args = _args(ser_cache, runs, "--trainer.max_epochs=1")
    cli_main(["fit", *args])
    return args, runs / "strl_ser" / "synthetic" / "checkpoints" / "last.ckpt"


# ------------------------------------------------------------------ 1. non-finite training / weights / features
def test_diverging_fit_stops_with_epoch_batch_and_advice(ser_cache: Path, tmp_path: Path) -> None:
    with pytest.raises(NonFiniteError, match=r"Training diverged at epoch \d+(, batch \d+)?: .*lower learning rate"):
        cli_main(["fit", *_args(ser_cache, tmp_path, "--trainer.max_epochs=5", "--model.init_args.optimizer.init_args.lr=1e8")])
    for ckpt in (tmp_path / "strl_ser" / "synthetic" / "checkpoints").glob("*.ckpt"):
        state = torch.load(ckpt, weights_only=True)["state_dict"]
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt


def test_evaluation_refuses_nonfinite_weights(trained: tuple[list[str], Path], tmp_path: Path) -> None:
    args, ckpt = trained
    state = torch.load(ckpt, weights_only=True)
    name = next(k for k, v in state["state_dict"].items() if v.is_floating_point())
    state["state_dict"][name][...] = float("nan")
    bad = tmp_path / "nan.ckpt"
    torch.save(state, bad)
    with pytest.raises(NonFiniteError, match=r"Refusing to test: .*nan\.ckpt holds NaN/inf weights"):
        cli_main(["test", *args, f"--ckpt_path={bad}"])


def test_metrics_refuse_nonfinite_probabilities() -> None:
    metric = UtteranceMetrics(2)
    with pytest.raises(ValueError, match="Expected finite `probs`"):
        metric.update(torch.tensor([[float("nan"), float("nan")]]), torch.tensor([0]), torch.tensor([0]))


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        pytest.param(lambda f: f | {"lld": np.full_like(f["lld"], np.nan)}, "lld holds .* NaN/inf", id="nan"),
        pytest.param(lambda f: f | {"lld": f["lld"][:, :, :5]}, r"lld has shape \(1, 76, 5\), expected \(1, 76, 40\)", id="shape"),
        pytest.param(lambda f: {k: v for k, v in f.items() if k != "lld"}, r"missing key\(s\) \['lld'\]", id="missing-key"),
    ],
)
def test_bad_cache_entry_is_named_and_recomputed(tmp_path: Path, damage, reason: str) -> None:  # noqa: ANN001
    audio = _noise(tmp_path / "u.wav", 1.2)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    good, _ = extract_all([audio], cache, num_workers=0, progress=False)
    cache.store(audio, damage(good[0]))
    with pytest.warns(UserWarning, match=rf"Bad feature-cache entry .*\.npz \(audio .*u\.wav\): {reason}"):
        again, _ = extract_all([audio], cache, num_workers=0, progress=False)
    np.testing.assert_array_equal(again[0]["lld"], good[0]["lld"])


# ------------------------------------------------------------------ 2. weights-only checkpoint loading
class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


def _evil_checkpoint(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps(_Exploit(marker)))
    return path


def test_malicious_checkpoint_over_http_is_refused(ser_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))  # torch.hub caches downloads there
    served = tmp_path / "served"
    served.mkdir()
    marker = tmp_path / "pwned.txt"
    _evil_checkpoint(served / "evil.ckpt", marker)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/evil.ckpt"
        with pytest.raises(CheckpointError, match="refusing to load .*evil.ckpt.*weights-only"):
            cli_main(["test", *_args(ser_cache, tmp_path), f"--ckpt_path={url}"])
    finally:
        server.shutdown()
        thread.join()
    assert not marker.exists()  # the pickle's code never ran


def test_checkpoint_class_names_loads_weights_only(tmp_path: Path, trained: tuple[list[str], Path]) -> None:
    marker = tmp_path / "pwned.txt"
    with pytest.raises(CheckpointError, match="refusing to load"):
        checkpoint_class_names(str(_evil_checkpoint(tmp_path / "evil.ckpt", marker)))
    assert not marker.exists()
    assert checkpoint_class_names(str(trained[1])) == ["neutral", "happy", "angry", "sad"]


def test_cli_passes_weights_only_to_lightning(trained: tuple[list[str], Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import lightning

    args, ckpt = trained
    seen: dict[str, object] = {}
    real = lightning.Trainer.test

    @functools.wraps(real)
    def spy(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.update(kwargs)
        return []

    monkeypatch.setattr(lightning.Trainer, "test", spy)
    cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    assert seen["weights_only"] is True  # Lightning's default for http(s) paths would be False


# ------------------------------------------------------------------ 3. feature settings of the checkpoint
def test_test_with_other_feature_settings_is_refused(trained: tuple[list[str], Path]) -> None:
    args, ckpt = trained
    with pytest.raises(ValueError, match=r"data.segment_length is 2.0 here but 1.4 in the checkpoint"):
        cli_main(["test", *args, "--data.segment_length=2.0", f"--ckpt_path={ckpt}"])
    with pytest.raises(ValueError, match=r"data.hsf_scope is 'segment' here but 'utterance'"):
        cli_main(["validate", *args, "--data.hsf_scope=segment", f"--ckpt_path={ckpt}"])  # the config's is utterance
    state = torch.load(ckpt, weights_only=True)["SERDataModule"]
    assert state["features"]["segment_length"] == 1.4 and state["features"]["frame_shift"] == 0.032


def test_predict_uses_the_checkpoint_feature_settings(trained: tuple[list[str], Path], ser_cache: Path, tmp_path: Path) -> None:
    args, ckpt = trained
    clip = _noise(tmp_path / "clip.wav", 2.0)
    with pytest.warns(UserWarning, match=r"predict uses the feature settings .*data.segment_length 1.4 \(given: 2.0\)"):
        cli = cli_main(["predict", *args, "--data.segment_length=2.0", f"--ckpt_path={ckpt}",
                        f"--data.predict_paths={json.dumps([str(clip)])}"])
    assert cli.datamodule.feature_config.segment_length == 1.4


# ------------------------------------------------------------------ 4. files never vanish silently
def _folder_corpus(root: Path, per_class: int = 5) -> Path:
    for label in ("angry", "sad"):
        for i in range(per_class):
            _noise(root / label / f"spk{i % 3}_{label}_{i}.wav", 1.0, seed=hash(label) % 100 + i)
    return root


def test_dangling_symlink_is_an_error_naming_every_link(tmp_path: Path) -> None:
    root = _folder_corpus(tmp_path / "corpus", per_class=2)
    (root / "sad" / "gone1.wav").symlink_to(tmp_path / "annex" / "missing1")
    (root / "angry" / "gone2.wav").symlink_to(tmp_path / "annex" / "missing2")
    with pytest.raises(CorpusError, match=r"2 audio file\(s\) under .* are broken symbolic links .*git annex get"):
        load_corpus("folder", root)


def test_skipped_files_are_counted_in_folder_corpora_and_predict(tmp_path: Path, ser_cache: Path) -> None:
    root = _folder_corpus(tmp_path / "corpus", per_class=2)
    (root / "sad" / "x.mp3").write_bytes(b"ID3")
    (root / "angry" / "y.mp3").write_bytes(b"ID3")
    with pytest.warns(UserWarning, match=r"skipped 2 file\(s\) .*\.mp3 2"):
        load_corpus("folder", root)
    dm = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(ser_cache), progress=False,
                       extract_workers=0, predict_paths=[str(root / "sad")])
    with pytest.warns(UserWarning, match=r"predict_paths: skipped 1 files .*\.mp3 1"):
        dm.setup("predict")


def test_summary_line_and_class_absent_from_a_part(ser_cache: Path, tmp_path: Path) -> None:
    from datamodules.splits import Split

    dm = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(ser_cache), batch_size=8,
                       progress=False, extract_workers=0)
    utts = dm.corpus.utterances
    sad = [u.utt_id for u in utts if u.label == "sad"]
    rest = [u.utt_id for u in utts if u.label != "sad"]
    split = Split(protocol="paper", train=tuple(sorted(sad + rest[:-4])), val=tuple(sorted(rest[-4:])), test=tuple(sorted(rest[-4:])))
    dm = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(ser_cache), batch_size=8,
                       progress=False, extract_workers=0, split_file=str(split.write(tmp_path / "s.json")))
    dm.prepare_data()
    with pytest.warns(UserWarning, match=r"Class\(es\) \[.*'sad'\] have no utterance in the val part"):
        dm.setup("fit")
    assert "Corpus synthetic" in dm.summary and "24 files, 3 speakers, 4 classes (neutral 6, happy 6, angry 6, sad 6)" in dm.summary
    assert "train 20 utt" in dm.summary and "val 4 utt" in dm.summary
    assert dm.split_info["class_counts"]["val"]["sad"] == 0


# ------------------------------------------------------------------ 5. exact resume: tests/test_resume.py
# ------------------------------------------------------------------ 6. degenerate audio
def test_degenerate_audio_is_summarised_once(tmp_path: Path) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000), 16000, subtype="PCM_16")
    short = _noise(tmp_path / "short.wav", 0.05)  # 800 samples < one 2048-sample LLD frame
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.random.default_rng(0).uniform(-1.5, 1.5, 16000).astype(np.float32), 16000, subtype="FLOAT")
    whole = _noise(tmp_path / "whole.wav", 1.0).read_bytes()
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole[: len(whole) // 2])
    fine = _noise(tmp_path / "fine.wav", 1.0, seed=3)
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    paths = [silent, short, clipped, truncated, fine]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, stats = extract_all(paths, cache, num_workers=0, progress=False)
    summaries = [str(w.message) for w in caught if "Degenerate audio" in str(w.message)]
    assert len(summaries) == 1
    assert "Degenerate audio in 4 of 5 files" in summaries[0]
    for word in ("silent", "clipped", "truncated WAV", "shorter than one LLD frame"):
        assert word in summaries[0]
    assert {k: [Path(p).name for p in v] for k, v in stats["issues"].items()} == {
        "silent": ["silent.wav"], "shorter_than_frame": ["short.wav"], "clipped": ["clipped.wav"], "truncated": ["truncated.wav"],
    }
    with pytest.warns(UserWarning, match="Degenerate audio in 4 of 5"):  # cached entries still report it
        extract_all(paths, cache, num_workers=0, progress=False)


# ------------------------------------------------------------------ 7. every bad file at once; skip; predict rows
def test_every_bad_file_is_reported_at_once(tmp_path: Path) -> None:
    good = [_noise(tmp_path / f"g{i}.wav", 1.0, seed=i) for i in range(2)]
    bad = [_corrupt(tmp_path / f"bad{i}.wav") for i in range(3)]
    with pytest.raises(ExtractionError, match=r"3 of 5 audio files could not be used") as err:
        extract_all([good[0], *bad, good[1]], FeatureCache(tmp_path / "c", FeatureConfig(hsf=False)), num_workers=0, progress=False)
    assert sorted(Path(p).name for p in err.value.errors) == ["bad0.wav", "bad1.wav", "bad2.wav"]
    for b in bad:
        assert str(b) in str(err.value)
    assert "data.skip_bad_files=true" in str(err.value)


def test_skip_bad_files_leaves_them_out_and_lists_them(tmp_path: Path) -> None:
    root = _folder_corpus(tmp_path / "corpus")
    bad = _corrupt(root / "sad" / "spk0_sad_broken.wav")
    kwargs = dict(corpus="folder", root=str(root), cache_dir=str(tmp_path / "cache"), inputs=["lld"], batch_size=4,
                  progress=False, extract_workers=0, segment_length=1.0)
    with pytest.raises(ExtractionError, match="spk0_sad_broken.wav"):
        SERDataModule(**kwargs).prepare_data()
    dm = SERDataModule(**kwargs, skip_bad_files=True)
    dm.prepare_data()
    with pytest.warns(UserWarning, match=r"(?s)1 of 11 audio files could not be used.*skip_bad_files=true: these are left out"):
        dm.setup("fit")
    assert dm.skipped_files.keys() == {str(bad)}
    assert dm.split_info["skipped_files"][0]["path"] == str(bad) and "cannot decode" in dm.split_info["skipped_files"][0]["error"]
    assert "1 bad files skipped" in dm.summary
    used = {dm.corpus.utterances[i].path for ds in dm.datasets.values() for i in ds.tensors["utt_index"].tolist()}
    assert bad not in used and len(used) == 10


def test_predict_writes_an_error_row_and_predicts_the_rest(trained: tuple[list[str], Path], tmp_path: Path) -> None:
    args, ckpt = trained
    clips = [_noise(tmp_path / "a.wav", 1.5, seed=1), _corrupt(tmp_path / "b.wav"), _noise(tmp_path / "c.wav", 2.5, seed=2)]
    cli_main(["predict", *args, f"--ckpt_path={ckpt}", f"--output={tmp_path / 'pred'}",
              f"--data.predict_paths={json.dumps([str(c) for c in clips])}"])
    out = tmp_path / "pred" / "predictions.csv"
    rows = list(csv.DictReader(out.open()))
    assert [r["path"] for r in rows] == [str(c) for c in clips]
    assert rows[0]["prediction"] and rows[2]["prediction"] and not rows[0]["error"]
    assert rows[1]["prediction"] == "" and "cannot decode" in rows[1]["error"]


# ------------------------------------------------------------------ 8. bounded memory for long audio
def test_chunked_lld_equal_one_run_and_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.features.is10 as features

    rng = np.random.default_rng(0)
    t = np.arange(16000 * 30) / 16000
    voiced = 0.3 * np.sin(2 * np.pi * (140 + 30 * np.sin(2 * np.pi * 0.7 * t)) * t) * (np.sin(2 * np.pi * 1.3 * t) > -0.3)
    wave = (voiced + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
    wave[16000 * 12 : 16000 * 14] = 0  # a pause across a chunk boundary
    config = FeatureConfig(hsf=False)
    whole = extract_lld(wave)
    lengths: list[int] = []
    real = features.extract_lld
    monkeypatch.setattr(features, "extract_lld", lambda w, *a, **k: lengths.append(len(w)) or real(w, *a, **k))
    chunked = extract_lld_chunked(wave, config, chunk_frames=150)
    np.testing.assert_array_equal(chunked, whole)  # bit for bit
    assert len(lengths) > 3 and max(lengths) < len(wave)  # many runs, none over the whole file
    # through compute_features (what fit and predict call) as well
    path = tmp_path / "long.wav"
    sf.write(path, wave, 16000, subtype="FLOAT")
    reference = compute_features(path, config)
    monkeypatch.setattr(features, "LLD_CHUNK_FRAMES", 150)
    np.testing.assert_array_equal(compute_features(path, config)["lld"], reference["lld"])


# ------------------------------------------------------------------ 9. early checks
def test_segment_too_short_for_the_net_fails_before_extraction(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data.segment_length 0.3 s gives 6 LLD frames .* needs at least 8: set --data.segment_length 0.352"):
        cli_main(["fit", *_args(tmp_path / "empty-cache", tmp_path, "--data.segment_length=0.3")])
    assert not (tmp_path / "empty-cache").exists()


# ------------------------------------------------------------------ 10. verified download and openSMILE config
def test_ravdess_archive_is_verified_by_default(tmp_path: Path, fake) -> None:  # noqa: ANN001
    tree = fake.ravdess(tmp_path / "tree", actors=[1], per_actor=1)
    archive = tmp_path / "Audio_Speech_Actors_01-24.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(tree.rglob("*.wav")):
            zf.write(f, f.relative_to(tree).as_posix())
    with pytest.raises(DownloadError, match=f"expected MD5 {RAVDESS_SPEECH_MD5}"):
        load_ravdess(tmp_path / "a", download=True, url=archive.as_uri(), progress=False)
    with pytest.raises(DownloadError, match=f"expected MD5 {RAVDESS_SPEECH_MD5}"):
        load_ravdess(tmp_path / "b", download=True, archive=archive, progress=False)
    with pytest.raises(DownloadError, match="expected SHA-256 " + "0" * 64):
        load_ravdess(tmp_path / "c", download=True, url=archive.as_uri(), sha256="0" * 64, progress=False)
    good = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert len(load_ravdess(tmp_path / "d", download=True, url=archive.as_uri(), sha256=good, progress=False)) == 1


def test_opensmile_config_in_temp_is_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tempfile

    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp_path))
    path = write_lld_config(0.128, 0.032)
    good = path.read_text()
    assert path.parent.stat().st_mode & 0o777 == 0o700
    path.write_text(good.replace("frameSize = 0.128000", "frameSize = 0.500000"))  # planted / edited
    with pytest.warns(UserWarning, match="differs from the one this version writes"):
        assert write_lld_config(0.128, 0.032) == path
    assert path.read_text() == good
    os.chmod(path.parent, 0o777)
    with pytest.raises(RuntimeError, match="writable by others"):
        write_lld_config(0.128, 0.032)


# ------------------------------------------------------------------ 11. one aggregation for metrics and predictions.csv
@pytest.mark.parametrize("aggregation", ["mean", "vote"])
def test_predictions_csv_and_test_metrics_aggregate_alike(aggregation: str) -> None:
    # utterance 0: two of three segments vote "1" but the mean favours "0"; utterance 1's first
    # segment is scored twice (a sampler's padding), with the same id.
    probs = torch.tensor([[0.9, 0.1], [0.45, 0.55], [0.45, 0.55], [0.3, 0.7], [0.6, 0.4], [0.6, 0.4]])
    utt = torch.tensor([0, 0, 0, 1, 1, 1])
    seg = torch.tensor([0, 1, 2, 3, 4, 4])
    metric = UtteranceMetrics(2, aggregation)
    metric.update(probs, torch.tensor([0, 0, 0, 1, 1, 1]), utt, seg)
    ids, mean, preds, _ = metric.utterance_predictions()
    rows = prediction_rows(["u0.wav", "u1.wav"], ["a", "b"], probs, utt, seg, aggregation)
    assert [r["prediction"] for r in rows] == [["a", "b"][int(p)] for p in preds]
    assert [float(r["p_a"]) for r in rows] == pytest.approx(mean[:, 0].tolist(), abs=1e-4)
    assert rows[0]["prediction"] == ("a" if aggregation == "mean" else "b")
    assert float(rows[1]["p_a"]) == pytest.approx(0.45, abs=1e-4)  # the duplicate counted once
