"""The LightningDataModule: corpus -> split -> segments -> cached features -> normalised batches."""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn
from torch.utils.data import Dataset

from datamodules.cache import FeatureCache, default_cache_dir
from datamodules.corpora import Corpus, CorpusEntry, CorpusError, get_corpus
from datamodules.extract import ExtractionError, extract_all, format_errors
from datamodules.features import FeatureConfig, HSFScope
from datamodules.is10 import HSF_DIM, LLD_DIM
from datamodules.pack import FeaturePack
from datamodules.segments import SegmentMode
from datamodules.splits import Split, make_split
from datamodules.suffixes import AUDIO_LIKE_SUFFIXES, AUDIO_SUFFIXES

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

InputName = Literal["lld", "hsf", "wave"]

#: ``data`` settings that change what a trained net sees; a checkpoint records them, and evaluating
#: it with other values is refused (predict adopts the checkpoint's). Which input each one concerns.
FEATURE_SETTINGS: dict[str, tuple[str, ...]] = {
    "segment_length": ("lld", "hsf", "wave"),
    "segment_hop": ("lld", "hsf", "wave"),
    "min_last_segment": ("lld", "hsf", "wave"),
    "segment_mode": ("lld", "hsf", "wave"),
    "frame_size": ("lld",),
    "frame_shift": ("lld",),
    "hsf_scope": ("hsf",),
    "normalize": ("lld", "hsf"),
}


def checkpoint_feature_settings(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The feature settings a checkpoint was trained with (``{}`` if it records none), plus ``inputs``.

    Read from the data module's state (:meth:`SERDataModule.state_dict`), or, for checkpoints older
    than that, from the data module's saved hyperparameters.
    """
    state = checkpoint.get(SERDataModule.__qualname__) or {}
    if state.get("features"):
        return dict(state["features"]) | {"inputs": list(state.get("inputs") or [])}
    hp = checkpoint.get("datamodule_hyper_parameters") or {}
    found = {k: hp[k] for k in FEATURE_SETTINGS if k in hp}
    return found | ({"inputs": list(hp.get("inputs") or ["lld", "hsf"])} if found else {})


def feature_setting_mismatches(
    saved: Mapping[str, Any], current: Mapping[str, Any], inputs: Sequence[str] | None = None
) -> dict[str, tuple[Any, Any]]:
    """``{setting: (saved value, current value)}`` for every setting that differs and matters to
    ``inputs`` (the checkpoint's inputs; all settings when ``None``)."""
    out = {}
    for key, concerns in FEATURE_SETTINGS.items():
        if key not in saved or key not in current or (inputs is not None and not set(concerns) & set(inputs)):
            continue
        a, b = saved[key], current[key]
        same = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) if isinstance(a, float) and isinstance(b, (int, float)) else a == b
        if not same:
            out[key] = (a, b)
    return out


class SegmentDataset(Dataset):
    """Segments held as aligned tensors; item ``i`` is a dict of their ``i``-th rows.

    Keys: the configured inputs (``lld`` ``(76, T)``, ``hsf`` ``(1582,)``, ``wave`` ``(samples,)``),
    ``target``, ``utt_index`` (the utterance's row in the corpus / predict list) and
    ``segment_index`` (unique per segment; lets metrics drop DistributedSampler's padding duplicates).
    """

    def __init__(self, tensors: dict[str, torch.Tensor]) -> None:
        lengths = {k: len(v) for k, v in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"SegmentDataset tensors must share their first dimension, got {lengths}.")
        self.tensors = tensors
        self.length = next(iter(lengths.values()))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}

    def num_utterances(self) -> int:
        return int(torch.unique(self.tensors["utt_index"]).numel())


