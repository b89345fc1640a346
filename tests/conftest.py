"""Shared fixtures: tiny noise WAVs and fake corpus trees that mirror the real layouts and names.

No test reads real corpora: every tree here is a few dozen 50 ms noise files in ``tmp_path``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datamodules.datamodule import SERDataModule

# IEMOCAP: per session, two dialogs of four utterances each, as (utterance suffix, label).
# Mixes M and F turns within a dialog and labels that the four-class set drops (fru, xxx).
IEMOCAP_DIALOGS = {
    "F_impro01": [("F000", "neu"), ("M000", "hap"), ("F001", "exc"), ("M001", "ang")],
    "M_script01_1": [("M000", "sad"), ("F000", "fru"), ("M001", "xxx"), ("F001", "neu")],
}
IEMOCAP_KEPT_PER_SESSION = 6


class FakeCorpora:
    """Builders of fake corpus trees; each returns the root to pass to the loader."""

    @staticmethod
    def wav(path: Path, seconds: float = 0.05, sample_rate: int = 16000, seed: int = 0) -> Path:
        """Write a short 16-bit noise WAV (folders created)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(seed)
        sf.write(path, rng.uniform(-0.1, 0.1, int(seconds * sample_rate)), sample_rate, subtype="PCM_16")
        return path

    @classmethod
    def ravdess(cls, root: Path, actors: Iterable[int] = range(1, 25), per_actor: int = 4) -> Path:
        """``Actor_XX/03-01-EE-II-SS-RR-XX.wav``; emotions rotate over actors so all 8 occur."""
        for actor in actors:
            for j in range(per_actor):
                emotion = (actor + j) % 8 + 1
                intensity = 1 if emotion == 1 else 1 + j % 2
                name = f"03-01-{emotion:02d}-{intensity:02d}-{1 + j % 2:02d}-{1 + j // 2 % 2:02d}-{actor:02d}.wav"
                cls.wav(root / f"Actor_{actor:02d}" / name, seed=actor * 100 + j)
        return root

    @classmethod
    def emodb(cls, root: Path, speakers: Iterable[str] = ("03", "08", "09", "10")) -> Path:
        """``wav/03a01Fa.wav`` for every emotion letter of every speaker."""
        for i, speaker in enumerate(speakers):
            for j, code in enumerate("WLEAFTN"):
                cls.wav(root / "wav" / f"{speaker}{'ab'[j % 2]}0{1 + j % 2}{code}{'abc'[i % 3]}.wav")
        return root

    @classmethod
    def iemocap(cls, root: Path, sessions: Iterable[int] = range(1, 6)) -> Path:
        """``IEMOCAP_full_release/SessionN/{dialog/EmoEvaluation,sentences/wav}`` with label files."""
        release = root / "IEMOCAP_full_release"
        for n in sessions:
            session = release / f"Session{n}"
            evaluation = session / "dialog" / "EmoEvaluation"
            (evaluation / "Categorical").mkdir(parents=True, exist_ok=True)
            for suffix, turns in IEMOCAP_DIALOGS.items():
                dialog = f"Ses{n:02d}{suffix}"
                lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
                for k, (turn, label) in enumerate(turns):
                    name = f"{dialog}_{turn}"
                    lines += [
                        f"[{k * 3 + 0.5:.4f} - {k * 3 + 2.25:.4f}]\t{name}\t{label}\t[2.5000, 3.0000, 2.5000]",
                        "C-E2:\tNeutral;\t()",
                        "A-E3:\tval 3; act 2; dom  2;\t()",
                        "",
                    ]
                    cls.wav(session / "sentences" / "wav" / dialog / f"{name}.wav", seed=k)
                (evaluation / f"{dialog}.txt").write_text("\n".join(lines))
                (evaluation / f"._{dialog}.txt").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
        return release

    @classmethod
    def savee(cls, root: Path, speakers: Iterable[str] = ("DC", "JE", "JK", "KL")) -> Path:
        """``AudioData/<speaker>/<code><nn>.wav`` for every emotion code."""
        for speaker in speakers:
            for j, code in enumerate(("a", "d", "f", "h", "n", "sa", "su")):
                cls.wav(root / "AudioData" / speaker / f"{code}{j + 1:02d}.wav")
        return root


@pytest.fixture(scope="session")
def fake() -> type[FakeCorpora]:
    """The fake-tree builders (call them with a folder under ``tmp_path``)."""
    return FakeCorpora


# Tiny synthetic corpus shared by the DataModule / CLI tests: 3 speakers x 4 classes x 2 utterances.
TINY_SYNTHETIC = {"num_speakers": 3, "utterances_per_class": 2, "min_duration": 1.0, "max_duration": 2.2}


@pytest.fixture(scope="session")
def ser_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache (and synthetic corpus) for the whole session, so each setting extracts once."""
    return tmp_path_factory.mktemp("ser-cache")


def tiny_datamodule(cache: Path, **kwargs: object) -> SERDataModule:
    """A prepared and set-up data module over :data:`TINY_SYNTHETIC` (one process, no progress bars)."""
    base: dict[str, object] = dict(corpus="synthetic", corpus_options=TINY_SYNTHETIC, cache_dir=str(cache), batch_size=8,
                                   progress=False, extract_workers=0)
    dm = SERDataModule(**(base | kwargs))  # type: ignore[arg-type]
    dm.prepare_data()
    dm.setup("fit")
    return dm
