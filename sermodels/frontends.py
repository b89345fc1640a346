"""Spectral front ends computed on tensors (on the module's device), for nets that read audio.

``SpectralFrontEnd`` is the feature-fusion (FF) layer of STA-CNN (Zhou and Xie 2025, Sec. III.B(1),
Eq. 1): log-mel spectrogram, zero-crossing rate, MFCC and chromagram, all from the same framing
so every block has the same number of frames, fused along the feature axis and standardised with
statistics fitted on the training data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

import torch
import torch.nn.functional as F
import torchaudio
from torch import Tensor, nn

from sermodels._validation import check_positive as _check_positive

Block = Literal["logmel", "zcr", "mfcc", "chroma"]
Fusion = Literal["concat", "sum"]
InstanceNorm = Literal["none", "mean", "mean_var"]

ALL_BLOCKS: tuple[Block, ...] = ("logmel", "zcr", "mfcc", "chroma")
_STD_FLOOR = 1e-5
"""Standard deviations below this (a constant feature) are replaced by 1 in standardisation."""


def _floored(std: Tensor) -> Tensor:
    """``std`` with every value below ``_STD_FLOOR`` replaced by 1 (a constant feature is only centred)."""
    return torch.where(std < _STD_FLOOR, torch.ones_like(std), std)


def chroma_filterbank(
    sample_rate: int,
    n_fft: int,
    n_chroma: int = 12,
    tuning: float = 0.0,
    center_octave: float = 5.0,
    octave_width: float | None = 2.0,
    base_c: bool = True,
) -> Tensor:
    """Chroma filterbank mapping STFT bins to pitch classes (the construction of librosa's
    ``filters.chroma``, after Ellis' ``chromagram_E``).

    Each STFT bin's frequency is converted to fractional pitch-class units (A440 = 4 octaves above
    A0 = 27.5 Hz); each pitch class gets a Gaussian bump around it, wide as the bin spacing,
    every bin's column is L2-normalised, and a Gaussian over octaves centred on
    ``center_octave`` (C5 region, roughly 880 Hz) with width ``octave_width`` octaves
    de-emphasises very low and very high bins.

    Args:
        sample_rate: Sampling rate in Hz.
        n_fft: FFT size; the filterbank covers ``n_fft // 2 + 1`` one-sided bins.
        n_chroma: Number of pitch classes (12 for semitones).
        tuning: Tuning deviation from A440 in fractions of a chroma bin.
        center_octave: Centre of the octave weighting, in octaves above A0.
        octave_width: Width of the octave weighting in octaves; None for flat weighting.
        base_c: Start the pitch classes at C (index 9 is then A); otherwise at A.

    Returns:
        ``(n_chroma, n_fft // 2 + 1)`` float32 weights.
    """
    dtype = torch.float64
    freqs = torch.arange(1, n_fft, dtype=dtype) * (sample_rate / n_fft)
    a440 = 440.0 * 2.0 ** (tuning / n_chroma)
    bins = n_chroma * torch.log2(freqs / (a440 / 16.0))  # pitch-class units above A0
    # The 0 Hz bin gets a made-up position 1.5 octaves below the first bin.
    bins = torch.cat((bins[:1] - 1.5 * n_chroma, bins))
    widths = torch.cat(((bins[1:] - bins[:-1]).clamp(min=1.0), torch.ones(1, dtype=dtype)))
    dist = bins[None, :] - torch.arange(n_chroma, dtype=dtype)[:, None]  # (n_chroma, n_fft)
    half = float(round(n_chroma / 2))
    # Wrap distances into [-n_chroma / 2, n_chroma / 2): pitch classes are circular.
    dist = torch.remainder(dist + half + 10 * n_chroma, n_chroma) - half
    weights = torch.exp(-0.5 * (2.0 * dist / widths[None, :]) ** 2)
    weights = weights / weights.norm(dim=0, keepdim=True).clamp(min=torch.finfo(dtype).tiny)
    if octave_width is not None:
        weights = weights * torch.exp(-0.5 * ((bins / n_chroma - center_octave) / octave_width) ** 2)
    if base_c:
        weights = torch.roll(weights, -3 * (n_chroma // 12), dims=0)
    return weights[:, : n_fft // 2 + 1].to(torch.float32).contiguous()


class SpectralFrontEnd(nn.Module):
    """Frame-aligned log-mel, zero-crossing rate, MFCC and chroma features, fused and standardised.

    All blocks share one framing: ``n_fft``-sample frames every ``hop_length`` samples, centred
    (the signal is reflect-padded by ``n_fft // 2`` on each side, as ``torch.stft(center=True)``),
    with a Hann window of ``win_length`` samples centred in each frame. A wave of ``S`` samples
    gives ``T = 1 + S // hop_length`` frames.

    Blocks (in the order given by ``blocks``):

    - ``"logmel"``: ``log(mel + 1e-6)`` of the power mel spectrogram (HTK mel scale, no filter
      normalisation, ``n_mels`` bands from 0 Hz to Nyquist); the "spectrogram" ``x_s`` of
      STA-CNN, taken as log-mel (``docs/models.md``, STA-CNN table, row "spectrogram"). Equals
      ``log(torchaudio.transforms.MelSpectrogram(...)(wave) + 1e-6)``.
    - ``"zcr"``: the fraction of adjacent sample pairs in the ``win_length`` samples under each
      window whose signs differ (0 counts as positive, like librosa's
      ``zero_crossing_rate``), one value per frame.
    - ``"mfcc"``: ``torchaudio.transforms.MFCC(n_mfcc=n_mfcc, melkwargs=same framing and mel)``:
      DCT-II (ortho) of the mel power in dB, floored at 80 dB below the utterance's maximum. The
      floor is taken per utterance (torchaudio takes it over the whole batch for a
      ``(batch, samples)`` input, which would make a feature depend on its batch mates).
    - ``"chroma"``: the power spectrogram through ``chroma_filterbank`` (librosa's ``chroma_stft``
      with ``tuning=0``), each frame divided by its largest pitch-class value.

    Fusion (the FF layer's ``x_f = x_s + x_c + x_m + x_z``, Eq. 1; default as in ``docs/models.md``,
    STA-CNN table, row "fusion"):

    - ``"concat"`` (default): the blocks are stacked along the feature axis,
      ``out_features = sum of block sizes`` (117 with all four blocks).
    - ``"sum"``: the literal sum. The blocks have different sizes, so each (standardised) block
      is mapped per frame by its own learnable ``Linear(block_size, fusion_dim)`` and the
      results are added; ``out_features = fusion_dim``.

    Standardisation: per-feature mean and standard deviation (of the unfused blocks) are buffers,
    so they are saved in checkpoints and move with the module; ``fit_normalization`` fills them
    from training audio and sets ``fitted``. ``forward`` standardises only when
    ``standardize=True`` and the statistics are fitted. A constant feature (std below 1e-5)
    is only centred.

    Per-input normalisation (``instance_norm``; opt-in, beyond the paper): after the dataset
    standardisation, each input (one segment or crop) is normalised over its own frames, per
    feature: ``"mean"`` subtracts the input's mean (cepstral mean normalisation, Kaldi's
    ``apply-cmvn`` default), which removes a constant channel offset (a gain) from the log-mel and
    MFCC features; ``"mean_var"`` also divides by the input's standard deviation (floored like the
    dataset statistics). It uses nothing but the input itself, so it is not transductive. Two
    limits: it normalises every block, so each input's average ZCR and chroma profile is removed
    too; and the frames are all the input's frames, so a zero-padded last segment's silence
    counts (its gain is then not removed exactly). ``"none"`` (default) keeps the paper's reading.

    The features are computed in float32 with autocast disabled (``torch.stft`` and the dB floor
    are not safe in half precision); the learnable ``"sum"`` projections run under the caller's
    precision.

    Args:
        sample_rate: Sampling rate of the input waves in Hz.
        n_fft: FFT size (frame length before windowing).
        win_length: Window length in samples (400 = 25 ms at 16 kHz); at most ``n_fft``.
        hop_length: Frame shift in samples (160 = 10 ms at 16 kHz).
        n_mels: Mel bands of the log-mel block, also the mel bands the MFCCs are taken from.
        n_mfcc: MFCCs kept; at most ``n_mels``.
        n_chroma: Pitch classes of the chroma block.
        blocks: Which blocks to compute, in output order; no repeats.
        fusion: How the blocks are fused.
        standardize: Standardise the features once ``fit_normalization`` has run.
        fusion_dim: Output width of the ``"sum"`` fusion; unused for ``"concat"``.
        instance_norm: Per-input normalisation over frames after the dataset standardisation.

    Raises:
        ValueError: If an argument is out of range or not one of the allowed choices.
    """

    mean: Tensor
    std: Tensor
    fitted: Tensor
    dct_mat: Tensor
    chroma_fb: Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        n_mels: int = 64,
        n_mfcc: int = 40,
        n_chroma: int = 12,
        blocks: tuple[Block, ...] = ALL_BLOCKS,
        fusion: Fusion = "concat",
        standardize: bool = True,
        fusion_dim: int = 64,
        instance_norm: InstanceNorm = "none",
    ) -> None:
        super().__init__()
        for name, value in (
            ("sample_rate", sample_rate),
            ("n_fft", n_fft),
            ("win_length", win_length),
            ("hop_length", hop_length),
            ("n_mels", n_mels),
            ("n_mfcc", n_mfcc),
            ("n_chroma", n_chroma),
            ("fusion_dim", fusion_dim),
        ):
            _check_positive(name, value)
        if win_length > n_fft:
            raise ValueError(f"Expected win_length <= n_fft, got win_length={win_length} and n_fft={n_fft}")
        if n_mfcc > n_mels:
            raise ValueError(
                f"Expected n_mfcc <= n_mels (the MFCCs are the DCT of the n_mels log-mel bands), "
                f"got n_mfcc={n_mfcc} and n_mels={n_mels}"
            )
        blocks = tuple(blocks)
        allowed = get_args(Block)
        bad = [b for b in blocks if b not in allowed]
        if not blocks or bad or len(set(blocks)) != len(blocks):
            raise ValueError(
                f"Expected blocks to be a non-empty tuple of distinct values from {allowed}, got {blocks!r}"
            )
        if fusion not in get_args(Fusion):
            raise ValueError(f"Expected fusion to be one of {get_args(Fusion)}, got {fusion!r}")
        if instance_norm not in get_args(InstanceNorm):
            raise ValueError(f"Expected instance_norm to be one of {get_args(InstanceNorm)}, got {instance_norm!r}")

        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.win_length = win_length
        self.hop_length = hop_length
        self.blocks: tuple[Block, ...] = blocks
        self.fusion = fusion
        self.standardize = standardize
        self.instance_norm = instance_norm
        sizes = {"logmel": n_mels, "zcr": 1, "mfcc": n_mfcc, "chroma": n_chroma}
        self.block_sizes: dict[str, int] = {b: sizes[b] for b in blocks}
        self.num_raw_features = sum(self.block_sizes.values())

        needs_spec = any(b in blocks for b in ("logmel", "mfcc", "chroma"))
        self.spectrogram: torchaudio.transforms.Spectrogram | None = None
        self.mel_scale: torchaudio.transforms.MelScale | None = None
        if needs_spec:
            self.spectrogram = torchaudio.transforms.Spectrogram(
                n_fft=n_fft,
                win_length=win_length,
                hop_length=hop_length,
                power=2.0,
                center=True,
                pad_mode="reflect",
            )
        if "logmel" in blocks or "mfcc" in blocks:
            self.mel_scale = torchaudio.transforms.MelScale(
                n_mels=n_mels, sample_rate=sample_rate, n_stft=n_fft // 2 + 1
            )
        if "mfcc" in blocks:
            dct = torchaudio.functional.create_dct(n_mfcc, n_mels, norm="ortho")
            self.register_buffer("dct_mat", dct, persistent=False)  # (n_mels, n_mfcc)
        if "chroma" in blocks:
            self.register_buffer("chroma_fb", chroma_filterbank(sample_rate, n_fft, n_chroma), persistent=False)

        self.register_buffer("mean", torch.zeros(self.num_raw_features))
        self.register_buffer("std", torch.ones(self.num_raw_features))
        self.register_buffer("fitted", torch.tensor(False))

        self.projections: nn.ModuleList | None = None
        if fusion == "sum":
            self.projections = nn.ModuleList(nn.Linear(size, fusion_dim) for size in self.block_sizes.values())
        self.fusion_dim = fusion_dim

    @property
    def out_features(self) -> int:
        """Feature size ``F`` of the output ``(batch, F, frames)``."""
        return self.fusion_dim if self.fusion == "sum" else self.num_raw_features

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a wave of ``num_samples`` samples (``1 + num_samples // hop``)."""
        return 1 + num_samples // self.hop_length

    def _check_wave(self, wave: Tensor) -> None:
        if wave.dim() != 2:
            raise ValueError(f"Expected wave of shape (batch, samples), got {tuple(wave.shape)}")
        min_samples = self.n_fft // 2 + 1  # reflect padding needs more samples than the pad
        if wave.shape[1] < min_samples:
            raise ValueError(
                f"Expected waves of at least {min_samples} samples "
                f"({min_samples / self.sample_rate:.3f} s), got {wave.shape[1]}"
            )

    def zero_crossing_rate(self, wave: Tensor) -> Tensor:
        """Zero-crossing rate per frame, on the same centred framing as the STFT.

        Args:
            wave: ``(batch, samples)``.

        Returns:
            ``(batch, 1, frames)``.
        """
        pad = self.n_fft // 2
        padded = F.pad(wave.unsqueeze(1), (pad, pad), mode="reflect").squeeze(1)
        frames = padded.unfold(-1, self.n_fft, self.hop_length)  # (batch, frames, n_fft)
        offset = (self.n_fft - self.win_length) // 2  # torch.stft centres a short window
        frames = frames[..., offset : offset + self.win_length]
        negative = torch.signbit(frames)
        crossings = (negative[..., 1:] != negative[..., :-1]).sum(-1)
        return (crossings.to(wave.dtype) / self.win_length).unsqueeze(1)

    def raw_features(self, wave: Tensor) -> Tensor:
        """Unstandardised, unfused blocks stacked along the feature axis.

        Args:
            wave: ``(batch, samples)`` float waves at ``sample_rate``.

        Returns:
            ``(batch, num_raw_features, frames)`` float32, blocks in ``blocks`` order.

        Raises:
            ValueError: If ``wave`` is not 2-D or shorter than ``n_fft // 2 + 1`` samples.
        """
        self._check_wave(wave)
        with torch.autocast(device_type=wave.device.type, enabled=False):
            wave = wave.float()
            power = self.spectrogram(wave) if self.spectrogram is not None else None
            mel = self.mel_scale(power) if self.mel_scale is not None else None
            features: list[Tensor] = []
            for block in self.blocks:
                if block == "zcr":
                    features.append(self.zero_crossing_rate(wave))
                elif block == "chroma":
                    assert power is not None
                    chroma = torch.matmul(self.chroma_fb, power)  # (batch, n_chroma, frames)
                    peak = chroma.amax(dim=1, keepdim=True).clamp(min=torch.finfo(chroma.dtype).tiny)
                    features.append(chroma / peak)
                elif block == "logmel":
                    assert mel is not None
                    features.append(torch.log(mel + 1e-6))
                else:
                    assert mel is not None
                    # 4-D input: amplitude_to_DB floors each utterance at its own max - 80 dB.
                    mel_db = torchaudio.functional.amplitude_to_DB(
                        mel.unsqueeze(1),
                        multiplier=10.0,
                        amin=1e-10,
                        db_multiplier=0.0,
                        top_db=80.0,
                    ).squeeze(1)
                    features.append(torch.matmul(mel_db.transpose(-1, -2), self.dct_mat).transpose(-1, -2))
            return torch.cat(features, dim=1)

    @torch.no_grad()
    def fit_normalization(self, waves: Iterable[Tensor]) -> None:
        """Fit the per-feature mean and standard deviation over every frame of ``waves``.

        Streams: only running sums (float64, on the module's device) are kept. Any previous fit
        is replaced. Pass unpadded waves (padding would count as silence frames).

        Args:
            waves: Batches ``(batch, samples)`` (or single waves ``(samples,)``) of training
                audio at ``sample_rate``; batches may differ in length.

        Raises:
            ValueError: If ``waves`` holds no frames.
        """
        device = self.mean.device
        total = torch.zeros(self.num_raw_features, dtype=torch.float64, device=device)
        total_sq = torch.zeros_like(total)
        count = 0
        for wave in waves:
            wave = wave.to(device)
            if wave.dim() == 1:
                wave = wave.unsqueeze(0)
            feats = self.raw_features(wave).double()  # (batch, F, frames)
            total += feats.sum(dim=(0, 2))
            total_sq += feats.square().sum(dim=(0, 2))
            count += feats.shape[0] * feats.shape[2]
        if count == 0:
            raise ValueError("Expected at least one wave in fit_normalization, got none")
        mean = total / count
        var = (total_sq / count - mean.square()).clamp(min=0.0)
        std = _floored(var.sqrt())
        self.mean.copy_(mean.to(self.mean.dtype))
        self.std.copy_(std.to(self.std.dtype))
        self.fitted.fill_(True)

    def forward(self, wave: Tensor) -> Tensor:
        """Compute the fused features.

        Args:
            wave: ``(batch, samples)`` float waves at ``sample_rate``, at least
                ``n_fft // 2 + 1`` samples.

        Returns:
            ``(batch, out_features, frames)`` with ``frames = 1 + samples // hop_length``.

        Raises:
            ValueError: If ``wave`` has the wrong shape or is too short.
        """
        x = self.raw_features(wave)
        if self.standardize:
            # torch.where rather than `if self.fitted`: no host-device sync per batch.
            x = torch.where(self.fitted, (x - self.mean[:, None]) / self.std[:, None], x)
        if self.instance_norm != "none":
            x = x - x.mean(dim=-1, keepdim=True)
            if self.instance_norm == "mean_var":
                x = x / _floored(x.square().mean(dim=-1, keepdim=True).sqrt())
        if self.projections is None:
            return x
        parts = torch.split(x, list(self.block_sizes.values()), dim=1)
        out = self.projections[0](parts[0].transpose(1, 2))  # (batch, frames, fusion_dim)
        for proj, part in zip(self.projections[1:], parts[1:]):
            out = out + proj(part.transpose(1, 2))
        return out.transpose(1, 2)


__all__ = ["ALL_BLOCKS", "Block", "Fusion", "InstanceNorm", "SpectralFrontEnd", "chroma_filterbank"]
