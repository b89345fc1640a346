"""Feature-extraction throughput (seconds of audio per second of wall time), cold and cached.

    python scripts/bench_features.py --corpus ravdess --root /data/RAVDESS [--segment-length 1.4]

Cold: into an empty cache folder; cached: the same files again. Prints a Markdown row.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time

import soundfile as sf

from datamodules.cache import FeatureCache
from datamodules.corpora import load_corpus
from datamodules.extract import extract_all
from datamodules.features import FeatureConfig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="ravdess")
    ap.add_argument("--root", required=True)
    ap.add_argument("--segment-length", type=float, default=1.4)
    ap.add_argument("--workers", type=int, default=None, help="default: all cores")
    ap.add_argument("--cache-dir", default=None, help="keep the cache here (default: a temp dir, deleted)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N files")
    args = ap.parse_args()

    corpus = load_corpus(args.corpus, args.root)
    paths = [u.path for u in corpus.utterances][: args.limit]
    audio_s = sum(sf.info(str(p)).duration for p in paths)
    tmp = None
    root = args.cache_dir or (tmp := tempfile.mkdtemp(prefix="ser-bench-"))
    config = FeatureConfig(segment_length=args.segment_length)
    cache = FeatureCache(root, config)
    if any(cache.dir.glob("*/*.npz")):
        raise SystemExit(f"{cache.dir} is not empty: pass an empty --cache-dir for a cold run.")
    t0 = time.perf_counter()
    extract_all(paths, cache, args.workers)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    extract_all(paths, FeatureCache(root, config), args.workers, progress=False)
    warm = time.perf_counter() - t0
    if tmp:
        shutil.rmtree(tmp)
    cores = args.workers or os.cpu_count()
    print(f"{len(paths)} files, {audio_s:.0f} s of audio, {cores} processes, LLD 76x{config.num_frames} + 1582 HSF per {args.segment_length} s segment")
    print("| corpus | files | audio (s) | cold (s) | cold (audio s / s) | cached (s) | cached (audio s / s) |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.corpus} | {len(paths)} | {audio_s:.0f} | {cold:.1f} | {audio_s / cold:.1f} | {warm:.2f} | {audio_s / warm:.0f} |")


if __name__ == "__main__":
    main()
