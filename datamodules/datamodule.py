"""The LightningDataModule: corpus -> split -> segments -> cached features -> normalised batches."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from datamodules.batches import SegmentDataset, TensorBatches, stack_segments
from datamodules.cache import FeatureCache, default_cache_dir
from datamodules.corpora import UNKNOWN_SPEAKER, Corpus, CorpusEntry, CorpusError, get_corpus
from datamodules.extract import ExtractionError, ExtractionStats, extract_all, format_errors
from datamodules.features import HSFScope, feature_config_from_hparams, net_dims
from datamodules.features.base import MAX_SPEED, MIN_SPEED
from datamodules.features.compute import rebuildable, speed_copies_from_segments
from datamodules.features.settings import FEATURE_SETTINGS, checkpoint_feature_settings, feature_setting_mismatches
from datamodules.normalize import SpeakerStandardizer, Standardizer
from datamodules.pack import FeaturePack
from datamodules.predict import PredictSet
from datamodules.segments import SegmentMode
from datamodules.splits import Split, make_split
from datamodules.suffixes import AUDIO_SUFFIXES

__all__ = [
    "SERDataModule",
    "SegmentDataset",
    "TensorBatches",
    "AUDIO_SUFFIXES",
    "FEATURE_SETTINGS",
    "checkpoint_feature_settings",
    "feature_setting_mismatches",
]

log = logging.getLogger(__name__)


def _check_speed_factors(factors: Sequence[float] | None, split_unit: str) -> tuple[float, ...]:
    """``data.speed_perturb`` checked: distinct factors other than 1 within the accepted range."""
    if not factors:
        return ()
    out = tuple(float(f) for f in factors)
    bad = [f for f in out if f == 1.0 or not MIN_SPEED <= f <= MAX_SPEED or abs(round(f, 2) - f) > 1e-9]
    if bad or len(set(out)) != len(out):
        raise ValueError(
            f"data.speed_perturb: expected distinct factors in [{MIN_SPEED}, {MAX_SPEED}] other than 1 (the original "
            f"audio is always kept), in steps of 0.01 (each is an exact resampling ratio), e.g. [0.9, 1.1]; got "
            f"{list(factors)}."
        )
    if split_unit == "segment":
        raise ValueError(
            "data.speed_perturb with data.split_unit=segment would put copies of one recording on both sides of the "
            "leaky re-split; use one or the other."
        )
    return out


class SERDataModule(L.LightningDataModule):
    """Corpus loading, the evaluation protocol, segmentation, and features from the configured extractors.

    ``prepare_data`` scans the corpus and fills the feature cache (parallel, with progress);
    ``setup`` builds the split once, loads features from the cache and standardises them with
    statistics of the training split only (:class:`~datamodules.normalize.Standardizer`, kept in
    :meth:`state_dict`, hence in checkpoints, so ``predict`` on new audio uses the training
    statistics). ``predict`` featurises its files once (:class:`~datamodules.predict.PredictSet`).

    Args:
        corpus: A registered corpus name: ``ravdess``, ``emodb``, ``iemocap``, ``savee``, ``csv``,
            ``folder``, ``synthetic`` (no download), or ``package.module:name`` for a corpus your
            own module registers (``datamodules.corpora.register_corpus``; the module is imported).
        root: Corpus folder (``csv``: the CSV file). ``synthetic``: where to write it
            (default: ``<cache_dir>/synthetic``).
        corpus_options: Extra keyword arguments for the loader (e.g. synthetic size, CSV classes).
        download: Fetch the corpus if ``root`` lacks it (corpora that can: ``ravdess``, the
            official speech archive).
        classes: Class names, to skip scanning the corpus just to learn them (e.g. for predict).
        protocol: ``paper`` (seeded stratified random split of utterances; speaker-dependent) or
            ``speaker`` (speaker-independent folds).
        ratios: ``paper`` split ratios: two (train, val; test = val as in STRL-SER) or three.
        fold: ``speaker`` fold index.
        num_folds: ``speaker`` folds for corpora without predefined groups.
        seed: Split seed.
        split_file: Optional JSON split (``Split.write``) to use instead of computing one.
        segment_length, segment_hop, min_last_segment, segment_mode: Segmentation (``datamodules.segments``).
        frame_size, frame_shift: IS10 LLD framing in seconds (paper: 0.128 / 0.032).
        inputs: The batch keys nets read: ``lld`` (frame-level ``(dims, frames)``), ``hsf`` (a vector),
            ``wave`` (samples), or a key ``features`` names an extractor for.
        features: Which extractor fills each input (:func:`~datamodules.features.resolve_features`):
            ``None`` (IS10 LLDs, IS10 functionals, waveform), a feature set (``egemaps``), or
            ``{input: NAME | {name: NAME, <option>: value}}``.
        hsf_scope: Functionals per ``segment`` (default) or per ``utterance``.
        normalize: Standardise the inputs whose extractor asks for it (per dimension; LLDs, functionals)
            with training statistics.
        speaker_norm: Speaker normalisation (opt-in, beyond the papers): before that, standardise each
            speaker's inputs with the speaker's own statistics
            (:class:`~datamodules.normalize.SpeakerStandardizer`): training speakers with their training
            rows; speakers absent from training (the ``speaker`` protocol's validation and test speakers)
            with all their rows in that part, which reads the unlabelled test audio (transductive; compare
            only with a baseline run with it too). ``predict`` treats the files of one call as one
            speaker. Needs an input standardised per dimension (not STA-CNN's waveform).
        batch_size: Segments per batch.
        num_workers: Ignored (kept so old configs load): batches are cut by index from tensors on the
            model's device (:class:`TensorBatches`), with no worker processes.
        extract_workers: Feature-extraction processes (default: all cores).
        cache_dir: Feature cache root (default ``$SER_CACHE`` or ``~/.cache/sermodels``).
        predict_paths: Audio files or folders for ``predict``.
        progress: Show extraction progress bars.
        skip_bad_files: Leave out audio files that cannot be read or featurised instead of stopping
            (off by default: every bad file is then listed in one error). Skipped files are named in
            a warning, in the corpus summary, in the checkpoint and in ``test_metrics.json``
            (``split.skipped_files``).
        split_unit: ``utterance`` (every protocol: an utterance's segments stay on one side).
            ``segment`` is a LEAKY diagnostic reading of a paper's "random split of the samples"
            (STRL-SER's 80/20, STA-CNN's 6:2:2): the ``paper`` split's segments (train and
            validation, and test where it is its own part) are pooled and re-split at random by
            segment (same ratios), so sibling segments of one recording sit on both sides.
            Results are labelled leaky (``split_info``) and must never be reported as the model's
            score; checkpoints record every pooled utterance as training data, and the part sizes
            in ``split_info`` are the utterance split's from before the re-split.
        pack: A feature pack (``ser-pack``) to train and test from instead of the corpus and the
            cache: the corpus table and features come from the file, so neither audio nor
            ``root`` is needed. Its feature settings must equal this run's (checked).
        speed_perturb: Speed perturbation of the training audio (opt-in, beyond the papers; Ko et al.
            2015, the 3-way perturbation of Kaldi and SpeechBrain recipes), e.g. ``[0.9, 1.1]``: every
            training utterance is also featurised at each factor (``torchaudio.functional.speed``: tempo
            and pitch change together) and added to the training part as a copy (batch key ``copy``:
            0 = the original, ``k`` = the ``k``-th factor), so an epoch sees about ``1 + len(factors)`` times
            the training segments (a slower copy has more segments, a faster one fewer), hence as many more
            optimiser steps. Validation, test and predict audio are never perturbed; the copies
            are cached like any features (one cache folder per factor), and the normalisation
            statistics include them, so ``test``/``validate`` of such a checkpoint need the same setting
            (checked). With ``speaker_norm`` each copy counts as a speaker of its own
            (``<speaker>|x0.9``). With ``pack`` (no audio) only for waveform inputs cut into segments
            (STA-CNN's): each copy is rebuilt from the packed segments and the audio past them that the pack
            keeps (``speed_copies_from_segments``, the audio decoded once for all factors), equal to the copy made from the file to the pack's rounding
            (none for 16-bit audio in a FLAC pack); a pack of features computed from the audio is refused. Not with ``split_unit: segment``.
    """

    def __init__(
        self,
        corpus: str = "synthetic",
        root: str | None = None,
        corpus_options: dict[str, Any] | None = None,
        download: bool = False,
        classes: list[str] | None = None,
        protocol: Literal["paper", "speaker"] = "paper",
        ratios: list[float] | None = None,
        fold: int = 0,
        num_folds: int | None = None,
        seed: int = 0,
        split_file: str | None = None,
        segment_length: float = 1.4,
        segment_hop: float | None = None,
        min_last_segment: float = 0.5,
        segment_mode: SegmentMode = "segments",
        frame_size: float = 0.128,
        frame_shift: float = 0.032,
        inputs: list[str] | None = None,
        features: str | dict[str, str | dict[str, Any]] | None = None,
        hsf_scope: HSFScope = "segment",
        normalize: bool = True,
        speaker_norm: bool = False,
        batch_size: int = 128,
        num_workers: int = 0,
        extract_workers: int | None = None,
        cache_dir: str | None = None,
        predict_paths: list[str] | None = None,
        progress: bool = True,
        split_unit: Literal["utterance", "segment"] = "utterance",
        skip_bad_files: bool = False,
        pack: str | None = None,
        speed_perturb: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.speed_factors = _check_speed_factors(speed_perturb, split_unit)
        self.corpus_entry = self._corpus_entry(corpus, download)
        if batch_size < 1:
            raise ValueError(f"data.batch_size: expected a positive integer, got {batch_size}.")
        self.ratios = tuple(ratios or (0.8, 0.2))
        self._configure_features()
        if self.speed_factors and pack is not None:
            self._check_pack_copies(pack)
        self.cache_root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._classes = tuple(classes) if classes else None
        self._corpus: Corpus | None = None
        self.split: Split | None = None
        self.datasets: dict[str, SegmentDataset] = {}
        self.predict_set: PredictSet | None = None
        self.skipped_files: dict[str, str] = {}  # path -> why (data.skip_bad_files)
        self.summary = ""
        self.extraction_stats: dict[str, Any] = {}
        self._stage: str | None = None
        self._ckpt_train_ids: set[str] = set()
        self._ckpt_corpus: str | None = None
        self._ckpt_split_info: dict[str, Any] = {}
        self._shuffle_seed = 0
        self._pack: FeaturePack | None = None
        self.speed_copies: dict[str, int] = {}  # factor -> training utterances copied at it (speed_perturb)
        self.skipped_copies: dict[str, str] = {}  # path -> why its speed copy is left out (skip_bad_files)
        if gap := self.feature_config.gap_samples:  # in samples, as the segmentation cuts
            warnings.warn(
                f"data.segment_hop={segment_hop:g} s is longer than data.segment_length={segment_length:g} s: the "
                f"{gap / self.feature_config.sample_rate:g} s between consecutive segments are never seen. Set "
                "data.segment_hop to at most the segment length (e.g. half of it for overlapping segments), or null for none.",
                stacklevel=2,
            )
        if num_workers:
            warnings.warn(
                f"data.num_workers={num_workers} is ignored: batches are cut from in-memory tensors on the model's "
                "device, with no worker processes (drop the setting).",
                stacklevel=2,
            )

    @property
    def pack(self) -> FeaturePack | None:
        """The feature pack given as ``data.pack`` (opened once, settings checked), else None."""
        if self._pack is None and self.hparams["pack"]:
            self._pack = FeaturePack(self.hparams["pack"])
            self._pack.check_config(self.feature_config)
        return self._pack

    # ----------------------------------------------------------------- sizes for linking
    @staticmethod
    def _corpus_entry(name: str, download: bool) -> CorpusEntry:
        """The registry's entry for ``data.corpus`` (a clear error for an unknown name or download)."""
        try:
            entry = get_corpus(name)
        except CorpusError as exc:
            raise ValueError(f"data.corpus: {exc}") from None
        if download and not entry.can_download:
            raise ValueError(
                f"data.download: corpus {name!r} cannot be downloaded; point data.root at a local copy and drop "
                "data.download."
            )
        return entry

    @property
    def corpus(self) -> Corpus:
        """The corpus table (scanned once)."""
        if self._corpus is None and self.pack is not None:
            self._corpus = self.pack.corpus()
        if self._corpus is None:
            hp = self.hparams
            entry = self.corpus_entry
            root = hp["root"] if hp["root"] is not None else entry.default_root(self.cache_root)
            if root is None:
                where = "the file listing it" if entry.root == "file" else "the folder it lives in"
                raise ValueError(
                    f"data.root: corpus {hp['corpus']!r} needs {where}; pass --data.root "
                    f"/path/to/{'corpus.csv' if entry.root == 'file' else 'corpus'}."
                )
            kwargs = dict(hp["corpus_options"] or {})
            if hp["download"]:
                kwargs["download"] = True
            self._corpus = entry.load(root, **kwargs)
            if self._classes and tuple(self._corpus.classes) != self._classes:
                raise ValueError(
                    f"data.classes {list(self._classes)} differ from the corpus classes {list(self._corpus.classes)}; "
                    "drop data.classes or fix its order."
                )
        return self._corpus

    @property
    def class_names(self) -> list[str]:
        """Class names in target-index order (corpora registered with their classes need no scan,
        so predict runs without them)."""
        if self._classes:
            return list(self._classes)
        if self._corpus is None:
            known = self.corpus_entry.class_names(self.hparams["corpus_options"])
            if known is not None:
                return list(known)
        return list(self.corpus.classes)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    # ----------------------------------------------------------------- features (shapes linked into the net)
    def _configure_features(self) -> None:
        """The feature config (the extractor of each input) and the normaliser, from the hyperparameters."""
        self.feature_config, inputs = feature_config_from_hparams(self.hparams)
        self.inputs = tuple(inputs)
        per_dimension = [k for k, e in self.feature_config.extractors.items() if e.normalization == "per_dimension"]
        self.normalizer = Standardizer(per_dimension if self.hparams["normalize"] else ())
        self.speaker_normalizer: SpeakerStandardizer | None = None
        if self.hparams.get("speaker_norm"):
            if not per_dimension:
                raise ValueError(
                    f"data.speaker_norm: true needs an input standardised per dimension (LLDs, functionals); the inputs "
                    f"{list(self.inputs)} have none (e.g. STA-CNN's waveform). Set data.speaker_norm false."
                )
            self.speaker_normalizer = SpeakerStandardizer(per_dimension)

    def _check_pack_copies(self, pack: str) -> None:
        """With ``pack``, speed copies are rebuilt from the packed waveform segments: only where the segments give
        the audio back (:func:`rebuildable`: STA-CNN's waveform input); LLDs and functionals need the audio."""
        why = rebuildable(self.feature_config)
        if why:
            raise ValueError(
                f"data.speed_perturb with data.pack={pack!r}: a pack holds unperturbed features, and a copy can be "
                f"rebuilt from it only for waveform inputs cut into segments (STA-CNN's), but {why}. Train from the "
                "corpus folder (data.root), or drop data.speed_perturb."
            )

    @property
    def input_shapes(self) -> dict[str, tuple[int, ...]]:
        """Each input's per-segment shape, e.g. ``{"lld": (76, 40), "hsf": (1582,)}``."""
        return {k: e.segment_shape() for k, e in self.feature_config.extractors.items()}

    @property
    def lld_dim(self) -> int:
        """Feature dimensions per frame of input ``lld`` (76 for IS10, 25 for eGeMAPS)."""
        return net_dims(self.hparams)["lld_dim"]

    @property
    def hsf_dim(self) -> int:
        """Dimensions of input ``hsf`` (1582 for IS10 functionals, 88 for eGeMAPS)."""
        return net_dims(self.hparams)["hsf_dim"]

    @property
    def num_frames(self) -> int:
        """Frames per segment of input ``lld`` (IS10: 40 for 1.4 s, 59 for 2.0 s)."""
        return net_dims(self.hparams)["num_frames"]

    @property
    def sample_rate(self) -> int:
        return self.feature_config.sample_rate

    @property
    def segment_samples(self) -> int:
        return self.feature_config.segment_samples

    @property
    def feature_settings(self) -> dict[str, Any]:
        """The values of :data:`FEATURE_SETTINGS` this module extracts with (``features`` resolved)."""
        return {k: self.hparams[k] for k in FEATURE_SETTINGS} | {
            "features": self.feature_config.features, "speed_perturb": list(self.speed_factors) or None,
        }

    def _adopt_feature_settings(self, settings: Mapping[str, Any]) -> None:
        """Use a checkpoint's feature settings (predict), rebuilding the feature config."""
        for key in FEATURE_SETTINGS:
            if key in settings:
                self.hparams[key] = settings[key]
        self.speed_factors = tuple(float(f) for f in self.hparams.get("speed_perturb") or ())
        self._configure_features()

    def _cache(self, speed: float = 1.0) -> FeatureCache:
        config = self.feature_config if speed == 1.0 else dataclasses.replace(self.feature_config, speed=speed)
        return FeatureCache(self.cache_root, config)

    def _extract(
        self, paths: Sequence[str | Path], load: bool, on_error: Literal["raise", "collect"], progress: bool = False,
        desc: str = "features", speed: float = 1.0,
    ) -> tuple[list[dict[str, np.ndarray] | None], ExtractionStats]:
        """Features of ``paths`` through the cache (computed where missing); see :func:`extract_all`.
        ``speed``: of the audio speed-perturbed by this factor (``speed_perturb``)."""
        return extract_all(paths, self._cache(speed), self.hparams["extract_workers"], progress, desc=desc, load=load,
                           on_error=on_error)

    # ----------------------------------------------------------------- Lightning hooks
    def _make_split(self) -> Split:
        hp = self.hparams
        if hp["split_file"]:
            return Split.read(hp["split_file"])
        return make_split(
            self.corpus, hp["protocol"], ratios=self.ratios, fold=hp["fold"], num_folds=hp["num_folds"], seed=hp["seed"]
        )

    def _split_paths(self) -> list[Path]:
        split = self.split or self._make_split()
        self._check_split(split)  # before extraction: a bad split file must not cost a feature pass
        wanted = set(split.train) | set(split.val) | set(split.test)
        return [u.path for u in self.corpus.utterances if u.utt_id in wanted]

    def prepare_data(self) -> None:
        """Scan the corpus and fill the feature cache (rank 0 only under DDP).

        Every file that fails is reported at once (an error listing all of them), or, with
        ``skip_bad_files``, left for ``setup`` to leave out and list.
        """
        if self.trainer is not None and self.trainer.state.stage is not None and self.trainer.state.stage.value == "predict":
            return  # predict featurises its files once, in predict_dataloader (after the checkpoint's settings apply)
        if self.pack is not None:
            self._split_paths()  # the split is still checked before anything else
            return  # features come from the pack
        on_error: Literal["raise", "collect"] = "collect" if self.hparams["skip_bad_files"] else "raise"
        _, stats = self._extract(self._split_paths(), load=False, on_error=on_error, progress=self.hparams["progress"])
        self.extraction_stats = dict(stats)
        if self.speed_factors:
            split = self.split or self._make_split()
            train = set(split.train)
            paths = [u.path for u in self.corpus.utterances if u.utt_id in train and str(u.path) not in stats["errors"]]
            for factor in self.speed_factors:
                self._extract_copies(paths, factor, load=False, on_error=on_error)

    def setup(self, stage: str | None = None) -> None:
        """Build the split, load features, fit normalisation on the training split, and say what
        was found: one summary line (files, classes with counts, speakers, utterances and segments
        per part), a warning naming classes absent from a part, and the files left out."""
        self._stage = stage
        if stage == "predict":
            if self.predict_set is None:
                self.predict_set = PredictSet(self.hparams["predict_paths"])  # files listed (and checked) once
            return
        if self.datasets:
            return
        corpus = self.corpus
        # Seeds the training order (one draw from the global RNG, so seed_everything fixes it).
        self._shuffle_seed = int(torch.randint(0, 2**31 - 1, ()).item())
        self.split = self._make_split()
        self._check_split(self.split)
        by_id = {u.utt_id: i for i, u in enumerate(corpus.utterances)}
        wanted = [by_id[i] for i in dict.fromkeys([*self.split.train, *self.split.val, *self.split.test])]
        if self.pack is not None:  # features from the pack: no audio, no cache
            features = {r: self.pack.features(corpus.utterances[r].utt_id) for r in wanted}
        else:
            on_error: Literal["raise", "collect"] = "collect" if self.hparams["skip_bad_files"] else "raise"
            feats, stats = self._extract([corpus.utterances[r].path for r in wanted], load=True, on_error=on_error)
            self.extraction_stats = dict(stats)
            # A failed file's None is dropped here; _skip_bad_files takes its utterance out of the split below.
            features = {r: f for r, f in zip(wanted, feats) if f is not None}
            if stats["errors"]:
                self._skip_bad_files(stats["errors"])
        parts = {"train": self.split.train, "val": self.split.val, "test": self.split.test}
        segment_base = 0
        raw: dict[str, dict[str, torch.Tensor]] = {}
        for name, ids in parts.items():
            if name == "test" and tuple(ids) == tuple(self.split.val):
                continue
            rows = [by_id[i] for i in ids]
            targets = [corpus.label_index(corpus.utterances[r].label) for r in rows]
            raw[name] = stack_segments([features[r] for r in rows], self.inputs, rows, targets, segment_base)
            segment_base += len(raw[name]["utt_index"])
        if self.hparams["split_unit"] == "segment":
            raw = self._leaky_segment_resplit(raw)
        if self.speed_factors:
            raw["train"] = self._add_speed_copies(raw["train"], segment_base)
        if self.speaker_normalizer is not None:
            speakers = {name: self._row_speakers(t) for name, t in raw.items()}
            unknown = sum(s.count(UNKNOWN_SPEAKER) for s in speakers.values())
            if unknown:
                raise ValueError(
                    f"data.speaker_norm: {unknown} segments of corpus {corpus.name} have no speaker id ({UNKNOWN_SPEAKER!r}); "
                    "speaker normalisation needs one per utterance (a speaker column in the CSV, or a speaker pattern "
                    "for a folder corpus). Set data.speaker_norm false, or give the speakers."
                )
            self.speaker_normalizer.fit(raw["train"], speakers["train"])
            raw = {name: self.speaker_normalizer.transform(t, speakers[name]) for name, t in raw.items()}
        self.normalizer.fit(raw["train"])
        for name, tensors in raw.items():
            self.datasets[name] = SegmentDataset(self.normalizer.transform(tensors))
        if "test" not in self.datasets:
            self.datasets["test"] = self.datasets["val"]
        self._report()

    def _extract_copies(
        self, paths: Sequence[str | Path], factor: float, load: bool, on_error: Literal["raise", "collect"]
    ) -> tuple[list[dict[str, np.ndarray] | None], ExtractionStats]:
        """:meth:`_extract` of the files' ``factor`` speed copies; a failure names the copy and the setting."""
        try:
            with warnings.catch_warnings():  # degenerate audio was reported by the originals' pass already
                warnings.filterwarnings("ignore", message="Degenerate audio in ")
                return self._extract(paths, load=load, on_error=on_error, progress=self.hparams["progress"] and not load,
                                     desc=f"features x{factor:g} speed", speed=factor)
        except ExtractionError as err:
            raise ExtractionError(
                f"data.speed_perturb: the x{factor:g} speed copies of training files whose originals were usable "
                f"failed: {err}", err.errors,
            ) from err

    def _pack_copies(self, rows: list[int]) -> list[list[dict[str, np.ndarray] | None]]:
        """Each training utterance's speed copies (one per ``speed_factors``, in order) rebuilt from the packed waveform
        segments, the audio decoded once per utterance (no audio files: _check_pack_copies)."""
        assert self.pack is not None
        pack, corpus = self.pack, self.corpus
        if pack.meta.get("rest") is None:
            rank_zero_warn(f"data.pack: {pack.path} keeps no audio past each utterance's last segment (written "
                           "before packs kept it, or without it), so speed copies lack any remainder the "
                           "segmentation dropped; write the pack again with `ser-pack` for copies equal to "
                           "the audio's.")
        out: list[list[dict[str, np.ndarray] | None]] = []
        for u in (corpus.utterances[r].utt_id for r in rows):
            try:
                out.append(list(speed_copies_from_segments(pack.features(u), self.feature_config, self.speed_factors,
                                                           name=u, rest=pack.rest(u))))
            except (ValueError, RuntimeError) as err:
                factors = ", ".join(f"x{f:g}" for f in self.speed_factors)
                raise ValueError(f"data.pack={str(pack.path)!r}, data.speed_perturb {factors}: {err}") from err
        return out

    def _add_speed_copies(self, train: dict[str, torch.Tensor], segment_base: int) -> dict[str, torch.Tensor]:
        """The training part with a speed-perturbed copy of each training utterance per factor appended
        (``speed_perturb``); key ``copy`` tells them apart (0 = the original)."""
        assert self.split is not None
        corpus = self.corpus
        by_id = {u.utt_id: i for i, u in enumerate(corpus.utterances)}
        rows = [by_id[i] for i in self.split.train]
        targets = [corpus.label_index(corpus.utterances[r].label) for r in rows]
        on_error: Literal["raise", "collect"] = "collect" if self.hparams["skip_bad_files"] else "raise"
        parts = [train | {"copy": torch.zeros(len(train["target"]), dtype=torch.int64)}]
        self.speed_copies, self.skipped_copies = {}, {}
        packed = self._pack_copies(rows) if self.pack is not None else None
        for k, factor in enumerate(self.speed_factors, start=1):
            if packed is not None:
                feats: list[dict[str, np.ndarray] | None] = [copies[k - 1] for copies in packed]
                for copies in packed:  # each factor's copies are held once: in feats until stacked, then freed
                    copies[k - 1] = None
                stats = ExtractionStats(errors={})
            else:
                feats, stats = self._extract_copies([corpus.utterances[r].path for r in rows], factor, load=True,
                                                    on_error=on_error)
            if stats["errors"]:  # the original was usable (it is in the split), this copy is not: leave the copy out
                rank_zero_warn(format_errors(dict(stats["errors"]), len(rows)) + f"\nTheir x{factor:g} speed copies "
                               "are left out of training (data.skip_bad_files=true; listed in split.skipped_copies).")
                self.skipped_copies.update({p: f"x{factor:g} speed copy: {e}" for p, e in stats["errors"].items()})
            kept = [(f, r, t) for f, r, t in zip(feats, rows, targets) if f is not None]
            copy = stack_segments([f for f, _, _ in kept], self.inputs, [r for _, r, _ in kept], [t for _, _, t in kept],
                                  segment_base)
            segment_base += len(copy["target"])
            copy["copy"] = torch.full((len(copy["target"]),), k, dtype=torch.int64)
            parts.append(copy)
            self.speed_copies[f"{factor:g}"] = len(kept)
        return {key: torch.cat([p[key] for p in parts]) for key in parts[0]}

    def _row_speakers(self, tensors: Mapping[str, torch.Tensor]) -> list[str]:
        """The speaker of each row (segment) of a part's tensors; a speed-perturbed copy's rows count as a speaker
        of their own (``<speaker>|x<factor>``, as Kaldi's ``sp0.9-<speaker>``): their pitch and tempo differ."""
        utterances = self.corpus.utterances
        speakers = [utterances[i].speaker for i in tensors["utt_index"].tolist()]
        if "copy" not in tensors:
            return speakers
        return [s if k == 0 else f"{s}|x{self.speed_factors[k - 1]:g}" for s, k in zip(speakers, tensors["copy"].tolist())]

    def _skip_bad_files(self, errors: Mapping[str, str]) -> None:
        """Leave the utterances of unusable files out of every part (``skip_bad_files``)."""
        assert self.split is not None
        self.skipped_files = dict(errors)
        bad = {u.utt_id for u in self.corpus.utterances if str(u.path) in errors}

        def keep(ids: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(i for i in ids if i not in bad)

        self.split = dataclasses.replace(
            self.split, train=keep(self.split.train), val=keep(self.split.val), test=keep(self.split.test)
        )
        rank_zero_warn(
            format_errors(dict(errors), len(self.corpus)) + "\ndata.skip_bad_files=true: these are left out of this "
            "run (and listed in the checkpoint and in test_metrics.json as split.skipped_files)."
        )
        self._check_split(self.split)  # a part may now be empty

    def _report(self) -> None:
        """The one-line corpus / split summary, and warnings for classes absent from a part."""
        assert self.split is not None
        corpus = self.corpus
        counts = corpus.class_counts()
        def originals(v: Any) -> int:  # segments of the unperturbed audio (speed copies are counted apart below)
            return int((v.tensors["copy"] == 0).sum()) if "copy" in v.tensors else len(v)

        parts = ", ".join(
            f"{k} {v.num_utterances()} utt / {originals(v)} seg" for k, v in self.datasets.items()
            if not (k == "test" and self.split.test_is_val)
        )
        skipped = f"; {len(self.skipped_files)} bad files skipped" if self.skipped_files else ""
        self.summary = (
            f"Corpus {corpus.name} ({corpus.root}): {len(corpus)} files, {len(corpus.speakers())} speakers, "
            f"{len(corpus.classes)} classes ({', '.join(f'{c} {n}' for c, n in counts.items())}){skipped} | "
            f"{self.split.protocol} split{'' if self.split.fold is None else f' fold {self.split.fold}'}: {parts}"
            f"{', test = val' if self.split.test_is_val else ''}"
        )
        if self.speaker_normalizer is not None:
            unseen = sorted({s for k in ("val", "test") if k in self.datasets for s in self._row_speakers(self.datasets[k].tensors)}
                            - set(self.speaker_normalizer.by_speaker))
            self.summary += (
                f" | speaker normalisation: {sum('|x' not in s for s in self.speaker_normalizer.by_speaker)} training speakers with their training "
                f"statistics" + (f", {len(unseen)} unseen speakers with their own (transductive)" if unseen else "")
            )
        if self.speed_copies:
            self.summary += " | speed perturbation of training audio: " + ", ".join(
                f"x{f} ({n} utt)" for f, n in self.speed_copies.items()
            ) + f", train {len(self.datasets['train'])} seg in all"
        rank_zero_info(self.summary)
        log.info(self.summary)
        for message in self.split.absent_class_warnings(corpus):
            rank_zero_warn(message)

    def _leaky_segment_resplit(self, raw: dict[str, dict[str, torch.Tensor]]) -> dict[str, dict[str, torch.Tensor]]:
        """The LEAKY diagnostic split: pool the segments of every part (train and val; and test where it is not
        the validation set) and re-split them at random by segment, in the same ratios."""
        assert self.split is not None
        if self.split.protocol != "paper":
            raise ValueError(
                "data.split_unit=segment (a leaky diagnostic) needs data.protocol=paper (a random split of the "
                f"samples, as in the papers); got protocol {self.split.protocol!r}. Set data.protocol paper, or "
                "data.split_unit utterance."
            )
        names = [n for n in ("train", "val", "test") if n in raw]  # no "test" part when test = validation
        if len(self.ratios) != len(names):
            raise ValueError(
                f"data.split_unit=segment re-splits the segments in data.ratios {list(self.ratios)}, but the split has "
                f"{len(names)} parts ({', '.join(names)}); give one ratio per part (e.g. [0.8, 0.2] or [0.6, 0.2, 0.2])."
            )
        pooled = {k: torch.cat([raw[n][k] for n in names]) for k in raw["train"]}
        n = len(pooled["target"])
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.hparams["seed"]))
        total = sum(self.ratios)
        sizes = {name: round(n * r / total) for name, r in zip(names[1:], self.ratios[1:])}
        parts, at = {}, 0
        for name in names[1:]:  # validation first (as the two-part split always did), then test; train keeps the rest
            parts[name] = order[at : at + sizes[name]].sort().values
            at += sizes[name]
        parts["train"] = order[at:].sort().values
        # Every pooled utterance has segments in training: record them all, so evaluating the
        # checkpoint on any of them later is refused.
        everyone = set(self.split.train) | set(self.split.val) | set(self.split.test)
        self.split = dataclasses.replace(self.split, train=tuple(sorted(everyone)))
        trained = set(pooled["utt_index"][parts["train"]].tolist())
        for name in names[1:]:
            held = set(pooled["utt_index"][parts[name]].tolist())
            log.warning(
                "LEAKY segment-level split (data.split_unit=segment): %d of %d %s utterances have segments in training.",
                len(held & trained), len(held), "validation" if name == "val" else "test",
            )
        return {name: {k: v[parts[name]] for k, v in pooled.items()} for name in ("train", *names[1:])}

    def _check_split(self, split: Split) -> None:
        """Refuse a split that leaks or is empty, whatever made it (protocol or ``split_file``):
        :meth:`Split.check` (unknown ids, overlaps, empty parts, speakers shared by the ``speaker``
        protocol's parts), then the checkpoint's training utterances."""
        split.check(self.corpus)
        self._check_against_checkpoint()

    def _check_against_checkpoint(self) -> None:
        """A checkpoint must not be evaluated on utterances it was trained on (e.g. ``ser test``
        with another ``data.seed``/``fold``/``ratios`` than ``ser fit`` used)."""
        if self.hparams["split_unit"] == "segment":
            return  # the leaky diagnostic scores trained utterances by design (and says so)
        if self.split is None or not self._ckpt_train_ids or self._ckpt_corpus != self._corpus_identity():
            return  # another corpus (cross-corpus evaluation): its ids cannot be training utterances
        self.split.check_unseen(self._ckpt_train_ids, made_with=self._ckpt_split_info)

    def _corpus_identity(self) -> str:
        """Corpus name and resolved root: two CSV/folder corpora with similar ids stay apart."""
        if self.pack is not None:
            return self.pack.identity  # the original corpus's: leak checks hold across machines
        return f"{self.corpus.name}:{Path(self.corpus.root).resolve()}"

    @property
    def split_info(self) -> dict[str, Any]:
        """What the split is, for result files: corpus, protocol, fold, seed, sizes, test == val."""
        if self.split is None:
            return {}
        hp = self.hparams
        return {
            "corpus": self.corpus.name,
            "protocol": self.split.protocol,
            "fold": self.split.fold,
            "seed": None if hp["split_file"] else hp["seed"],
            "ratios": list(self.ratios) if self.split.protocol == "paper" and not hp["split_file"] else None,
            "split_file": hp["split_file"],
            "test_is_val": self.split.test_is_val,
            "num_utterances": {"train": len(self.split.train), "val": len(self.split.val), "test": len(self.split.test)},
            "test_speakers": list(self.split.test_speakers),
            "split_unit": hp["split_unit"],
            "leaky": hp["split_unit"] == "segment",
            "class_counts": self.split.class_counts(self.corpus),
            "skipped_files": [{"path": p, "error": e} for p, e in self.skipped_files.items()],
            "speed_perturb": dict(self.speed_copies) or None,  # factor -> training utterances copied (augmentation)
            **({"skipped_copies": [{"path": p, "error": e} for p, e in self.skipped_copies.items()]}
               if self.skipped_copies else {}),
            # the leaky re-split is by segment: num_utterances above is the utterance split from before it
            **({"num_segments_after_resplit": {k: len(v.tensors["target"]) for k, v in self.datasets.items()}}
               if hp["split_unit"] == "segment" and self.datasets else {}),
        }

    # ----------------------------------------------------------------- predict on new audio
    @property
    def predict_files(self) -> list[Path]:
        return self.predict_set.files if self.predict_set is not None else []

    @property
    def predict_errors(self) -> dict[int, str]:
        """``{file index: why}``: files with no prediction (listed in predictions.csv)."""
        return self.predict_set.errors if self.predict_set is not None else {}

    @property
    def predict_segments(self) -> list[tuple[np.ndarray, int] | None]:
        """Per predict file its segments' sample bounds and length (``None``: failed), for timeline times."""
        return self.predict_set.segments if self.predict_set is not None else []

    # ----------------------------------------------------------------- loaders
    def _loader(self, name: str, shuffle: bool) -> TensorBatches:
        """Batches of ``name`` cut on the model's device (the split's tensors move there once)."""
        if name not in self.datasets:
            raise RuntimeError(f"No {name} data: call setup() first (the Trainer does this).")
        dataset = self.datasets[name]
        trainer = self.trainer
        if trainer is not None:
            dataset.tensors = {k: v.to(trainer.strategy.root_device) for k, v in dataset.tensors.items()}
        return TensorBatches(
            dataset.tensors,
            self.hparams["batch_size"],
            shuffle=shuffle,
            seed=self._shuffle_seed,
            epoch_fn=(lambda: trainer.current_epoch) if trainer is not None else None,
            rank=trainer.global_rank if trainer is not None else 0,
            world_size=trainer.world_size if trainer is not None else 1,
        )

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> TensorBatches:
        # Built after Lightning restored state_dict() from the checkpoint: its feature settings and
        # training statistics apply. The files are featurised here, once per predict run.
        if self.predict_set is None:
            self.setup("predict")
        assert self.predict_set is not None
        extract = lambda files: self._extract(files, load=True, on_error="collect", progress=self.hparams["progress"],  # noqa: E731
                                              desc="features (predict)")
        tensors = self.predict_set.tensors(extract, self.inputs)
        if self.speaker_normalizer is not None:  # a checkpoint trained with speaker normalisation
            files = len(torch.unique(tensors["utt_index"])) if len(tensors["utt_index"]) else 0
            rank_zero_warn(
                f"data.speaker_norm (from the checkpoint): the {files} files of this predict call are standardised as "
                "one speaker, with their own statistics; predict each speaker's files in a call of their own"
                + (" (fewer than 10 files give noisy statistics; one file's functionals become 0)" if files < 10 else "")
                + "."
            )
            tensors = SpeakerStandardizer(self.speaker_normalizer.keys).transform(tensors, ["predict"] * len(tensors["utt_index"]))
        self.datasets["predict"] = SegmentDataset(self.normalizer.transform(tensors))
        return self._loader("predict", shuffle=False)

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Normalisation statistics and class names (what predict needs besides the weights), and
        the training utterances, so evaluating the checkpoint on them is refused later."""
        state: dict[str, Any] = {
            "norm": self.normalizer.state_dict(),
            "class_names": self.class_names if (self._classes or self._corpus) else None,
            "features": self.feature_settings,
            "inputs": list(self.inputs),
        }
        if self.split is not None:
            state["split"] = {"corpus": self._corpus_identity(), "train": list(self.split.train), "info": self.split_info}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore what a checkpoint needs; refuse other feature settings than it was trained with
        (``predict`` adopts the checkpoint's settings instead, with a warning)."""
        saved = checkpoint_feature_settings({type(self).__qualname__: state_dict})
        mismatches = feature_setting_mismatches(saved, self.feature_settings, saved.get("inputs"))
        if mismatches:
            described = ", ".join(f"data.{k} {theirs!r} in the checkpoint, {ours!r} here" for k, (theirs, ours) in mismatches.items())
            stage = self.trainer.state.stage.value if self.trainer is not None and self.trainer.state.stage else self._stage
            if stage != "predict":
                raise ValueError(
                    f"The checkpoint was trained with other feature settings ({described}); its scores would be "
                    "silently wrong. Use the fit's settings (the same config files, or the run's config.yaml)."
                )
            rank_zero_warn(f"predict uses the checkpoint's feature settings: {described}.")
            self._adopt_feature_settings(saved)
        self.normalizer.load_state_dict(state_dict.get("norm", {}))
        if state_dict.get("class_names") and not self._classes:
            self._classes = tuple(state_dict["class_names"])
        split = state_dict.get("split") or {}
        self._ckpt_train_ids = set(split.get("train", ()))
        self._ckpt_corpus = split.get("corpus")
        self._ckpt_split_info = split.get("info", {})
        if self.split is not None and self._corpus is not None:
            self._check_against_checkpoint()  # Lightning restores the checkpoint after setup()
