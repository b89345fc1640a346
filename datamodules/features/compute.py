"""Per-utterance features: a pure function of the audio file and a :class:`FeatureConfig`, and its check."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torchaudio

from datamodules.audio import load_audio
from datamodules.features.base import FeatureConfig, FeatureError, SegmentedAudio
from datamodules.segments import cut_segments, segment_bounds

__all__ = ["compute_features", "check_features", "speed_copy_from_segments", "speed_copies_from_segments", "rebuild_wave",
           "rebuildable"]


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
    return _featurize(str(path), wave, config, issues)


def _featurize(name: str, wave: torch.Tensor, config: FeatureConfig, issues: list[str]) -> dict[str, np.ndarray]:
    """Segment ``wave`` and run every extractor of ``config`` on it (see :func:`compute_features`)."""
    bounds = segment_bounds(
        wave.numel(), config.segment_samples, config.hop_samples, config.min_last_segment, config.segment_mode
    )
    audio = SegmentedAudio(name, wave, bounds, cut_segments(wave, bounds), issues)
    out: dict[str, np.ndarray] = {
        "bounds": np.asarray(bounds, dtype=np.int64),
        "num_samples": np.asarray(wave.numel(), dtype=np.int64),
    }
    for key, extractor in config.extractors.items():
        out[key] = np.asarray(extractor.compute(audio), dtype=np.float32)
    out["issues"] = np.asarray(issues, dtype=np.str_)
    return out


def rebuildable(config: FeatureConfig) -> str | None:
    """Why an utterance's audio cannot be rebuilt from its stored segments under ``config`` (None: it can): every
    input must be a waveform (features computed from the audio, e.g. LLDs, hold no samples), cut into segments
    (a crop holds one window) that leave no gap (a hop longer than a segment skips audio)."""
    other = sorted(k for k, e in config.extractors.items() if e.kind != "samples")
    if other or not config.extractors:
        return f"the inputs {other or sorted(config.extractors)} are not waveforms (they are computed from the audio)"
    if config.segment_mode != "segments":
        return f"segment_mode={config.segment_mode!r} keeps only a window of each utterance"
    if config.gap_samples:
        return f"segment_hop={config.segment_hop} s is longer than a segment ({config.segment_length} s): it skips audio"
    return None


def rebuild_wave(features: dict[str, np.ndarray], key: str, rest: np.ndarray | None = None,
                 name: str = "utterance") -> torch.Tensor:
    """The audio that an utterance's waveform segments (input ``key``, ``(S, segment_samples)``) hold, in place:
    every sample its segments cover, up to the utterance's end (``num_samples``), then ``rest``, the audio past
    the last segment (a remainder the segmentation dropped, shorter than ``min_last_segment``; a pack keeps it:
    ``FeaturePack.rest``). Without ``rest`` such a remainder is missing and the rebuilt audio ends before it.
    Segments must leave no gap (:func:`rebuildable`)."""
    bounds = features["bounds"]
    segments = torch.as_tensor(np.asarray(features[key], dtype=np.float32))
    if segments.ndim != 2 or len(segments) != len(bounds):
        raise ValueError(f"{name}: input {key!r} has shape {tuple(segments.shape)}, expected "
                         f"({len(bounds)} segments, samples): only a waveform input can be rebuilt.")
    num_samples = int(features["num_samples"])
    end = min(num_samples, int(bounds[:, 1].max()))
    wave = torch.zeros(end)
    for (start, stop), segment in zip(bounds.tolist(), segments):
        n = min(stop, end) - start
        if n > 0:
            wave[start : start + n] = segment[:n]
    if rest is not None and len(rest):
        if end + len(rest) != num_samples:
            raise ValueError(f"{name}: its segments end at sample {end} and the audio past them holds {len(rest)} "
                             f"more, but the utterance has {num_samples}: they come from different files or settings; "
                             "write the pack again with `ser-pack`.")
        wave = torch.cat([wave, torch.as_tensor(np.asarray(rest, dtype=np.float32))])
    return wave


def speed_copy_from_segments(features: dict[str, np.ndarray], config: FeatureConfig, factor: float,
                             name: str = "utterance", rest: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """An utterance's ``factor`` speed copy made from its stored waveform segments instead of its audio file (a
    feature pack holds no files): the audio rebuilt by :func:`rebuild_wave`, resampled as :func:`compute_features`
    does for ``config.speed``, then segmented and featurised by ``config``'s extractors, which must all read
    samples (a waveform input). With ``rest`` (the audio past the last segment) the copy equals the file's own
    copy, to the stored samples' rounding; without it, wherever the segments covered the whole file.

    Raises:
        ValueError: a ``config`` whose segments cannot give the audio back (:func:`rebuildable`).
    """
    return speed_copies_from_segments(features, config, [factor], name, rest)[0]


def speed_copies_from_segments(features: dict[str, np.ndarray], config: FeatureConfig, factors: Sequence[float],
                               name: str = "utterance", rest: np.ndarray | None = None) -> list[dict[str, np.ndarray]]:
    """:func:`speed_copy_from_segments` for several factors at once, the audio rebuilt once: one copy per factor,
    in order.

    Raises:
        ValueError: a ``config`` whose segments cannot give the audio back (:func:`rebuildable`), stored segments
            or a remainder that do not fit the utterance (:func:`rebuild_wave`), or a copy that fails to featurise
            (naming its factor).
    """
    why = rebuildable(config)
    if why:
        raise ValueError(f"{name}: a speed copy cannot be rebuilt from stored segments: {why}; make the copies from "
                         "the audio files.")
    audio = rebuild_wave(features, next(iter(config.extractors)), rest, name)
    copies = []
    for factor in factors:
        label = f"{name} x{factor:g}"  # what an extractor's own error names the copy by
        try:
            wave = torchaudio.functional.speed(audio, config.sample_rate, factor)[0].contiguous()
            copies.append(_featurize(label, wave, dataclasses.replace(config, speed=factor), []))
        except (ValueError, RuntimeError) as err:
            why = str(err).removeprefix(f"{label}: ")  # name the copy once, not twice
            raise ValueError(f"{name}: its x{factor:g} speed copy failed: {why}") from err
    return copies


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
