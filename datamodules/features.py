"""Per-utterance feature computation: a pure function of the audio file and a :class:`FeatureConfig`."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torchaudio

from datamodules.audio import load_audio
from datamodules.is10 import CONFIG_DIGEST, OPENSMILE_VERSION, FeatureError, extract_hsf, extract_lld, num_frames
from datamodules.segments import SegmentMode, cut_segments, seconds_to_samples, segment_bounds

__all__ = ["FeatureConfig", "HSFScope", "compute_features", "FEATURE_VERSION"]

HSFScope = Literal["segment", "utterance"]
#: Bump when the computation below changes in a way that alters cached values.
FEATURE_VERSION = 1
#: openSMILE may drop the last frame or two of a signal; more missing frames is an error.
MAX_EDGE_FRAMES = 2


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
        ``wave`` ``(S, segment_samples)`` float32.

    Raises:
        AudioError: Unreadable audio. FeatureError: non-finite features (file named).
    """
    name = str(path)
    wave = load_audio(path, config.sample_rate)
    bounds = segment_bounds(
        wave.numel(), config.segment_samples, config.hop_samples, config.min_last_segment, config.segment_mode
    )
    out: dict[str, np.ndarray] = {
        "bounds": np.asarray(bounds, dtype=np.int64),
        "num_samples": np.asarray(wave.numel(), dtype=np.int64),
    }
    segments = cut_segments(wave, bounds)
    if config.lld:
        hop, frames = config.frame_hop_samples, config.num_frames
        offsets = [round(start / hop) for start, _ in bounds]
        need = (max(offsets) + frames - 1) * hop + config.frame_samples
        padded = torch.nn.functional.pad(wave, (0, max(0, need - wave.numel())))
        lld = extract_lld(padded.numpy(), config.sample_rate, config.frame_size, config.frame_shift, name=name)
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
