"""Feature packs: a corpus's cached features + its utterance table in one compressed file.

A pack lets ``ser fit/test`` run where the corpus is not (a GPU box, a colleague's laptop): it holds
the features of every utterance for one :class:`FeatureConfig`, the corpus table (ids, labels,
speakers, classes, speaker folds), so the protocols' splits are recomputed identically, and the
identity of the original corpus, so a checkpoint's leak checks still apply.

    ser-pack --out ravdess-1.4s.npz --dtype float16 -- -c configs/trainer.yaml -c configs/model/strl_ser.yaml \\
        -c configs/data/ravdess.yaml --data.root /data/RAVDESS
    ser fit -c configs/trainer.yaml -c configs/model/strl_ser.yaml -c configs/data/ravdess.yaml --data.pack ravdess-1.4s.npz

Format: one ``np.savez_compressed`` file; ``meta`` is a JSON string; each feature key ``k`` is
stored as the utterances' arrays concatenated along the first axis (``k``) with row offsets
(``k__offsets``, ``len = utterances + 1``). ``float16`` halves the size: the inputs that are
standardised per dimension (LLDs, functionals, encoder states) are stored per feature dimension as
``(x - centre) / scale`` (float32 ``k__centre``, ``k__scale``), so the rounding error is ~5e-4 of
each dimension's spread (recorded in ``meta``), whatever its magnitude; waveforms as they are, or with
``waveform_codec="flac"`` (``ser-pack --waveform-codec flac``) each utterance's samples (all its segments, in
order) as one 16-bit FLAC stream (``k`` is then the bytes, ``k__flac_offsets`` their offsets, ``k__tail`` the
shape after the first axis, and ``k__gain`` a per-utterance gain that keeps peaks beyond full scale from
clipping): lossless for 16-bit mono audio at its own rate, otherwise within half a 16-bit step times the gain
(``max_relative_rounding`` holds the largest absolute error), and 2.6x smaller than float16 (RAVDESS at
16 kHz: 47.3 MiB with a largest error of 1.5e-5, against 122.9 MiB and 2.4e-4), so a waveform model's corpus fits
where packs travel. A waveform pack also keeps each utterance's audio past its last segment (a remainder the
segmentation dropped; ``k__rest``, ``k__rest_offsets`` (bytes), ``k__rest_gain``, always FLAC; ``meta["rest"]``
names ``k``): never trained on, it lets speed-perturbed copies be rebuilt from the pack exactly as from the files
(:func:`~datamodules.features.compute.speed_copies_from_segments`). Readers that predate it ignore these keys.

The ``ser-pack`` command is :mod:`sermodels.pack_cli` (it builds the data module through the CLI, so
it lives beside the CLI: ``datamodules`` never imports ``sermodels``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from datamodules.corpora import Corpus, Utterance
from datamodules.features import FeatureConfig

__all__ = ["FeaturePack", "write_pack", "audio_rest", "PACK_FORMAT"]

PACK_FORMAT = "sermodels-feature-pack"
PACK_VERSION = 2  # 2: waveforms FLAC-coded (``meta["dtypes"][k] == "flac16"``); written only then, so that a pack
_READABLE_VERSIONS = (1, 2)  # without FLAC stays version 1 and readable by older installs
_FLOAT16_MAX = 60000.0  # a margin below float16's 65504
_INDEX_KEYS = ("bounds", "num_samples")


def write_pack(
    path: str | Path,
    corpus: Corpus,
    config: FeatureConfig,
    features: Sequence[dict[str, np.ndarray]],
    corpus_identity: str,
    dtype: Literal["float16", "float32"] = "float16",
    waveform_codec: Literal["raw", "flac"] = "raw",
    rests: Sequence[np.ndarray] | None = None,
) -> dict[str, Any]:
    """Write the features of every utterance of ``corpus`` (same order) into one pack file.

    Args:
        path: Output file (``.npz``).
        corpus: The corpus table; ``features[i]`` belongs to ``corpus.utterances[i]``.
        config: The settings the features were computed with.
        features: Per-utterance dicts from :func:`~datamodules.features.compute_features`.
        corpus_identity: The corpus's identity for leak checks (name and resolved root).
        dtype: Storage type of the float features.
        waveform_codec: ``"flac"`` stores waveform inputs (extractors of kind ``samples``) as 16-bit FLAC per
            utterance; ``"raw"`` as ``dtype``.
        rests: With a waveform input, each utterance's audio past its last segment (:func:`audio_rest`: a
            remainder the segmentation dropped; often empty), stored as 16-bit FLAC, so that the whole audio
            can be rebuilt from the pack (speed copies: ``FeaturePack.rest``). Not used for training.

    Returns:
        The pack's ``meta`` (also stored in the file).

    Raises:
        ValueError: ``features`` and ``corpus.utterances`` differ in length, or a bad ``dtype`` or ``waveform_codec``.
    """
    if waveform_codec not in ("raw", "flac"):
        raise ValueError(f"Expected waveform_codec 'raw' or 'flac', got {waveform_codec!r}.")
    if config.speed != 1.0:
        raise ValueError(f"A feature pack holds the corpus's own audio's features, not a x{config.speed:g} speed copy.")
    if len(features) != len(corpus.utterances):
        raise ValueError(f"write_pack: {len(features)} feature dicts for {len(corpus.utterances)} utterances.")
    if dtype not in ("float16", "float32"):
        raise ValueError(f"Expected dtype 'float16' or 'float32', got {dtype!r}.")
    arrays: dict[str, np.ndarray] = {}
    stored: dict[str, str] = {}
    rounding: dict[str, float] = {}
    per_dimension = {k for k, e in config.extractors.items() if e.normalization == "per_dimension"}
    keys = [k for k in (*_INDEX_KEYS, *config.extractors) if all(k in f for f in features)]
    for key in keys:
        parts = [np.atleast_1d(f[key]) if key == "num_samples" else f[key] for f in features]
        data = np.concatenate(parts)
        offsets = np.cumsum([0] + [len(p) for p in parts]).astype(np.int64)
        waveform = key in config.extractors and config.extractors[key].kind == "samples"
        if waveform_codec == "flac" and waveform and data.dtype.kind == "f":
            arrays[f"{key}__tail"] = np.asarray(data.shape[1:], np.int64)  # one stream per utterance, its segments in order
            data, arrays[f"{key}__flac_offsets"], arrays[f"{key}__gain"], rounding[key] = _flac_encode(
                [p.reshape(-1) for p in parts], config.sample_rate)
            arrays[key], arrays[f"{key}__offsets"] = data, offsets
            stored[key] = "flac16"
            continue
        if data.dtype.kind == "f":
            data = data.astype(np.float32)
            if dtype == "float16" and data.size and key in per_dimension:
                # Functionals can be large with a small spread (a mean F0 of 200 Hz +- 1): float16 of the
                # raw value would lose the spread. Store (x - centre) / scale per feature dimension.
                axes = tuple(a for a in range(data.ndim) if a != 1)
                centre = data.mean(axis=axes, keepdims=True, dtype=np.float64).astype(np.float32)
                scale = data.std(axis=axes, keepdims=True, dtype=np.float64).astype(np.float32)
                scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
                half = ((data - centre) / scale).astype(np.float16)
                restored = half.astype(np.float32) * scale + centre
                rounding[key] = float(np.max(np.abs(restored - data) / scale))  # in units of each dimension's std
                arrays[f"{key}__centre"], arrays[f"{key}__scale"] = centre, scale
                data = half
            elif dtype == "float16" and data.size and np.all(np.abs(data) <= _FLOAT16_MAX):
                half = data.astype(np.float16)
                rounding[key] = float(np.max(np.abs(half.astype(np.float32) - data)))  # absolute (waveforms)
                data = half
        arrays[key], arrays[f"{key}__offsets"] = data, offsets
        stored[key] = str(data.dtype)
    rest_key = next((k for k, e in config.extractors.items() if e.kind == "samples"), None)
    if rests is not None:
        if rest_key is None or len(rests) != len(features):
            raise ValueError(f"write_pack: rests need a waveform input and one array per utterance; got {len(rests)} "
                             f"for {len(features)} utterances and inputs {sorted(config.extractors)}.")
        (arrays[f"{rest_key}__rest"], arrays[f"{rest_key}__rest_offsets"], arrays[f"{rest_key}__rest_gain"],
         rounding[f"{rest_key}__rest"]) = _flac_encode(list(rests), config.sample_rate)
    if waveform_codec == "flac" and "flac16" not in stored.values():
        raise ValueError(
            f"waveform_codec 'flac': the features {sorted(config.extractors)} hold no waveform input to code "
            "(only waveform models, e.g. STA-CNN with data.inputs [wave], have one); leave the codec at 'raw'."
        )
    meta = {
        "format": PACK_FORMAT,
        "version": PACK_VERSION if "flac16" in stored.values() else 1,
        "corpus": {
            "name": corpus.name,
            "identity": corpus_identity,
            "classes": list(corpus.classes),
            "speaker_groups": [list(g) for g in corpus.speaker_groups] if corpus.speaker_groups else None,
            "utterances": [
                {"utt_id": u.utt_id, "label": u.label, "speaker": u.speaker, "session": u.session, "gender": u.gender}
                for u in corpus.utterances
            ],
        },
        "feature_config": config.as_dict(),
        "feature_key": config.key(),
        "dtypes": stored,
        "max_relative_rounding": rounding,
        "rest": rest_key if rests is not None else None,  # the waveform input whose audio past the segments is held
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}")
    with tmp.open("wb") as fh:
        # numpy's stub types **kwds as if a key could be its `allow_pickle: bool` (none is: feature keys and their __offsets).
        np.savez_compressed(fh, meta=np.asarray(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    tmp.replace(path)
    return meta


def audio_rest(features: dict[str, np.ndarray], wave: np.ndarray, name: str = "utterance") -> np.ndarray:
    """The samples of ``wave`` (an utterance's audio at the config's rate) past its last segment's end
    (``features["bounds"]``): what a pack of its segments alone would not hold. Empty when the segments reach
    the end (a kept remainder is zero-padded into the last segment)."""
    end = int(np.asarray(features["bounds"])[:, 1].max())
    if int(features["num_samples"]) != len(wave):
        raise ValueError(f"{name}: the audio has {len(wave)} samples but its cached features were made from "
                         f"{int(features['num_samples'])}: the file changed since; clear its cache folder (SER_CACHE) "
                         "and run `ser-pack` again.")
    return np.asarray(wave[end:], np.float32)


def _flac_encode(parts: Sequence[np.ndarray], sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Each 1-D waveform as 16-bit FLAC bytes: (all bytes, byte offsets, per-utterance gains, max abs error)."""
    import io

    import soundfile as sf

    blobs: list[bytes] = []
    gains, error = np.ones(len(parts), np.float32), 0.0
    for i, x in enumerate(parts):
        x = np.asarray(x, np.float32)
        if not x.size:
            blobs.append(b"")
            continue
        # PCM_16 holds [-1, 32767/32768]; soundfile clips beyond it. A gain only where a peak would clip, so that
        # 16-bit audio (which reaches -1.0 exactly, never +1.0) is stored as it is.
        gains[i] = max(1.0, float(x.max()) * 32768.0 / 32767.0, float(-x.min()))
        buf = io.BytesIO()
        sf.write(buf, x / gains[i], sample_rate, format="FLAC", subtype="PCM_16")
        blobs.append(buf.getvalue())
        restored = sf.read(io.BytesIO(blobs[-1]), dtype="float32")[0] * gains[i]
        error = max(error, float(np.max(np.abs(restored - x))))
    byte_offsets = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
    return np.frombuffer(b"".join(blobs), np.uint8), byte_offsets, gains, error


