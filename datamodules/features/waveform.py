"""Raw waveform segments (for nets with their own front end, e.g. STA-CNN): extractor ``waveform``."""

from __future__ import annotations

import numpy as np

from datamodules.features.base import FeatureExtractor, SegmentedAudio, register_extractor

__all__ = ["Waveform"]


@register_extractor
class Waveform(FeatureExtractor):
    """Each segment's samples, ``(segment_samples,)`` float32 at the config's rate, zero-padded; not
    standardised (a net's front end normalises its own spectral features). Default of input ``wave``."""

    name = "waveform"
    kind = "samples"
    normalization = "none"

    def segment_shape(self) -> tuple[int, ...]:
        return (self.config.segment_samples,)

    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        return audio.segments.numpy().astype(np.float32)
