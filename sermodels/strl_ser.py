"""STRL-SER: spatio-temporal representation learning for speech emotion recognition.

Chen et al., "Speech emotion recognition using spatio-temporal representation learning",
Knowledge-Based Systems 2024 (Sec. 4, Fig. 2-5, Algorithm 1). The net reads the frame-level IS10
low-level descriptors (LLDs, ``(batch, 76, frames)``) and, optionally, the utterance-level IS10
functionals (HSFs, ``(batch, 1582)``), and returns class logits. Every gap the paper leaves is a
constructor argument; the defaults, and why, are listed in ``docs/models.md`` (section "STRL-SER").
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sermodels._validation import check_choice, check_odd, check_positive

TemporalEncoder = Literal["bilstm", "lstm", "transformer"]
TemporalPooling = Literal["attention", "mean", "last"]
FusionTokens = Literal["dims", "branches", "fused"]
FusionReadout = Literal["flatten", "token"]

_NUM_CNN_BLOCKS = 3
MIN_FRAMES = 2**_NUM_CNN_BLOCKS
"""Smallest number of frames the CNN branch accepts: each of its 3 blocks halves the map."""


class AttentionPooling(nn.Module):
    """Attention pooling over positions: ``alpha = softmax(w^T X)``, ``pooled = alpha^T X``.

    This is Eq. (6)-(7) of STRL-SER. The score has no bias: a bias shifts every position's score
    by the same amount and cancels in the softmax.

    Args:
        dim: Feature size ``D`` of each position.
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Linear(dim, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Pool a sequence of vectors.

        Args:
            x: ``(batch, positions, dim)``.

        Returns:
            ``(batch, dim)``, the attention-weighted sum of the positions.
        """
        alpha = torch.softmax(self.score(x).squeeze(-1), dim=-1)  # (batch, positions)
        return torch.einsum("bn,bnd->bd", alpha, x)


class ConvMultiHeadAttention(nn.Module):
    """Multi-head self-attention with Q, K, V from 1x1 convolutions, heads concatenated.

    Eq. (17)-(21) of STRL-SER. There is no output projection (the paper concatenates the heads and
    feeds the classifier) and the key projection has no bias (it would add a per-query constant to
    the scores, which cancels in the softmax and would only get zero gradients).

    One-channel tokens (``in_channels == 1``, the ``"dims"`` reading) take an exact shortcut: with
    ``q_i = W_q f_i + b_q`` and ``k_j = W_k f_j`` a head's score is
    ``q_i . k_j / sqrt(d) = (a f_i + b) f_j`` with the scalars ``a = W_q . W_k / sqrt(d)`` and
    ``b = b_q . W_k / sqrt(d)``, and its output is ``W_v s_i + b_v`` with
    ``s_i = sum_j softmax_j((a f_i + b) f_j) f_j``. Attention with head size 1 computes ``s``
    about 4x faster on CPU than head size ``d`` and gives the same result (and gradients).

    Args:
        in_channels: Channels ``C`` of each token.
        dim: Total width of Q, K and V (all heads together).
        num_heads: Number of heads; must divide ``dim``.
    """

    def __init__(self, in_channels: int, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.query = nn.Conv1d(in_channels, dim, kernel_size=1)
        self.key = nn.Conv1d(in_channels, dim, kernel_size=1, bias=False)
        self.value = nn.Conv1d(in_channels, dim, kernel_size=1)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, dim, length = x.shape
        # Contiguous (batch, heads, tokens, head_dim): the fused CPU kernel is 2x slower on the
        # strided view.
        return x.view(batch, self.num_heads, self.head_dim, length).transpose(-1, -2).contiguous()

    def forward(self, tokens: Tensor) -> Tensor:
        """Attend every token to every token.

        Args:
            tokens: ``(batch, in_channels, num_tokens)``.

        Returns:
            ``(batch, dim, num_tokens)``: the heads' outputs concatenated along the channel axis.
        """
        if tokens.shape[1] == 1:
            return self._forward_scalar_tokens(tokens)
        return self._forward_general(tokens)

    def _forward_general(self, tokens: Tensor) -> Tensor:
        q = self._split_heads(self.query(tokens))  # (batch, heads, tokens, head_dim)
        k = self._split_heads(self.key(tokens))
        v = self._split_heads(self.value(tokens))
        out = F.scaled_dot_product_attention(q, k, v)  # (batch, heads, tokens, head_dim)
        batch, heads, length, head_dim = out.shape
        return out.transpose(-1, -2).reshape(batch, heads * head_dim, length)

    def _forward_scalar_tokens(self, tokens: Tensor) -> Tensor:
        batch, _, length = tokens.shape
        heads, head_dim = self.num_heads, self.head_dim
        w_q = self.query.weight.view(heads, head_dim)
        w_k = self.key.weight.view(heads, head_dim)
        w_v = self.value.weight.view(heads, head_dim)
        assert self.query.bias is not None and self.value.bias is not None
        b_q = self.query.bias.view(heads, head_dim)
        b_v = self.value.bias.view(heads, head_dim)
        scale = head_dim**-0.5
        a = (w_q * w_k).sum(-1) * scale  # (heads,)
        b = (b_q * w_k).sum(-1) * scale
        f = tokens[:, 0]  # (batch, tokens)
        coef = f[:, None, :, None] * a[None, :, None, None] + b[None, :, None, None]
        values = f[:, None, :, None].expand(batch, heads, length, 1)
        s = F.scaled_dot_product_attention(coef, values, values, scale=1.0)  # (B, H, L, 1)
        out = w_v[None, :, :, None] * s.transpose(-1, -2) + b_v[None, :, :, None]  # (B, H, d, L)
        return out.reshape(batch, heads * head_dim, length)


class SinusoidalPositions(nn.Module):
    """Adds the fixed sine/cosine position code of Vaswani et al. (2017); works for any length.

    Args:
        dim: Feature size of each position (even).
    """

    inv_freq: Tensor

    def __init__(self, dim: int) -> None:
        super().__init__()
        inv_freq = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(1e4) / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        """Add position codes.

        Args:
            x: ``(batch, positions, dim)``.

        Returns:
            ``(batch, positions, dim)``.
        """
        positions = torch.arange(x.shape[1], device=x.device, dtype=torch.float32)
        angles = positions[:, None] * self.inv_freq[None, :]  # (positions, dim / 2)
        code = torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(1)
        return x + code.to(x.dtype)


class STRLSER(nn.Module):
    """STRL-SER: CNN + BiLSTM on frame-level LLDs, FC on utterance-level HSFs, attention fusion.

    Structure (Chen et al. 2024, Fig. 2-5, Algorithm 1):

    1. CNN branch on the ``(lld_dim, frames)`` map as a 1-channel image: a frequency conv
       ``(freq_kernel x 1)`` and a time conv ``(1 x time_kernel)`` in parallel, ``branch_channels``
       each, 'same' padding, concatenated (Eq. 3); three blocks
       ``F(x) = BN(MaxPool2x2(ReLU(Conv3x3(x))))`` with ``cnn_channels`` (Eq. 4-5); attention
       pooling ``alpha = softmax(w^T X')``, ``X~ = alpha^T X'`` over the flattened
       (frequency x time) positions of ``X'`` (Eq. 6-7) -> ``cnn_channels[-1]`` values.
    2. Temporal branch on the ``(frames, lld_dim)`` sequence (Eq. 8-13) pooled to a vector ``H``.
    3. Utterance branch ``UL = FC(HSFs)`` = Linear(hsf_dim, hsf_hidden) + ReLU + Dropout (Eq. 15).
    4. ``f = Concat(X~, H, UL)`` (Eq. 14, 16); multi-head attention with Q, K, V from 1x1
       convolutions, heads concatenated (Eq. 17-21); a linear classifier (Algorithm 1, step 6).

    The forward pass returns logits; the softmax of Algorithm 1 belongs to the loss
    (cross-entropy on logits) and to the utterance-level averaging (Eq. 23), outside the net.

    Gaps and their defaults (``docs/models.md``, section "STRL-SER", with the paper's wording):

    - ``cnn_channels=(32, 48, 48)``: the paper only says the 3 blocks end at 48 channels.
    - ``multiscale_activation=True``: the paper's Eq. 2 defines its conv layer with a ReLU; Eq. 3
      writes the parallel convs bare. Default: ReLU after the concatenated parallel convs.
    - ``temporal_encoder="bilstm"``, ``lstm_hidden=128`` per direction, ``lstm_layers=1``,
      ``temporal_pooling="attention"`` (same form as the CNN's, Eq. 6-7). ``"mean"`` averages the
      outputs over frames; ``"last"`` takes the final hidden state (for the BiLSTM: the forward
      direction's at the last frame and the backward direction's at the first frame). The ablation
      encoders: ``"lstm"`` is a unidirectional LSTM with ``lstm_hidden`` units (so ``H`` has half the
      BiLSTM's width); ``"transformer"`` is a linear map of the LLDs to ``d_model = 2 * lstm_hidden``
      (the BiLSTM's width) plus sinusoidal positions, then ``lstm_layers`` post-norm
      ``nn.TransformerEncoderLayer`` with ``transformer_heads`` heads, feed-forward width
      ``2 * d_model``, ReLU, dropout ``dropout``.
    - ``hsf_hidden=256`` with ReLU and dropout. HSF standardisation (training split only) is the
      data module's job, not the net's.
    - ``fusion_tokens="dims"``: every dimension of ``f`` is a token with one channel (the paper's
      "weight of each dimension of data in the feature"); the 1x1 convs map each token to
      ``fusion_dim`` channels. ``"branches"``: each branch vector is first mapped by its own
      Linear to ``fusion_dim`` and the 2-3 branch vectors are the tokens. ``"fused"``: ``f`` is one
      token of ``sum(branch_widths)`` channels; attention over a single key returns its value, so
      the block reduces to the value projection (a linear map of ``f`` to ``fusion_dim``), which is
      what many code bases of this design compute.
    - ``fusion_dim=64`` (8 per head at the paper's best 8 heads; divisible by every head count
      the paper sweeps, 1-32). With one-channel tokens each head's output at a token is an
      affine function of one scalar (see ``ConvMultiHeadAttention``), so a wider ``fusion_dim``
      adds no information, only classifier weights under ``"flatten"``.
    - ``fusion_readout="flatten"``: the classifier is ``Linear`` on the flattened concatenated
      heads ``O^`` (``fusion_dim * num_tokens`` values), which is Algorithm 1's literal
      ``softmax(W O^ + b)``. ``"token"`` first maps each token's ``fusion_dim`` channels to one
      value by a shared 1x1 conv, then applies ``Linear(num_tokens, num_classes)`` (a factorised
      ``W``, ``fusion_dim`` times fewer classifier weights).
    - ``dropout=0.3``: applied after the utterance FC's ReLU, to the fused vector before the
      classifier, between stacked LSTM layers and inside the Transformer.
    - No layer depends on the number of frames; any ``frames >= 8`` works (``num_frames`` is only
      recorded, e.g. to build example inputs; T = 40 for 1.4 s and 59 for 2.0 s segments).

    Compute: with ``fusion_tokens="dims"`` the fusion scores ``num_heads * L^2`` token pairs per
    sample (``L = 560`` by default, 2.5 M pairs at 8 heads); even with the exact head-size-1
    shortcut this is the costliest part of a CPU training step (about half of it at batch 128).
    ``"branches"`` scores 9 pairs per head.

    Args:
        num_classes: Number of emotion classes ``C``.
        lld_dim: LLD dimensions per frame (76 for IS10 LLDs + deltas).
        num_frames: Nominal frames per segment; informational, must be >= 8.
        hsf_dim: HSF dimensions (1582 IS10 functionals).
        freq_kernel: Height ``b`` of the frequency kernel ``(b x 1)``; odd (7 in the paper).
        time_kernel: Width ``d`` of the time kernel ``(1 x d)``; odd (3 RAVDESS, 5 IEMOCAP).
        branch_channels: Output channels of each parallel conv (16 in the paper).
        cnn_channels: Output channels of the three 3x3 blocks.
        temporal_encoder: ``"bilstm"`` (paper), ``"lstm"`` or ``"transformer"`` (ablations).
        lstm_hidden: LSTM units per direction; the Transformer uses ``d_model = 2 * lstm_hidden``.
        lstm_layers: Stacked LSTM (or Transformer encoder) layers.
        temporal_pooling: How the temporal outputs become ``H``.
        use_hsf: Use the utterance-level branch; False is the paper's "LLDs only" ablation.
        hsf_hidden: Width of ``UL``.
        num_heads: Fusion attention heads (8 in the paper); must divide ``fusion_dim``.
        fusion_tokens: What the fusion attention attends over.
        fusion_dim: Total Q/K/V width of the fusion attention.
        dropout: Dropout probability.
        fusion_readout: How the attended tokens become the classifier's input.
        transformer_heads: Heads of the ``"transformer"`` temporal encoder; divides
            ``2 * lstm_hidden``.
        multiscale_activation: ReLU after the parallel frequency/time convs.
        hsf_dropout: Opt-in dropout on the (standardised) functionals before the utterance branch, in
            training only; 0 (default, as in the paper) turns it off. Not in the paper: a regulariser
            of the 1582-input layer, reported as its own row.

    Raises:
        ValueError: If an argument is out of range or not one of the allowed choices.
    """

    inputs: tuple[str, ...] = ("lld", "hsf")

    def __init__(
        self,
        num_classes: int,
        lld_dim: int = 76,
        num_frames: int = 40,
        hsf_dim: int = 1582,
        freq_kernel: int = 7,
        time_kernel: int = 3,
        branch_channels: int = 16,
        cnn_channels: tuple[int, int, int] = (32, 48, 48),
        temporal_encoder: TemporalEncoder = "bilstm",
        lstm_hidden: int = 128,
        lstm_layers: int = 1,
        temporal_pooling: TemporalPooling = "attention",
        use_hsf: bool = True,
        hsf_hidden: int = 256,
        num_heads: int = 8,
        fusion_tokens: FusionTokens = "dims",
        fusion_dim: int = 64,
        dropout: float = 0.3,
        fusion_readout: FusionReadout = "flatten",
        transformer_heads: int = 4,
        multiscale_activation: bool = True,
        hsf_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_classes", num_classes),
            ("lld_dim", lld_dim),
            ("num_frames", num_frames),
            ("hsf_dim", hsf_dim),
            ("branch_channels", branch_channels),
            ("lstm_hidden", lstm_hidden),
            ("lstm_layers", lstm_layers),
            ("hsf_hidden", hsf_hidden),
            ("num_heads", num_heads),
            ("fusion_dim", fusion_dim),
            ("transformer_heads", transformer_heads),
        ):
            check_positive(name, value)
        check_odd("freq_kernel", freq_kernel)
        check_odd("time_kernel", time_kernel)
        check_choice("temporal_encoder", temporal_encoder, TemporalEncoder)
        check_choice("temporal_pooling", temporal_pooling, TemporalPooling)
        check_choice("fusion_tokens", fusion_tokens, FusionTokens)
        check_choice("fusion_readout", fusion_readout, FusionReadout)
        cnn_channels = tuple(cnn_channels)  # type: ignore[assignment]
        if len(cnn_channels) != _NUM_CNN_BLOCKS or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in cnn_channels
        ):
            raise ValueError(
                f"Expected cnn_channels to be {_NUM_CNN_BLOCKS} positive integers (one per 3x3 "
                f"block), got {cnn_channels!r}"
            )
        if lld_dim < MIN_FRAMES:
            raise ValueError(
                f"Expected lld_dim >= {MIN_FRAMES} (the CNN halves it {_NUM_CNN_BLOCKS} times), got {lld_dim}"
            )
        if num_frames < MIN_FRAMES:
            raise ValueError(
                f"Expected num_frames >= {MIN_FRAMES} (the CNN halves the time axis "
                f"{_NUM_CNN_BLOCKS} times), got {num_frames}"
            )
        if fusion_dim % num_heads != 0:
            raise ValueError(
                f"Expected num_heads to divide fusion_dim, got num_heads={num_heads} and "
                f"fusion_dim={fusion_dim}; pick fusion_dim as a multiple of num_heads"
            )
        if temporal_encoder == "transformer" and (2 * lstm_hidden) % transformer_heads != 0:
            raise ValueError(
                f"Expected transformer_heads to divide d_model = 2 * lstm_hidden = "
                f"{2 * lstm_hidden}, got transformer_heads={transformer_heads}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1), got {dropout!r}")
        if not 0.0 <= hsf_dropout < 1.0:
            raise ValueError(f"Expected hsf_dropout in [0, 1) (0 = off, e.g. 0.2), got {hsf_dropout!r}")

        self.num_classes = num_classes
        self.lld_dim = lld_dim
        self.num_frames = num_frames
        self.min_frames = MIN_FRAMES  # checked against data.segment_length before extraction
        self.hsf_dim = hsf_dim
        self.temporal_encoder = temporal_encoder
        self.temporal_pooling = temporal_pooling
        self.use_hsf = use_hsf
        self.inputs = ("lld", "hsf") if use_hsf else ("lld",)  # the "LLDs only" ablation needs no HSFs
        self.fusion_tokens = fusion_tokens
        self.fusion_readout = fusion_readout

        # 1. CNN branch (Eq. 3-7).
        self.freq_conv = nn.Conv2d(1, branch_channels, (freq_kernel, 1), padding=(freq_kernel // 2, 0))
        self.time_conv = nn.Conv2d(1, branch_channels, (1, time_kernel), padding=(0, time_kernel // 2))
        self.multiscale_activation = nn.ReLU() if multiscale_activation else nn.Identity()
        blocks: list[nn.Module] = []
        in_channels = 2 * branch_channels
        for out_channels in cnn_channels:
            # BN(MaxPool(ReLU(Conv(x)))) of Eq. 4, computed as BN(ReLU(MaxPool(Conv(x)))): ReLU
            # is monotone, so it commutes with max pooling, and runs on a 4x smaller map.
            blocks += [
                nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                nn.MaxPool2d(2),
                nn.ReLU(),
                nn.BatchNorm2d(out_channels),
            ]
            in_channels = out_channels
        self.cnn_blocks = nn.Sequential(*blocks)
        self.cnn_pool = AttentionPooling(cnn_channels[-1])
        cnn_width = cnn_channels[-1]

        # 2. Temporal branch (Eq. 8-13).
        self.positions: SinusoidalPositions | None = None
        self.input_proj: nn.Linear | None = None
        self.rnn: nn.LSTM | None = None
        self.transformer: nn.TransformerEncoder | None = None
        rnn_dropout = dropout if lstm_layers > 1 else 0.0
        if temporal_encoder == "bilstm":
            self.rnn = nn.LSTM(
                lld_dim,
                lstm_hidden,
                lstm_layers,
                batch_first=True,
                bidirectional=True,
                dropout=rnn_dropout,
            )
            temporal_width = 2 * lstm_hidden
        elif temporal_encoder == "lstm":
            self.rnn = nn.LSTM(lld_dim, lstm_hidden, lstm_layers, batch_first=True, dropout=rnn_dropout)
            temporal_width = lstm_hidden
        else:
            temporal_width = 2 * lstm_hidden
            self.input_proj = nn.Linear(lld_dim, temporal_width)
            self.positions = SinusoidalPositions(temporal_width)
            layer = nn.TransformerEncoderLayer(
                temporal_width,
                transformer_heads,
                dim_feedforward=2 * temporal_width,
                dropout=dropout,
                batch_first=True,
            )
            self.transformer = nn.TransformerEncoder(layer, lstm_layers, enable_nested_tensor=False)
        self.temporal_pool = AttentionPooling(temporal_width) if temporal_pooling == "attention" else None

        # 3. Utterance branch (Eq. 15).
        self.hsf_fc: nn.Sequential | None = None
        branch_widths = [cnn_width, temporal_width]
        if use_hsf:
            self.hsf_fc = nn.Sequential(nn.Linear(hsf_dim, hsf_hidden), nn.ReLU(), nn.Dropout(dropout))
            branch_widths.append(hsf_hidden)
        # Opt-in dropout on the functionals themselves (kept out of hsf_fc: earlier checkpoints' keys stay valid).
        self.hsf_dropout = nn.Dropout(hsf_dropout)
        self.branch_widths: tuple[int, ...] = tuple(branch_widths)

        # 4. Fusion (Eq. 16-21) and classifier.
        self.branch_proj: nn.ModuleList | None = None
        if fusion_tokens == "dims":
            num_tokens, token_channels = sum(branch_widths), 1
        elif fusion_tokens == "fused":
            num_tokens, token_channels = 1, sum(branch_widths)
        else:
            num_tokens, token_channels = len(branch_widths), fusion_dim
            self.branch_proj = nn.ModuleList(nn.Linear(w, fusion_dim) for w in branch_widths)
        self.num_tokens = num_tokens
        self.fusion = ConvMultiHeadAttention(token_channels, fusion_dim, num_heads)
        self.token_readout: nn.Conv1d | None = None
        if fusion_readout == "token":
            self.token_readout = nn.Conv1d(fusion_dim, 1, kernel_size=1)
            classifier_in = num_tokens
        else:
            classifier_in = num_tokens * fusion_dim
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(classifier_in, num_classes)

    @property
    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def spatial_features(self, lld: Tensor) -> Tensor:
        """CNN branch with attention pooling (Eq. 3-7).

        Args:
            lld: ``(batch, lld_dim, frames)``.

        Returns:
            ``X~``, ``(batch, cnn_channels[-1])``.
        """
        image = lld.unsqueeze(1)  # (batch, 1, lld_dim, frames)
        x = torch.cat((self.freq_conv(image), self.time_conv(image)), dim=1)
        # channels-last runs the 3x3 convs about 1.7x faster on CPU (oneDNN); same values.
        x = self.multiscale_activation(x).contiguous(memory_format=torch.channels_last)
        x = self.cnn_blocks(x)  # (batch, C, lld_dim / 8, frames / 8)
        return self.cnn_pool(x.flatten(2).transpose(1, 2))  # positions = freq x time

    def temporal_features(self, lld: Tensor) -> Tensor:
        """Temporal branch pooled over frames (Eq. 8-13).

        Args:
            lld: ``(batch, lld_dim, frames)``.

        Returns:
            ``H``, ``(batch, temporal_width)``: ``2 * lstm_hidden`` for ``"bilstm"`` and
            ``"transformer"``, ``lstm_hidden`` for ``"lstm"``.
        """
        seq = lld.transpose(1, 2)  # (batch, frames, lld_dim)
        if self.rnn is not None:
            out, (h_n, _) = self.rnn(seq)  # out: (batch, frames, directions * hidden)
            if self.temporal_pooling == "last":
                # h_n: (layers * directions, batch, hidden); the top layer's final states, which
                # for the backward direction is its state after reading frame 0.
                directions = 2 if self.rnn.bidirectional else 1
                return torch.cat(tuple(h_n[-directions:]), dim=-1)
        else:
            assert self.input_proj is not None and self.positions is not None
            assert self.transformer is not None
            out = self.transformer(self.positions(self.input_proj(seq)))
            if self.temporal_pooling == "last":
                return out[:, -1]
        if self.temporal_pool is not None:
            return self.temporal_pool(out)
        return out.mean(dim=1)

    def fused_vector(self, lld: Tensor, hsf: Tensor | None = None) -> Tensor:
        """The branch outputs concatenated, ``f = Concat(X~, H, UL)`` (Eq. 14, 16).

        Args:
            lld: ``(batch, lld_dim, frames)``.
            hsf: ``(batch, hsf_dim)``; required when ``use_hsf``.

        Returns:
            ``(batch, sum(branch_widths))`` (560 with the defaults).
        """
        return torch.cat(self._branches(lld, hsf), dim=-1)

    def _branches(self, lld: Tensor, hsf: Tensor | None) -> list[Tensor]:
        self._check_inputs(lld, hsf)
        branches = [self.spatial_features(lld), self.temporal_features(lld)]
        if self.hsf_fc is not None:
            assert hsf is not None
            branches.append(self.hsf_fc(self.hsf_dropout(hsf)))
        return branches

    def _check_inputs(self, lld: Tensor, hsf: Tensor | None) -> None:
        if lld.dim() != 3 or lld.shape[1] != self.lld_dim:
            raise ValueError(f"Expected lld of shape (batch, {self.lld_dim}, frames), got {tuple(lld.shape)}")
        if lld.shape[2] < MIN_FRAMES:
            raise ValueError(f"Expected at least {MIN_FRAMES} frames in lld, got {lld.shape[2]}; use longer segments")
        if self.use_hsf:
            if hsf is None:
                raise ValueError("Expected hsf of shape (batch, hsf_dim) since use_hsf=True, got None")
            if hsf.shape != (lld.shape[0], self.hsf_dim):
                raise ValueError(f"Expected hsf of shape ({lld.shape[0]}, {self.hsf_dim}), got {tuple(hsf.shape)}")

    def forward(self, lld: Tensor, hsf: Tensor | None = None) -> Tensor:
        """Classify segments.

        Args:
            lld: Frame-level LLDs, ``(batch, lld_dim, frames)`` with ``frames >= 8``.
            hsf: Utterance-level HSFs, ``(batch, hsf_dim)``; ignored (may be None) when
                ``use_hsf=False``.

        Returns:
            Logits, ``(batch, num_classes)``.

        Raises:
            ValueError: If the inputs have the wrong shape or ``hsf`` is missing.
        """
        branches = self._branches(lld, hsf)
        if self.fusion_tokens == "fused":
            tokens = torch.cat(branches, dim=-1).unsqueeze(-1)  # (batch, L, 1): f is one token
        elif self.branch_proj is None:
            tokens = torch.cat(branches, dim=-1).unsqueeze(1)  # (batch, 1, L): one token per dim
        else:
            tokens = torch.stack([proj(b) for proj, b in zip(self.branch_proj, branches)], dim=-1)
        attended = self.fusion(tokens)  # (batch, fusion_dim, num_tokens)
        if self.token_readout is not None:
            features = self.token_readout(attended).squeeze(1)  # (batch, num_tokens)
        else:
            features = attended.flatten(1)  # (batch, fusion_dim * num_tokens)
        return self.classifier(self.dropout(features))
