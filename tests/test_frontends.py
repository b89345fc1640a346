"""Tests for the spectral front end against torchaudio, direct counts and librosa's values."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import torch
import torchaudio

from sermodels.frontends import ALL_BLOCKS, SpectralFrontEnd, chroma_filterbank

SR = 16000


def _waves(batch: int = 2, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / SR
    tone = torch.sin(2 * math.pi * 220 * t) * torch.linspace(0.05, 0.5, batch)[:, None]
    return tone + 0.05 * torch.randn(batch, samples, generator=gen)


def _tone(freq: float, seconds: float = 0.5) -> torch.Tensor:
    t = torch.arange(int(SR * seconds)) / SR
    return (0.5 * torch.sin(2 * math.pi * freq * t))[None]


@pytest.mark.parametrize("samples", [8000, 8159, 24000], ids=lambda s: f"S{s}")
@pytest.mark.parametrize(
    "blocks",
    [ALL_BLOCKS, ("logmel",), ("zcr",), ("mfcc", "chroma"), ("chroma", "zcr", "logmel")],
    ids=lambda b: "+".join(b),
)
def test_shapes_concat(blocks: tuple[Any, ...], samples: int) -> None:
    fe = SpectralFrontEnd(blocks=blocks)
    sizes = {"logmel": 64, "zcr": 1, "mfcc": 40, "chroma": 12}
    out = fe(_waves(samples=samples))
    assert fe.out_features == sum(sizes[b] for b in blocks)
    assert out.shape == (2, fe.out_features, 1 + samples // 160)
    assert fe.num_frames(samples) == out.shape[-1]
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_default_has_117_features() -> None:
    assert SpectralFrontEnd().out_features == 64 + 1 + 40 + 12


def test_blocks_are_stacked_in_the_given_order() -> None:
    wave = _waves()
    full = SpectralFrontEnd()(wave)
    swapped = SpectralFrontEnd(blocks=("chroma", "logmel"))(wave)
    torch.testing.assert_close(swapped[:, :12], full[:, 105:117])
    torch.testing.assert_close(swapped[:, 12:], full[:, :64])


@pytest.mark.parametrize("blocks", [ALL_BLOCKS, ("zcr",)], ids=["all", "zcr"])
def test_sum_fusion(blocks: tuple[Any, ...]) -> None:
    fe = SpectralFrontEnd(blocks=blocks, fusion="sum", fusion_dim=24)
    wave = _waves()
    out = fe(wave)
    assert fe.out_features == 24
    assert out.shape == (2, 24, 51)
    # The literal x_s + x_c + x_m + x_z after each block's own projection.
    raw = fe.raw_features(wave)
    assert fe.projections is not None
    parts = torch.split(raw, list(fe.block_sizes.values()), dim=1)
    expected = sum(p(x.transpose(1, 2)) for p, x in zip(fe.projections, parts))
    assert isinstance(expected, torch.Tensor)
    torch.testing.assert_close(out, expected.transpose(1, 2))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in fe.parameters())


def test_concat_has_no_parameters() -> None:
    assert sum(p.numel() for p in SpectralFrontEnd().parameters()) == 0


def test_logmel_matches_torchaudio() -> None:
    wave = _waves()
    fe = SpectralFrontEnd(blocks=("logmel",))
    ref = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=512, win_length=400, hop_length=160, n_mels=64)(
        wave
    )
    torch.testing.assert_close(fe(wave), torch.log(ref + 1e-6), rtol=1e-4, atol=1e-4)


def test_mfcc_matches_torchaudio_per_utterance() -> None:
    wave = _waves(batch=3)
    fe = SpectralFrontEnd(blocks=("mfcc",))
    ref = torchaudio.transforms.MFCC(
        sample_rate=SR,
        n_mfcc=40,
        melkwargs={"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 64},
    )
    out = fe(wave)
    assert out.shape == (3, 40, 51)
    for i in range(3):  # one utterance at a time: torchaudio floors a 2-D batch at its joint max
        torch.testing.assert_close(out[i], ref(wave[i]), rtol=1e-4, atol=1e-3)


def test_features_do_not_depend_on_batch_mates() -> None:
    wave = _waves(batch=3)
    fe = SpectralFrontEnd()
    torch.testing.assert_close(fe(wave)[1:2], fe(wave[1:2]), rtol=1e-5, atol=1e-5)


def _direct_zcr(wave: np.ndarray, n_fft: int = 512, win: int = 400, hop: int = 160) -> np.ndarray:
    pad = n_fft // 2
    padded = np.pad(wave, pad, mode="reflect")
    start = (n_fft - win) // 2
    rates = []
    for frame in range(1 + len(wave) // hop):
        seg = padded[frame * hop + start : frame * hop + start + win]
        count = sum(1 for a, b in zip(seg[:-1], seg[1:]) if (a < 0) != (b < 0))
        rates.append(count / win)
    return np.array(rates)


def test_zcr_matches_direct_count() -> None:
    wave = _waves(batch=2, samples=4000)
    wave[0, ::13] = 0.0  # zeros count as positive
    fe = SpectralFrontEnd(blocks=("zcr",))
    out = fe(wave)
    for i in range(2):
        expected = _direct_zcr(wave[i].numpy().astype(np.float64))
        np.testing.assert_allclose(out[i, 0].numpy(), expected, atol=1e-6)


def test_zcr_of_a_pure_tone() -> None:
    # A 1 kHz sine crosses zero 2000 times a second: 2000 / 16000 per sample pair.
    out = SpectralFrontEnd(blocks=("zcr",))(_tone(1000.0 + 1e-3))
    torch.testing.assert_close(out[0, 0, 3:-3], torch.full_like(out[0, 0, 3:-3], 0.125), atol=3e-3, rtol=0)


# librosa 0.11.0: librosa.filters.chroma(sr=16000, n_fft=512, n_chroma=12)
_LIBROSA_ROW_SUMS = [
    14.800678, 14.932598, 15.36711, 15.858533, 16.300716, 16.93498,
    17.423155, 17.749805, 18.300396, 18.719559, 19.116415, 17.831186,
]  # fmt: skip
_LIBROSA_COLUMN_40 = [
    5.7838361e-09, 1.7281814e-04, 9.4576828e-02, 9.4798672e-01, 1.7403708e-01, 5.8519887e-04,
    3.6040198e-08, 4.0653035e-14, 8.3988690e-22, 3.1781234e-31, 3.9804804e-23, 3.5453955e-15,
]  # fmt: skip


def test_chroma_filterbank_matches_librosa() -> None:
    fb = chroma_filterbank(SR, 512, 12)
    assert fb.shape == (12, 257)
    torch.testing.assert_close(fb.sum(1), torch.tensor(_LIBROSA_ROW_SUMS), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fb[:, 40], torch.tensor(_LIBROSA_COLUMN_40), rtol=1e-4, atol=1e-8)


@pytest.mark.parametrize(
    ("freq", "pitch_class"),
    [(440.0, 9), (880.0, 9), (329.63, 4), (1046.5, 0), (783.99, 7)],
    ids=["A4", "A5", "E4", "C6", "G5"],
)
def test_chroma_pure_tone_peaks_at_its_pitch_class(freq: float, pitch_class: int) -> None:
    chroma = SpectralFrontEnd(blocks=("chroma",))(_tone(freq))
    profile = chroma[0, :, 2:-2].mean(-1)
    assert profile.argmax().item() == pitch_class
    assert chroma.max() <= 1.0 + 1e-6  # each frame is divided by its peak


def test_fit_normalization_standardizes_training_data() -> None:
    fe = SpectralFrontEnd()
    assert not bool(fe.fitted)
    batches = [_waves(2, 8000, seed=1), _waves(3, 12000, seed=2), _waves(1, 9000, seed=3)[0]]
    fe.fit_normalization(iter(batches))
    assert bool(fe.fitted)
    frames = torch.cat([fe(b if b.dim() == 2 else b[None]).transpose(1, 2).reshape(-1, 117) for b in batches])
    torch.testing.assert_close(frames.mean(0), torch.zeros(117), atol=1e-3, rtol=0)
    torch.testing.assert_close(frames.std(0, unbiased=False), torch.ones(117), atol=1e-3, rtol=0)


def test_forward_is_raw_until_fitted_and_when_not_standardizing() -> None:
    wave = _waves()
    fe = SpectralFrontEnd()
    torch.testing.assert_close(fe(wave), fe.raw_features(wave))
    off = SpectralFrontEnd(standardize=False)
    off.fit_normalization([wave])
    torch.testing.assert_close(off(wave), off.raw_features(wave))


def test_normalization_lands_in_the_state_dict() -> None:
    wave = _waves()
    fe = SpectralFrontEnd()
    fe.fit_normalization([wave])
    state = fe.state_dict()
    assert {"mean", "std", "fitted"} <= set(state)
    fresh = SpectralFrontEnd()
    fresh.load_state_dict(state)
    assert bool(fresh.fitted)
    torch.testing.assert_close(fresh(wave), fe(wave))


def test_constant_feature_is_only_centred() -> None:
    fe = SpectralFrontEnd(blocks=("zcr",))
    fe.fit_normalization([torch.full((2, 4000), 0.3)])  # no crossings: ZCR is constant 0
    assert fe.std.item() == 1.0 and fe.mean.item() == 0.0


def test_fit_normalization_needs_data() -> None:
    with pytest.raises(ValueError, match="at least one wave"):
        SpectralFrontEnd().fit_normalization([])


def test_autocast_keeps_float32_features() -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = SpectralFrontEnd()(_waves())
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("mode", ["mean", "mean_var"])
def test_instance_norm_normalises_each_input_over_its_own_frames(mode: str) -> None:
    wave = _waves(batch=3, samples=12000)
    plain = SpectralFrontEnd()
    plain.fit_normalization([wave])
    inst = SpectralFrontEnd(instance_norm=mode)  # type: ignore[arg-type]
    inst.load_state_dict(plain.state_dict())
    x, y = plain(wave), inst(wave)
    expected = x - x.mean(-1, keepdim=True)
    if mode == "mean_var":
        std = expected.std(-1, unbiased=False, keepdim=True)
        expected = expected / torch.where(std < 1e-5, torch.ones_like(std), std)
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 117), atol=1e-4, rtol=0)
    # per input: the same input in another batch gives the same features
    torch.testing.assert_close(inst(wave[1:2]), y[1:2], atol=1e-4, rtol=1e-4)
    # a constant gain shifts every log-mel band by the same amount: mean normalisation removes it
    logmel_only = SpectralFrontEnd(blocks=("logmel",), instance_norm=mode)  # type: ignore[arg-type]
    torch.testing.assert_close(logmel_only(4.0 * wave), logmel_only(wave), atol=1e-3, rtol=1e-3)


def test_instance_norm_off_by_default() -> None:
    wave = _waves()
    assert SpectralFrontEnd().instance_norm == "none"
    torch.testing.assert_close(SpectralFrontEnd()(wave), SpectralFrontEnd().raw_features(wave))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"instance_norm": "cmvn"}, "instance_norm"),
        ({"n_mfcc": 80}, "n_mfcc"),
        ({"win_length": 600}, "win_length"),
        ({"hop_length": 0}, "hop_length"),
        ({"blocks": ("logmel", "pitch")}, "blocks"),
        ({"blocks": ("zcr", "zcr")}, "blocks"),
        ({"blocks": ()}, "blocks"),
        ({"fusion": "mean"}, "fusion"),
        ({"sample_rate": -1}, "sample_rate"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SpectralFrontEnd(**kwargs)


def test_bad_waves() -> None:
    fe = SpectralFrontEnd()
    with pytest.raises(ValueError, match="batch, samples"):
        fe(torch.zeros(8000))
    with pytest.raises(ValueError, match="at least 257 samples"):
        fe(torch.zeros(1, 200))
