"""Feature extractors through the interface: selection from YAML, eGeMAPS, the frozen encoder,
standardisation and the cache's get-or-compute (synthetic audio; nothing downloaded)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torchaudio

from datamodules.audio import load_audio
from datamodules.cache import FeatureCache
from datamodules.datamodule import SERDataModule
from datamodules.extract import extract_all
from datamodules.features import (
    FeatureConfig,
    compute_features,
    extractor_names,
    feature_config_from_hparams,
    feature_sets,
    net_dims,
    resolve_features,
)
from datamodules.features.encoder import FrozenEncoder
from datamodules.normalize import Standardizer
from datamodules.segments import cut_segments
from sermodels.cli import cli_main
from tests.conftest import TINY_SYNTHETIC

#: A wav2vec2 small enough to build in milliseconds: 3 convolutions (stride 20), 16 dims, 3 layers.
TINY_WAV2VEC2 = {
    "extractor_mode": "group_norm", "extractor_conv_layer_config": [[8, 10, 5], [8, 3, 2], [8, 2, 2]],
    "extractor_conv_bias": False, "encoder_embed_dim": 16, "encoder_projection_dropout": 0.0,
    "encoder_pos_conv_kernel": 8, "encoder_pos_conv_groups": 2, "encoder_num_layers": 3, "encoder_num_heads": 2,
    "encoder_attention_dropout": 0.0, "encoder_ff_interm_features": 32, "encoder_ff_interm_dropout": 0.0,
    "encoder_dropout": 0.0, "encoder_layer_norm_first": False, "encoder_layer_drop": 0.0, "aux_num_out": None,
}


def _wav(path: Path, seconds: float, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    t = np.arange(int(16000 * seconds)) / 16000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 150 * t) + 0.02 * rng.standard_normal(len(t))).astype(np.float32), 16000)
    return path


def _weights(path: Path, seed: int) -> Path:
    torch.manual_seed(seed)
    torch.save(torchaudio.models.wav2vec2_model(**TINY_WAV2VEC2).state_dict(), path)
    return path


def _encoder(weights: Path, layer: int | None = 2, **config) -> FeatureConfig:  # noqa: ANN003
    spec = {"name": "frozen_encoder", "weights": str(weights), "architecture": TINY_WAV2VEC2}
    return FeatureConfig(features={"lld": spec | ({"layer": layer} if layer is not None else {})}, **config)


# ---------------------------------------------------------------- selection from YAML
def test_features_setting_resolves_per_input() -> None:
    assert {"is10_lld", "is10_functionals", "waveform", "egemaps_lld", "egemaps_functionals", "frozen_encoder"} <= set(
        extractor_names())
    assert feature_sets()["egemaps"] == {"lld": "egemaps_lld", "hsf": "egemaps_functionals"}
    assert resolve_features(None, ["lld", "hsf"]) == {"lld": {"name": "is10_lld"}, "hsf": {"name": "is10_functionals"}}
    assert resolve_features("egemaps", ["lld", "wave"]) == {"lld": {"name": "egemaps_lld"}, "wave": {"name": "waveform"}}
    assert resolve_features({"hsf": "egemaps_functionals", "wave": "waveform"}, ["lld", "hsf"]) == {
        "lld": {"name": "is10_lld"}, "hsf": {"name": "egemaps_functionals"}}
    with pytest.raises(ValueError, match="unknown feature set 'gemaps'.*egemaps"):
        resolve_features("gemaps", ["lld"])
    with pytest.raises(ValueError, match=r"data.features.hsf: unknown feature extractor 'mfcc'"):
        resolve_features({"hsf": "mfcc"}, ["hsf"])
    with pytest.raises(ValueError, match="nothing fills input 'energy'"):
        resolve_features(None, ["energy"])
    with pytest.raises(ValueError, match="is10_functionals computes vector .* put it under 'hsf'"):
        FeatureConfig(features={"lld": "is10_functionals"})


def test_old_hparams_and_packs_keep_their_config_and_cache_key() -> None:
    config, inputs = feature_config_from_hparams({"inputs": ["lld", "hsf"], "segment_length": 2.0})
    old_style = FeatureConfig(segment_length=2.0)  # built from the lld/hsf/wave switches, as packs store it
    assert inputs == ["lld", "hsf"] and config == old_style and config.key() == old_style.key()
    assert FeatureConfig(**json.loads(json.dumps({"lld": True, "hsf": False, "wave": True}))).features == {
        "lld": {"name": "is10_lld"}, "wave": {"name": "waveform"}}
    # the key of today's default IS10 selection is the one caches were written under before extractors
    assert FeatureConfig().key() == "fc1ace4f90f2bac6"


# ---------------------------------------------------------------- eGeMAPS
def test_egemaps_shapes_and_cache_key(tmp_path: Path) -> None:
    path = _wav(tmp_path / "u.wav", 3.0)
    config = FeatureConfig(features={"lld": "egemaps_lld", "hsf": "egemaps_functionals"})
    shapes = {k: e.segment_shape() for k, e in config.extractors.items()}
    assert shapes == {"lld": (25, 136), "hsf": (88,)}
    f = compute_features(path, config)
    assert f["lld"].shape == (2, 25, 136) and f["hsf"].shape == (2, 88)
    assert np.isfinite(f["lld"]).all() and np.isfinite(f["hsf"]).all()
    assert config.key() != FeatureConfig().key()
    assert FeatureConfig(features={"hsf": "egemaps_functionals"}).key() != FeatureConfig(lld=False).key()
    utterance = compute_features(path, FeatureConfig(features={"hsf": "egemaps_functionals"}, hsf_scope="utterance"))
    assert utterance["hsf"].shape == (1, 88)
    assert net_dims({"features": "egemaps", "segment_length": 2.0}) == {"lld_dim": 25, "num_frames": 196, "hsf_dim": 88}


def test_egemaps_from_yaml_trains(tmp_path: Path) -> None:
    args = [
        "fit", "--model=sermodels.module.SERModule", "--model.init_args.net=sermodels.strl_ser.STRLSER",
        "--model.init_args.net.init_args.branch_channels=4", "--model.init_args.net.init_args.cnn_channels=[8, 8, 8]",
        "--model.init_args.net.init_args.lstm_hidden=8", "--model.init_args.net.init_args.fusion_tokens=branches",
        "--model.init_args.net.init_args.fusion_dim=8", "--model.init_args.net.init_args.num_heads=2",
        "--data.features=egemaps", "--data.inputs=[lld, hsf]", "--data.hsf_scope=utterance",
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}", f"--data.cache_dir={tmp_path / 'cache'}",
        "--data.batch_size=8", "--data.progress=false", "--data.extract_workers=0", "--trainer.max_epochs=1",
        "--trainer.accelerator=cpu", "--trainer.enable_progress_bar=false", "--trainer.num_sanity_val_steps=0",
        f"--trainer.default_root_dir={tmp_path}", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
    ]
    cli = cli_main(args)
    assert cli.trainer.state.finished
    assert (cli.model.net.lld_dim, cli.model.net.hsf_dim) == (25, 88)  # linked, typed nowhere
    batch = next(iter(cli.datamodule.train_dataloader()))
    assert batch["lld"].shape[1:] == (25, 136) and batch["hsf"].shape[1:] == (88,)
    assert cli.datamodule.state_dict()["features"]["features"] == {
        "lld": {"name": "egemaps_lld"}, "hsf": {"name": "egemaps_functionals"}}


# ---------------------------------------------------------------- the frozen encoder
def test_frozen_encoder_shapes_layers_and_frozen(tmp_path: Path) -> None:
    weights = _weights(tmp_path / "tiny.pt", seed=0)
    path = _wav(tmp_path / "u.wav", 3.0)
    config = _encoder(weights, layer=2)
    extractor = config.extractors["lld"]
    assert isinstance(extractor, FrozenEncoder) and extractor.runs == "batched" and not config.runs_in_workers
    assert extractor.segment_shape() == (16, 1119)  # 22400 samples -> 4479 -> 2239 -> 1119 frames
    f = compute_features(path, config)
    assert f["lld"].shape == (2, 16, 1119) and f["lld"].dtype == np.float32
    model = extractor.model()
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    # layer 2 is the second transformer layer's output of the weights in the file
    reference = torchaudio.models.wav2vec2_model(**TINY_WAV2VEC2)
    reference.load_state_dict(torch.load(weights, weights_only=True))
    segments = cut_segments(load_audio(path, 16000), [(int(a), int(b)) for a, b in f["bounds"]])
    with torch.no_grad():
        hidden, _ = reference.eval().extract_features(segments)
    np.testing.assert_allclose(f["lld"], hidden[1].transpose(1, 2).numpy(), rtol=1e-4, atol=1e-5)
    layer1 = compute_features(path, _encoder(weights, layer=1))["lld"]
    assert not np.allclose(layer1, f["lld"])
    assert compute_features(path, _encoder(weights, layer=None))["lld"].shape == (2, 16, 1119)  # default: last layer
    np.testing.assert_array_equal(compute_features(path, config)["lld"], f["lld"])  # eval mode: deterministic
    assert torch.equal(next(model.parameters()), next(extractor.model().parameters()))  # never trained


def test_frozen_encoder_cache_key_follows_weights_and_layer(tmp_path: Path) -> None:
    first, second = _weights(tmp_path / "a.pt", seed=0), _weights(tmp_path / "b.pt", seed=1)
    key = _encoder(first).key()
    assert _encoder(first).key() == key
    assert _encoder(second).key() != key  # other weights
    assert _encoder(first, layer=3).key() != key  # another layer
    copy = tmp_path / "copy.pt"
    copy.write_bytes(first.read_bytes())
    assert _encoder(copy).key() == key  # the content counts, not the path
    with pytest.raises(ValueError, match="layer must be 1 .. 3"):
        _encoder(first, layer=4)
    with pytest.raises(ValueError, match="architecture 'wav2vec3' is not one of"):
        FeatureConfig(features={"lld": {"name": "frozen_encoder", "weights": str(first), "architecture": "wav2vec3"}})
    from datamodules.features import FeatureError

    with pytest.raises(FeatureError, match="weights .*missing.pt not found"):
        _encoder(tmp_path / "missing.pt").key()


def test_frozen_encoder_through_the_data_module(tmp_path: Path) -> None:
    weights = _weights(tmp_path / "tiny.pt", seed=0)
    spec = {"name": "frozen_encoder", "weights": str(weights), "architecture": TINY_WAV2VEC2, "layer": 3}
    dm = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(tmp_path / "cache"),
                       inputs=["lld"], features={"lld": spec}, batch_size=8, progress=False, extract_workers=2)
    dm.prepare_data()  # in this process (batched), although two workers are allowed
    dm.setup("fit")
    assert dm.input_shapes == {"lld": (16, 1119)} and dm.lld_dim == 16
    train = dm.datasets["train"].tensors["lld"]
    assert train.shape[1:] == (16, 1119) and float(train.mean(dim=(0, 2)).abs().max()) < 1e-3
    assert dm.state_dict()["features"]["features"]["lld"]["layer"] == 3


# ---------------------------------------------------------------- standardisation and the cache
def test_standardizer_fits_transforms_and_restores() -> None:
    rng = torch.Generator().manual_seed(0)
    train = {"lld": torch.randn(20, 3, 7, generator=rng) * 5 + 2, "hsf": torch.randn(20, 4, generator=rng),
             "wave": torch.randn(20, 9, generator=rng), "target": torch.zeros(20, dtype=torch.long)}
    train["hsf"][:, 0] = 1.0  # a constant dimension: left unscaled, never divided by 0
    norm = Standardizer(["lld", "hsf"]).fit(train)
    out = norm.transform(train)
    assert float(out["lld"].mean(dim=(0, 2)).abs().max()) < 1e-5 and torch.allclose(out["lld"].std(dim=(0, 2)), torch.ones(3))
    assert torch.equal(out["wave"], train["wave"]) and torch.equal(out["target"], train["target"])
    assert torch.equal(out["hsf"][:, 0], torch.zeros(20))
    assert sorted(norm.state_dict()) == ["hsf_mean", "hsf_std", "lld_mean", "lld_std"]  # checkpoints' `norm`
    restored = Standardizer()
    restored.load_state_dict(norm.state_dict())
    assert torch.equal(restored.transform(train)["lld"], out["lld"])


def test_get_or_compute_asks_the_cache_once_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datamodules.cache as cache_module

    paths = [_wav(tmp_path / f"u{i}.wav", 1.5, seed=i) for i in range(3)]
    calls: list[str] = []
    real = cache_module.compute_features
    monkeypatch.setattr(cache_module, "compute_features", lambda p, c: calls.append(str(p)) or real(p, c))
    cache = FeatureCache(tmp_path / "cache", FeatureConfig(hsf=False))
    first, computed = cache.get_or_compute(paths[0])
    again, computed_again = cache.get_or_compute(paths[0])
    assert (computed, computed_again) == (True, False) and np.array_equal(first["lld"], again["lld"])
    feats, stats = extract_all(paths, cache, num_workers=0, progress=False)
    assert calls == [str(p) for p in paths] and stats["computed"] == 2 and stats["cached"] == 1
    assert all(f is not None and f["lld"].shape[1:] == (76, 40) for f in feats)
