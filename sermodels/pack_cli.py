"""``ser-pack``: write a corpus's features (extracted, or read from the cache) into one pack file.

    ser-pack --out ravdess-1.4s.npz --dtype float16 -- -c configs/trainer.yaml -c configs/model/strl_ser.yaml \\
        -c configs/data/ravdess.yaml --data.root /data/RAVDESS

The configs after ``--`` are those of ``ser fit``; the pack holds the features of the data module they
build (format: :mod:`datamodules.pack`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from datamodules.audio import load_audio
from datamodules.features.compute import rebuildable
from datamodules.pack import audio_rest, write_pack
from sermodels.cli import cli_main

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    """``ser-pack``: extract (or read from the cache) a corpus's features and write one pack file."""
    argv = sys.argv[1:] if argv is None else list(argv)
    own, passthrough = (argv[: argv.index("--")], argv[argv.index("--") + 1 :]) if "--" in argv else (argv, [])
    ap = argparse.ArgumentParser(prog="ser-pack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="pack file to write (.npz)")
    ap.add_argument("--dtype", choices=["float16", "float32"], default="float16")
    ap.add_argument("--waveform-codec", choices=["raw", "flac"], default="raw",
                    help="waveform inputs (STA-CNN's `wave`) as --dtype arrays (raw) or as 16-bit FLAC per utterance "
                         "(flac: 2.6x smaller on RAVDESS; lossless for 16-bit mono audio at its own rate)")
    args = ap.parse_args(own)
    if not passthrough:
        ap.error("give the configs after --, e.g. -- -c configs/trainer.yaml -c configs/model/strl_ser.yaml "
                 "-c configs/data/ravdess.yaml --data.root X")
    dm = cli_main(passthrough, run=False).datamodule
    if dm.hparams["pack"]:
        ap.error("--data.pack is set: a pack is written from the corpus, not from another pack")
    extractors = dm.feature_config.extractors
    if args.waveform_codec == "flac" and not any(e.kind == "samples" for e in extractors.values()):
        ap.error(f"--waveform-codec flac: these features ({', '.join(extractors)}) hold no waveform input to code "
                 "(only waveform models, e.g. STA-CNN with data.inputs [wave], have one); leave it at raw")
    corpus = dm.corpus
    feats, _ = dm._extract([u.path for u in corpus.utterances], load=True, on_error="raise", progress=dm.hparams["progress"])
    rests = None
    if rebuildable(dm.feature_config) is None:  # a waveform input: keep the audio past the segments for speed copies
        # (one more read of each file: the cache holds the segments only, not the remainders they drop)
        rate = dm.feature_config.sample_rate
        rests = [audio_rest(f, load_audio(u.path, rate).numpy(), str(u.path)) for f, u in zip(feats, corpus.utterances)]
    meta = write_pack(args.out, corpus, dm.feature_config, feats, dm._corpus_identity(), args.dtype, args.waveform_codec,
                      rests=rests)
    size = Path(args.out).stat().st_size / 2**20
    print(f"wrote {args.out}: {len(corpus.utterances)} utterances of {corpus.name}, {size:.1f} MiB, "
          f"stored {meta['dtypes']}, max relative rounding {meta['max_relative_rounding']}")


if __name__ == "__main__":
    main()
