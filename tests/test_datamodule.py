"""SERDataModule: shapes, leakage (utterances and speakers), train-only normalisation, predict."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from datamodules.audio import load_audio
from datamodules.datamodule import SERDataModule
from datamodules.features import FeatureConfig
from datamodules.segments import segment_bounds
from tests.conftest import TINY_SYNTHETIC


def _dm(cache: Path, **kwargs) -> SERDataModule:  # noqa: ANN003
    base = dict(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(cache), batch_size=8, progress=False, extract_workers=0)
    return SERDataModule(**(base | kwargs))


def _ready(dm: SERDataModule) -> SERDataModule:
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_batch_shapes_and_sizes(ser_cache: Path) -> None:
    dm = _ready(_dm(ser_cache))
    assert (dm.num_classes, dm.lld_dim, dm.hsf_dim, dm.num_frames) == (4, 76, 1582, 40)
    batch = next(iter(dm.train_dataloader()))
    assert batch["lld"].shape[1:] == (76, 40) and batch["hsf"].shape[1:] == (1582,)
    assert batch["target"].dtype == torch.int64 and batch["utt_index"].dtype == torch.int64
    assert torch.isfinite(batch["lld"]).all() and torch.isfinite(batch["hsf"]).all()


@pytest.mark.parametrize("protocol", ["paper", "speaker"])
def test_no_utterance_segments_cross_splits(ser_cache: Path, protocol: str) -> None:
    dm = _ready(_dm(ser_cache, protocol=protocol, ratios=[0.6, 0.2, 0.2]))
    utts = {k: set(ds.tensors["utt_index"].tolist()) for k, ds in dm.datasets.items()}
    assert not utts["train"] & utts["val"] and not utts["train"] & utts["test"] and not utts["val"] & utts["test"]
    # every segment of an utterance is in the same split: its count there is the utterance's segment
    # count, computed from its audio length independently of the data module
    fc = dm.feature_config
    for ds in dm.datasets.values():
        idx = ds.tensors["utt_index"]
        for u in torch.unique(idx).tolist():
            samples = load_audio(dm.corpus.utterances[u].path, fc.sample_rate).shape[-1]
            bounds = segment_bounds(samples, fc.segment_samples, min_last_segment=fc.min_last_segment, mode=fc.segment_mode)
            assert int((idx == u).sum()) == len(bounds) > 0
    total = sum(len(ds) for ds in dm.datasets.values())
    assert total == len(torch.unique(torch.cat([ds.tensors["segment_index"] for ds in dm.datasets.values()])))


@pytest.mark.parametrize("fold", [0, 1, 2])
def test_speaker_protocol_never_shares_speakers(ser_cache: Path, fold: int) -> None:
    dm = _ready(_dm(ser_cache, protocol="speaker", fold=fold))
    spk = {
        k: {dm.corpus.utterances[i].speaker for i in ds.tensors["utt_index"].tolist()} for k, ds in dm.datasets.items()
    }
    assert spk["train"] and spk["val"] and spk["test"]
    assert not spk["train"] & spk["test"] and not spk["train"] & spk["val"] and not spk["val"] & spk["test"]


def test_normalisation_uses_training_split_only(ser_cache: Path) -> None:
    raw = _ready(_dm(ser_cache, normalize=False))
    norm = _ready(_dm(ser_cache))
    train_raw = raw.datasets["train"].tensors
    torch.testing.assert_close(norm.normalizer.stats["hsf_mean"], train_raw["hsf"].double().mean(0).float(), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(norm.normalizer.stats["lld_mean"], train_raw["lld"].double().mean((0, 2)).float(), rtol=1e-4, atol=1e-4)
    all_hsf = torch.cat([ds.tensors["hsf"] for ds in raw.datasets.values()])
    assert not torch.allclose(norm.normalizer.stats["hsf_mean"], all_hsf.double().mean(0).float(), atol=1e-3)
    train = norm.datasets["train"].tensors
    assert float(train["hsf"].mean(0).abs().max()) < 1e-3
    assert float(train["lld"].mean((0, 2)).abs().max()) < 1e-3


def test_paper_two_ratios_test_is_validation(ser_cache: Path) -> None:
    dm = _ready(_dm(ser_cache, ratios=[0.8, 0.2]))
    assert dm.datasets["test"] is dm.datasets["val"]


def test_wave_inputs_and_crop_mode(ser_cache: Path) -> None:
    dm = _ready(_dm(ser_cache, inputs=["wave"], segment_mode="crop", segment_length=1.0))
    ds = dm.datasets["train"]
    assert ds.tensors["wave"].shape[1] == 16000
    assert len(ds) == ds.num_utterances()  # one window per utterance
    assert "lld" not in ds.tensors and "hsf" not in ds.tensors


def test_two_second_segments(ser_cache: Path) -> None:
    dm = _ready(_dm(ser_cache, segment_length=2.0, inputs=["lld"]))
    assert dm.num_frames == 59 and dm.datasets["train"].tensors["lld"].shape[1:] == (76, 59)


def test_state_dict_round_trip_and_predict(ser_cache: Path, tmp_path: Path) -> None:
    dm = _ready(_dm(ser_cache))
    state = dm.state_dict()
    clip = tmp_path / "new.wav"
    t = np.arange(int(2.5 * 44100)) / 44100
    sf.write(clip, np.stack([0.3 * np.sin(2 * np.pi * 180 * t)] * 2, axis=1), 44100)  # stereo 44.1 kHz
    fresh = _dm(ser_cache, predict_paths=[str(clip), str(tmp_path)])
    fresh.setup("predict")
    fresh.load_state_dict(state)
    batch = next(iter(fresh.predict_dataloader()))
    assert batch["lld"].shape[1:] == (76, 40)
    assert fresh.predict_files == [clip, clip]
    torch.testing.assert_close(fresh.normalizer.stats["hsf_mean"], dm.normalizer.stats["hsf_mean"])


def test_bad_arguments_are_named(ser_cache: Path) -> None:
    with pytest.raises(ValueError, match="data.inputs"):
        _dm(ser_cache, inputs=["mfcc"])
    with pytest.raises(ValueError, match="segment_length"):
        _dm(ser_cache, segment_length=0)
    with pytest.raises(ValueError, match="data.root"):
        SERDataModule(corpus="emodb").corpus  # noqa: B018
    with pytest.raises(ValueError, match="predict_paths"):
        _dm(ser_cache, predict_paths=["/nonexistent/clip.wav"]).setup("predict")


def test_a_hop_longer_than_the_segment_warns_that_audio_is_skipped(ser_cache: Path) -> None:
    """A recipe's fixed hop (configs/recipes/sta_cnn.yaml: 1.0 s) composed with a shorter swept segment would leave
    gaps between segments: warned, naming both options and the fix; a hop up to the segment length is silent."""
    with pytest.warns(UserWarning, match=r"data.segment_hop=1 s is longer than data.segment_length=0.5 s.*0.5 s"):
        _dm(ser_cache, segment_length=0.5, segment_hop=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _dm(ser_cache, segment_length=1.0, segment_hop=1.0)
        _dm(ser_cache, segment_length=0.5, segment_hop=1.0, segment_mode="crop")  # one window: no hop
    # the one rule the warning and the pack's rebuild check share (FeatureConfig.gap_samples), in samples at 16 kHz
    assert FeatureConfig(segment_length=0.5, segment_hop=1.0).gap_samples == 8000
    assert FeatureConfig(segment_length=2.0, segment_hop=1.0).gap_samples == 0 == FeatureConfig().gap_samples
    assert FeatureConfig(segment_length=0.5, segment_hop=1.0, segment_mode="crop").gap_samples == 0


def test_feature_config_frames() -> None:
    assert FeatureConfig(segment_length=1.4).num_frames == 40


def _write_split(dm: SERDataModule, path: Path, **parts: list[str]) -> Path:
    from datamodules.splits import Split

    split = Split(protocol=parts.pop("protocol", "speaker"), **{k: tuple(sorted(v)) for k, v in parts.items()})
    return split.write(path)


def test_split_file_sharing_speakers_is_refused(ser_cache: Path, tmp_path: Path) -> None:
    dm = _dm(ser_cache)
    utts = dm.corpus.utterances
    spk0 = [u.utt_id for u in utts if u.speaker == utts[0].speaker]
    rest = [u.utt_id for u in utts if u.speaker != utts[0].speaker]
    # speaker 0's utterances in train and test: a speaker-independent split that is not one
    path = _write_split(dm, tmp_path / "bad.json", train=spk0[:-1] + rest[:-4], val=rest[-4:], test=spk0[-1:])
    with pytest.raises(ValueError, match="shares speaker"):
        _ready(_dm(ser_cache, split_file=str(path)))


def test_leaky_resplit_needs_one_ratio_per_part(ser_cache: Path, tmp_path: Path) -> None:
    """A split file with its own test part, re-split by segment with the two default ratios: refused by name."""
    ids = sorted(u.utt_id for u in _dm(ser_cache).corpus.utterances)
    path = _write_split(_dm(ser_cache), tmp_path / "three.json", protocol="paper", train=ids[:14], val=ids[14:19], test=ids[19:])
    with pytest.raises(ValueError, match=r"split_unit=segment .* data.ratios \[0.8, 0.2\].* 3 parts \(train, val, test\)"):
        _ready(_dm(ser_cache, split_file=str(path), split_unit="segment"))


def test_bad_split_is_refused_before_any_extraction(ser_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.datamodule as datamodule

    ids = sorted(u.utt_id for u in _dm(ser_cache).corpus.utterances)
    path = _write_split(_dm(ser_cache), tmp_path / "o.json", protocol="paper", train=ids[:20], val=ids[20:], test=ids[:1])

    def no_extraction(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("features were extracted for a split that is refused")

    monkeypatch.setattr(datamodule, "extract_all", no_extraction)
    with pytest.raises(ValueError, match="share 1 utterance"):
        _dm(ser_cache, split_file=str(path)).prepare_data()


def test_split_file_with_overlap_or_empty_test_is_refused(ser_cache: Path, tmp_path: Path) -> None:
    ids = sorted(u.utt_id for u in _dm(ser_cache).corpus.utterances)
    overlap = _write_split(_dm(ser_cache), tmp_path / "o.json", protocol="paper", train=ids[:20], val=ids[20:], test=ids[:2])
    with pytest.raises(ValueError, match="share 2 utterance"):
        _ready(_dm(ser_cache, split_file=str(overlap)))
    empty = _write_split(_dm(ser_cache), tmp_path / "e.json", protocol="paper", train=ids[:20], val=ids[20:], test=[])
    with pytest.raises(ValueError, match="empty test"):
        _ready(_dm(ser_cache, split_file=str(empty)))


def test_checkpoint_state_refuses_scoring_its_training_utterances(ser_cache: Path) -> None:
    state = _ready(_dm(ser_cache, seed=0)).state_dict()
    assert state["split"]["info"]["protocol"] == "paper" and state["split"]["info"]["test_is_val"]
    same = _ready(_dm(ser_cache, seed=0))
    same.load_state_dict(state)  # same split: fine
    other = _ready(_dm(ser_cache, seed=1))  # another seed: its validation set holds training utterances
    with pytest.raises(ValueError, match="was trained on"):
        other.load_state_dict(state)
    fresh = _dm(ser_cache, seed=1)  # state restored before setup(): the check runs in setup()
    fresh.load_state_dict(state)
    with pytest.raises(ValueError, match="was trained on"):
        _ready(fresh)
    # another corpus folder (cross-corpus evaluation) with look-alike ids is not a leak
    elsewhere = state | {"split": state["split"] | {"corpus": "synthetic:/another/corpus/folder"}}
    _ready(_dm(ser_cache, seed=1)).load_state_dict(elsewhere)


def test_corpus_name_and_download_are_checked_against_the_registry(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"data.corpus: Unknown corpus name 'ravdes'; expected one of \('ravdess', .*'synthetic'\)"):
        SERDataModule(corpus="ravdes")
    with pytest.raises(ValueError, match=r"data.corpus: Corpus 'nowhere_pkg.toy:toy': cannot import module 'nowhere_pkg.toy'"):
        SERDataModule(corpus="nowhere_pkg.toy:toy")
    with pytest.raises(ValueError, match=r"data.download: corpus 'emodb' cannot be downloaded"):
        SERDataModule(corpus="emodb", root=str(tmp_path), download=True)
    # class names come from the registry (or the loader's classes option) without a scan
    assert SERDataModule(corpus="iemocap", root=str(tmp_path / "nothing")).class_names == ["neutral", "happy", "angry", "sad"]
    csv = SERDataModule(corpus="csv", root=str(tmp_path / "missing.csv"), corpus_options={"classes": ["b", "a"]})
    assert csv.class_names == ["b", "a"] and csv._corpus is None
    with pytest.raises(ValueError, match=r"data.root: corpus 'csv' needs the file listing it; pass --data.root /path/to/corpus.csv"):
        SERDataModule(corpus="csv").class_names  # noqa: B018
