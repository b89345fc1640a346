"""Audio input: read with soundfile, downmix, resample with torchaudio, validate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

__all__ = ["AudioError", "load_audio", "prepare_waveform"]


class AudioError(ValueError):
    """Raised when an audio file cannot be used; the message names the file and the fix."""


def prepare_waveform(
    samples: np.ndarray | torch.Tensor,
    source_rate: int,
    sample_rate: int = 16000,
    name: str = "<array>",
) -> torch.Tensor:
    """Turn raw samples into the mono float32 waveform every extractor expects.

    Args:
        samples: ``(frames,)`` or ``(frames, channels)`` samples, float in [-1, 1] or int PCM.
        source_rate: Sample rate of ``samples`` in Hz.
        sample_rate: Target sample rate in Hz.
        name: What to call the input in error messages (usually the file path).

    Returns:
        ``(frames,)`` float32 tensor at ``sample_rate``, clipped to [-1, 1].

    Raises:
        AudioError: Empty input, a non-positive rate, or NaN/inf samples.
    """
    if source_rate <= 0:
        raise AudioError(f"{name}: expected a positive sample rate, got {source_rate}.")
    x = torch.as_tensor(samples)
    if not torch.is_floating_point(x):
        info = torch.iinfo(x.dtype)
        x = x.to(torch.float32) / float(max(abs(info.min), info.max))
    x = x.to(torch.float32)
    if x.ndim == 2:
        # soundfile gives (frames, channels): average the channels, as every SER corpus is mono speech.
        x = x.mean(dim=1)
    elif x.ndim != 1:
        raise AudioError(f"{name}: expected 1-D or (frames, channels) audio, got shape {tuple(x.shape)}.")
    if x.numel() == 0:
        raise AudioError(f"{name}: the file holds no audio samples (0 frames). Remove it from the corpus or replace it.")
    if not torch.isfinite(x).all():
        raise AudioError(f"{name}: audio contains NaN or infinite samples. Re-export the file as PCM WAV/FLAC.")
    if source_rate != sample_rate:
        x = AF.resample(x, orig_freq=source_rate, new_freq=sample_rate)
    return x.clamp_(-1.0, 1.0)


def load_audio(path: str | Path, sample_rate: int = 16000) -> torch.Tensor:
    """Read an audio file as a mono float32 waveform in [-1, 1] at ``sample_rate``.

    Args:
        path: Any file soundfile (libsndfile) reads: WAV, FLAC, OGG, AIFF, ...
        sample_rate: Target rate in Hz; other rates are resampled with torchaudio.

    Returns:
        ``(frames,)`` float32 tensor.

    Raises:
        AudioError: Missing, unreadable or corrupt file, or a file with no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found. Check the corpus root / CSV path column.")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for corrupt headers
        raise AudioError(
            f"{path}: cannot decode audio ({err}). Expected a WAV/FLAC/OGG file readable by libsndfile; "
            "re-encode it (e.g. `sox in.x -b 16 out.wav`) or drop it from the corpus."
        ) from err
    return prepare_waveform(data, rate, sample_rate, name=str(path))
