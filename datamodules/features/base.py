"""The feature-extractor interface, its registry, and :class:`FeatureConfig` (every setting that changes features).

A feature set is one class: subclass :class:`FeatureExtractor`, set its class attributes, implement
:meth:`~FeatureExtractor.segment_shape` and :meth:`~FeatureExtractor.compute`, and decorate it with
:func:`register_extractor`. A run selects it per batch key (the names nets read: ``lld`` frame-level
``(dims, frames)``, ``hsf`` one vector, ``wave`` samples, or a new key)::

    data:
      inputs: [lld, hsf]
      features: egemaps                      # a feature set's name fills every input it has, or per input:
      features: {lld: egemaps_lld, hsf: {name: is10_functionals}}

Inputs not named in ``data.features`` use :data:`DEFAULT_EXTRACTORS` (IS10 and the waveform).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torchaudio

from datamodules.segments import SegmentMode, seconds_to_samples, segment_bounds

__all__ = [
    "DEFAULT_EXTRACTORS",
    "FEATURE_VERSION",
    "ISSUE_KINDS",
    "FeatureConfig",
    "FeatureError",
    "FeatureExtractor",
    "UtteranceScoped",
    "HSFScope",
    "SegmentedAudio",
    "extractor_class",
    "extractor_names",
    "feature_config_from_hparams",
    "feature_sets",
    "net_dims",
    "register_extractor",
    "resolve_features",
]

HSFScope = Literal["segment", "utterance"]
#: What one segment's features are: ``frames`` ``(dims, frames)``, ``vector`` ``(dims,)``, ``samples`` ``(samples,)``.
Kind = Literal["frames", "vector", "samples"]
#: Where :meth:`FeatureExtractor.compute` runs: in CPU worker processes, or in this process on a device.
Runs = Literal["per_file", "batched"]
#: ``per_dimension``: standardised per feature dimension with training-split statistics; ``none``: as computed.
Normalization = Literal["per_dimension", "none"]

#: Bump when the shared computation (audio reading, segmentation) changes cached values.
FEATURE_VERSION = 1
#: The range of speed-perturbation factors accepted (:attr:`FeatureConfig.speed`).
MIN_SPEED, MAX_SPEED = 0.5, 2.0
#: Degenerate-but-usable audio, reported (counts + files) after extraction; stored in cache entries.
ISSUE_KINDS = {
    "silent": "silent (peak below -80 dBFS)",
    "clipped": "clipped (samples at +-1)",
    "truncated": "truncated WAV (header promises more samples than the file holds)",
    "shorter_than_frame": "shorter than one LLD frame (features are mostly zero padding)",
}
#: The extractor of each classic input when ``data.features`` names none (today's IS10 / waveform setup).
DEFAULT_EXTRACTORS = {"lld": "is10_lld", "hsf": "is10_functionals", "wave": "waveform"}
#: The batch key a feature set's extractor of each kind fills (``data.features: <feature set>``).
KIND_INPUT: dict[str, str] = {"frames": "lld", "vector": "hsf", "samples": "wave"}


class FeatureError(ValueError):
    """Raised when features cannot be computed or come out non-finite; names the file."""


@dataclass
class SegmentedAudio:
    """One utterance as every extractor sees it.

    Attributes:
        name: The file (for error messages).
        wave: ``(samples,)`` float32 waveform at the config's sample rate.
        bounds: Each segment's ``(start, end)`` sample bounds (``end`` may pass the end: zero padding).
        segments: ``(segments, segment_samples)`` float32, zero-padded.
        issues: Degenerate-but-usable audio found so far (keys of :data:`ISSUE_KINDS`); an extractor may add.
    """

    name: str
    wave: torch.Tensor
    bounds: list[tuple[int, int]]
    segments: torch.Tensor
    issues: list[str]


class FeatureExtractor(ABC):
    """One feature set: what it computes from a segmented utterance, and how the framework treats it.

    Class attributes (the protocol; set them in a subclass):
        name: Registry and YAML name, e.g. ``is10_lld`` (``data.features: {lld: is10_lld}``).
        kind: ``frames`` (per segment ``(dims, frames)``, batch key ``lld``), ``vector`` (``(dims,)``,
            ``hsf``) or ``samples`` (``(samples,)``, ``wave``).
        feature_set: Family name for the shorthand ``data.features: <feature_set>`` (e.g. ``egemaps``
            fills ``lld`` with its ``frames`` extractor and ``hsf`` with its ``vector`` one); ``None``: none.
        runs: ``per_file``: :meth:`compute` runs in CPU worker processes (one file each); ``batched``:
            in the main process, which holds a model on a device and feeds it batches of segments.
        normalization: ``per_dimension``: standardised per feature dimension with statistics of the
            training split (:class:`~datamodules.normalize.Standardizer`); ``none``: used as computed.
        version: Bump when :meth:`compute` changes its values (part of the cache key).

    Constructor: ``Extractor(config, **options)``; the options are its YAML settings
    (``data.features: {lld: {name: NAME, option: value}}``) and must be returned by :attr:`options`,
    so checkpoints and packs can rebuild it. Validate them there, naming ``data.features``.
    """

    name: ClassVar[str]
    kind: ClassVar[Kind]
    feature_set: ClassVar[str | None] = None
    runs: ClassVar[Runs] = "per_file"
    normalization: ClassVar[Normalization] = "per_dimension"
    version: ClassVar[int] = 1

    def __init__(self, config: FeatureConfig) -> None:
        self.config = config

    @property
    def options(self) -> dict[str, Any]:
        """The YAML options this instance was built with (none by default)."""
        return {}

    def spec(self) -> dict[str, Any]:
        """``{"name": ..., **options}``: what ``data.features`` holds for it (stored in checkpoints and packs)."""
        return {"name": self.name, **self.options}

    def cache_key(self) -> dict[str, Any]:
        """Everything besides the shared segmentation that changes the values: options, versions of
        the code, libraries and model weights. Extend it in a subclass (``super().cache_key() | {...}``)."""
        return {"name": self.name, "version": self.version, **self.options}

    @abstractmethod
    def segment_shape(self) -> tuple[int, ...]:
        """The shape of one segment's features, e.g. ``(76, 40)`` (``frames``) or ``(1582,)`` (``vector``)."""

    @property
    def per_utterance(self) -> bool:
        """One row per utterance (shared by its segments) instead of one per segment."""
        return False

    @property
    def dim(self) -> int:
        """Feature dimensions (the size of the axis that is standardised): ``segment_shape()[0]``."""
        return self.segment_shape()[0]

    @abstractmethod
    def compute(self, audio: SegmentedAudio) -> np.ndarray:
        """Features of one utterance: ``(segments, *segment_shape())`` float32, or ``(1, ...)`` when
        :attr:`per_utterance`. Raise :class:`FeatureError` naming ``audio.name`` when it cannot."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.spec().items())})"


_REGISTRY: dict[str, type[FeatureExtractor]] = {}


class UtteranceScoped(FeatureExtractor):
    """A ``"vector"`` extractor (functionals) computed per segment, or once per utterance with
    ``data.hsf_scope: utterance`` (one row, shared by its segments); the scope enters the cache key.
    Subclass it before any other base: ``class MyFunctionals(UtteranceScoped, MyBase)``."""

    kind: ClassVar[Kind] = "vector"

    @property
    def per_utterance(self) -> bool:
        return self.config.hsf_scope == "utterance"

    def cache_key(self) -> dict[str, Any]:
        return super().cache_key() | {"scope": self.config.hsf_scope}


def register_extractor(cls: type[FeatureExtractor]) -> type[FeatureExtractor]:
    """Class decorator: make ``cls`` selectable as ``data.features: {<input>: <cls.name>}``.

    Raises:
        ValueError: Another class is registered under the same name, or ``kind`` is unknown.
    """
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__}: set the class attribute `name` (the YAML name) before registering it.")
    if getattr(cls, "kind", None) not in KIND_INPUT:
        raise ValueError(f"{cls.__name__}: `kind` must be one of {list(KIND_INPUT)}, got {getattr(cls, 'kind', None)!r}.")
    known = _REGISTRY.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ValueError(f"Feature extractor name {name!r} is taken by {known.__module__}.{known.__qualname__}.")
    _REGISTRY[name] = cls
    return cls


def extractor_names() -> list[str]:
    """Every registered extractor name (import paths used as names included)."""
    return sorted(_REGISTRY)


def feature_sets() -> dict[str, dict[str, str]]:
    """``{feature set: {input: extractor name}}`` for the ``data.features: <feature set>`` shorthand."""
    sets: dict[str, dict[str, str]] = {}
    for cls in _REGISTRY.values():
        if cls.feature_set:
            sets.setdefault(cls.feature_set, {})[KIND_INPUT[cls.kind]] = cls.name
    return sets


def extractor_class(name: str, key: str = "<input>") -> type[FeatureExtractor]:
    """The extractor registered as ``name``, or the class at import path ``name`` (``mypkg.feats.MyExtractor``,
    so a feature set outside this package needs no edit here; importing it registers it).

    Raises:
        ValueError: Neither (named with the registered names).
    """
    if name not in _REGISTRY and "." in name:
        module, _, attr = name.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"data.features.{key}: cannot import feature extractor {name!r} ({err}).") from err
        if not (isinstance(cls, type) and issubclass(cls, FeatureExtractor)):
            raise ValueError(f"data.features.{key}: {name!r} is not a FeatureExtractor subclass.")
        _REGISTRY[name] = register_extractor(cls)
    if name not in _REGISTRY:
        raise ValueError(
            f"data.features.{key}: unknown feature extractor {name!r}; registered: {extractor_names()} "
            "(or give a class's import path, e.g. mypkg.features.MyExtractor; see datamodules/features/base.py)."
        )
    return _REGISTRY[name]


def _spec(key: str, value: Any) -> dict[str, Any]:
    """``NAME`` or ``{name: NAME, option: value}`` -> the latter, with the name checked."""
    spec = {"name": value} if isinstance(value, str) else dict(value) if isinstance(value, Mapping) else None
    if spec is None or not isinstance(spec.get("name"), str):
        raise ValueError(
            f"data.features.{key}: expected an extractor name or {{name: NAME, <option>: value}}, got {value!r}."
        )
    extractor_class(spec["name"], key)
    return spec


def resolve_features(features: str | Mapping[str, Any] | None, inputs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Which extractor (and options) fills each input: ``{input: {"name": ..., **options}}``.

    Args:
        features: ``data.features``: ``None`` (the defaults), a feature set's name (``egemaps``: its
            extractor of each kind fills the matching input, the defaults fill the rest), or a mapping
            ``{input: NAME | {name: NAME, ...options}}`` (inputs it leaves out take the defaults;
            entries for inputs not in ``inputs`` are ignored).
        inputs: ``data.inputs``: the batch keys to fill.

    Raises:
        ValueError: An unknown feature set or extractor, or an input nothing fills (named with the fix).
    """
    if features is None or isinstance(features, str) and features in ("", "default"):
        chosen: Mapping[str, Any] = {}
    elif isinstance(features, str):
        sets = feature_sets()
        if features not in sets:
            raise ValueError(
                f"data.features: unknown feature set {features!r}; expected one of {sorted(sets)}, or a mapping "
                f"from input to extractor ({extractor_names()})."
            )
        chosen = sets[features]
    elif isinstance(features, Mapping):
        chosen = features
    else:
        raise ValueError(f"data.features: expected a feature set name or a mapping input -> extractor, got {features!r}.")
    out = {}
    for key in inputs:
        value = chosen.get(key, DEFAULT_EXTRACTORS.get(key))
        if value is None:
            raise ValueError(
                f"data.inputs: nothing fills input {key!r}; expected any of {sorted(DEFAULT_EXTRACTORS)}, or name "
                f"its extractor in data.features (e.g. {{{key}: NAME}}, NAME one of {extractor_names()})."
            )
        out[key] = _spec(key, value)
    return out


