"""Recipe "How to add a feature set", done exactly as written, with a toy extractor (no framework file edited).

1. Subclass ``FeatureExtractor``: ``name``, ``kind`` (``frames`` fills ``lld``, ``vector`` fills
   ``hsf``), ``segment_shape()`` and ``compute(audio)``; options are constructor keywords returned
   by ``options`` (they enter the cache key with ``name`` and ``version``).
2. Register it with ``@register_extractor`` (or name it by import path in YAML).
3. Select it in YAML: ``data.features: {lld: band_energy}`` (with options:
   ``{lld: {name: band_energy, bands: 8}}``). The net's ``lld_dim`` / ``hsf_dim`` are linked from
   the extractor's shape, and the inputs are standardised per dimension with training statistics.
4. Run ``ser fit`` / ``ser test`` as usual: features are cached under their own key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from datamodules.datamodule import SERDataModule
from datamodules.features import FeatureConfig, FeatureExtractor, SegmentedAudio, register_extractor
from sermodels.cli import cli_main
from tests.conftest import TINY_SYNTHETIC


# ---------------------------------------------------------------- steps 1 and 2: the extractor, registered
@register_extractor
class BandEnergy(FeatureExtractor):
    """Log energy of ``bands`` equal-width frequency bands per 25 ms frame (10 ms hop): ``(bands, frames)``."""

    name = "band_energy"
    kind = "frames"  # frame-level: fills the ``lld`` input, like IS10 LLDs

    def __init__(self, config: FeatureConfig, bands: int = 8) -> None:
        super().__init__(config)
        if not isinstance(bands, int) or bands < 1:
            raise ValueError(f"data.features: band_energy bands must be a positive integer, got {bands!r}.")
        self.bands = bands
        self.win, self.hop = 400, 160  # 25 ms / 10 ms at 16 kHz

    @property
    def options(self) -> dict[str, Any]:
        return {"bands": self.bands}

    def segment_shape(self) -> tuple[int, ...]:
        return (self.bands, self.config.segment_samples // self.hop + 1)  # torch.stft(center=True) frames

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        spec = torch.stft(audio.segments, n_fft=self.win, hop_length=self.hop, window=torch.hann_window(self.win),
                          return_complex=True).abs().pow(2)  # (segments, freqs, frames)
        bands = torch.stack([b.sum(dim=1) for b in spec.tensor_split(self.bands, dim=1)], dim=1)
        return torch.log(bands + 1e-8).numpy().astype(np.float32)


def _config(tmp_path: Path, cache: Path) -> Path:
    """A run config: STRL-SER on the toy feature alone (step 3), on the tiny synthetic corpus."""
    config = {
        "seed_everything": 0,
        "trainer": {"max_epochs": 1, "accelerator": "cpu", "devices": 1, "enable_progress_bar": False,
                    "num_sanity_val_steps": 0, "default_root_dir": str(tmp_path / "runs"),
                    "logger": {"class_path": "lightning.pytorch.loggers.CSVLogger",
                               "init_args": {"save_dir": str(tmp_path / "runs"), "name": "toy", "version": "band"}}},
        "model": {"class_path": "sermodels.module.SERModule", "init_args": {
            "net": {"class_path": "sermodels.strl_ser.STRLSER", "init_args": {
                "use_hsf": False, "branch_channels": 4, "cnn_channels": [8, 8, 8], "lstm_hidden": 8,
                "fusion_tokens": "branches", "fusion_dim": 8, "num_heads": 2}}}},
        "data": {"corpus": "synthetic", "corpus_options": TINY_SYNTHETIC, "cache_dir": str(cache),
                 "inputs": ["lld"], "features": {"lld": {"name": "band_energy", "bands": 8}},
                 "batch_size": 8, "progress": False, "extract_workers": 0},
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# ---------------------------------------------------------------- steps 3 and 4: select it, fit and test
def test_recipe_add_a_feature_set(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    config = _config(tmp_path, cache)
    cli = cli_main(["fit", f"--config={config}"])
    dm, net = cli.datamodule, cli.model.net
    assert dm.input_shapes == {"lld": (8, 141)}  # 1.4 s segments: 22400 // 160 + 1 frames
    assert (net.lld_dim, dm.lld_dim) == (8, 8)  # linked from the extractor, typed nowhere
    batch = next(iter(dm.train_dataloader()))
    assert batch["lld"].shape[1:] == (8, 141) and "hsf" not in batch
    train = dm.datasets["train"].tensors["lld"]
    assert float(train.mean(dim=(0, 2)).abs().max()) < 1e-3  # standardised with training statistics
    assert sorted(p.name for p in cache.glob("features-*"))  # cached under the toy's own key
    metrics = cli.trainer.test(cli.model, datamodule=dm)[0]
    assert 0.0 <= metrics["test/ua"] <= 1.0
    # the checkpoint records the toy selection: evaluating it with other features is refused
    ckpt = next((tmp_path / "runs").rglob("*.ckpt"))  # the default ModelCheckpoint's
    state = torch.load(ckpt, weights_only=True)["SERDataModule"]
    assert state["features"]["features"] == {"lld": {"name": "band_energy", "bands": 8}}
    other = SERDataModule(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(cache), inputs=["lld"],
                          features={"lld": {"name": "band_energy", "bands": 4}})
    with pytest.raises(ValueError, match="other feature settings .*data.features"):
        other.load_state_dict(state)


def test_toy_options_enter_the_cache_key_and_are_checked() -> None:
    eight = FeatureConfig(features={"lld": {"name": "band_energy", "bands": 8}})
    four = FeatureConfig(features={"lld": {"name": "band_energy", "bands": 4}})
    assert eight.key() != four.key() != FeatureConfig(hsf=False).key()
    assert four.extractors["lld"].segment_shape() == (4, 141)
    with pytest.raises(ValueError, match="band_energy takes the options"):
        FeatureConfig(features={"lld": {"name": "band_energy", "octaves": 3}})
    with pytest.raises(ValueError, match="bands must be a positive integer"):
        FeatureConfig(features={"lld": {"name": "band_energy", "bands": 0}})


def test_an_extractor_can_be_named_by_import_path(tmp_path: Path) -> None:
    config = FeatureConfig(features={"lld": f"{__name__}.BandEnergy"})
    assert isinstance(config.extractors["lld"], BandEnergy)
    with pytest.raises(ValueError, match="cannot import feature extractor"):
        FeatureConfig(features={"lld": "nowhere.Missing"})
    with pytest.raises(ValueError, match="not a FeatureExtractor"):
        FeatureConfig(features={"lld": "json.dumps"})
    assert json.dumps(config.features)  # plain data: goes into checkpoints and packs as it is
