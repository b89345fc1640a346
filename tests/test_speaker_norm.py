"""Speaker normalisation (``data.speaker_norm``): per-speaker statistics, which speaker gets which,
the data module under both protocols, predict, and the paths that cannot honour it (synthetic audio only)."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from datamodules.corpora import UNKNOWN_SPEAKER
from datamodules.datamodule import SERDataModule
from datamodules.features.settings import checkpoint_feature_settings, feature_setting_mismatches
from datamodules.normalize import SpeakerStandardizer, Standardizer, speaker_rows
from sermodels.checkpoint import CheckpointError
from sermodels.cli import cli_main
from sermodels.export import export_bundle
from sermodels.fastpredict import CheckpointPredictor, FastPathUnavailable
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC, tiny_datamodule

_dm = tiny_datamodule


def _two_speakers(seed: int = 0) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Rows of speakers a and b with very different offsets and scales per dimension."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(6, 3, generator=g) * torch.tensor([1.0, 2.0, 0.5]) + torch.tensor([10.0, -5.0, 0.0])
    b = torch.randn(4, 3, generator=g) * torch.tensor([3.0, 0.1, 1.0]) + torch.tensor([-2.0, 7.0, 1.0])
    lld = torch.randn(10, 3, 5, generator=g) + torch.arange(10.0)[:, None, None]
    return {"hsf": torch.cat([a, b]), "lld": lld, "target": torch.arange(10)}, ["a"] * 6 + ["b"] * 4


def test_each_training_speaker_is_standardised_with_its_own_statistics() -> None:
    tensors, speakers = _two_speakers()
    norm = SpeakerStandardizer(["hsf", "lld"]).fit(tensors, speakers)
    out = norm.transform(tensors, speakers)
    for rows in speaker_rows(speakers).values():
        hsf = out["hsf"][rows].double()
        torch.testing.assert_close(hsf.mean(0), torch.zeros(3, dtype=torch.float64), atol=1e-5, rtol=0)
        torch.testing.assert_close(hsf.std(0), torch.ones(3, dtype=torch.float64), atol=1e-5, rtol=0)
        lld = out["lld"][rows].double()
        torch.testing.assert_close(lld.mean((0, 2)), torch.zeros(3, dtype=torch.float64), atol=1e-5, rtol=0)
    assert torch.equal(out["target"], tensors["target"])  # other inputs untouched
    assert set(norm.by_speaker) == {"a", "b"}


def test_seen_speakers_keep_training_statistics_unseen_speakers_use_their_own() -> None:
    train, speakers = _two_speakers()
    norm = SpeakerStandardizer(["hsf"]).fit(train, speakers)
    test = {"hsf": torch.tensor([[11.0, -4.0, 0.2], [9.0, -6.0, -0.3], [100.0, 50.0, 3.0], [104.0, 40.0, 5.0]])}
    out = norm.transform(test, ["a", "a", "c", "c"])
    a = train["hsf"][:6].double()
    expected_a = (test["hsf"][:2].double() - a.mean(0)) / a.std(0)  # a's training statistics, not these two rows'
    torch.testing.assert_close(out["hsf"][:2].double(), expected_a, atol=1e-5, rtol=1e-5)
    c = test["hsf"][2:].double()
    torch.testing.assert_close(out["hsf"][2:].double(), (c - c.mean(0)) / c.std(0), atol=1e-5, rtol=1e-5)
    assert "c" not in norm.by_speaker  # nothing about an unseen speaker is kept


def test_one_name_per_row_is_required() -> None:
    tensors, speakers = _two_speakers()
    with pytest.raises(ValueError, match="one name per row"):
        SpeakerStandardizer(["hsf"]).fit(tensors, speakers[:-1])


def test_speaker_protocol_every_speaker_centred_on_itself(ser_cache: Path) -> None:
    dm = _dm(ser_cache, protocol="speaker", fold=0, speaker_norm=True, normalize=False)
    utterances = dm.corpus.utterances
    for name in ("train", "val", "test"):
        t = dm.datasets[name].tensors
        spk = [utterances[i].speaker for i in t["utt_index"].tolist()]
        for rows in speaker_rows(spk).values():
            assert float(t["hsf"][rows].double().mean(0).abs().max()) < 1e-3, name
            assert float(t["lld"][rows].double().mean((0, 2)).abs().max()) < 1e-3, name
    assert "speaker normalisation" in dm.summary and "unseen speakers with their own (transductive)" in dm.summary


def test_paper_protocol_validation_rows_use_their_speakers_training_statistics(ser_cache: Path) -> None:
    raw = _dm(ser_cache, ratios=[0.6, 0.2, 0.2], normalize=False)
    dm = _dm(ser_cache, ratios=[0.6, 0.2, 0.2], normalize=False, speaker_norm=True)
    utterances = raw.corpus.utterances
    train, val = raw.datasets["train"].tensors, raw.datasets["val"].tensors
    speaker = utterances[int(val["utt_index"][0])].speaker
    tr = torch.tensor([utterances[i].speaker == speaker for i in train["utt_index"].tolist()])
    va = torch.tensor([utterances[i].speaker == speaker for i in val["utt_index"].tolist()])
    stats = Standardizer(["hsf"]).fit({"hsf": train["hsf"][tr]})
    expected = stats.transform({"hsf": val["hsf"][va]})["hsf"]
    torch.testing.assert_close(dm.datasets["val"].tensors["hsf"][va], expected)
    assert "unseen" not in dm.summary  # the random split shares its speakers


def test_a_speaker_with_one_row_is_centred_without_a_degrees_of_freedom_warning() -> None:
    tensors = {"hsf": torch.tensor([[1.0, 2.0], [3.0, 5.0], [7.0, 7.0]])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns on std() of one value
        out = SpeakerStandardizer(["hsf"]).fit(tensors, ["a", "a", "b"]).transform(tensors, ["a", "a", "b"])
    torch.testing.assert_close(out["hsf"][2], torch.zeros(2))  # centred, not scaled
    assert torch.isfinite(out["hsf"]).all()


def test_corpus_without_speaker_ids_is_refused(ser_cache: Path) -> None:
    dm = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(ser_cache), batch_size=8,
                       progress=False, extract_workers=0, speaker_norm=True)
    corpus = dm.corpus
    dm._corpus = dataclasses.replace(corpus, speaker_groups=None, utterances=[
        dataclasses.replace(u, speaker=UNKNOWN_SPEAKER) for u in corpus.utterances])
    dm.prepare_data()
    with pytest.raises(ValueError, match=r"data.speaker_norm: \d+ segments of corpus synthetic have no speaker id"):
        dm.setup("fit")


def test_checkpoints_from_before_the_switch_count_as_without_it() -> None:
    """An older checkpoint records no speaker_norm: a run that turns it on is a mismatch, one that does not is not."""
    old = {"SERDataModule": {"features": {"segment_length": 1.4, "normalize": True}, "inputs": ["lld", "hsf"]}}
    saved = checkpoint_feature_settings(old)
    on = {"segment_length": 1.4, "normalize": True, "speaker_norm": True, "features": None}
    assert feature_setting_mismatches(saved, on, saved["inputs"]) == {"speaker_norm": (False, True)}
    assert feature_setting_mismatches(saved, on | {"speaker_norm": False}, saved["inputs"]) == {}
    hparams_only = checkpoint_feature_settings({"datamodule_hyper_parameters": {"segment_length": 1.4}})
    assert hparams_only["speaker_norm"] is False


def test_waveform_inputs_refuse_speaker_norm_by_name(ser_cache: Path) -> None:
    with pytest.raises(ValueError, match=r"data.speaker_norm: true needs an input standardised per dimension"):
        SERDataModule(corpus="synthetic", inputs=["wave"], cache_dir=str(ser_cache), speaker_norm=True)


@pytest.mark.slow
def test_baseline_fit_test_predict_with_speaker_norm(ser_cache: Path, tmp_path: Path) -> None:
    """The baseline end to end under the speaker protocol; predict standardises its files as one speaker;
    the one-file-at-a-time paths (bundle export, the fast predict path) refuse or step aside."""
    args = [
        *config_args("baseline"), f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={ser_cache}",
        "--data.progress=false", "--data.extract_workers=0", "--data.protocol=speaker", "--data.speaker_norm=true",
        f"--trainer.logger.init_args.save_dir={tmp_path}", "--trainer.enable_progress_bar=false",
    ]
    fit = cli_main(["fit", *args])
    ckpt = tmp_path / "baseline" / "synthetic-speaker-fold0" / "checkpoints" / "last.ckpt"
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert metrics["split"]["protocol"] == "speaker" and metrics["num_utterances"] > 0
    # The same checkpoint without speaker normalisation would be scored on other inputs: refused.
    with pytest.raises(ValueError, match="speaker_norm"):
        cli_main(["test", *[a for a in args if a != "--data.speaker_norm=true"], f"--ckpt_path={ckpt}"])

    rng = np.random.default_rng(3)
    clips = []
    for i in range(3):
        clips.append(tmp_path / f"clip{i}.wav")
        sf.write(clips[-1], (0.1 * rng.standard_normal(int(16000 * 1.5))).astype(np.float32), 16000)
    with pytest.warns(UserWarning, match="the 3 files of this predict call are standardised as one speaker"):
        pred = cli_main(["predict", f"--ckpt_path={ckpt}", f"--data.predict_paths={json.dumps([str(c) for c in clips])}",
                         f"--data.cache_dir={ser_cache}", "--data.extract_workers=0", "--data.progress=false",
                         "--trainer.enable_progress_bar=false", f"--output={tmp_path / 'pred'}"])
    hsf = pred.datamodule.datasets["predict"].tensors["hsf"].double()
    norm = fit.datamodule.normalizer.stats
    centred = hsf * norm["hsf_std"].double() + norm["hsf_mean"].double()  # undo the training standardisation
    assert float(centred.mean(0).abs().max()) < 1e-3  # what is left is centred on these files' own mean

    with pytest.raises(CheckpointError, match="trained with data.speaker_norm"):
        export_bundle(str(ckpt), output=str(tmp_path / "bundle"))
    with pytest.raises(FastPathUnavailable, match="speaker_norm"):
        CheckpointPredictor(ckpt)
