"""Per-utterance features: a pure function of the audio file and a :class:`FeatureConfig`, and its check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torchaudio

from datamodules.audio import load_audio
from datamodules.features.base import FeatureConfig, FeatureError, SegmentedAudio
from datamodules.segments import cut_segments, segment_bounds

__all__ = ["compute_features", "check_features"]


def compute_features(path: str | Path, config: FeatureConfig) -> dict[str, np.ndarray]:
    """Read, segment and featurise one utterance with every extractor of ``config``.

    Args:
        path: Audio file.
        config: Feature settings (segmentation and the extractor of each input).

    Returns:
        ``bounds`` ``(S, 2)`` int64 sample bounds; ``num_samples`` ``()``; ``issues`` ``(K,)`` str:
        degenerate-but-usable audio (keys of :data:`~datamodules.features.ISSUE_KINDS`); and per
        input its extractor's ``(S, *segment_shape)`` float32 (``(1, ...)`` for per-utterance ones),
        e.g. ``lld`` ``(S, 76, T)``, ``hsf`` ``(S, 1582)``, ``wave`` ``(S, segment_samples)``.

    Raises:
        AudioError: Unreadable audio. FeatureError: non-finite features (file named).
    """
    issues: list[str] = []
    wave = load_audio(path, config.sample_rate, issues=issues)
    if config.speed != 1.0:  # a speed-perturbed copy (training data augmentation)
        wave = torchaudio.functional.speed(wave, config.sample_rate, config.speed)[0].contiguous()
    bounds = segment_bounds(
        wave.numel(), config.segment_samples, config.hop_samples, config.min_last_segment, config.segment_mode
    )
    audio = SegmentedAudio(str(path), wave, bounds, cut_segments(wave, bounds), issues)
    out: dict[str, np.ndarray] = {
        "bounds": np.asarray(bounds, dtype=np.int64),
        "num_samples": np.asarray(wave.numel(), dtype=np.int64),
    }
    for key, extractor in config.extractors.items():
        out[key] = np.asarray(extractor.compute(audio), dtype=np.float32)
    out["issues"] = np.asarray(issues, dtype=np.str_)
    return out


def check_features(features: dict[str, np.ndarray], config: FeatureConfig) -> list[str]:
    """What is wrong with a feature dict for ``config`` (empty list: nothing).

    Checks the keys the config asks for, every shape against its extractor, and that every value is
    finite, so a damaged or foreign cache entry never reaches training as NaNs or a numpy error.
    """
    wanted = ["bounds", "num_samples", *config.extractors]
    missing = [k for k in wanted if k not in features]
    if missing:
        return [f"missing key(s) {missing} (has {sorted(features)})"]
    bounds = features["bounds"]
    if bounds.ndim != 2 or bounds.shape[1] != 2 or len(bounds) == 0:
        return [f"bounds has shape {bounds.shape}, expected (segments >= 1, 2)"]
    problems: list[str] = []
    for key, extractor in config.extractors.items():
        shape = (1 if extractor.per_utterance else len(bounds), *extractor.segment_shape())
        value = features[key]
        if value.shape != shape:
            problems.append(f"{key} has shape {value.shape}, expected {shape}")
        elif not np.issubdtype(value.dtype, np.floating):
            problems.append(f"{key} has dtype {value.dtype}, expected float")
        elif not np.isfinite(value).all():
            problems.append(f"{key} holds {int((~np.isfinite(value)).sum())} NaN/inf values")
    return problems


def check_computed(path: str | Path, features: dict[str, np.ndarray], config: FeatureConfig) -> dict[str, np.ndarray]:
    """``features`` if :func:`check_features` finds nothing wrong, else a :class:`FeatureError` naming ``path``."""
    problems = check_features(features, config)
    if problems:
        raise FeatureError(f"{path}: computed features are unusable: {'; '.join(problems)}.")
    return features
