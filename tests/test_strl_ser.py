"""Tests for the STRL-SER net: shapes per switch, gradients, determinism, argument checks."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from sermodels.strl_ser import STRLSER, AttentionPooling, ConvMultiHeadAttention

NUM_CLASSES = 4
BATCH = 2


def _inputs(frames: int = 40, batch: int = BATCH, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 76, frames, generator=gen), torch.randn(batch, 1582, generator=gen)


def _net(**kwargs: Any) -> STRLSER:
    torch.manual_seed(0)
    return STRLSER(NUM_CLASSES, **kwargs)


def test_inputs_attribute() -> None:
    assert STRLSER.inputs == ("lld", "hsf")


@pytest.mark.parametrize("pooling", ["attention", "mean", "last"])
@pytest.mark.parametrize("encoder", ["bilstm", "lstm", "transformer"])
def test_temporal_switches_shape(encoder: str, pooling: str) -> None:
    net = _net(temporal_encoder=encoder, temporal_pooling=pooling, fusion_tokens="branches")
    lld, hsf = _inputs()
    assert net(lld, hsf).shape == (BATCH, NUM_CLASSES)
    width = 128 if encoder == "lstm" else 256
    assert net.temporal_features(lld).shape == (BATCH, width)


@pytest.mark.parametrize("readout", ["flatten", "token"])
@pytest.mark.parametrize("tokens", ["dims", "branches"])
@pytest.mark.parametrize("use_hsf", [True, False], ids=["hsf", "lld_only"])
def test_fusion_switches_shape(use_hsf: bool, tokens: str, readout: str) -> None:
    net = _net(use_hsf=use_hsf, fusion_tokens=tokens, fusion_readout=readout)
    lld, hsf = _inputs()
    assert net(lld, hsf if use_hsf else None).shape == (BATCH, NUM_CLASSES)
    expected_len = 48 + 256 + (256 if use_hsf else 0)
    assert net.fused_vector(lld, hsf).shape == (BATCH, expected_len)
    assert net.num_tokens == (expected_len if tokens == "dims" else 2 + use_hsf)


def test_hsf_ignored_without_utterance_branch() -> None:
    net = _net(use_hsf=False).eval()
    lld, hsf = _inputs()
    torch.testing.assert_close(net(lld, None), net(lld, hsf))


@pytest.mark.parametrize("heads", [1, 2, 4, 8, 16, 32], ids=lambda h: f"heads{h}")
@pytest.mark.parametrize("tokens", ["dims", "branches"])
def test_heads(heads: int, tokens: str) -> None:
    net = _net(num_heads=heads, fusion_tokens=tokens)
    lld, hsf = _inputs()
    assert net(lld, hsf).shape == (BATCH, NUM_CLASSES)


@pytest.mark.parametrize("frames", [40, 59, 8], ids=lambda t: f"T{t}")
@pytest.mark.parametrize(
    ("freq_kernel", "time_kernel"), [(7, 3), (7, 5), (1, 1)], ids=["7x1+1x3", "7x1+1x5", "1x1+1x1"]
)
def test_kernels_and_lengths(freq_kernel: int, time_kernel: int, frames: int) -> None:
    net = _net(freq_kernel=freq_kernel, time_kernel=time_kernel)
    lld, hsf = _inputs(frames)
    assert net(lld, hsf).shape == (BATCH, NUM_CLASSES)
    assert net.spatial_features(lld).shape == (BATCH, 48)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"fusion_tokens": "branches", "fusion_readout": "token"},
        {"temporal_encoder": "transformer", "temporal_pooling": "last", "lstm_layers": 2},
        {"temporal_encoder": "lstm", "temporal_pooling": "mean", "use_hsf": False},
        {"temporal_pooling": "last", "lstm_layers": 2, "multiscale_activation": False},
    ],
    ids=["default", "branches_token", "transformer_last", "lstm_mean_lld_only", "bilstm_last_2layers"],
)
def test_every_parameter_gets_a_gradient(kwargs: dict[str, Any]) -> None:
    net = _net(**kwargs)
    lld, hsf = _inputs(batch=3)
    torch.nn.functional.cross_entropy(net(lld, hsf), torch.tensor([0, 1, 2])).backward()
    for name, param in net.named_parameters():
        assert param.grad is not None, f"{name} got no gradient"
        assert torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, f"{name} got an all-zero gradient"


def test_num_parameters() -> None:
    net = _net()
    assert net.num_parameters == sum(p.numel() for p in net.parameters())
    # The paper's widths: UL 1582 -> 256 alone holds 405k weights.
    assert net.num_parameters > 1582 * 256


def test_eval_is_deterministic_and_batch_independent() -> None:
    net = _net().eval()
    lld, hsf = _inputs(batch=3)
    with torch.no_grad():
        first, second = net(lld, hsf), net(lld, hsf)
        alone = net(lld[1:2], hsf[1:2])
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    torch.testing.assert_close(alone, first[1:2], rtol=1e-5, atol=1e-5)


def test_dropout_active_in_train_mode_only() -> None:
    net = _net(dropout=0.5)
    lld, hsf = _inputs()
    net.train()
    assert not torch.equal(net(lld, hsf), net(lld, hsf))
    net.eval()
    assert torch.equal(net(lld, hsf), net(lld, hsf))


def test_hsf_dropout_is_opt_in_train_only_and_keeps_checkpoint_keys() -> None:
    plain, dropped = _net(dropout=0.0), _net(dropout=0.0, hsf_dropout=0.5)
    assert set(dropped.state_dict()) == set(plain.state_dict())  # earlier checkpoints load into either
    dropped.load_state_dict(plain.state_dict())
    lld, hsf = _inputs()
    plain.train(), dropped.train()
    state = torch.get_rng_state()
    plain.hsf_dropout(hsf)
    assert torch.equal(torch.get_rng_state(), state)  # the off switch draws nothing: earlier runs' draws are unchanged
    # on: half the functionals are zeroed (the rest scaled x2), so the same weights give other logits
    seen: list[torch.Tensor] = []
    handle = dropped.hsf_fc[0].register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    dropped(lld, hsf)
    handle.remove()
    zeroed = seen[0] == 0
    assert 0.4 < zeroed.float().mean() < 0.6
    torch.testing.assert_close(seen[0][~zeroed], 2 * hsf[~zeroed])
    dropped.load_state_dict(plain.state_dict())  # the training passes moved each net's batch-norm statistics
    plain.eval(), dropped.eval()
    with torch.no_grad():
        torch.testing.assert_close(dropped(lld, hsf), plain(lld, hsf), rtol=0, atol=0)  # evaluation: no dropout


def test_bilstm_last_is_forward_end_and_backward_start() -> None:
    net = _net(temporal_pooling="last").eval()
    lld, _ = _inputs()
    assert net.rnn is not None
    out, _ = net.rnn(lld.transpose(1, 2))
    expected = torch.cat((out[:, -1, :128], out[:, 0, 128:]), dim=-1)
    torch.testing.assert_close(net.temporal_features(lld), expected)


def test_attention_pooling_is_a_convex_combination() -> None:
    pool = AttentionPooling(5)
    x = torch.randn(3, 7, 5)
    out = pool(x)
    assert out.shape == (3, 5)
    assert (out <= x.amax(1) + 1e-6).all() and (out >= x.amin(1) - 1e-6).all()
    same = torch.randn(1, 1, 5).expand(2, 4, 5)
    torch.testing.assert_close(pool(same), same[:, 0])


@pytest.mark.parametrize("heads", [1, 8, 32])
def test_scalar_token_attention_matches_general_attention(heads: int) -> None:
    torch.manual_seed(0)
    attn = ConvMultiHeadAttention(1, 64, heads).double()
    tokens = torch.randn(3, 1, 50, dtype=torch.float64, requires_grad=True)
    fast, general = attn(tokens), attn._forward_general(tokens)
    torch.testing.assert_close(fast, general)
    grads_fast = torch.autograd.grad(fast.square().sum(), [tokens, *attn.parameters()])
    grads_general = torch.autograd.grad(general.square().sum(), [tokens, *attn.parameters()])
    for a, b in zip(grads_fast, grads_general):
        torch.testing.assert_close(a, b)


def test_general_attention_matches_reference() -> None:
    torch.manual_seed(0)
    attn = ConvMultiHeadAttention(6, 8, 2).double()
    tokens = torch.randn(2, 6, 3, dtype=torch.float64)
    x = tokens.transpose(1, 2)  # (batch, tokens, channels)
    q = x @ attn.query.weight[:, :, 0].T + attn.query.bias
    k = x @ attn.key.weight[:, :, 0].T
    v = x @ attn.value.weight[:, :, 0].T + attn.value.bias
    heads = []
    for h in range(2):
        sl = slice(4 * h, 4 * h + 4)
        weights = torch.softmax(q[..., sl] @ k[..., sl].transpose(1, 2) / 2.0, dim=-1)
        heads.append(weights @ v[..., sl])
    expected = torch.cat(heads, dim=-1).transpose(1, 2)
    torch.testing.assert_close(attn(tokens), expected)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"temporal_encoder": "gru"}, "temporal_encoder"),
        ({"temporal_pooling": "max"}, "temporal_pooling"),
        ({"fusion_tokens": "tokens"}, "fusion_tokens"),
        ({"fusion_readout": "pool"}, "fusion_readout"),
        ({"freq_kernel": 4}, "freq_kernel"),
        ({"time_kernel": 0}, "time_kernel"),
        ({"num_heads": 3}, "num_heads"),
        ({"num_heads": 0}, "num_heads"),
        ({"fusion_dim": 60, "num_heads": 8}, "fusion_dim"),
        ({"cnn_channels": (32, 48)}, "cnn_channels"),
        ({"dropout": 1.0}, "dropout"),
        ({"hsf_dropout": 1.0}, "hsf_dropout"),
        ({"hsf_dropout": -0.1}, "hsf_dropout"),
        ({"num_frames": 4}, "num_frames"),
        ({"lld_dim": 4}, "lld_dim"),
        ({"temporal_encoder": "transformer", "transformer_heads": 3}, "transformer_heads"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_arguments(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        STRLSER(NUM_CLASSES, **kwargs)


def test_bad_choice_message_lists_allowed_values() -> None:
    with pytest.raises(ValueError, match=r"temporal_encoder.*'bilstm', 'lstm', 'transformer'.*'gru'"):
        STRLSER(NUM_CLASSES, temporal_encoder="gru")  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    net = _net()
    lld, hsf = _inputs()
    with pytest.raises(ValueError, match="hsf"):
        net(lld, None)
    with pytest.raises(ValueError, match="lld"):
        net(lld[:, :70], hsf)
    with pytest.raises(ValueError, match="frames"):
        net(lld[:, :, :7], hsf)
    with pytest.raises(ValueError, match="hsf"):
        net(lld, hsf[:, :100])
