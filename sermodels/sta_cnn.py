"""STA-CNN: spatio-temporal attention CNN for speech emotion recognition.

Zhou and Xie, "Research on Speech Emotion Recognition Based on SpatioTemporal Attention CNN Model"
(2025), Sec. III: the FF layer (a ``SpectralFrontEnd``), the LFE layer (convolutions with ReLU
and max pooling), the CFE layer (a BiLSTM) and the GFE layer (multi-head self-attention whose
outputs are summed over positions), then a linear classifier. The gaps the paper leaves are
constructor arguments; the defaults, and why, are listed in ``docs/models.md`` (section "STA-CNN").
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from sermodels._validation import check_choice, check_positive
from sermodels.frontends import SpectralFrontEnd

ConvType = Literal["1d", "2d"]
LFELayout = Literal["sequential", "parallel"]
LFEMerge = Literal["concat", "sum"]
GFEPooling = Literal["sum", "mean"]


class SelfAttention(nn.Module):
    """Multi-head self-attention over a sequence, heads concatenated (STA-CNN Eq. 4-5).

    Q, K and V are linear maps of the input (the key map has no bias: it would only add a
    per-query constant to the scores, which cancels in the softmax). There is no output
    projection: the GFE output is summed over positions and fed to a linear classifier, which
    already provides one.

    Args:
        in_dim: Feature size of each position.
        dim: Total width of Q, K and V (all heads together).
        num_heads: Number of heads; must divide ``dim``.
    """

    def __init__(self, in_dim: int, dim: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.query = nn.Linear(in_dim, dim)
        self.key = nn.Linear(in_dim, dim, bias=False)
        self.value = nn.Linear(in_dim, dim)

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, length, dim = x.shape
        # contiguous: the fused CPU attention kernel is about 2x slower on the strided view
        return x.view(batch, length, self.num_heads, dim // self.num_heads).transpose(1, 2).contiguous()

    def forward(self, x: Tensor) -> Tensor:
        """Attend every position to every position.

        Args:
            x: ``(batch, positions, in_dim)``.

        Returns:
            ``W_sum``, ``(batch, positions, dim)``: per position, the attention-weighted sum of
            the values (Eq. 5), heads concatenated.
        """
        q = self._split_heads(self.query(x))  # (batch, heads, positions, head_dim)
        k = self._split_heads(self.key(x))
        v = self._split_heads(self.value(x))
        out = F.scaled_dot_product_attention(q, k, v)
        batch, heads, length, head_dim = out.shape
        return out.transpose(1, 2).reshape(batch, length, heads * head_dim)


class _ConvStage(nn.Module):
    """Conv -> (BatchNorm) -> ReLU -> max pool, in 1-D over frames or 2-D over (feature, frame).

    Output ``(batch, channels, [features,] frames // pool)``; the 2-D stage pools the feature
    axis only while it is at least ``pool`` long.
    """

    def __init__(
        self,
        conv_type: ConvType,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        pool_size: int,
        batch_norm: bool,
        feature_size: int,
    ) -> None:
        super().__init__()
        layers: list[nn.Module]
        if conv_type == "1d":
            layers = [nn.Conv1d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)]
            if batch_norm:
                layers.append(nn.BatchNorm1d(out_channels))
            # max pool before ReLU: the two commute (ReLU is monotone) and the ReLU then runs on
            # a smaller tensor.
            layers += [nn.MaxPool1d(pool_size), nn.ReLU()]
            self.out_features = feature_size
        else:
            freq_pool = pool_size if feature_size >= pool_size else 1
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2)]
            if batch_norm:
                layers.append(nn.BatchNorm2d(out_channels))
            layers += [nn.MaxPool2d((freq_pool, pool_size)), nn.ReLU()]
            self.out_features = feature_size // freq_pool
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Convolve, (normalise,) pool and rectify.

        Args:
            x: ``(batch, in_channels, frames)`` for 1-D, ``(batch, in_channels, features, frames)``
                for 2-D.

        Returns:
            ``(batch, out_channels, frames // pool)`` or
            ``(batch, out_channels, out_features, frames // pool)``.
        """
        if x.dim() == 4:
            # channels-last: oneDNN's 2-D convolutions run faster on CPU; same values.
            x = x.contiguous(memory_format=torch.channels_last)
        return self.layers(x)


class STACNN(nn.Module):
    """STA-CNN: FF front end -> LFE convolutions -> CFE BiLSTM -> GFE self-attention -> linear.

    What feeds what (Zhou and Xie 2025, Sec. III.A-C): the front end fuses log-mel, ZCR, MFCC and
    chroma frame by frame (Eq. 1); the LFE layer applies 3 convolutions, each with ReLU and max
    pooling (Eq. 2); the pooled sequence feeds the BiLSTM (Eq. 3); the BiLSTM outputs feed the
    multi-head self-attention (Eq. 4-5), whose outputs are summed over positions,
    ``x_G = sum_i W_sum^(i)`` (Eq. 6); ``softmax(W x_G + b)`` classifies (Eq. 7, the softmax left
    to the loss). Nothing is concatenated across layers: the paper's pipeline is sequential
    (Sec. III.A and V list the layers in that order).

    Gaps and their defaults (``docs/models.md``, section "STA-CNN"; the paper gives only "kernel 3"):

    - Front end: ``SpectralFrontEnd()`` (frame-aligned concatenation of standardised log-mel,
      ZCR, MFCC and chroma, 117 features per 10 ms frame); ``fusion="sum"`` there is the literal
      Eq. 1.
    - ``conv_type="1d"``: the fused features are the channels and the convolutions slide over
      frames (the common reading of 1-D CNN SER models the paper cites). ``"2d"`` treats the
      ``(features, frames)`` map as a 1-channel image with ``k x k`` kernels and ``2 x 2``
      pooling (the feature axis is pooled while long enough); its output is flattened to
      ``channels * pooled features`` per frame for the BiLSTM.
    - ``conv_channels=(64, 128, 256)``, ``kernel_size=3``, ``pool_size=2``.
    - ``batch_norm=False``: the paper names only conv, ReLU and max pooling. True inserts
      BatchNorm after each conv (with ``gfe_pooling="mean"`` and the opt-in recipe it raised
      validation UA on both corpora at hand but not held-out test UA (EMO-DB 80.24 against 80.81,
      RAVDESS 67.61 against 70.68, 6:2:2, 3 seeds:
      ``docs/reproduction.md``, STA-CNN notes, "Architecture gaps")).
    - ``lfe_layout="sequential"``: conv1 -> conv2 -> conv3, each followed by ReLU and max
      pooling (Fig. 1 and the text: "three convolutional layers and three pooling layers").
      ``"parallel"`` is the other reading of Eq. 2-3, where every ``X_c_j`` is computed from the
      fused input ``x_F`` with a kernel of its own scale and the three pooled maps are combined
      before the BiLSTM: branch ``j`` uses kernel ``kernel_size + 2 j`` and ``conv_channels[j]``
      channels, and ``lfe_merge`` combines them: ``"concat"`` (the text: "Concatenate all pooled
      features") or ``"sum"`` (Eq. 3's sum; needs equal channels). ``lfe_merge`` is unused for
      ``"sequential"``.
    - ``lstm_hidden=128`` per direction, ``lstm_layers=1``.
    - ``num_heads=4``, ``attention_dim=None`` (= ``2 * lstm_hidden``, the BiLSTM's width).
    - ``gfe_pooling="sum"`` as in Eq. 6; ``"mean"`` divides by the number of positions, which
      keeps ``x_G``'s scale independent of the input length (without BatchNorm, at lr 1e-4, that
      variant learned far more slowly: EMO-DB 6:2:2 validation UA 75.5 against 87.0 with the sum).
    - ``dropout=0.3`` on ``x_G`` before the classifier (and between stacked LSTM layers); the
      paper regularises with L2 only (weight decay 1e-3, an optimizer setting).
    - SpecAugment-style masking (opt-in, beyond the paper; Park et al. 2019): in training only,
      ``freq_masks`` bands of fewer than ``freq_mask_width`` consecutive front-end features and
      ``time_masks`` spans of fewer than ``time_mask_width`` frames are set to 0 in each input,
      drawn independently per input (``torchaudio.transforms.FrequencyMasking`` and
      ``TimeMasking`` with ``iid_masks``). The masked axis is the front end's output: with the
      default ``fusion="concat"`` the standardised log-mel, ZCR, MFCC and chroma features in
      ``blocks`` order (0 is the training mean; a band may span two blocks), with ``"sum"`` the
      projection units. Defaults 0: off.

    Input length: any wave with at least one LFE output frame, i.e. ``1 + samples // hop`` frames
    ``>= pool_size ** 3`` for the sequential layout (0.08 s at the defaults); 0.5 s and longer is
    the intended range.

    Args:
        num_classes: Number of emotion classes ``C``.
        frontend: The FF layer; ``None`` builds ``SpectralFrontEnd()``.
        conv_type: 1-D convolutions over frames or 2-D over (features, frames).
        conv_channels: Output channels of the three convolutions.
        kernel_size: Convolution kernel size (odd, 'same' padding).
        pool_size: Max-pooling size (over frames; and features for ``"2d"``).
        lstm_hidden: BiLSTM units per direction.
        num_heads: Self-attention heads; must divide the attention width.
        attention_dim: Q/K/V width of the self-attention; None for ``2 * lstm_hidden``.
        dropout: Dropout probability.
        batch_norm: BatchNorm after each convolution.
        lfe_layout: Sequential or parallel convolutions.
        lfe_merge: How the parallel branches are combined.
        gfe_pooling: How the self-attention outputs are reduced over positions.
        lstm_layers: Stacked BiLSTM layers.
        freq_masks: Feature bands masked per training input (0: none).
        freq_mask_width: Bound on a masked feature band (its width is drawn uniformly in
            ``[0, freq_mask_width)``); at least 2, and with ``freq_masks > 0`` at most the front
            end's ``out_features``.
        time_masks: Frame spans masked per training input (0: none).
        time_mask_width: Bound on a masked frame span (drawn uniformly in
            ``[0, time_mask_width)``); at least 2.

    Raises:
        ValueError: If an argument is out of range or not one of the allowed choices.
    """

    inputs: tuple[str, ...] = ("wave",)

    def __init__(
        self,
        num_classes: int,
        frontend: SpectralFrontEnd | None = None,
        conv_type: ConvType = "1d",
        conv_channels: tuple[int, int, int] = (64, 128, 256),
        kernel_size: int = 3,
        pool_size: int = 2,
        lstm_hidden: int = 128,
        num_heads: int = 4,
        attention_dim: int | None = None,
        dropout: float = 0.3,
        batch_norm: bool = False,
        lfe_layout: LFELayout = "sequential",
        lfe_merge: LFEMerge = "concat",
        gfe_pooling: GFEPooling = "sum",
        lstm_layers: int = 1,
        freq_masks: int = 0,
        freq_mask_width: int = 8,
        time_masks: int = 0,
        time_mask_width: int = 20,
    ) -> None:
        super().__init__()
        for name, value in (
            ("num_classes", num_classes),
            ("pool_size", pool_size),
            ("lstm_hidden", lstm_hidden),
            ("num_heads", num_heads),
            ("lstm_layers", lstm_layers),
        ):
            check_positive(name, value)
        for name, value in (("freq_mask_width", freq_mask_width), ("time_mask_width", time_mask_width)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise ValueError(
                    f"Expected {name} to be an integer >= 2 (widths are drawn in [0, {name}): 1 would never mask), "
                    f"got {value!r}"
                )
        for name, value in (("freq_masks", freq_masks), ("time_masks", time_masks)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"Expected {name} to be an integer >= 0 (0 turns the masking off), got {value!r}")
        if (
            isinstance(kernel_size, bool)
            or not isinstance(kernel_size, int)
            or kernel_size < 1
            or (kernel_size % 2 == 0)
        ):
            raise ValueError(
                f"Expected kernel_size to be an odd integer >= 1 (so 'same' padding keeps the "
                f"length), got {kernel_size!r}"
            )
        check_choice("conv_type", conv_type, ConvType)
        check_choice("lfe_layout", lfe_layout, LFELayout)
        check_choice("lfe_merge", lfe_merge, LFEMerge)
        check_choice("gfe_pooling", gfe_pooling, GFEPooling)
        conv_channels = tuple(conv_channels)  # type: ignore[assignment]
        if len(conv_channels) != 3 or not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in conv_channels
        ):
            raise ValueError(
                f"Expected conv_channels to be 3 positive integers (one per LFE convolution), got {conv_channels!r}"
            )
        if lfe_layout == "parallel" and lfe_merge == "sum" and len(set(conv_channels)) != 1:
            raise ValueError(
                f"Expected equal conv_channels for lfe_layout='parallel' with lfe_merge='sum' "
                f"(the branches are added), got {conv_channels!r}"
            )
        if attention_dim is None:
            attention_dim = 2 * lstm_hidden
        check_positive("attention_dim", attention_dim)
        if attention_dim % num_heads != 0:
            raise ValueError(
                f"Expected num_heads to divide attention_dim, got num_heads={num_heads} and "
                f"attention_dim={attention_dim}"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"Expected dropout in [0, 1), got {dropout!r}")
        if frontend is not None and not isinstance(frontend, SpectralFrontEnd):
            raise ValueError(f"Expected frontend to be a SpectralFrontEnd or None, got {type(frontend).__name__}")

        self.num_classes = num_classes
        self.conv_type = conv_type
        self.lfe_layout = lfe_layout
        self.lfe_merge = lfe_merge
        self.gfe_pooling = gfe_pooling
        self.pool_size = pool_size
        self.frontend = frontend if frontend is not None else SpectralFrontEnd()
        features = self.frontend.out_features
        if freq_masks > 0 and freq_mask_width > features:
            raise ValueError(
                f"Expected freq_mask_width <= the front end's {features} output features when freq_masks > 0, "
                f"got {freq_mask_width}"
            )
        in_channels = features if conv_type == "1d" else 1
        feature_size = features if conv_type == "2d" else 1

        # LFE (Eq. 2-3).
        stages: list[_ConvStage] = []
        if lfe_layout == "sequential":
            for out_channels in conv_channels:
                stage = _ConvStage(
                    conv_type,
                    in_channels,
                    out_channels,
                    kernel_size,
                    pool_size,
                    batch_norm,
                    feature_size,
                )
                stages.append(stage)
                in_channels, feature_size = out_channels, stage.out_features
            self.lfe_dim = conv_channels[-1] * feature_size
            self.frames_per_step = pool_size**3
        else:
            widths = []
            for j, out_channels in enumerate(conv_channels):
                stage = _ConvStage(
                    conv_type,
                    in_channels,
                    out_channels,
                    kernel_size + 2 * j,
                    pool_size,
                    batch_norm,
                    feature_size,
                )
                stages.append(stage)
                widths.append(out_channels * stage.out_features)
            self.lfe_dim = sum(widths) if lfe_merge == "concat" else widths[0]
            self.frames_per_step = pool_size
        self.lfe = nn.ModuleList(stages)

        # SpecAugment-style masking of the front-end output (training only).
        self.freq_masks = freq_masks
        self.time_masks = time_masks
        self.freq_masking = torchaudio.transforms.FrequencyMasking(freq_mask_width, iid_masks=True)
        self.time_masking = torchaudio.transforms.TimeMasking(time_mask_width, iid_masks=True)

        # CFE (Eq. 3).
        self.cfe = nn.LSTM(
            self.lfe_dim,
            lstm_hidden,
            lstm_layers,
            batch_first=True,
            bidirectional=True,
            dropout=dropout if lstm_layers > 1 else 0.0,
        )
        # GFE (Eq. 4-6).
        self.gfe = SelfAttention(2 * lstm_hidden, attention_dim, num_heads)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(attention_dim, num_classes)

    @property
    def num_parameters(self) -> int:
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def fit_normalization(self, waves: Iterable[Tensor]) -> None:
        """Fit the front end's feature standardisation on training audio.

        Args:
            waves: Batches ``(batch, samples)`` of training waves (see
                ``SpectralFrontEnd.fit_normalization``).
        """
        self.frontend.fit_normalization(waves)

    @staticmethod
    def _to_sequence(x: Tensor) -> Tensor:
        # (batch, C, frames) or (batch, C, F, frames) -> (batch, frames, C [* F])
        if x.dim() == 4:
            x = x.flatten(1, 2)
        return x.transpose(1, 2)

    def augment(self, feats: Tensor) -> Tensor:
        """Apply the SpecAugment-style masks (training mode only; identity otherwise).

        Args:
            feats: Front-end output ``(batch, features, frames)``.

        Returns:
            ``feats`` with ``freq_masks`` feature bands and ``time_masks`` frame spans set to 0
            in each input (drawn independently per input).
        """
        if not self.training or (self.freq_masks == 0 and self.time_masks == 0):
            return feats
        x = feats.unsqueeze(1)  # iid_masks needs (batch, channel, features, frames)
        for _ in range(self.freq_masks):
            x = self.freq_masking(x)
        for _ in range(self.time_masks):
            x = self.time_masking(x)
        return x.squeeze(1)

    def local_features(self, feats: Tensor) -> Tensor:
        """LFE layer.

        Args:
            feats: Front-end output ``(batch, features, frames)``.

        Returns:
            ``(batch, frames // frames_per_step, lfe_dim)``.
        """
        x = feats if self.conv_type == "1d" else feats.unsqueeze(1)
        if self.lfe_layout == "sequential":
            for stage in self.lfe:
                x = stage(x)
            return self._to_sequence(x)
        parts = [self._to_sequence(stage(x)) for stage in self.lfe]
        if self.lfe_merge == "concat":
            return torch.cat(parts, dim=-1)
        return torch.stack(parts).sum(0)

    @property
    def min_samples(self) -> int:
        """Shortest input wave: ``1 + samples // hop`` front-end frames must reach ``frames_per_step``."""
        return max(1, (self.frames_per_step - 1) * self.frontend.hop_length)

    def forward(self, wave: Tensor) -> Tensor:
        """Classify waves.

        Args:
            wave: ``(batch, samples)`` float waves at the front end's sample rate.

        Returns:
            Logits, ``(batch, num_classes)``.

        Raises:
            ValueError: If ``wave`` has the wrong shape or is too short.
        """
        feats = self.frontend(wave)  # (batch, features, frames)
        if feats.shape[-1] < self.frames_per_step:
            raise ValueError(
                f"Expected at least {self.frames_per_step} front-end frames (the LFE pools them "
                f"to one step), got {feats.shape[-1]} from {wave.shape[-1]} samples; use longer "
                f"waves"
            )
        x = self.local_features(self.augment(feats))  # (batch, steps, lfe_dim)
        x, _ = self.cfe(x)  # (batch, steps, 2 * lstm_hidden)
        w_sum = self.gfe(x)  # (batch, steps, attention_dim)
        x_g = w_sum.sum(dim=1) if self.gfe_pooling == "sum" else w_sum.mean(dim=1)
        return self.classifier(self.dropout(x_g))