class TensorBatches:
    """Batches cut by index from tensors that already live on the model's device.

    Replaces ``DataLoader`` over :class:`SegmentDataset`: one ``index_select`` per key per batch,
    no per-item ``__getitem__``, no collate, no worker processes. Under DDP (``world_size > 1``)
    each process takes every ``world_size``-th index of a permutation padded to a multiple of
    ``world_size`` by repeating its start, exactly as ``DistributedSampler`` does (metrics drop
    the repeats by ``segment_index``).

    Shuffling draws a permutation from a generator seeded with ``(seed, epoch)``, where ``epoch``
    comes from ``epoch_fn`` (the trainer's current epoch): the order of epoch ``e`` is the same in
    an uninterrupted run and in a run resumed before epoch ``e``.

    Args:
        tensors: Aligned tensors (same first dimension), e.g. ``SegmentDataset.tensors``.
        batch_size: Rows per batch.
        shuffle: Permute the rows every epoch.
        seed: Base seed of the shuffling generator.
        epoch_fn: Returns the current epoch (``None``: count ``__iter__`` calls).
        rank: This process's rank; ``world_size``: number of processes.
    """

    def __init__(
        self,
        tensors: dict[str, torch.Tensor],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        epoch_fn: Callable[[], int] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"Expected batch_size >= 1, got {batch_size}.")
        lengths = {k: len(v) for k, v in tensors.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"TensorBatches tensors must share their first dimension, got {lengths}.")
        if not 0 <= rank < world_size:
            raise ValueError(f"Expected 0 <= rank < world_size, got rank {rank}, world_size {world_size}.")
        self.tensors = tensors
        self.num_rows = next(iter(lengths.values()))
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.rank, self.world_size = rank, world_size
        self._calls = 0

    @property
    def rows_per_process(self) -> int:
        return math.ceil(self.num_rows / self.world_size)

    def __len__(self) -> int:
        return math.ceil(self.rows_per_process / self.batch_size)

    def _order(self) -> torch.Tensor:
        epoch = self.epoch_fn() if self.epoch_fn is not None else self._calls
        self._calls += 1
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + int(epoch))
            order = torch.randperm(self.num_rows, generator=generator)
        else:
            order = torch.arange(self.num_rows)
        if self.world_size > 1:
            total = self.rows_per_process * self.world_size
            if total > self.num_rows:  # pad as DistributedSampler does: repeat from the start
                order = torch.cat([order, order[: total - self.num_rows]])
            order = order[self.rank : total : self.world_size]
        return order

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        order = self._order()
        device = next(iter(self.tensors.values())).device
        order = order.to(device)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield {k: v.index_select(0, index) for k, v in self.tensors.items()}

    def to(self, device: torch.device | str) -> TensorBatches:
        """Move the tensors to ``device`` (once; batches are then cut there)."""
        self.tensors = {k: v.to(device) for k, v in self.tensors.items()}
        return self


