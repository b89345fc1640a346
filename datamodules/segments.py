"""Segmentation of utterances into fixed-length segments (a pure function; see ``docs/models.md``:
STRL-SER "Training" for the segment rules, STA-CNN "Input length" for ``crop``).

STRL-SER cuts each utterance into equal-length segments that inherit its label. The paper leaves
overlap and the fate of the tail open; the defaults here are: no overlap (``hop = length``), a
remainder is kept, zero-padded, when it is at least ``min_last_segment`` (0.5) of a segment, and an
utterance shorter than one segment becomes one zero-padded segment.
"""

from __future__ import annotations

from typing import Literal

import torch

__all__ = ["SegmentMode", "segment_bounds", "cut_segments", "seconds_to_samples"]

SegmentMode = Literal["segments", "crop"]


def seconds_to_samples(seconds: float, sample_rate: int, name: str) -> int:
    """Convert a duration to a whole number of samples, validating it."""
    if not seconds > 0:
        raise ValueError(f"Expected {name} > 0 seconds, got {seconds}.")
    return max(1, round(seconds * sample_rate))


def segment_bounds(
    num_samples: int,
    segment_samples: int,
    hop_samples: int | None = None,
    min_last_segment: float = 0.5,
    mode: SegmentMode = "segments",
) -> list[tuple[int, int]]:
    """Return the ``(start, end)`` sample bounds of an utterance's segments.

    Every segment is exactly ``segment_samples`` long; an ``end`` past ``num_samples`` means the
    segment is zero-padded there.

    Args:
        num_samples: Utterance length in samples (> 0).
        segment_samples: Segment length in samples.
        hop_samples: Distance between segment starts; ``None`` means no overlap.
        min_last_segment: Keep a trailing remainder if it covers at least this fraction of a
            segment (0 keeps every remainder, 1 drops every partial one). Ignored when the whole
            utterance is shorter than a segment: it then always becomes one padded segment.
        mode: ``"segments"`` cuts the whole utterance; ``"crop"`` returns one centred window
            (fixed-length crop/pad of the whole utterance).

    Returns:
        At least one ``(start, end)`` pair, in order.

    Raises:
        ValueError: Non-positive sizes or ``min_last_segment`` outside [0, 1].
    """
    if num_samples <= 0:
        raise ValueError(f"Expected num_samples > 0, got {num_samples}.")
    if segment_samples <= 0:
        raise ValueError(f"Expected segment_samples > 0, got {segment_samples}.")
    hop = segment_samples if hop_samples is None else hop_samples
    if hop <= 0:
        raise ValueError(f"Expected segment_hop > 0, got {hop} samples.")
    if not 0.0 <= min_last_segment <= 1.0:
        raise ValueError(f"Expected min_last_segment in [0, 1] (fraction of a segment), got {min_last_segment}.")
    if mode == "crop":
        start = max(0, (num_samples - segment_samples) // 2)
        return [(start, start + segment_samples)]
    if mode != "segments":
        raise ValueError(f"Expected mode 'segments' or 'crop', got {mode!r}.")
    if num_samples <= segment_samples:
        return [(0, segment_samples)]
    bounds = []
    start = 0
    while start + segment_samples <= num_samples:
        bounds.append((start, start + segment_samples))
        start += hop
    remainder = num_samples - start
    if start < num_samples and remainder >= min_last_segment * segment_samples and remainder > 0:
        # With overlapping hops the tail may already be covered; only add a segment reaching new audio.
        if not bounds or num_samples > bounds[-1][1]:
            bounds.append((start, start + segment_samples))
    return bounds


def cut_segments(wave: torch.Tensor, bounds: list[tuple[int, int]]) -> torch.Tensor:
    """Cut ``(samples,)`` audio into ``(num_segments, segment_samples)``, zero-padding past the end."""
    if not bounds:
        raise ValueError("Expected at least one segment bound, got none.")
    length = bounds[0][1] - bounds[0][0]
    need = max(end for _, end in bounds)
    padded = torch.nn.functional.pad(wave, (0, max(0, need - wave.numel())))
    return torch.stack([padded[start : start + length] for start, _ in bounds])
