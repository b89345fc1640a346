"""Write a long demo recording whose emotion changes over time, for ``ser predict --timeline``.

Concatenates one synthetic utterance per class (a corpus seed the demo model never trained on), so
the timeline picture shows the predicted emotion moving from segment to segment::

    python scripts/demo_clip.py --out runs/demo_clip.wav
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf

from datamodules.audio import load_audio
from datamodules.corpora import make_synthetic_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/demo_clip.wav"), help="WAV file to write.")
    parser.add_argument("--seed", type=int, default=12345, help="Synthetic corpus seed (not the training corpus's 0).")
    args = parser.parse_args()
    corpus = make_synthetic_corpus(args.out.parent / "demo_corpus", seed=args.seed, num_speakers=1,
                                   utterances_per_class=1, min_duration=2.8, max_duration=3.0)
    parts = [load_audio(u.path).numpy() for u in sorted(corpus.utterances, key=lambda u: corpus.classes.index(u.label))]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(args.out, np.concatenate(parts), 16000)
    order = ", ".join(u.label for u in sorted(corpus.utterances, key=lambda u: corpus.classes.index(u.label)))
    print(f"Wrote {args.out} ({sum(len(p) for p in parts) / 16000:.1f} s): {order}, about 3 s each")


if __name__ == "__main__":
    main()
