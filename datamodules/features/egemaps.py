"""eGeMAPS (openSMILE ``eGeMAPSv02``): 25 LLDs per 10 ms frame and 88 functionals; feature set ``egemaps``.

Selected in YAML with ``data.features: egemaps`` (``lld`` -> ``egemaps_lld``, ``hsf`` ->
``egemaps_functionals``) or per input (``data.features: {hsf: egemaps_functionals}``). The net's
``lld_dim`` / ``num_frames`` / ``hsf_dim`` follow from the CLI's links.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import opensmile

from datamodules.features.base import (
    FeatureError,
    FeatureExtractor,
    SegmentedAudio,
    UtteranceScoped,
    register_extractor,
)
from datamodules.features.is10 import OPENSMILE_VERSION, _check_finite

__all__ = ["EGeMAPSLLD", "EGeMAPSFunctionals", "EGEMAPS_LLD_DIM", "EGEMAPS_FUNCTIONALS_DIM"]

EGEMAPS_LLD_DIM = 25
EGEMAPS_FUNCTIONALS_DIM = 88


@functools.lru_cache(maxsize=2)
def _smile(level: str) -> opensmile.Smile:
    return opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02, feature_level=level)


def _run(level: str, wave: np.ndarray, sample_rate: int, dim: int, name: str) -> np.ndarray:
    """``(frames, dim)`` values of one openSMILE run, checked."""
    values = _smile(level).process_signal(np.asarray(wave, dtype=np.float32), sample_rate).to_numpy()
    if values.ndim != 2 or values.shape[1] != dim or values.shape[0] == 0:
        raise FeatureError(f"{name}: expected (frames, {dim}) eGeMAPS values from openSMILE, got {values.shape}.")
    return _check_finite(values.astype(np.float32), "eGeMAPS features", name)


@functools.lru_cache(maxsize=16)
def lld_frames(segment_samples: int, sample_rate: int) -> int:
    """eGeMAPS LLD frames openSMILE yields for a segment of ``segment_samples`` (10 ms hop; measured
    once per length, so it follows the installed openSMILE): 136 for 1.4 s, 196 for 2.0 s at 16 kHz."""
    zeros = np.zeros(segment_samples, dtype=np.float32)
    return int(_smile(opensmile.FeatureLevel.LowLevelDescriptors).process_signal(zeros, sample_rate).shape[0])


class _EGeMAPS(FeatureExtractor):
    feature_set = "egemaps"

    def cache_key(self) -> dict[str, Any]:
        return super().cache_key() | {"opensmile": OPENSMILE_VERSION, "opensmile_feature_set": "eGeMAPSv02"}


@register_extractor
class EGeMAPSLLD(_EGeMAPS):
    """The 25 eGeMAPSv02 LLDs (loudness, F0, jitter, shimmer, formants, spectral slopes, ...) of each
    segment at openSMILE's own framing: ``(25, frames)``, one run per segment."""

    name = "egemaps_lld"
    kind = "frames"

    def segment_shape(self) -> tuple[int, ...]:
        return (EGEMAPS_LLD_DIM, lld_frames(self.config.segment_samples, self.config.sample_rate))

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        frames = self.segment_shape()[1]
        out = []
        for i, seg in enumerate(audio.segments):
            name = f"{audio.name} segment {i}"
            values = _run(opensmile.FeatureLevel.LowLevelDescriptors, seg.numpy(), self.config.sample_rate,
                          EGEMAPS_LLD_DIM, name)
            if len(values) != frames:  # every segment has the same length, so the same frame count
                raise FeatureError(f"{name}: openSMILE returned {len(values)} eGeMAPS frames, expected {frames}.")
            out.append(values.T)
        return np.stack(out)


@register_extractor
class EGeMAPSFunctionals(UtteranceScoped, _EGeMAPS):
    """The 88 eGeMAPSv02 functionals of each segment, or of the whole utterance with
    ``data.hsf_scope: utterance`` (one row, shared by its segments)."""

    name = "egemaps_functionals"
    kind = "vector"

    def segment_shape(self) -> tuple[int, ...]:
        return (EGEMAPS_FUNCTIONALS_DIM,)

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        level, rate, dim = opensmile.FeatureLevel.Functionals, self.config.sample_rate, EGEMAPS_FUNCTIONALS_DIM
        if self.per_utterance:
            return _run(level, audio.wave.numpy(), rate, dim, audio.name)
        return np.concatenate(
            [_run(level, seg.numpy(), rate, dim, f"{audio.name} segment {i}") for i, seg in enumerate(audio.segments)]
        )
