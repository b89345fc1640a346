"""Per-utterance feature computation: a pure function of the audio file and a :class:`FeatureConfig`."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torchaudio

from datamodules.audio import load_audio
from datamodules.is10 import (
    CONFIG_DIGEST,
    HSF_DIM,
    LLD_DIM,
    OPENSMILE_VERSION,
    FeatureError,
    extract_hsf,
    extract_lld,
    num_frames,
)
from datamodules.segments import SegmentMode, cut_segments, seconds_to_samples, segment_bounds

__all__ = [
    "FeatureConfig",
    "HSFScope",
    "compute_features",
    "check_features",
    "extract_lld_chunked",
    "FEATURE_VERSION",
    "ISSUE_KINDS",
]

HSFScope = Literal["segment", "utterance"]
#: Bump when the computation below changes in a way that alters cached values.
FEATURE_VERSION = 1
#: openSMILE may drop the last frame or two of a signal; more missing frames is an error.
MAX_EDGE_FRAMES = 2
#: Degenerate-but-usable audio, reported (counts + files) after extraction; stored in cache entries.
ISSUE_KINDS = {
    "silent": "silent (peak below -80 dBFS)",
    "clipped": "clipped (samples at +-1)",
    "truncated": "truncated WAV (header promises more samples than the file holds)",
    "shorter_than_frame": "shorter than one LLD frame (features are mostly zero padding)",
}

#: LLDs of a long signal are computed chunk by chunk (openSMILE holds every intermediate frame of a
#: run in memory, about 3 MB per second of audio): chunks of this many frames (30 s at 32 ms) ...
LLD_CHUNK_FRAMES = 938
#: ... each run with this many frames of context on both sides (framing, deltas, smoothing, pitch) ...
LLD_CONTEXT_FRAMES = 16
#: ... and on the left at least this many (near-)voiced frames: the F0 envelope (``F0finEnv``) is an
#: exponential average over voiced frames (x0.75 per frame), whose state must converge to float32
#: precision before the chunk starts, so the chunked frames equal the single run's bit for bit ...
LLD_ENV_VOICED_FRAMES = 160
#: ... but never more left context than this (60 s): after a minute without voicing the envelope of
#: a chunked run may differ from a single run's until the next voiced frames.
LLD_MAX_CONTEXT_FRAMES = 1875
_F0_FINAL = 34  # row of F0final_sma in the (76, T) LLDs


@dataclass(frozen=True)
class FeatureConfig:
    """Every setting that changes the cached features (all part of the cache key).

    Attributes:
        sample_rate: Rate audio is resampled to (Hz).
        segment_length: Segment length in seconds (STRL-SER: 1.4 RAVDESS, 2.0 IEMOCAP).
        segment_hop: Seconds between segment starts; ``None`` = ``segment_length`` (no overlap).
        min_last_segment: Keep a zero-padded tail at least this fraction of a segment long.
        segment_mode: ``segments`` cuts the whole utterance; ``crop`` keeps one centred window.
        frame_size: LLD window in seconds (paper 0.128).
        frame_shift: LLD hop in seconds (paper 0.032).
        lld: Compute the 76-dim IS10 LLD+delta frames.
        hsf: Compute the 1582 IS10 functionals.
        hsf_scope: Functionals per segment (default) or once per utterance.
        wave: Keep the segments' waveforms (for nets with their own front end, e.g. STA-CNN).
    """

    sample_rate: int = 16000
    segment_length: float = 1.4
    segment_hop: float | None = None
    min_last_segment: float = 0.5
    segment_mode: SegmentMode = "segments"
    frame_size: float = 0.128
    frame_shift: float = 0.032
    lld: bool = True
    hsf: bool = True
    hsf_scope: HSFScope = "segment"
    wave: bool = False

    def __post_init__(self) -> None:
        if self.hsf_scope not in ("segment", "utterance"):
            raise ValueError(f"Expected hsf_scope 'segment' or 'utterance', got {self.hsf_scope!r}.")
        if not (self.lld or self.hsf or self.wave):
            raise ValueError("FeatureConfig asks for nothing: set at least one of lld, hsf, wave to True.")
        if not 0 < self.frame_shift <= self.frame_size:
            raise ValueError(
                f"data.frame_shift ({self.frame_shift} s) must be > 0 and <= data.frame_size ({self.frame_size} s); "
                "the paper uses 0.032 / 0.128."
            )
        if self.segment_length <= 0 or (self.lld and self.frame_size > self.segment_length):
            raise ValueError(
                f"data.segment_length ({self.segment_length} s) must be positive and hold at least one LLD frame "
                f"(data.frame_size = {self.frame_size} s)."
            )
        if self.segment_hop is not None and self.segment_hop <= 0:
            raise ValueError(f"data.segment_hop must be positive (or null for no overlap), got {self.segment_hop}.")
        seconds_to_samples(self.segment_length, self.sample_rate, "segment_length")
        if self.segment_hop is not None:
            seconds_to_samples(self.segment_hop, self.sample_rate, "segment_hop")
        segment_bounds(1, 1, None, self.min_last_segment, self.segment_mode)  # validates the rest

    @property
    def segment_samples(self) -> int:
        return seconds_to_samples(self.segment_length, self.sample_rate, "segment_length")

    @property
    def hop_samples(self) -> int | None:
        return None if self.segment_hop is None else seconds_to_samples(self.segment_hop, self.sample_rate, "segment_hop")

    @property
    def frame_samples(self) -> int:
        return seconds_to_samples(self.frame_size, self.sample_rate, "frame_size")

    @property
    def frame_hop_samples(self) -> int:
        return seconds_to_samples(self.frame_shift, self.sample_rate, "frame_shift")

    @property
    def num_frames(self) -> int:
        """LLD frames per segment: 40 for 1.4 s, 59 for 2.0 s at 128/32 ms."""
        return num_frames(self.segment_samples, self.frame_samples, self.frame_hop_samples)

    def key(self) -> str:
        """Hash of every setting, the openSMILE version and the feature code version."""
        payload = dataclasses.asdict(self) | {
            "opensmile": OPENSMILE_VERSION,
            "opensmile_configs": CONFIG_DIGEST,
            "torchaudio": torchaudio.__version__,  # its resampler makes the 16 kHz audio
            "version": FEATURE_VERSION,
        }
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def extract_lld_chunked(
    wave: np.ndarray, config: FeatureConfig, name: str = "<array>", chunk_frames: int = LLD_CHUNK_FRAMES
) -> np.ndarray:
    """IS10 LLDs of a signal of any length with bounded memory, equal to one openSMILE run's.

    A signal longer than ``chunk_frames`` frames is processed in chunks of ``chunk_frames`` frames;
    each chunk is run with context frames on either side (see ``LLD_*`` above) that are dropped
    again. Memory is then that of one chunk plus context instead of growing with the file.

    Args:
        wave: ``(samples,)`` float32 waveform at ``config.sample_rate``.
        config: Framing (``frame_size``, ``frame_shift``).
        name: File name for error messages.
        chunk_frames: Frames per chunk.

    Returns:
        ``(76, frames)`` float32, as :func:`~datamodules.is10.extract_lld` on the whole signal.
    """
    hop, frame = config.frame_hop_samples, config.frame_samples
    total = num_frames(len(wave), frame, hop)
    run = functools.partial(extract_lld, sample_rate=config.sample_rate, frame_size=config.frame_size,
                            frame_shift=config.frame_shift, name=name)
    if total <= chunk_frames + LLD_CONTEXT_FRAMES:
        return run(wave)
    parts: list[np.ndarray] = []
    voiced = np.zeros(0, dtype=bool)  # per frame computed so far: F0final_sma > 0
    for a in range(0, total, chunk_frames):
        b = min(total, a + chunk_frames)
        start = max(0, a - LLD_CONTEXT_FRAMES)
        seen = np.cumsum(voiced[::-1])  # voiced frames in [a - k - 1, a)
        if start > 0 and len(seen):
            enough = np.nonzero(seen >= LLD_ENV_VOICED_FRAMES)[0]
            back = int(enough[0]) + 1 if len(enough) else a
            start = max(0, min(start, a - min(back, LLD_MAX_CONTEXT_FRAMES)))
        stop = len(wave) if b == total else min(len(wave), (b - 1 + LLD_CONTEXT_FRAMES) * hop + frame)
        lld = run(wave[start * hop : stop])
        got = lld[:, a - start : a - start + (b - a)]
        if b < total and got.shape[1] != b - a:
            raise FeatureError(f"{name}: openSMILE returned {got.shape[1]} LLD frames for a chunk of {b - a}.")
        parts.append(got)
        voiced = np.concatenate([voiced, got[_F0_FINAL] > 0])
    return np.concatenate(parts, axis=1)


def check_features(features: dict[str, np.ndarray], config: FeatureConfig) -> list[str]:
    """What is wrong with a feature dict for ``config`` (empty list: nothing).

    Checks the keys the config asks for, every shape against the config, and that every value is
    finite, so a damaged or foreign cache entry never reaches training as NaNs or a numpy error.
    """
    problems: list[str] = []
    wanted = ["bounds", "num_samples"] + [k for k in ("lld", "hsf", "wave") if getattr(config, k)]
    missing = [k for k in wanted if k not in features]
    if missing:
        return [f"missing key(s) {missing} (has {sorted(features)})"]
    bounds = features["bounds"]
    if bounds.ndim != 2 or bounds.shape[1] != 2 or len(bounds) == 0:
        return [f"bounds has shape {bounds.shape}, expected (segments >= 1, 2)"]
    n = len(bounds)
    shapes = {
        "lld": (n, LLD_DIM, config.num_frames) if config.lld else None,
        "hsf": ((1 if config.hsf_scope == "utterance" else n), HSF_DIM) if config.hsf else None,
        "wave": (n, config.segment_samples) if config.wave else None,
    }
    for key, shape in shapes.items():
        if shape is None:
            continue
        value = features[key]
        if value.shape != shape:
            problems.append(f"{key} has shape {value.shape}, expected {shape}")
        elif not np.issubdtype(value.dtype, np.floating):
            problems.append(f"{key} has dtype {value.dtype}, expected float")
        elif not np.isfinite(value).all():
            problems.append(f"{key} holds {int((~np.isfinite(value)).sum())} NaN/inf values")
    return problems


def compute_features(path: str | Path, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Segment one utterance and compute its features.

    LLDs come from one openSMILE run over the whole utterance (zero-padded to its last segment's
    end), sliced per segment at the frame nearest each segment start, so a segment's frames match
    a stand-alone run on the same audio up to the smoothing context at its edges.

    Args:
        path: Audio file.
        config: Feature settings.

    Returns:
        ``bounds`` ``(S, 2)`` int64 sample bounds; ``num_samples`` ``()``; and, as configured,
        ``lld`` ``(S, 76, T)``, ``hsf`` ``(S, 1582)`` (or ``(1, 1582)`` for utterance scope),
        ``wave`` ``(S, segment_samples)`` float32; ``issues`` ``(K,)`` str: degenerate-but-usable
        audio (keys of :data:`ISSUE_KINDS`).

    Raises:
        AudioError: Unreadable audio. FeatureError: non-finite features (file named).
    """
    name = str(path)
    issues: list[str] = []
    wave = load_audio(path, config.sample_rate, issues=issues)
    if config.lld and wave.numel() < config.frame_samples:
        issues.append("shorter_than_frame")
    bounds = segment_bounds(
        wave.numel(), config.segment_samples, config.hop_samples, config.min_last_segment, config.segment_mode
    )
    out: dict[str, np.ndarray] = {
        "bounds": np.asarray(bounds, dtype=np.int64),
        "num_samples": np.asarray(wave.numel(), dtype=np.int64),
        "issues": np.asarray(issues, dtype=np.str_),
    }
    segments = cut_segments(wave, bounds)
    if config.lld:
        hop, frames = config.frame_hop_samples, config.num_frames
        offsets = [round(start / hop) for start, _ in bounds]
        need = (max(offsets) + frames - 1) * hop + config.frame_samples
        padded = torch.nn.functional.pad(wave, (0, max(0, need - wave.numel())))
        lld = extract_lld_chunked(padded.numpy(), config, name=name, chunk_frames=LLD_CHUNK_FRAMES)
        short = max(offsets) + frames - lld.shape[1]
        if short > MAX_EDGE_FRAMES:
            raise FeatureError(
                f"{name}: openSMILE returned {lld.shape[1]} LLD frames, {short} fewer than the segments need; "
                "expected at most a frame or two fewer (check frame_size/frame_shift against the audio)."
            )
        if short > 0:  # openSMILE may stop a frame early at the very end: repeat the last frame
            lld = np.pad(lld, ((0, 0), (0, short)), mode="edge")
        out["lld"] = np.stack([lld[:, o : o + frames] for o in offsets]).astype(np.float32)
    if config.hsf:
        if config.hsf_scope == "segment":
            hsf = [extract_hsf(seg.numpy(), config.sample_rate, name=f"{name} segment {i}") for i, seg in enumerate(segments)]
        else:
            hsf = [extract_hsf(wave.numpy(), config.sample_rate, name=name)]
        out["hsf"] = np.stack(hsf).astype(np.float32)
    if config.wave:
        out["wave"] = segments.numpy().astype(np.float32)
    return out


def feature_config_from_hparams(hparams: Mapping[str, Any]) -> tuple[FeatureConfig, list[str]]:
    """The data module's :class:`FeatureConfig` and inputs from its hyperparameters (as ``SERDataModule`` builds them)."""
    inputs = list(hparams.get("inputs") or ["lld", "hsf"])
    config = FeatureConfig(
        segment_length=hparams.get("segment_length", 1.4),
        segment_hop=hparams.get("segment_hop"),
        min_last_segment=hparams.get("min_last_segment", 0.5),
        segment_mode=hparams.get("segment_mode", "segments"),
        frame_size=hparams.get("frame_size", 0.128),
        frame_shift=hparams.get("frame_shift", 0.032),
        lld="lld" in inputs,
        hsf="hsf" in inputs,
        hsf_scope=hparams.get("hsf_scope", "segment"),
        wave="wave" in inputs,
    )
    return config, inputs
