"""Parallel, cached feature extraction over many files, with a progress bar and one report of every problem."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
import warnings
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from datamodules.audio import AudioError
from datamodules.cache import FeatureCache
from datamodules.features import ISSUE_KINDS, FeatureConfig, FeatureError

__all__ = ["extract_all", "ExtractionStats", "ExtractionError", "format_issues", "format_errors"]

log = logging.getLogger(__name__)

#: Files listed by name in an error or warning (the rest are counted).
MAX_LISTED = 50


class ExtractionStats(dict):
    """``files``, ``computed``, ``cached``, ``audio_seconds`` (computed files), ``wall_seconds``,
    ``errors`` (path -> message, files that could not be used) and ``issues`` (kind -> paths of
    degenerate-but-usable audio, see :data:`~datamodules.features.ISSUE_KINDS`; filled when loading)."""


class ExtractionError(FeatureError):
    """One or more files could not be used; the message lists every one of them (``errors``)."""

    def __init__(self, message: str, errors: dict[str, str]) -> None:
        super().__init__(message)
        self.errors = errors


def format_errors(errors: dict[str, str], total: int) -> str:
    """Every failed file with its reason, one per line (the first :data:`MAX_LISTED`)."""
    lines = [f"  {msg if msg.startswith(path) else f'{path}: {msg}'}" for path, msg in list(errors.items())[:MAX_LISTED]]
    if len(errors) > MAX_LISTED:
        lines.append(f"  ... and {len(errors) - MAX_LISTED} more")
    return f"{len(errors)} of {total} audio files could not be used:\n" + "\n".join(lines)


def format_issues(issues: dict[str, list[str]], total: int, shown: int = 3) -> str:
    """One summary of degenerate audio: per kind, the count and the first ``shown`` files."""
    files = {p for paths in issues.values() for p in paths}
    parts = [
        f"{ISSUE_KINDS.get(kind, kind)}: {len(paths)} ({', '.join(paths[:shown])}{', ...' if len(paths) > shown else ''})"
        for kind, paths in issues.items()
    ]
    return (
        f"Degenerate audio in {len(files)} of {total} files (features computed anyway; listen to them, fix or "
        f"remove them): " + "; ".join(parts)
    )


def _worker_init() -> None:
    # One process per core: keep torch/openSMILE from oversubscribing the cores.
    torch.set_num_threads(1)


def _get(path: str, config: FeatureConfig, folder: str, load: bool) -> tuple[float, dict[str, np.ndarray] | None]:
    """One file through the cache (a worker's job): ``(audio seconds computed, features if load)``."""
    features, computed = FeatureCache("", config, folder=folder).get_or_compute(path)
    seconds = float(features["num_samples"]) / config.sample_rate if computed else 0.0
    return seconds, (features if load else None)


def _message(err: BaseException) -> str:
    return str(err) if isinstance(err, (AudioError, FeatureError)) else f"{type(err).__name__}: {err}"


def extract_all(
    paths: Sequence[str | Path],
    cache: FeatureCache,
    num_workers: int | None = None,
    progress: bool = True,
    desc: str = "IS10 features",
    load: bool = True,
    on_error: Literal["raise", "collect"] = "raise",
) -> tuple[list[dict[str, np.ndarray] | None], ExtractionStats]:
    """Compute (or load from ``cache``) the features of every file, in order.

    Each file goes once through :meth:`FeatureCache.get_or_compute`. Missing entries are computed in
    ``num_workers`` processes (default: all cores; in this process when an extractor runs
    ``batched`` on a device) and written to the cache as each file finishes, so an interrupted run
    resumes where it stopped. A file that fails (unreadable audio, NaN/inf features) does not stop
    the others: every failure is collected and reported at once at the end, each with its path and reason.

    Args:
        paths: Audio files.
        cache: Where features live.
        num_workers: Processes; ``None`` = ``os.cpu_count()``; 0 = in this process.
        progress: Show a tqdm bar.
        desc: Bar label.
        load: Read every file's features back and return them, and warn once about degenerate
            audio (silent, clipped, truncated, shorter than a frame) with counts and file names.
            ``False`` only fills the cache (``prepare_data``: the features are read once, later,
            in ``setup``) and returns ``[]``.
        on_error: ``raise``: an :class:`ExtractionError` listing every failed file. ``collect``:
            failed files give ``None`` in the results and are listed in ``stats["errors"]``.

    Returns:
        The per-file feature dicts (see :func:`compute_features`) and run statistics.

    Raises:
        ExtractionError: Some files failed (``on_error="raise"``).
        RuntimeError: A worker process died (killed, e.g. out of memory).
    """
    start = time.perf_counter()
    files = [str(p) for p in paths]
    todo = [p for p in dict.fromkeys(files) if not cache.has(p)]
    stats = ExtractionStats(files=len(files), computed=len(todo), cached=len(files) - len(todo), audio_seconds=0.0,
                            errors={}, issues={})
    errors: dict[str, str] = stats["errors"]
    got: dict[str, dict[str, np.ndarray] | None] = {}
    workers = (os.cpu_count() or 1) if num_workers is None else num_workers
    if not cache.config.runs_in_workers:
        workers = 0  # a batched extractor holds a model on this process's device
    folder = str(cache.dir)

    def finish(path: str, result: tuple[float, dict[str, np.ndarray] | None]) -> None:
        stats["audio_seconds"] += result[0]
        if load:
            got[path] = result[1]

    if todo:
        bar = tqdm(total=len(todo), desc=desc, unit="file", disable=not progress, dynamic_ncols=True)
        if workers <= 1 or len(todo) == 1:
            for p in todo:
                try:
                    finish(p, _get(p, cache.config, folder, load))
                except (AudioError, FeatureError, OSError, RuntimeError, ValueError) as err:
                    errors[p] = _message(err)
                bar.update()
        else:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init) as pool:
                futures = {pool.submit(_get, p, cache.config, folder, load): p for p in todo}
                pending = set(futures)
                try:
                    while pending:
                        done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
                        for fut in done:
                            try:
                                finish(futures[fut], fut.result())
                            except BrokenProcessPool as err:
                                left = [futures[f] for f in pending][:5]
                                raise RuntimeError(
                                    f"A feature-extraction process died (killed, e.g. out of memory) while working on "
                                    f"{futures[fut]}; files still pending include {left}. Finished files are cached: "
                                    "re-run to resume, with data.extract_workers=0 to find the file or with fewer "
                                    "workers to save memory."
                                ) from err
                            except Exception as err:  # noqa: BLE001 - collected, reported with the file below
                                errors[futures[fut]] = _message(err)
                            bar.update()
                            bar.set_postfix(audio_s=f"{stats['audio_seconds']:.0f}", failed=len(errors))
                except BaseException:
                    for fut in pending:
                        fut.cancel()
                    bar.close()
                    raise
        bar.close()
    if errors and on_error == "raise":
        raise ExtractionError(
            format_errors(errors, len(files)) + "\nFix or remove them and re-run (finished files are cached), or set "
            "data.skip_bad_files=true to leave them out (they are then listed in the run's results).",
            errors,
        )
    results: list[dict[str, np.ndarray] | None] = []
    issues: dict[str, list[str]] = stats["issues"]
    for p in files if load else ():
        if p in errors:
            results.append(None)
            continue
        feats = got.get(p)
        if feats is None:  # cached before this call (or a bad entry, recomputed here)
            try:
                feats, _ = cache.get_or_compute(p)
            except (AudioError, FeatureError, OSError, RuntimeError, ValueError) as err:
                errors[p] = _message(err)
                if on_error == "raise":
                    raise ExtractionError(format_errors({p: errors[p]}, len(files)), {p: errors[p]}) from err
                results.append(None)
                continue
            got[p] = feats
        for kind in feats.get("issues", np.zeros(0, dtype=np.str_)).tolist():
            if p not in issues.setdefault(kind, []):
                issues[kind].append(p)
        results.append(feats)
    if issues:
        warnings.warn(format_issues(issues, len(set(files))), stacklevel=2)
    stats["wall_seconds"] = time.perf_counter() - start
    if stats["computed"]:
        log.info(
            "Extracted %d files (%.0f s of audio) in %.1f s: %.1f s of audio per second; %d from cache.",
            stats["computed"], stats["audio_seconds"], stats["wall_seconds"],
            stats["audio_seconds"] / max(stats["wall_seconds"], 1e-9), stats["cached"],
        )
    return results, stats