def _build(key: str, spec: Mapping[str, Any], config: FeatureConfig) -> FeatureExtractor:
    cls = extractor_class(spec["name"], key)
    expected = KIND_INPUT[cls.kind]
    if key in KIND_INPUT.values() and key != expected:
        raise ValueError(
            f"data.features.{key}: {cls.name} computes {cls.kind} (the {expected!r} input), but nets read {key!r} "
            f"as {next(k for k, v in KIND_INPUT.items() if v == key)}; put it under {expected!r} or pick another extractor."
        )
    options = {k: v for k, v in spec.items() if k != "name"}
    try:
        inspect.signature(cls).bind(config, **options)
    except TypeError as err:
        accepted = [p for p in inspect.signature(cls).parameters if p != "config"]
        raise ValueError(
            f"data.features.{key}: {cls.name} takes the options {accepted}, got {sorted(options)} ({err})."
        ) from err
    return cls(config, **options)


@dataclass(frozen=True)
class FeatureConfig:
    """Every setting that changes the cached features (all part of the cache key).

    The shared settings (sample rate, segmentation) apply to every extractor; ``frame_size``,
    ``frame_shift`` are IS10's LLD framing and ``hsf_scope`` the functionals' scope.

    Attributes:
        sample_rate: Rate audio is resampled to (Hz).
        segment_length: Segment length in seconds (STRL-SER: 1.4 RAVDESS, 2.0 IEMOCAP).
        segment_hop: Seconds between segment starts; ``None`` = ``segment_length`` (no overlap).
        min_last_segment: Keep a zero-padded tail at least this fraction of a segment long.
        segment_mode: ``segments`` cuts the whole utterance; ``crop`` keeps one centred window.
        frame_size: LLD window in seconds (paper 0.128).
        frame_shift: LLD hop in seconds (paper 0.032).
        lld, hsf, wave: Compute the input with its default extractor (IS10 LLDs, IS10 functionals,
            waveform segments). Ignored when ``features`` is given (then they say what it holds).
        hsf_scope: Functionals per segment (default) or once per utterance.
        speed: Speed perturbation of the audio before segmentation (Ko et al. 2015, as in Kaldi and
            SpeechBrain recipes: ``torchaudio.functional.speed``, which resamples, so tempo and pitch
            change together): ``0.9`` is 10 % slower, ``1.1`` 10 % faster. ``1.0`` (the default) reads the
            audio as it is; only ``SERDataModule(speed_perturb=...)`` sets it, for copies of training audio.
        features: ``{input: {"name": extractor, **options}}`` (see :func:`resolve_features`): the
            full selection. ``None``: built from ``lld``/``hsf``/``wave``.
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
    features: dict[str, Any] | None = None
    speed: float = 1.0

    def __post_init__(self) -> None:
        if self.hsf_scope not in ("segment", "utterance"):
            raise ValueError(f"Expected hsf_scope 'segment' or 'utterance', got {self.hsf_scope!r}.")
        # torchaudio's speed() resamples from int(speed * sample_rate) Hz: the product must be a whole number
        rate = self.speed * self.sample_rate
        if not MIN_SPEED <= self.speed <= MAX_SPEED or abs(rate - round(rate)) > 1e-6 or int(rate) != round(rate):
            raise ValueError(
                f"Speed perturbation factor {self.speed!r} is outside [{MIN_SPEED}, {MAX_SPEED}] or not an exact "
                f"resampling ratio at {self.sample_rate} Hz; use steps of 0.01, e.g. 0.9 and 1.1 (data.speed_perturb)."
            )
        if self.features is None:
            selection = resolve_features(None, [k for k in DEFAULT_EXTRACTORS if getattr(self, k)])
        else:
            selection = {k: _spec(k, v) for k, v in self.features.items()}
        if not selection:
            raise ValueError("FeatureConfig asks for nothing: set at least one of lld, hsf, wave to True (data.inputs).")
        object.__setattr__(self, "features", selection)
        for key in DEFAULT_EXTRACTORS:
            object.__setattr__(self, key, key in selection)
        if not 0 < self.frame_shift <= self.frame_size:
            raise ValueError(
                f"data.frame_shift ({self.frame_shift} s) must be > 0 and <= data.frame_size ({self.frame_size} s); "
                "the paper uses 0.032 / 0.128."
            )
        if self.segment_length <= 0:
            raise ValueError(f"data.segment_length ({self.segment_length} s) must be positive.")
        if self.segment_hop is not None and self.segment_hop <= 0:
            raise ValueError(f"data.segment_hop must be positive (or null for no overlap), got {self.segment_hop}.")
        seconds_to_samples(self.segment_length, self.sample_rate, "segment_length")
        if self.segment_hop is not None:
            seconds_to_samples(self.segment_hop, self.sample_rate, "segment_hop")
        segment_bounds(1, 1, None, self.min_last_segment, self.segment_mode)  # validates the rest
        # Built once (cheap: options checked, no model loaded); not a field, so equality and asdict ignore it.
        object.__setattr__(self, "_extractors", {k: _build(k, spec, self) for k, spec in selection.items()})

    def as_dict(self) -> dict[str, Any]:
        """The settings as a plain dict for files (packs, bundles, result files); ``speed`` only when it is not 1,
        so files written by this version still load where the field does not exist."""
        return {k: v for k, v in dataclasses.asdict(self).items() if not (k == "speed" and v == 1.0)}

    @property
    def extractors(self) -> dict[str, FeatureExtractor]:
        """The extractor of each input, in input order."""
        return dict(self._extractors)  # type: ignore[attr-defined]

    @property
    def inputs(self) -> list[str]:
        return list(self._extractors)  # type: ignore[attr-defined]

    @property
    def runs_in_workers(self) -> bool:
        """Every extractor runs per file, so files may be computed in worker processes."""
        return all(e.runs == "per_file" for e in self.extractors.values())

    @property
    def segment_samples(self) -> int:
        return seconds_to_samples(self.segment_length, self.sample_rate, "segment_length")

    @property
    def hop_samples(self) -> int | None:
        return None if self.segment_hop is None else seconds_to_samples(self.segment_hop, self.sample_rate, "segment_hop")

    @property
    def gap_samples(self) -> int:
        """Samples between consecutive segments that no segment covers: ``hop - segment`` where the hop is longer
        than a segment (it skips audio), else 0 (no hop, a hop up to the segment length, or a crop's one window)."""
        if self.segment_mode != "segments" or self.hop_samples is None:
            return 0
        return max(0, self.hop_samples - self.segment_samples)

    @property
    def frame_samples(self) -> int:
        return seconds_to_samples(self.frame_size, self.sample_rate, "frame_size")

    @property
    def frame_hop_samples(self) -> int:
        return seconds_to_samples(self.frame_shift, self.sample_rate, "frame_shift")

    @property
    def num_frames(self) -> int:
        """IS10 LLD frames per segment: 40 for 1.4 s, 59 for 2.0 s at 128/32 ms."""
        from datamodules.features.is10 import num_frames

        return num_frames(self.segment_samples, self.frame_samples, self.frame_hop_samples)

    def key(self) -> str:
        """Hash of every setting, the openSMILE/torchaudio versions, the feature code version and the
        cache key of every extractor other than an input's default (so the default IS10 / waveform
        selection hashes as before extractors existed, and its caches and packs stay valid)."""
        from datamodules.features.is10 import CONFIG_DIGEST, OPENSMILE_VERSION

        # as_dict leaves speed 1.0 (no perturbation) out, so caches from before the field existed stay valid
        payload = {k: v for k, v in self.as_dict().items() if k != "features"} | {
            "opensmile": OPENSMILE_VERSION,
            "opensmile_configs": CONFIG_DIGEST,
            "torchaudio": torchaudio.__version__,  # its resampler makes the 16 kHz audio
            "version": FEATURE_VERSION,
        }
        own = {
            k: e.cache_key() for k, e in self.extractors.items() if e.spec() != {"name": DEFAULT_EXTRACTORS.get(k)}
        }
        if own:
            payload["extractors"] = own
        return hashlib.sha1(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


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
        hsf_scope=hparams.get("hsf_scope", "segment"),
        features=resolve_features(hparams.get("features"), inputs),
    )
    return config, inputs


@functools.lru_cache(maxsize=64)
def _net_dims(settings: str) -> dict[str, int]:
    hparams = json.loads(settings)
    dims: dict[str, int] = {}
    for key, names in (("lld", ("lld_dim", "num_frames")), ("hsf", ("hsf_dim",))):
        config, _ = feature_config_from_hparams(hparams | {"inputs": [key]})
        dims.update(zip(names, config.extractors[key].segment_shape()))
    return dims


def net_dims(hparams: Mapping[str, Any]) -> dict[str, int]:
    """``lld_dim``, ``num_frames`` and ``hsf_dim`` for the data settings ``hparams``: the shapes the
    CLI links into the net. An input the run does not read gets the shape its extractor would
    have, so a net's unused branch still builds (e.g. STRL-SER's ``hsf_dim`` in the LLD-only ablation)."""
    keys = ("segment_length", "segment_hop", "min_last_segment", "segment_mode", "frame_size", "frame_shift",
            "hsf_scope", "features")
    return dict(_net_dims(json.dumps({k: hparams.get(k) for k in keys if hparams.get(k) is not None}, sort_keys=True)))
