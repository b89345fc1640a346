"""Feature extraction: the extractor interface, one module per feature set, and the per-utterance computation.

- :mod:`~datamodules.features.base`: :class:`FeatureExtractor` (the protocol), :func:`register_extractor`,
  :class:`FeatureConfig` (every setting that changes features; ``key()`` is the cache key),
  :func:`resolve_features` (``data.features`` -> the extractor of each input).
- Feature sets: :mod:`~datamodules.features.is10` (``is10_lld``, ``is10_functionals``),
  :mod:`~datamodules.features.egemaps` (``egemaps_lld``, ``egemaps_functionals``),
  :mod:`~datamodules.features.waveform` (``waveform``), :mod:`~datamodules.features.encoder`
  (``frozen_encoder``: wav2vec2 / HuBERT / WavLM hidden states from local weights).
- :mod:`~datamodules.features.compute`: :func:`compute_features` (one file, every extractor) and
  :func:`check_features`.

Importing this package registers the built-in extractors.
"""

from datamodules.features import egemaps, encoder, is10, waveform  # noqa: F401 - registers the extractors
from datamodules.features.base import (
    DEFAULT_EXTRACTORS,
    FEATURE_VERSION,
    ISSUE_KINDS,
    FeatureConfig,
    FeatureError,
    FeatureExtractor,
    HSFScope,
    SegmentedAudio,
    extractor_class,
    extractor_names,
    feature_config_from_hparams,
    feature_sets,
    net_dims,
    register_extractor,
    resolve_features,
)
from datamodules.features.compute import check_computed, check_features, compute_features
from datamodules.features.is10 import extract_lld_chunked

__all__ = [
    "DEFAULT_EXTRACTORS",
    "FEATURE_VERSION",
    "ISSUE_KINDS",
    "FeatureConfig",
    "FeatureError",
    "FeatureExtractor",
    "HSFScope",
    "SegmentedAudio",
    "check_computed",
    "check_features",
    "compute_features",
    "extract_lld_chunked",
    "extractor_class",
    "extractor_names",
    "feature_config_from_hparams",
    "feature_sets",
    "net_dims",
    "register_extractor",
    "resolve_features",
]