class SERDataModule(L.LightningDataModule):
    """Corpus loading, the evaluation protocol, segmentation and IS10 / waveform features.

    ``prepare_data`` scans the corpus and fills the feature cache (parallel, with progress);
    ``setup`` builds the split once, loads features from the cache and standardises them with
    statistics of the training split only (kept in :meth:`state_dict`, hence in checkpoints, so
    ``predict`` on new audio uses the training statistics).

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
        segment_length, segment_hop, min_last_segment, segment_mode: Segmentation (PAPERS.md).
        frame_size, frame_shift: LLD framing in seconds (paper: 0.128 / 0.032).
        inputs: What batches carry: any of ``lld``, ``hsf``, ``wave``.
        hsf_scope: HSFs per ``segment`` (default) or per ``utterance``.
        normalize: Standardise LLDs (per dimension) and HSFs with training statistics.
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
            ``segment`` is a LEAKY diagnostic reading of STRL-SER's "random 80/20 split of the
            samples": the ``paper`` split's train and validation segments are pooled and re-split
            at random by segment (same ratio), so sibling segments of one recording sit on both
            sides. Results are labelled leaky (``split_info``) and must never be reported as the
            model's score; checkpoints record every pooled utterance as training data.
        pack: A feature pack (``ser-pack``) to train and test from instead of the corpus and the
            cache: the corpus table and features come from the file, so neither audio nor
            ``root`` is needed. Its feature settings must equal this run's (checked).
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
        inputs: list[InputName] | None = None,
        hsf_scope: HSFScope = "segment",
        normalize: bool = True,
        batch_size: int = 128,
        num_workers: int = 0,
        extract_workers: int | None = None,
        cache_dir: str | None = None,
        predict_paths: list[str] | None = None,
        progress: bool = True,
        split_unit: Literal["utterance", "segment"] = "utterance",
        skip_bad_files: bool = False,
        pack: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.corpus_entry = self._corpus_entry(corpus, download)
        self.inputs = tuple(inputs or ("lld", "hsf"))
        bad = sorted(set(self.inputs) - {"lld", "hsf", "wave"})
        if bad:
            raise ValueError(f"data.inputs: unknown input(s) {bad}; expected any of ['lld', 'hsf', 'wave'].")
        if batch_size < 1:
            raise ValueError(f"data.batch_size: expected a positive integer, got {batch_size}.")
        self.ratios = tuple(ratios or (0.8, 0.2))
        self.feature_config = FeatureConfig(
            segment_length=segment_length,
            segment_hop=segment_hop,
            min_last_segment=min_last_segment,
            segment_mode=segment_mode,
            frame_size=frame_size,
            frame_shift=frame_shift,
            lld="lld" in self.inputs,
            hsf="hsf" in self.inputs,
            hsf_scope=hsf_scope,
            wave="wave" in self.inputs,
        )
        self.cache_root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self._classes = tuple(classes) if classes else None
        self._corpus: Corpus | None = None
        self.split: Split | None = None
        self.datasets: dict[str, SegmentDataset] = {}
        self.norm: dict[str, torch.Tensor] = {}
        self.predict_files: list[Path] = []
        self.predict_segments: list[tuple[np.ndarray, int] | None] = []
        self.predict_errors: dict[int, str] = {}
        self.skipped_files: dict[str, str] = {}  # path -> why (data.skip_bad_files)
        self.summary = ""
        self.extraction_stats: dict[str, Any] = {}
        self._stage: str | None = None
        self._ckpt_train_ids: set[str] = set()
        self._ckpt_corpus: str | None = None
        self._ckpt_split_info: dict[str, Any] = {}
        self._shuffle_seed = 0
        self._pack: FeaturePack | None = None
        if num_workers:
            warnings.warn(
                f"data.num_workers={num_workers} is ignored: batches are cut from in-memory tensors on the model's "
                "device, with no worker processes (drop the setting).",
                stacklevel=2,
            )

    @property
    def pack(self) -> FeaturePack | None:
        """The feature pack given as ``data.pack`` (opened once, settings checked), else None."""
        if self._pack is None and self.hparams.pack:
            self._pack = FeaturePack(self.hparams.pack)
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
            root = hp.root if hp.root is not None else entry.default_root(self.cache_root)
            if root is None:
                where = "the file listing it" if entry.root == "file" else "the folder it lives in"
                raise ValueError(
                    f"data.root: corpus {hp.corpus!r} needs {where}; pass --data.root "
                    f"/path/to/{'corpus.csv' if entry.root == 'file' else 'corpus'}."
                )
            kwargs = dict(hp.corpus_options or {})
            if hp.download:
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
            known = self.corpus_entry.class_names(self.hparams.corpus_options)
            if known is not None:
                return list(known)
        return list(self.corpus.classes)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def lld_dim(self) -> int:
        return LLD_DIM

    @property
    def hsf_dim(self) -> int:
        return HSF_DIM

    @property
    def num_frames(self) -> int:
        """LLD frames per segment (40 for 1.4 s, 59 for 2.0 s)."""
        return self.feature_config.num_frames

    @property
    def sample_rate(self) -> int:
        return self.feature_config.sample_rate

    @property
    def segment_samples(self) -> int:
        return self.feature_config.segment_samples

    @property
    def feature_settings(self) -> dict[str, Any]:
        """The values of :data:`FEATURE_SETTINGS` this module extracts with."""
        return {k: self.hparams[k] for k in FEATURE_SETTINGS}

    def _adopt_feature_settings(self, settings: Mapping[str, Any]) -> None:
        """Use a checkpoint's feature settings (predict), rebuilding the feature config."""
        for key in FEATURE_SETTINGS:
            if key in settings:
                self.hparams[key] = settings[key]
        hp = self.hparams
        self.feature_config = dataclasses.replace(
            self.feature_config, segment_length=hp.segment_length, segment_hop=hp.segment_hop,
            min_last_segment=hp.min_last_segment, segment_mode=hp.segment_mode, frame_size=hp.frame_size,
            frame_shift=hp.frame_shift, hsf_scope=hp.hsf_scope,
        )

    # ----------------------------------------------------------------- Lightning hooks
    def _cache(self) -> FeatureCache:
        return FeatureCache(self.cache_root, self.feature_config)

    def _make_split(self) -> Split:
        hp = self.hparams
        if hp.split_file:
            return Split.read(hp.split_file)
        return make_split(self.corpus, hp.protocol, ratios=self.ratios, fold=hp.fold, num_folds=hp.num_folds, seed=hp.seed)

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
            self._prepare_predict()
            return
        if self.pack is not None:
            self._split_paths()  # the split is still checked before anything else
            return  # features come from the pack
        on_error = "collect" if self.hparams.skip_bad_files else "raise"
        _, stats = extract_all(
            self._split_paths(), self._cache(), self.hparams.extract_workers, self.hparams.progress, load=False, on_error=on_error
        )
        self.extraction_stats = dict(stats)

    def setup(self, stage: str | None = None) -> None:
        """Build the split, load features, fit normalisation on the training split, and say what
        was found: one summary line (files, classes with counts, speakers, utterances and segments
        per part), a warning naming classes absent from a part, and the files left out."""
        self._stage = stage
        if stage == "predict":
            self._prepare_predict()
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
            on_error = "collect" if self.hparams.skip_bad_files else "raise"
            feats, stats = extract_all(
                [corpus.utterances[r].path for r in wanted], self._cache(), self.hparams.extract_workers, False, on_error=on_error
            )
            self.extraction_stats = dict(stats)
            features = dict(zip(wanted, feats))
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
            raw[name] = self._stack([features[r] for r in rows], rows, targets, segment_base)
            segment_base += len(raw[name]["utt_index"])
        if self.hparams.split_unit == "segment":
            raw["train"], raw["val"] = self._leaky_segment_resplit(raw["train"], raw["val"])
        if self.hparams.normalize:
            self._fit_normalization(raw["train"])
        for name, tensors in raw.items():
            self.datasets[name] = SegmentDataset(self._normalize(tensors))
        if "test" not in self.datasets:
            self.datasets["test"] = self.datasets["val"]
        self._report()

    def _skip_bad_files(self, errors: Mapping[str, str]) -> None:
        """Leave the utterances of unusable files out of every part (``skip_bad_files``)."""
        assert self.split is not None
        self.skipped_files = dict(errors)
        bad = {u.utt_id for u in self.corpus.utterances if str(u.path) in errors}
        self.split = dataclasses.replace(
            self.split, **{k: tuple(i for i in getattr(self.split, k) if i not in bad) for k in ("train", "val", "test")}
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
        parts = ", ".join(
            f"{k} {v.num_utterances()} utt / {len(v)} seg" for k, v in self.datasets.items() if not (k == "test" and self.split.test_is_val)
        )
        skipped = f"; {len(self.skipped_files)} bad files skipped" if self.skipped_files else ""
        self.summary = (
            f"Corpus {corpus.name} ({corpus.root}): {len(corpus)} files, {len(corpus.speakers())} speakers, "
            f"{len(corpus.classes)} classes ({', '.join(f'{c} {n}' for c, n in counts.items())}){skipped} | "
            f"{self.split.protocol} split{'' if self.split.fold is None else f' fold {self.split.fold}'}: {parts}"
            f"{', test = val' if self.split.test_is_val else ''}"
        )
        rank_zero_info(self.summary)
        log.info(self.summary)
        for message in self.split.absent_class_warnings(corpus):
            rank_zero_warn(message)

    def _leaky_segment_resplit(
        self, train: dict[str, torch.Tensor], val: dict[str, torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        """The LEAKY diagnostic split: pool the segments of train and val, re-split them at random."""
        assert self.split is not None
        if self.split.protocol != "paper" or not self.split.test_is_val:
            raise ValueError(
                "data.split_unit=segment (a leaky diagnostic) needs data.protocol=paper with two data.ratios "
                f"(test = validation, as in STRL-SER); got protocol {self.split.protocol!r}, ratios {list(self.ratios)}."
            )
        pooled = {k: torch.cat([train[k], val[k]]) for k in train}
        n = len(pooled["target"])
        order = torch.randperm(n, generator=torch.Generator().manual_seed(self.hparams.seed))
        n_val = round(n * self.ratios[1] / sum(self.ratios))
        val_idx, train_idx = order[:n_val].sort().values, order[n_val:].sort().values
        # Every pooled utterance has segments in training: record them all, so evaluating the
        # checkpoint on any of them later is refused.
        self.split = dataclasses.replace(self.split, train=tuple(sorted(set(self.split.train) | set(self.split.val))))
        shared = set(pooled["utt_index"][train_idx].tolist()) & set(pooled["utt_index"][val_idx].tolist())
        log.warning(
            "LEAKY segment-level split (data.split_unit=segment): %d of %d validation utterances have segments in training.",
            len(shared), len(set(pooled["utt_index"][val_idx].tolist())),
        )
        return {k: v[train_idx] for k, v in pooled.items()}, {k: v[val_idx] for k, v in pooled.items()}

    def _check_split(self, split: Split) -> None:
        """Refuse a split that leaks or is empty, whatever made it (protocol or ``split_file``):
        :meth:`Split.check` (unknown ids, overlaps, empty parts, speakers shared by the ``speaker``
        protocol's parts), then the checkpoint's training utterances."""
        split.check(self.corpus)
        self._check_against_checkpoint()

    def _check_against_checkpoint(self) -> None:
        """A checkpoint must not be evaluated on utterances it was trained on (e.g. ``ser test``
        with another ``data.seed``/``fold``/``ratios`` than ``ser fit`` used)."""
        if self.hparams.split_unit == "segment":
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
            "seed": None if hp.split_file else hp.seed,
            "ratios": list(self.ratios) if self.split.protocol == "paper" and not hp.split_file else None,
            "split_file": hp.split_file,
            "test_is_val": self.split.test_is_val,
            "num_utterances": {"train": len(self.split.train), "val": len(self.split.val), "test": len(self.split.test)},
            "test_speakers": list(self.split.test_speakers),
            "split_unit": hp.split_unit,
            "leaky": hp.split_unit == "segment",
            "class_counts": self.split.class_counts(self.corpus),
            "skipped_files": [{"path": p, "error": e} for p, e in self.skipped_files.items()],
        }

    def _stack(
        self, feats: Sequence[dict[str, np.ndarray]], rows: Sequence[int], targets: Sequence[int], segment_base: int
    ) -> dict[str, torch.Tensor]:
        counts = [len(f["bounds"]) for f in feats]
        out: dict[str, torch.Tensor] = {}
        if "lld" in self.inputs:
            out["lld"] = torch.from_numpy(np.concatenate([f["lld"] for f in feats]))
        if "hsf" in self.inputs:
            out["hsf"] = torch.from_numpy(
                np.concatenate([np.repeat(f["hsf"], n, axis=0) if len(f["hsf"]) != n else f["hsf"] for f, n in zip(feats, counts)])
            )
        if "wave" in self.inputs:
            out["wave"] = torch.from_numpy(np.concatenate([f["wave"] for f in feats]))
        out["target"] = torch.as_tensor(np.repeat(np.asarray(targets, dtype=np.int64), counts))
        out["utt_index"] = torch.as_tensor(np.repeat(np.asarray(rows, dtype=np.int64), counts))
        out["segment_index"] = torch.arange(segment_base, segment_base + sum(counts), dtype=torch.int64)
        return out

    def _fit_normalization(self, train: dict[str, torch.Tensor]) -> None:
        if "lld" in train:
            x = train["lld"].double()  # (N, 76, T): statistics per LLD dimension over all frames
            self.norm["lld_mean"] = x.mean(dim=(0, 2)).float()
            self.norm["lld_std"] = x.std(dim=(0, 2)).float()
        if "hsf" in train:
            x = train["hsf"].double()
            self.norm["hsf_mean"] = x.mean(dim=0).float()
            self.norm["hsf_std"] = x.std(dim=0).float()
        for key in [k for k in self.norm if k.endswith("_std")]:
            # Constant dimensions (e.g. a functional that is always 0) would divide by zero.
            self.norm[key] = torch.where(self.norm[key] > 1e-8, self.norm[key], torch.ones_like(self.norm[key]))

    def _normalize(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = dict(tensors)
        if "lld" in out and "lld_mean" in self.norm:
            out["lld"] = (out["lld"] - self.norm["lld_mean"][None, :, None]) / self.norm["lld_std"][None, :, None]
        if "hsf" in out and "hsf_mean" in self.norm:
            out["hsf"] = (out["hsf"] - self.norm["hsf_mean"]) / self.norm["hsf_std"]
        return out

    # ----------------------------------------------------------------- predict on new audio
    def _prepare_predict(self) -> None:
        """List the files to predict and fill the cache. Files that fail are kept, with their error,
        for ``predictions.csv``; audio of other types in the folders (``.mp3``, ...) is counted in a warning."""
        paths = self.hparams.predict_paths
        if not paths:
            raise ValueError("predict needs audio: pass --data.predict_paths '[file.wav, folder/]'.")
        files: list[Path] = []
        skipped: Counter[str] = Counter()
        for p in map(Path, paths):
            if p.is_dir():
                found = []
                for f in sorted(p.rglob("*")):
                    if f.name.startswith("."):
                        continue
                    if f.suffix.lower() in AUDIO_SUFFIXES and (f.is_file() or f.is_symlink()):
                        found.append(f)  # a dangling link stays: its row says why it has no prediction
                    elif f.is_file() and f.suffix.lower() in AUDIO_LIKE_SUFFIXES:
                        skipped[f.suffix.lower()] += 1  # audio of a type libsndfile may not read
                if not found:
                    raise ValueError(f"data.predict_paths: folder {p} holds no audio files ({', '.join(AUDIO_SUFFIXES)}).")
                files.extend(found)
            elif p.is_file() or p.is_symlink():
                files.append(p)
            else:
                raise ValueError(f"data.predict_paths: {p} is neither an audio file nor a folder.")
        if skipped:
            rank_zero_warn(
                f"data.predict_paths: skipped {sum(skipped.values())} files that are not {'/'.join(AUDIO_SUFFIXES)} "
                f"({', '.join(f'{k} {n}' for k, n in skipped.most_common())}); convert them (e.g. "
                "`ffmpeg -i x.mp3 x.wav`) to predict them."
            )
        self.predict_files = files
        _, stats = extract_all(
            files, self._cache(), self.hparams.extract_workers, self.hparams.progress, desc="features (predict)",
            load=False, on_error="collect",
        )
        self._set_predict_errors(stats["errors"])

    def _set_predict_errors(self, errors: Mapping[str, str]) -> None:
        index = {str(f): i for i, f in enumerate(self.predict_files)}
        self.predict_errors = {index[p]: msg for p, msg in errors.items() if p in index}
        if len(self.predict_errors) == len(self.predict_files):
            raise ExtractionError(format_errors(dict(errors), len(self.predict_files)) + "\nNothing left to predict.", dict(errors))

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
            self.hparams.batch_size,
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
        # Built after Lightning restored state_dict() from the checkpoint: training statistics apply.
        feats, stats = extract_all(self.predict_files, self._cache(), self.hparams.extract_workers, False, on_error="collect")
        self._set_predict_errors(stats["errors"])
        # Each file's segment sample bounds and length (None for a file that failed): timeline times.
        self.predict_segments = [(np.asarray(f["bounds"]), int(f["num_samples"])) if f is not None else None for f in feats]
        good = [i for i, f in enumerate(feats) if f is not None]
        tensors = self._stack([feats[i] for i in good], good, [-1] * len(good), 0)
        self.datasets["predict"] = SegmentDataset(self._normalize(tensors))
        return self._loader("predict", shuffle=False)

    # ----------------------------------------------------------------- checkpoint state
    def state_dict(self) -> dict[str, Any]:
        """Normalisation statistics and class names (what predict needs besides the weights), and
        the training utterances, so evaluating the checkpoint on them is refused later."""
        state: dict[str, Any] = {
            "norm": {k: v.clone() for k, v in self.norm.items()},
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
        self.norm = {k: v.clone() for k, v in state_dict.get("norm", {}).items()}
        if state_dict.get("class_names") and not self._classes:
            self._classes = tuple(state_dict["class_names"])
        split = state_dict.get("split") or {}
        self._ckpt_train_ids = set(split.get("train", ()))
        self._ckpt_corpus = split.get("corpus")
        self._ckpt_split_info = split.get("info", {})
        if self.split is not None and self._corpus is not None:
            self._check_against_checkpoint()  # Lightning restores the checkpoint after setup()
