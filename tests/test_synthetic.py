"""Synthetic corpus: determinism, idempotence, layout, classes, speakers and class cues."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from datamodules.corpora import SYNTHETIC_CLASSES, CorpusError, make_synthetic_corpus

SMALL = {"num_speakers": 4, "utterances_per_class": 2, "min_duration": 0.4, "max_duration": 0.6, "num_folds": 2}


def test_default_corpus(tmp_path: Path) -> None:
    corpus = make_synthetic_corpus(tmp_path)
    assert corpus.name == "synthetic"
    assert corpus.classes == SYNTHETIC_CLASSES == ("neutral", "happy", "angry", "sad")
    assert len(corpus) == 6 * 4 * 8
    assert set(corpus.class_counts().values()) == {6 * 8}
    assert corpus.speakers() == [f"spk{i:02d}" for i in range(6)]
    assert corpus.speaker_groups == (("spk00", "spk01"), ("spk02", "spk03"), ("spk04", "spk05"))
    genders = {u.speaker: u.gender for u in corpus.utterances}
    assert [genders[s] for s in corpus.speakers()] == ["F", "M"] * 3
    assert corpus.root.parent == tmp_path.resolve() and corpus.root.name.startswith("synthetic-")
    assert corpus.utt_ids() == sorted(corpus.utt_ids())
    assert corpus.utterances[0].utt_id == "spk00/spk00_angry_00"


def test_deterministic_and_bit_identical(tmp_path: Path) -> None:
    a = make_synthetic_corpus(tmp_path / "a", seed=3, **SMALL)
    b = make_synthetic_corpus(tmp_path / "b", seed=3, **SMALL)
    assert a.root.name == b.root.name
    assert a.utt_ids() == b.utt_ids()
    for ua, ub in zip(a.utterances, b.utterances, strict=True):
        assert ua.path.read_bytes() == ub.path.read_bytes(), ua.utt_id
    other = make_synthetic_corpus(tmp_path / "a", seed=4, **SMALL)
    assert other.root != a.root  # different parameters never share a folder
    assert a.utterances[0].path.read_bytes() != other.utterances[0].path.read_bytes()


def test_idempotent_reuses_and_repairs(tmp_path: Path) -> None:
    first = make_synthetic_corpus(tmp_path, **SMALL)
    stamps = {u.utt_id: u.path.stat().st_mtime_ns for u in first.utterances}
    victim = first.utterances[5].path
    original = victim.read_bytes()
    victim.unlink()
    second = make_synthetic_corpus(tmp_path, **SMALL)
    assert second == first
    assert victim.read_bytes() == original  # regenerated alone, bit-identical
    for u in second.utterances:
        if u.path != victim:
            assert u.path.stat().st_mtime_ns == stamps[u.utt_id]  # re-used, not rewritten
    leftovers = [p for p in first.root.rglob("*") if p.is_file() and p.suffix not in {".wav", ".json"}]
    assert not leftovers  # no temporary files


def test_wav_format_and_durations(tmp_path: Path) -> None:
    corpus = make_synthetic_corpus(tmp_path, sample_rate=8000, **SMALL)
    for utt in corpus.utterances:
        info = sf.info(utt.path)
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "PCM_16", 8000, 1)
        assert 0.4 - 1e-3 <= info.duration <= 0.6 + 1e-3
        samples, _ = sf.read(utt.path)
        assert 0.05 < np.abs(samples).max() <= 0.9 + 1e-4


def test_classes_differ_in_loudness_pitch_and_rate(tmp_path: Path) -> None:
    corpus = make_synthetic_corpus(tmp_path, num_speakers=2, utterances_per_class=3, min_duration=1.0, max_duration=1.5)
    rms: dict[str, list[float]] = {c: [] for c in corpus.classes}
    crossings: dict[str, list[float]] = {c: [] for c in corpus.classes}
    for utt in corpus.utterances:
        x, sr = sf.read(utt.path)
        rms[utt.label].append(float(np.sqrt(np.mean(x**2))))
        # Zero crossings of the low-passed signal follow F0 and the first formant.
        smooth = np.convolve(x, np.ones(8) / 8, mode="same")
        crossings[utt.label].append(float(np.mean(np.abs(np.diff(np.sign(smooth))) > 0)) * sr)
    mean = {c: float(np.mean(v)) for c, v in rms.items()}
    assert mean["angry"] > mean["happy"] > mean["neutral"] > mean["sad"]
    assert len({round(float(np.mean(v)), -1) for v in crossings.values()}) > 1


def test_custom_classes_and_groups(tmp_path: Path) -> None:
    corpus = make_synthetic_corpus(
        tmp_path,
        classes=("sad", "excited", "angry"),
        num_speakers=5,
        utterances_per_class=1,
        min_duration=0.2,
        max_duration=0.3,
        num_folds=3,
    )
    assert corpus.classes == ("sad", "excited", "angry")
    assert corpus.targets().count(1) == 5  # an unknown class name still gets a profile
    assert [len(g) for g in corpus.speaker_groups] == [2, 2, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"num_speakers": 0}, "num_speakers to be an integer >= 1", id="no-speakers"),
        pytest.param({"utterances_per_class": 1.5}, "utterances_per_class to be an integer", id="float-count"),
        pytest.param({"classes": ()}, "non-empty sequence", id="no-classes"),
        pytest.param({"classes": ("sad", "sad")}, "unique class names", id="repeated-class"),
        pytest.param({"classes": "sad"}, "sequence of unique", id="string-classes"),
        pytest.param({"min_duration": 2.0, "max_duration": 1.0}, "min_duration <= max_duration", id="durations"),
        pytest.param({"sample_rate": 4000}, "sample_rate to be an integer >= 8000", id="low-rate"),
        pytest.param({"num_folds": 7}, r"num_folds <= num_speakers \(6\)", id="too-many-folds"),
    ],
)
def test_argument_errors(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(CorpusError, match=match):
        make_synthetic_corpus(tmp_path, **kwargs)
    assert not list(tmp_path.iterdir())  # validated before anything is written
