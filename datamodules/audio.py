"""Audio input: read with soundfile, downmix, resample with torchaudio, validate."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from datamodules.suffixes import AUDIO_SUFFIXES  # one list for the code base (re-exported here)

__all__ = [
    "AUDIO_SUFFIXES", "AudioError", "load_audio", "prepare_waveform", "wav_truncation", "SILENCE_PEAK", "CLIP_LEVEL",
    "CLIP_FRACTION",
]


#: A file whose peak stays below this (-80 dBFS) is reported as silent.
SILENCE_PEAK = 1e-4
#: Samples at or beyond this magnitude count as clipped ...
CLIP_LEVEL = 0.999
#: ... and a file is reported as clipped when more than this share of its samples are (or any float
#: sample lies beyond +-1, which is cut to +-1 here).
CLIP_FRACTION = 1e-3


class AudioError(ValueError):
    """Raised when an audio file cannot be used; the message names the file and the fix."""


def prepare_waveform(
    samples: np.ndarray | torch.Tensor,
    source_rate: int,
    sample_rate: int = 16000,
    name: str = "<array>",
    issues: list[str] | None = None,
) -> torch.Tensor:
    """Turn raw samples into the mono float32 waveform every extractor expects.

    Args:
        samples: ``(frames,)`` or ``(frames, channels)`` samples, float in [-1, 1] or int PCM.
        source_rate: Sample rate of ``samples`` in Hz.
        sample_rate: Target sample rate in Hz.
        name: What to call the input in error messages (usually the file path).
        issues: If given, degenerate-but-usable input is reported here (``silent``, ``clipped``).

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
    if issues is not None:
        peak = float(x.abs().max())
        if peak < SILENCE_PEAK:
            issues.append("silent")
        elif peak > 1.0 or float((x.abs() >= CLIP_LEVEL).float().mean()) > CLIP_FRACTION:
            issues.append("clipped")
    if source_rate != sample_rate:
        x = AF.resample(x, orig_freq=source_rate, new_freq=sample_rate)
    return x.clamp_(-1.0, 1.0)


def wav_truncation(path: str | Path) -> tuple[int, int] | None:
    """``(bytes the WAV header's data chunk promises, bytes the file holds)`` for a truncated RIFF
    WAV, else ``None``. (libsndfile silently reads what is there, so a cut-off copy would pass.)"""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            size = Path(path).stat().st_size
            while True:
                chunk = fh.read(8)
                if len(chunk) < 8:
                    return None
                cid, length = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if cid == b"data":
                    available = size - fh.tell()
                    # 0 and 0xFFFFFFFF mark streamed files whose writer never filled in the size.
                    if length not in (0, 0xFFFFFFFF) and length > available:
                        return length, available
                    return None
                fh.seek(length + (length & 1), 1)
    except OSError:
        return None


def load_audio(path: str | Path, sample_rate: int = 16000, issues: list[str] | None = None) -> torch.Tensor:
    """Read an audio file as a mono float32 waveform in [-1, 1] at ``sample_rate``.

    Args:
        path: Any file soundfile (libsndfile) reads: WAV, FLAC, OGG, AIFF, ...
        sample_rate: Target rate in Hz; other rates are resampled with torchaudio.
        issues: If given, degenerate-but-usable audio is reported here: ``silent``, ``clipped``,
            ``truncated`` (a WAV whose header promises more samples than the file holds).

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
    if issues is not None and path.suffix.lower() == ".wav" and wav_truncation(path) is not None:
        issues.append("truncated")
    return prepare_waveform(data, rate, sample_rate, name=str(path), issues=issues)
