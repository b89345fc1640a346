"""Tests for the STA-CNN net: shapes per switch, gradients, determinism, argument checks."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sermodels.frontends import SpectralFrontEnd
from sermodels.sta_cnn import STACNN

NUM_CLASSES = 5
SMALL = {"conv_channels": (8, 16, 16), "lstm_hidden": 16}


def _waves(batch: int = 2, samples: int = 8000, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return 0.1 * torch.randn(batch, samples, generator=gen)


def _net(**kwargs: Any) -> STACNN:
    torch.manual_seed(0)
    return STACNN(NUM_CLASSES, **kwargs)


def test_inputs_attribute() -> None:
    assert STACNN.inputs == ("wave",)


def test_default_shape_and_frontend() -> None:
    net = _net()
    assert isinstance(net.frontend, SpectralFrontEnd)
    assert net.frontend.out_features == 117
    assert net(_waves(samples=16000)).shape == (2, NUM_CLASSES)


@pytest.mark.parametrize("samples", [8000, 12345], ids=["0.5s", "0.77s"])
@pytest.mark.parametrize("layout", ["sequential", "parallel"])
@pytest.mark.parametrize("conv_type", ["1d", "2d"])
def test_conv_switches_shape(conv_type: str, layout: str, samples: int) -> None:
    net = _net(conv_type=conv_type, lfe_layout=layout, **SMALL)
    assert net(_waves(samples=samples)).shape == (2, NUM_CLASSES)
    frames = 1 + samples // 160
    steps = frames // (8 if layout == "sequential" else 2)
    assert net.local_features(net.frontend(_waves(samples=samples))).shape == (2, steps, net.lfe_dim)


@pytest.mark.parametrize("conv_type", ["1d", "2d"])
def test_parallel_sum_merge(conv_type: str) -> None:
    net = _net(conv_type=conv_type, lfe_layout="parallel", lfe_merge="sum", conv_channels=(8, 8, 8), lstm_hidden=16)
    assert net(_waves()).shape == (2, NUM_CLASSES)
    assert net.lfe_dim == 8 * (1 if conv_type == "1d" else 117 // 2)


@pytest.mark.parametrize("fusion", ["concat", "sum"])
@pytest.mark.parametrize(
    "blocks",
    [("logmel",), ("zcr",), ("mfcc", "chroma"), ("logmel", "zcr", "mfcc", "chroma")],
    ids=lambda b: "+".join(b),
)
@pytest.mark.parametrize("conv_type", ["1d", "2d"])
def test_frontend_switches_shape(conv_type: str, blocks: tuple[Any, ...], fusion: str) -> None:
    frontend = SpectralFrontEnd(blocks=blocks, fusion=fusion, fusion_dim=16)
    net = _net(frontend=frontend, conv_type=conv_type, **SMALL)
    assert net(_waves()).shape == (2, NUM_CLASSES)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"num_heads": 1},
        {"num_heads": 8, "attention_dim": 64},
        {"gfe_pooling": "mean"},
        {"batch_norm": True},
        {"lstm_layers": 2},
        {"kernel_size": 5, "pool_size": 3},
    ],
    ids=["heads1", "heads8_dim64", "gfe_mean", "batch_norm", "lstm2", "k5_pool3"],
)
def test_other_switches_shape(kwargs: dict[str, Any]) -> None:
    net = _net(**{**SMALL, **kwargs})
    assert net(_waves()).shape == (2, NUM_CLASSES)


def test_gfe_sum_is_length_times_mean() -> None:
    summed = _net(gfe_pooling="sum", dropout=0.0, **SMALL).eval()
    mean = _net(gfe_pooling="mean", dropout=0.0, **SMALL).eval()
    mean.load_state_dict(summed.state_dict())
    wave = _waves(samples=16000)  # 101 frames -> 12 steps
    bias = summed.classifier.bias
    with torch.no_grad():
        torch.testing.assert_close(summed(wave) - bias, 12 * (mean(wave) - bias), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"conv_type": "2d", "batch_norm": True},
        {"lfe_layout": "parallel", "lstm_layers": 2},
        {"frontend": SpectralFrontEnd(fusion="sum", fusion_dim=16)},
    ],
    ids=["1d", "2d_bn", "parallel_lstm2", "sum_frontend"],
)
def test_every_parameter_gets_a_gradient(kwargs: dict[str, Any]) -> None:
    net = _net(**{**SMALL, **kwargs})
    torch.nn.functional.cross_entropy(net(_waves(batch=3)), torch.tensor([0, 1, 2])).backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


def test_eval_is_deterministic_and_batch_independent() -> None:
    net = _net(batch_norm=True, **SMALL)
    net.fit_normalization([_waves(seed=1)])
    net.eval()
    wave = _waves(batch=3)
    with torch.no_grad():
        first, second, alone = net(wave), net(wave), net(wave[2:])
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(alone, first[2:], rtol=1e-5, atol=1e-5)


def test_fit_normalization_delegates_to_frontend() -> None:
    net = _net(**SMALL)
    assert not bool(net.frontend.fitted)
    net.fit_normalization([_waves(seed=1), _waves(seed=2)])
    assert bool(net.frontend.fitted)
    assert {"frontend.mean", "frontend.std", "frontend.fitted"} <= set(net.state_dict())


def test_num_parameters() -> None:
    net = _net()
    assert net.num_parameters == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"conv_type": "3d"}, "conv_type"),
        ({"lfe_layout": "tree"}, "lfe_layout"),
        ({"lfe_merge": "max"}, "lfe_merge"),
        ({"gfe_pooling": "max"}, "gfe_pooling"),
        ({"kernel_size": 4}, "kernel_size"),
        ({"conv_channels": (8, 16)}, "conv_channels"),
        ({"lfe_layout": "parallel", "lfe_merge": "sum"}, "conv_channels"),
        ({"num_heads": 3}, "num_heads"),
        ({"attention_dim": 0}, "attention_dim"),
        ({"dropout": -0.1}, "dropout"),
        ({"pool_size": 0}, "pool_size"),
        ({"frontend": torch.nn.Identity()}, "frontend"),
        ({"freq_masks": -1}, "freq_masks"),
        ({"time_masks": 1.5}, "time_masks"),
        ({"freq_mask_width": 1}, "freq_mask_width"),
        ({"freq_masks": 1, "freq_mask_width": 118}, "freq_mask_width"),
        ({"time_mask_width": 0}, "time_mask_width"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        STACNN(NUM_CLASSES, **kwargs)


def test_masking_is_off_by_default_and_in_eval() -> None:
    feats = torch.randn(4, 117, 50)
    assert torch.equal(_net(**SMALL).augment(feats), feats)  # training mode, no masks asked for
    masked = _net(**SMALL, freq_masks=2, time_masks=2).eval()
    assert torch.equal(masked.augment(feats), feats)
    waves = _waves(samples=16000)
    plain = _net(**SMALL).eval()
    masked.load_state_dict(plain.state_dict())
    torch.testing.assert_close(masked(waves), plain(waves))


def test_masks_zero_bands_and_spans_independently_per_input() -> None:
    torch.manual_seed(1)
    net = _net(**SMALL, freq_masks=1, freq_mask_width=30, time_masks=1, time_mask_width=40).train()
    feats = torch.randn(8, 117, 200) + 5.0  # no zeros of its own
    out = net.augment(feats)
    zero = out == 0
    kept = ~zero
    torch.testing.assert_close(out[kept], feats[kept])  # what is not masked is untouched
    rows = zero.all(dim=2)  # masked feature bands: zero over every frame
    cols = zero.all(dim=1)  # masked frame spans: zero over every feature
    for b in range(8):
        for line in (rows[b], cols[b]):
            idx = line.nonzero().flatten()
            if idx.numel():  # one contiguous band / span, narrower than the width asked for
                assert idx[-1] - idx[0] + 1 == idx.numel()
        assert rows[b].sum() < 30 and cols[b].sum() < 40
        # every zero lies in the input's band or span
        assert torch.equal(zero[b], rows[b][:, None] | cols[b][None, :])
    assert rows.any() and cols.any()  # both kinds of mask ran
    # drawn per input, not once per batch
    assert len({tuple(r.nonzero().flatten().tolist()) for r in rows}) > 1
    assert len({tuple(c.nonzero().flatten().tolist()) for c in cols}) > 1


def test_forward_masks_in_training_mode() -> None:
    waves = _waves(batch=4, samples=16000)
    plain = _net(**SMALL, dropout=0.0).train()
    masked = _net(**SMALL, dropout=0.0, freq_masks=2, time_masks=2).train()
    masked.load_state_dict(plain.state_dict())
    assert not torch.allclose(masked(waves), plain(waves))


def test_too_short_wave() -> None:
    net = _net(**SMALL)
    with pytest.raises(ValueError, match="at least 8 front-end frames"):
        net(_waves(samples=1000))  # 7 frames
