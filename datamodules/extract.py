"""Parallel, cached feature extraction over many files, with a progress bar."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from datamodules.audio import AudioError
from datamodules.cache import FeatureCache
from datamodules.features import FeatureConfig, compute_features
from datamodules.is10 import FeatureError

__all__ = ["extract_all", "ExtractionStats"]

log = logging.getLogger(__name__)


class ExtractionStats(dict):
    """``files``, ``computed``, ``cached``, ``audio_seconds`` (computed files), ``wall_seconds``."""


def _worker_init() -> None:
    # One process per core: keep torch/openSMILE from oversubscribing the cores.
    torch.set_num_threads(1)


def _compute_and_store(path: str, config: FeatureConfig, cache_root: str) -> float:
    cache = FeatureCache.__new__(FeatureCache)  # the folder exists; skip re-scanning it per file
    cache.config, cache.dir = config, Path(cache_root)
    try:
        features = compute_features(path, config)
    except (AudioError, FeatureError):
        raise  # these name the file already
    except Exception as err:  # anything else (openSMILE, resampler, memory): name the file too
        raise FeatureError(f"{path}: feature extraction failed with {type(err).__name__}: {err}") from err
    cache.store(path, features)
    return float(features["num_samples"]) / config.sample_rate


def extract_all(
    paths: Sequence[str | Path],
    cache: FeatureCache,
    num_workers: int | None = None,
    progress: bool = True,
    desc: str = "IS10 features",
    load: bool = True,
) -> tuple[list[dict[str, np.ndarray]], ExtractionStats]:
    """Compute (or load from ``cache``) the features of every file, in order.

    Missing entries are computed in ``num_workers`` processes (default: all cores) and written to
    the cache as each file finishes, so an interrupted run resumes where it stopped. The first
    failing file (unreadable audio, NaN/inf features) stops the run with its path in the error.

    Args:
        paths: Audio files.
        cache: Where features live.
        num_workers: Processes; ``None`` = ``os.cpu_count()``; 0 = in this process.
        progress: Show a tqdm bar.
        desc: Bar label.
        load: Read every file's features back and return them. ``False`` only fills the cache
            (``prepare_data``: the features are read once, later, in ``setup``) and returns ``[]``.

    Returns:
        The per-file feature dicts (see :func:`compute_features`) and run statistics.
    """
    start = time.perf_counter()
    paths = [str(p) for p in paths]
    todo = [p for p in dict.fromkeys(paths) if not cache.path_for(p).exists()]
    stats = ExtractionStats(files=len(paths), computed=len(todo), cached=len(paths) - len(todo), audio_seconds=0.0)
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    if todo:
        bar = tqdm(total=len(todo), desc=desc, unit="file", disable=not progress, dynamic_ncols=True)
        if workers <= 1 or len(todo) == 1:
            for p in todo:
                stats["audio_seconds"] += _compute_and_store(p, cache.config, str(cache.dir))
                bar.update()
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = {pool.submit(_compute_and_store, p, cache.config, str(cache.dir)): p for p in todo}
                pending = set(futures)
                try:
                    while pending:
                        done, pending = wait(pending, timeout=1.0, return_when=FIRST_EXCEPTION)
                        for fut in done:
                            try:
                                stats["audio_seconds"] += fut.result()  # re-raises the worker's error, file named
                            except BrokenProcessPool as err:
                                in_flight = [futures[f] for f in futures if f.done() and not f.cancelled() and f.exception()][:5]
                                raise RuntimeError(
                                    f"A feature-extraction process died (killed, e.g. out of memory); files still "
                                    f"pending include {in_flight}. Finished files are cached: re-run to resume, with "
                                    "data.extract_workers=0 to find the file or with fewer workers to save memory."
                                ) from err
                            bar.update()
                            bar.set_postfix(audio_s=f"{stats['audio_seconds']:.0f}")
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    bar.close()
                    raise
        bar.close()
    results = []
    for p in paths if load else ():
        feats = cache.load(p)
        if feats is None:  # an entry was unreadable: recompute it here
            _compute_and_store(p, cache.config, str(cache.dir))
            feats = cache.load(p)
            assert feats is not None
        results.append(feats)
    stats["wall_seconds"] = time.perf_counter() - start
    if stats["computed"]:
        log.info(
            "Extracted %d files (%.0f s of audio) in %.1f s: %.1f s of audio per second; %d from cache.",
            stats["computed"], stats["audio_seconds"], stats["wall_seconds"],
            stats["audio_seconds"] / max(stats["wall_seconds"], 1e-9), stats["cached"],
        )
    return results, stats
