"""Speed perturbation of training audio (``data.speed_perturb``): the perturbed features, the copies the
data module adds to training only, their cache, the baseline's rows, the refusals, and a CLI fit/test/predict
(synthetic audio only)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

import sermodels.baseline as baseline_module
from datamodules.datamodule import SERDataModule
from datamodules.features.base import FeatureConfig
from datamodules.features.compute import compute_features
from sermodels.cli import cli_main
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC, tiny_datamodule

_dm = tiny_datamodule


def test_speed_changes_the_audio_length_and_the_cache_key(tmp_path: Path) -> None:
    path = tmp_path / "a.wav"
    wave = (0.1 * np.random.default_rng(0).standard_normal(32000)).astype(np.float32)
    sf.write(path, wave, 16000)
    plain = FeatureConfig()
    assert plain.key() == dataclasses.replace(plain, speed=1.0).key()
    keys = {plain.key()}
    for factor in (0.9, 1.1):
        config = dataclasses.replace(plain, speed=factor)
        keys.add(config.key())
        feats = compute_features(path, config)
        # torchaudio's speed: resampled so that it plays 1/factor as long (tempo and pitch together)
        expected = torchaudio.functional.speed(torch.from_numpy(sf.read(path, dtype="float32")[0]), 16000, factor)[0]
        assert int(feats["num_samples"]) == expected.numel()
        assert abs(int(feats["num_samples"]) - 32000 / factor) <= 2
    assert len(keys) == 3  # one cache folder per factor
    assert not np.allclose(compute_features(path, plain)["hsf"][0],
                           compute_features(path, dataclasses.replace(plain, speed=1.1))["hsf"][0])


@pytest.mark.parametrize("factor", [0.3, 2.5])
def test_a_speed_outside_the_range_is_refused(factor: float) -> None:
    with pytest.raises(ValueError, match="Speed perturbation factor"):
        FeatureConfig(speed=factor)


def test_training_gets_one_copy_per_factor_and_evaluation_none(ser_cache: Path) -> None:
    plain = _dm(ser_cache)
    dm = _dm(ser_cache, speed_perturb=[0.9, 1.1])
    train, plain_train = dm.datasets["train"].tensors, plain.datasets["train"].tensors
    copy = train["copy"]
    assert set(copy.tolist()) == {0, 1, 2}
    n = len(plain_train["target"])
    assert int((copy == 0).sum()) == n  # the originals, as without perturbation
    # each copy holds every training utterance once more, with its own label (segment counts follow the length)
    for k in (1, 2):
        rows = copy == k
        assert set(train["utt_index"][rows].tolist()) == set(plain_train["utt_index"].tolist())
        by_utt = dict(zip(train["utt_index"][rows].tolist(), train["target"][rows].tolist()))
        assert by_utt == dict(zip(plain_train["utt_index"].tolist(), plain_train["target"].tolist()))
    assert int((copy == 1).sum()) >= int((copy == 2).sum())  # 0.9 (longer audio) gives at least as many segments as 1.1
    # the copies are other audio: no copy's functionals equal any original's (utterance or segment)
    hsf = train["hsf"]
    for k in (1, 2):
        distances = torch.cdist(hsf[copy == k].double(), hsf[copy == 0].double())
        assert float(distances.min()) > 1e-3
    # and each factor has its own cache folder, filled
    keys = {dataclasses.replace(dm.feature_config, speed=f).key() for f in (0.9, 1.1)}
    for key in keys:
        assert any((ser_cache / f"features-{key}").rglob("*.npz"))
    assert len(torch.unique(train["segment_index"])) == len(copy)  # segment ids stay unique
    assert dm.datasets["train"].num_utterances() == plain.datasets["train"].num_utterances()
    for part in ("val", "test"):  # never perturbed, and unchanged
        assert "copy" not in dm.datasets[part].tensors
        assert len(dm.datasets[part]) == len(plain.datasets[part])
    assert dm.split_info["speed_perturb"] == {"0.9": len(dm.split.train), "1.1": len(dm.split.train)}
    assert plain.split_info["speed_perturb"] is None
    assert "speed perturbation of training audio: x0.9" in dm.summary
    # the split part counts the unperturbed segments (as without copies); the total with copies comes after
    assert f"train {plain.datasets['train'].num_utterances()} utt / {n} seg" in dm.summary
    assert dm.summary.endswith(f"train {len(copy)} seg in all") and len(copy) > n
    # the normalisation statistics are fitted on originals and copies together
    torch.testing.assert_close(dm.datasets["train"].tensors["hsf"].double().mean(0),
                               torch.zeros(dm.hsf_dim, dtype=torch.float64), atol=1e-4, rtol=0)


def test_speaker_protocol_copies_only_the_training_speakers(ser_cache: Path) -> None:
    dm = _dm(ser_cache, protocol="speaker", fold=1, speed_perturb=[1.1])
    train = dm.datasets["train"].tensors
    speakers = {dm.corpus.utterances[i].speaker for i in train["utt_index"][train["copy"] == 1].tolist()}
    assert speakers and not speakers & set(dm.split.test_speakers)


def test_with_speaker_normalisation_each_copy_is_a_speaker_of_its_own(ser_cache: Path) -> None:
    dm = _dm(ser_cache, speed_perturb=[0.9], speaker_norm=True)
    names = set(dm.speaker_normalizer.by_speaker)
    originals = {s for s in names if "|x" not in s}
    assert originals and names == originals | {f"{s}|x0.9" for s in originals}
    train = dm.datasets["train"].tensors
    speakers = np.array(dm._row_speakers(train))
    raw_std = {s: dm.speaker_normalizer.by_speaker[s].stats["hsf_std"] for s in names}
    assert all(bool((raw_std[s] > 0).any()) for s in names)
    for s in names:  # every (speaker, copy) group is centred on itself before the global standardisation
        rows = torch.as_tensor(speakers == s)
        centred = train["hsf"][rows] * dm.normalizer.stats["hsf_std"] + dm.normalizer.stats["hsf_mean"]
        assert float(centred.double().mean(0).abs().max()) < 1e-3
    assert f"{len(originals)} training speakers" in dm.summary


def test_factors_are_exact_resampling_ratios() -> None:
    with pytest.raises(ValueError, match="steps of 0.01"):
        SERDataModule(corpus="synthetic", speed_perturb=[0.905])
    with pytest.raises(ValueError, match="exact resampling ratio"):
        FeatureConfig(speed=1.00001)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"speed_perturb": [1.0, 1.1]}, "other than 1"),
        ({"speed_perturb": [0.9, 0.9]}, "distinct factors"),
        ({"speed_perturb": [3.0]}, r"in \[0.5, 2.0\]"),
        ({"speed_perturb": [1.1], "pack": "features.npz"}, "holds unperturbed features"),
        ({"speed_perturb": [1.1], "split_unit": "segment"}, "leaky re-split"),
    ],
)
def test_bad_speed_settings_are_refused_naming_the_argument(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as err:
        SERDataModule(corpus="synthetic", **kwargs)
    assert "data.speed_perturb" in str(err.value)


@pytest.mark.slow
def test_baseline_and_strl_ser_fit_test_predict_with_speed_perturbation(
    ser_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline fits one row per utterance and copy; STRL-SER trains on the copies; test and predict read
    unperturbed audio; the checkpoint keeps the setting."""
    common = [f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
              "--data.progress=false", "--data.extract_workers=0", "--data.speed_perturb=[0.9, 1.1]",
              f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false"]
    fitted: list[int] = []
    real_fit = baseline_module.fit_linear

    def spy(x: np.ndarray, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        fitted.append(len(x))
        return real_fit(x, *args, **kwargs)

    monkeypatch.setattr(baseline_module, "fit_linear", spy)
    base = cli_main(["fit", *config_args("baseline"), *common])
    assert fitted == [3 * len(base.datamodule.split.train)]  # one row per training utterance and copy
    strl = [*config_args("strl_ser"), *common, "--trainer.max_epochs=1"]
    fit = cli_main(["fit", *strl])
    ckpt = Path(fit.trainer.checkpoint_callback.last_model_path)
    assert torch.load(ckpt, weights_only=False)["datamodule_hyper_parameters"]["speed_perturb"] == [0.9, 1.1]
    test = cli_main(["test", *strl, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert metrics["split"]["speed_perturb"] == {"0.9": len(fit.datamodule.split.train), "1.1": len(fit.datamodule.split.train)}
    assert metrics["num_utterances"] == len(fit.datamodule.split.test)
    # a test of the checkpoint without the setting would standardise with other statistics: refused, both named
    without = [a for a in strl if not a.startswith("--data.speed_perturb")]
    with pytest.raises(ValueError, match=r"data.speed_perturb is None here but \[0.9, 1.1\] in the checkpoint"):
        cli_main(["test", *without, f"--ckpt_path={ckpt}"])
    clip = tmp_path / "clip.wav"
    sf.write(clip, (0.1 * np.random.default_rng(1).standard_normal(24000)).astype(np.float32), 16000)
    pred = cli_main(["predict", f"--ckpt_path={ckpt}", f"--data.predict_paths={json.dumps([str(clip)])}",
                     f"--data.cache_dir={ser_cache}", "--data.extract_workers=0", "--data.progress=false",
                     "--trainer.enable_progress_bar=false", f"--output={tmp_path / 'pred'}"])
    assert "copy" not in pred.datamodule.datasets["predict"].tensors


def test_files_keep_the_field_out_unless_it_is_set(tmp_path: Path) -> None:
    """Packs, bundles and result files record ``speed`` only when it is not 1, so older installs still read them;
    a pack of speed-perturbed features is refused (packs hold the corpus's own audio's features)."""
    from datamodules.pack import write_pack

    assert "speed" not in FeatureConfig().as_dict()
    assert FeatureConfig(speed=0.9).as_dict()["speed"] == 0.9
    with pytest.raises(ValueError, match="x0.9 speed copy"):  # refused before the corpus is read
        write_pack(tmp_path / "p.npz", None, FeatureConfig(speed=0.9), [], "synthetic")  # type: ignore[arg-type]


def test_a_failing_copy_is_named_or_left_out_and_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A copy that cannot be featurised (its original could) stops the run naming the factor and the setting, or,
    with skip_bad_files, is left out of training and listed in split_info."""
    import datamodules.cache as cache_module
    from datamodules.extract import ExtractionError
    from datamodules.features import FeatureError

    real = cache_module.compute_features
    victim: list[str] = []

    def flaky(path, config):  # noqa: ANN001, ANN202
        if config.speed != 1.0 and (not victim or str(path) == victim[0]):
            victim[:1] = [str(path)]
            raise FeatureError(f"{path}: injected failure")
        return real(path, config)

    monkeypatch.setattr(cache_module, "compute_features", flaky)
    with pytest.raises(ExtractionError, match=r"data.speed_perturb: the x1.1 speed copies") as err:
        tiny_datamodule(tmp_path / "a", speed_perturb=[1.1])
    assert victim[0] in str(err.value)
    victim.clear()  # the second corpus lives in another folder: its first copy fails instead
    dm = tiny_datamodule(tmp_path / "b", speed_perturb=[1.1], skip_bad_files=True)
    info = dm.split_info
    assert info["speed_perturb"] == {"1.1": len(dm.split.train) - 1}  # every copy but the failing one
    assert [c["path"] for c in info["skipped_copies"]] == [victim[0]]
    assert info["skipped_files"] == []  # the original stays in the split


def test_a_copy_rebuilt_from_waveform_segments_equals_the_files_copy(tmp_path: Path) -> None:
    """speed_copy_from_segments: from an utterance's stored segments (no file), the same copy as compute_features
    at that speed where the segments cover the file; a tail the segmentation dropped is not rebuilt; inputs
    computed from the audio and crops are refused."""
    from datamodules.features import feature_config_from_hparams
    from datamodules.features.compute import rebuild_wave, speed_copies_from_segments, speed_copy_from_segments
    from datamodules.pack import audio_rest

    hp = {"inputs": ["wave"], "segment_length": 1.0}
    config, _ = feature_config_from_hparams(hp)
    rng = np.random.default_rng(0)
    full, tail = tmp_path / "full.wav", tmp_path / "tail.wav"
    sf.write(full, (0.1 * rng.standard_normal(40000)).astype(np.float32), 16000, subtype="FLOAT")  # 2.5 s: tail kept
    sf.write(tail, (0.1 * rng.standard_normal(36000)).astype(np.float32), 16000, subtype="FLOAT")  # 2.25 s: dropped
    stored = compute_features(full, config)
    np.testing.assert_array_equal(rebuild_wave(stored, "wave").numpy(), sf.read(full, dtype="float32")[0])
    for factor in (0.9, 1.1):
        copy = speed_copy_from_segments(stored, config, factor)
        from_file = compute_features(full, dataclasses.replace(config, speed=factor))
        np.testing.assert_array_equal(copy["bounds"], from_file["bounds"])
        np.testing.assert_allclose(copy["wave"], from_file["wave"], atol=1e-6)
    short = compute_features(tail, config)
    assert rebuild_wave(short, "wave").numel() == 32000  # the 0.25 s remainder (< min_last_segment) is not held
    assert int(speed_copy_from_segments(short, config, 0.9)["num_samples"]) == round(32000 / 0.9)
    # with the remainder (as a pack keeps it: audio_rest) the copy is the file's own again
    audio = sf.read(tail, dtype="float32")[0]
    rest = audio_rest(short, audio)
    assert len(rest) == 4000
    np.testing.assert_array_equal(rebuild_wave(short, "wave", rest).numpy(), audio)
    for factor in (0.9, 1.1):
        copy = speed_copy_from_segments(short, config, factor, rest=rest)
        from_file = compute_features(tail, dataclasses.replace(config, speed=factor))
        np.testing.assert_array_equal(copy["bounds"], from_file["bounds"])
        np.testing.assert_allclose(copy["wave"], from_file["wave"], atol=1e-6)
    # several factors at once (the audio rebuilt once, as a pack's copies are made): the same copies, in order
    both = speed_copies_from_segments(short, config, (0.9, 1.1), rest=rest)
    for factor, copy in zip((0.9, 1.1), both, strict=True):
        one = speed_copy_from_segments(short, config, factor, rest=rest)
        assert one.keys() == copy.keys() and all(np.array_equal(one[k], copy[k]) for k in one), factor
        from_file = compute_features(tail, dataclasses.replace(config, speed=factor))
        np.testing.assert_array_equal(copy["bounds"], from_file["bounds"])
        np.testing.assert_allclose(copy["wave"], from_file["wave"], atol=1e-6)
    assert len(audio_rest(stored, sf.read(full, dtype="float32")[0])) == 0  # a kept remainder is in the segments
    with pytest.raises(ValueError, match="from different files or settings"):
        rebuild_wave(short, "wave", rest[:-1])
    # overlapping segments give the audio back too
    overlap, _ = feature_config_from_hparams(hp | {"segment_hop": 0.5})
    np.testing.assert_array_equal(rebuild_wave(compute_features(full, overlap), "wave").numpy(),
                                  sf.read(full, dtype="float32")[0])
    strl, _ = feature_config_from_hparams({})
    with pytest.raises(ValueError, match=r"full.wav: .*inputs \['hsf', 'lld'\] are not waveforms"):
        speed_copy_from_segments(compute_features(full, strl), strl, 1.1, name=str(full))
    for bad, match in (({"segment_mode": "crop"}, "segment_mode='crop'"), ({"segment_hop": 1.5}, "skips audio")):
        config_bad, _ = feature_config_from_hparams(hp | bad)
        with pytest.raises(ValueError, match=match):
            speed_copy_from_segments(compute_features(full, config_bad), config_bad, 1.1)


def test_a_copy_that_fails_to_featurise_is_named_once_with_its_factor(tmp_path: Path, monkeypatch) -> None:
    """An extractor's error about a rebuilt copy reaches the user with the utterance and factor named once."""
    from datamodules.features import compute, feature_config_from_hparams

    config, _ = feature_config_from_hparams({"inputs": ["wave"], "segment_length": 1.0})
    path = tmp_path / "u.wav"
    sf.write(path, (0.1 * np.random.default_rng(0).standard_normal(40000)).astype(np.float32), 16000, subtype="FLOAT")
    stored = compute.compute_features(path, config)

    def fail(name: str, *args: object) -> dict[str, np.ndarray]:
        raise ValueError(f"{name}: 0 samples after resampling, expected at least one segment")

    monkeypatch.setattr(compute, "_featurize", fail)
    with pytest.raises(ValueError) as err:
        compute.speed_copies_from_segments(stored, config, (0.9, 1.1), name="03-01-05-01-01-01-01")
    msg = str(err.value)
    assert msg == ("03-01-05-01-01-01-01: its x0.9 speed copy failed: 0 samples after resampling, expected at "
                   "least one segment")