class FeaturePack:
    """A pack opened for reading: the corpus table and each utterance's features (as float32).

    Args:
        path: A file written by :func:`write_pack`.

    Raises:
        ValueError: The file is missing or is not a feature pack of a known version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise ValueError(f"data.pack: {self.path} does not exist; write one with `ser-pack --out {self.path} -- <configs>`.")
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            self.meta: dict[str, Any] = json.loads(str(self._npz["meta"]))
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f"data.pack: {self.path} is not a feature pack ({err}).") from err
        if self.meta.get("format") != PACK_FORMAT or self.meta.get("version") not in _READABLE_VERSIONS:
            newer = self.meta.get("format") == PACK_FORMAT and isinstance(self.meta.get("version"), int) \
                and self.meta["version"] > max(_READABLE_VERSIONS)
            raise ValueError(
                f"data.pack: {self.path} has format {self.meta.get('format')!r} version {self.meta.get('version')!r}; "
                f"expected {PACK_FORMAT!r} version {' or '.join(map(str, _READABLE_VERSIONS))}. "
                + ("Upgrade sermodels to read it." if newer else "Re-export it with this version's `ser-pack`.")
            )
        self._cache: dict[str, np.ndarray] = {}
        self._row = {u["utt_id"]: i for i, u in enumerate(self.meta["corpus"]["utterances"])}

    @property
    def config(self) -> FeatureConfig:
        known = {f.name for f in dataclasses.fields(FeatureConfig)}  # a newer writer's extra fields: not ours to apply
        return FeatureConfig(**{k: v for k, v in self.meta["feature_config"].items() if k in known})

    @property
    def identity(self) -> str:
        """The original corpus's identity (name and root), for checkpoint leak checks."""
        return str(self.meta["corpus"]["identity"])

    def corpus(self) -> Corpus:
        """The corpus table; each utterance's ``path`` is ``<pack>::<utt_id>`` (no audio behind it)."""
        c = self.meta["corpus"]
        utterances = [
            Utterance(u["utt_id"], Path(f"{self.path}::{u['utt_id']}"), u["label"], u["speaker"], u["session"], u["gender"])
            for u in c["utterances"]
        ]
        groups = tuple(tuple(g) for g in c["speaker_groups"]) if c["speaker_groups"] else None
        return Corpus(c["name"], self.path.parent, tuple(c["classes"]), utterances, groups)

    def check_config(self, wanted: FeatureConfig) -> None:
        """Refuse a pack made with other feature settings than the run's, naming each difference
        (a pack from before extractors were selectable holds the default ones)."""
        have = self.config.as_dict()
        diff = {k: (have.get(k), v) for k, v in wanted.as_dict().items() if have.get(k) != v}
        if diff:
            listed = ", ".join(f"{k}: pack {a!r} vs run {b!r}" for k, (a, b) in diff.items())
            raise ValueError(
                f"data.pack: {self.path} was made with other feature settings ({listed}). Run with the pack's "
                "settings, or export a pack with these (`ser-pack` with the same configs as this run)."
            )

    def _array(self, key: str) -> np.ndarray:
        if key not in self._cache:
            self._cache[key] = self._npz[key]
        return self._cache[key]

    def features(self, utt_id: str) -> dict[str, np.ndarray]:
        """The stored features of one utterance, floats as float32."""
        if utt_id not in self._row:
            raise KeyError(f"data.pack: {self.path} holds no utterance {utt_id!r}.")
        i = self._row[utt_id]
        out = {}
        for key, stored in self.meta["dtypes"].items():
            if stored == "flac16":
                out[key] = self._flac_decode(key, i)
                continue
            offsets = self._array(f"{key}__offsets")
            value = self._array(key)[offsets[i] : offsets[i + 1]]
            if f"{key}__scale" in self._npz.files:
                value = value.astype(np.float32) * self._array(f"{key}__scale") + self._array(f"{key}__centre")
            value = value.astype(np.float32) if value.dtype.kind == "f" else value
            out[key] = value[0] if key == "num_samples" else value
        return out

    def rest(self, utt_id: str) -> np.ndarray | None:
        """An utterance's audio past its last segment (see :func:`audio_rest`), or None where the pack holds none
        (packs of features, and waveform packs written before it was kept)."""
        key = self.meta.get("rest")
        if not key:
            return None
        if utt_id not in self._row:
            raise KeyError(f"data.pack: {self.path} holds no utterance {utt_id!r}.")
        return self._decode(f"{key}__rest", f"{key}__rest_offsets", f"{key}__rest_gain", self._row[utt_id])

    def _flac_decode(self, key: str, i: int) -> np.ndarray:
        tail = tuple(int(n) for n in self._array(f"{key}__tail"))
        return self._decode(key, f"{key}__flac_offsets", f"{key}__gain", i).reshape(-1, *tail)

    def _decode(self, key: str, offsets_key: str, gain_key: str, i: int) -> np.ndarray:
        """Utterance ``i``'s FLAC stream of ``key`` as float32 samples (``(0,)`` where it is empty), gain applied."""
        import io

        import soundfile as sf

        offsets = self._array(offsets_key)
        blob = self._array(key)[offsets[i] : offsets[i + 1]].tobytes()
        if not blob:
            return np.zeros(0, np.float32)
        wave, _ = sf.read(io.BytesIO(blob), dtype="float32")
        return np.asarray(wave * self._array(gain_key)[i], np.float32)
