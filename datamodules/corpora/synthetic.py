"""Deterministic synthetic emotional speech, for tests and zero-download end-to-end runs.

Each utterance is made by source-filter synthesis:

* a glottal pulse train following an F0 contour (speaker base F0 x class pitch level, with a
  declination slope, per-syllable pitch accents, a final rise or fall and, for fear, a tremor),
  with per-pulse jitter and shimmer, low-pass filtered to set the spectral tilt;
* aspiration noise modulated by the glottal cycle (breathiness);
* a sequence of syllables at the class's speaking rate: a short noise consonant followed by a
  vowel whose formants (three cascaded resonators, scaled per speaker) shape the source, under
  a syllable amplitude envelope, with occasional short pauses;
* a class-dependent loudness: the RMS level is set by the class (and varies a little), then a
  tanh soft limiter keeps every peak below 0.9.

So the classes differ in pitch level and contour, energy, speaking rate and voice quality, the
cues the IS10 acoustic features measure, while speakers differ in base F0, formant scale, rate
and voice, and every parameter varies a little between utterances: learnable, not trivial.

Files are 16-bit PCM WAV under ``root/synthetic-<hash>/spkNN/spkNN_<class>_<k>.wav``; the hash
covers every parameter and :data:`GENERATOR_VERSION`, so different settings never share a
folder. Generation is deterministic (each file has its own seeded random stream, so the same
parameters give bit-identical files whether or not other files already exist), idempotent
(existing files are re-used) and atomic (temporary file + ``os.replace``).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import lfilter

from datamodules.corpora.base import Corpus, CorpusError, Utterance
from datamodules.corpora.registry import register_corpus

__all__ = ["GENERATOR_VERSION", "SYNTHETIC_CLASSES", "make_synthetic_corpus"]

GENERATOR_VERSION = 1
"""Bumped whenever the synthesis changes, so old cache folders are never re-used."""

SYNTHETIC_CLASSES: tuple[str, ...] = ("neutral", "happy", "angry", "sad")
"""Default classes. Any names work; those in ``_PROFILES`` get hand-made profiles."""


@dataclass(frozen=True)
class _Profile:
    """How one emotion sounds, relative to the speaker's neutral voice."""

    pitch: float  # F0 level, multiple of the speaker's base F0
    accent: float  # size of per-syllable pitch accents, semitones
    slope: float  # F0 change over the whole utterance, semitones (declination < 0)
    final: float  # extra F0 change over the last fifth, semitones
    tremor: float  # depth of a 6 Hz F0 tremor, semitones
    rate: float  # syllables per second
    loudness: float  # relative level: RMS = _RMS_PER_LOUDNESS * loudness before the limiter
    tilt: float  # one-pole source low-pass coefficient: higher = darker, softer voice
    breath: float  # aspiration noise relative to the voiced source
    jitter: float  # relative per-pulse period perturbation
    shimmer: float  # relative per-pulse amplitude perturbation
    pause: float  # probability of a short pause after a syllable


_PROFILES: dict[str, _Profile] = {
    "neutral": _Profile(1.00, 1.5, -2.0, 0.0, 0.0, 4.2, 0.45, 0.90, 0.05, 0.005, 0.03, 0.10),
    "calm": _Profile(0.95, 1.0, -1.5, -0.5, 0.0, 3.4, 0.35, 0.93, 0.10, 0.004, 0.03, 0.15),
    "happy": _Profile(1.30, 5.0, -1.0, 2.0, 0.0, 5.3, 0.70, 0.80, 0.06, 0.010, 0.05, 0.08),
    "angry": _Profile(1.22, 3.5, -4.0, -2.0, 0.0, 6.0, 0.90, 0.55, 0.02, 0.015, 0.08, 0.05),
    "sad": _Profile(0.85, 0.6, -3.0, -1.0, 0.0, 2.6, 0.22, 0.96, 0.25, 0.020, 0.06, 0.25),
    "fearful": _Profile(1.50, 2.5, 0.0, 3.0, 0.8, 5.6, 0.50, 0.85, 0.20, 0.030, 0.10, 0.15),
    "disgust": _Profile(0.90, 2.0, -3.0, -2.0, 0.0, 3.0, 0.50, 0.75, 0.12, 0.020, 0.08, 0.20),
    "surprised": _Profile(1.35, 6.0, 2.0, 6.0, 0.0, 4.6, 0.65, 0.82, 0.08, 0.010, 0.05, 0.10),
    "bored": _Profile(0.90, 0.4, -1.0, -0.5, 0.0, 3.0, 0.30, 0.94, 0.12, 0.008, 0.04, 0.20),
}
_PROFILES["fear"] = _PROFILES["fearful"]
_PROFILES["surprise"] = _PROFILES["surprised"]
_PROFILES["disgusted"] = _PROFILES["disgust"]

# (low, high) for profiles of class names without a hand-made one.
_PROFILE_RANGES: dict[str, tuple[float, float]] = {
    "pitch": (0.8, 1.5), "accent": (0.3, 6.0), "slope": (-4.0, 2.0), "final": (-2.0, 6.0),
    "tremor": (0.0, 0.8), "rate": (2.5, 6.0), "loudness": (0.2, 0.9), "tilt": (0.55, 0.96),
    "breath": (0.02, 0.25), "jitter": (0.004, 0.03), "shimmer": (0.03, 0.1), "pause": (0.05, 0.25),
}  # fmt: skip

# Formants (Hz) of five vowels of an adult male voice (Peterson and Barney style values).
_VOWELS = np.array(
    [[730, 1090, 2440], [270, 2290, 3010], [300, 870, 2240], [530, 1840, 2480], [570, 840, 2410]],
    dtype=np.float64,
)
_BANDWIDTHS = np.array([80.0, 100.0, 140.0])
_PEAK = 0.9  # no sample reaches it: the limiter is _PEAK * tanh(x / _PEAK)
_RMS_PER_LOUDNESS = 0.2


@dataclass(frozen=True)
class _Speaker:
    speaker: str
    gender: str
    f0: float  # Hz
    formant_scale: float
    rate_scale: float
    tilt_shift: float
    breath_scale: float


def _profile_for(name: str) -> _Profile:
    if name in _PROFILES:
        return _PROFILES[name]
    # Unknown class names get a profile drawn from a generator seeded by the name itself, so it
    # does not depend on the seed or on the other classes.
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    rng = np.random.default_rng(digest)
    values = {k: float(rng.uniform(lo, hi)) for k, (lo, hi) in _PROFILE_RANGES.items()}
    return _Profile(**values)


def _make_speaker(index: int, seed: int) -> _Speaker:
    rng = np.random.default_rng([seed, 1, index])
    female = index % 2 == 0
    return _Speaker(
        speaker=f"spk{index:02d}",
        gender="F" if female else "M",
        f0=float(rng.uniform(185.0, 235.0) if female else rng.uniform(95.0, 130.0)),
        formant_scale=float(rng.uniform(1.12, 1.22) if female else rng.uniform(0.94, 1.04)),
        rate_scale=float(rng.uniform(0.9, 1.1)),
        tilt_shift=float(rng.uniform(-0.03, 0.03)),
        breath_scale=float(rng.uniform(0.7, 1.4)),
    )


def _vary(profile: _Profile, rng: np.random.Generator) -> _Profile:
    """Within-class variation: every parameter moves by a few percent per utterance."""
    values = {}
    for f in fields(profile):
        value = getattr(profile, f.name)
        values[f.name] = value * float(np.exp(rng.normal(0.0, 0.08)))
    values["tilt"] = float(np.clip(profile.tilt + rng.normal(0.0, 0.015), 0.3, 0.985))
    values["loudness"] = float(min(values["loudness"], 0.9))
    values["pause"] = float(min(values["pause"], 0.5))
    return replace(profile, **values)


def _resonator_cascade(formants: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator of cascaded two-pole resonators with unit gain at 0 Hz."""
    a = np.array([1.0])
    for freq, bandwidth in zip(formants, _BANDWIDTHS, strict=True):
        freq = min(float(freq), 0.45 * sample_rate)
        r = np.exp(-np.pi * bandwidth / sample_rate)
        a = np.convolve(a, [1.0, -2.0 * r * np.cos(2.0 * np.pi * freq / sample_rate), r * r])
    return np.array([a.sum()]), a


def _synthesise(
    speaker: _Speaker,
    profile: _Profile,
    duration: float,
    sample_rate: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Render one utterance; float64 samples, RMS set by ``profile.loudness``, peaks < 0.9."""
    n = max(int(round(duration * sample_rate)), 1)
    t = np.arange(n) / sample_rate
    rate = profile.rate * speaker.rate_scale

    # Syllable plan: (consonant start, vowel start, vowel end) in samples, with pauses.
    lead, tail = rng.uniform(0.04, 0.12, size=2)
    pos, end = lead * sample_rate, n - tail * sample_rate
    plan = []
    while pos < end - 0.08 * sample_rate:
        length = rng.uniform(0.75, 1.25) * sample_rate / rate
        consonant = rng.uniform(0.15, 0.35) * length
        stop = min(pos + length, end)
        plan.append((int(pos), int(min(pos + consonant, stop - 1)), int(stop)))
        pos = stop
        if rng.random() < profile.pause:
            pos += rng.uniform(0.08, 0.22) * sample_rate

    # F0 contour in semitones relative to the class level.
    tn = t / t[-1] if n > 1 else t
    semitones = profile.slope * tn + profile.final * np.clip((tn - 0.8) / 0.2, 0.0, 1.0) ** 2
    semitones += profile.tremor * np.sin(2.0 * np.pi * 6.0 * t + rng.uniform(0, 2 * np.pi))
    sign = 1.0 if profile.accent >= 0 else -1.0
    for _c0, v0, v1 in plan:
        width = v1 - v0
        if width > 1:
            bump = np.sin(np.linspace(0.0, np.pi, width)) ** 2
            semitones[v0:v1] += sign * abs(profile.accent) * rng.uniform(0.3, 1.0) * bump
    f0 = speaker.f0 * profile.pitch * 2.0 ** (semitones / 12.0)

    # Glottal pulses with jitter and shimmer, low-passed for the spectral tilt.
    phase = np.cumsum(f0 / sample_rate)
    onsets = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    period = sample_rate / f0[onsets]
    jittered = onsets + np.round(rng.normal(0.0, profile.jitter, onsets.size) * period)
    pulses_at = np.clip(jittered.astype(np.int64), 0, n - 1)
    amplitude = np.clip(1.0 + rng.normal(0.0, profile.shimmer, pulses_at.size), 0.2, None)
    source = np.bincount(pulses_at, weights=amplitude, minlength=n)
    tilt = float(np.clip(profile.tilt + speaker.tilt_shift, 0.3, 0.985))
    voiced = lfilter([1.0 - tilt], [1.0, -tilt], source)
    voiced -= lfilter([0.02], [1.0, -0.98], voiced)  # remove the slow DC drift of the low-pass
    scale = float(np.std(voiced)) or 1.0
    breath = profile.breath * speaker.breath_scale
    aspiration = rng.normal(0.0, 1.0, n) * (0.6 + 0.4 * np.cos(2.0 * np.pi * phase))
    excitation = voiced / scale + breath * aspiration

    # Syllables: noise consonant, then a formant-filtered vowel under an amplitude envelope.
    out = np.zeros(n)
    hiss_b, hiss_a = [1.0, -1.0], [1.0, 0.3]  # crude high-pass for fricative noise
    for c0, v0, v1 in plan:
        stress = rng.uniform(0.55, 1.0)
        if v0 > c0:
            burst = lfilter(hiss_b, hiss_a, rng.normal(0.0, 1.0, v0 - c0))
            burst *= np.hanning(v0 - c0) * rng.uniform(0.05, 0.25) * (0.5 + profile.loudness)
            out[c0:v0] += burst
        if v1 - v0 < 4:
            continue
        vowel = _VOWELS[rng.integers(len(_VOWELS))] * speaker.formant_scale
        vowel = vowel * np.exp(rng.normal(0.0, 0.04, 3))
        b, a = _resonator_cascade(vowel, sample_rate)
        shaped = lfilter(b, a, excitation[v0:v1])
        envelope = np.sin(np.linspace(0.0, np.pi, v1 - v0)) ** 0.6
        out[v0:v1] += stress * envelope * shaped / (float(np.max(np.abs(shaped))) or 1.0)

    out += rng.normal(0.0, 3e-4, n)  # a faint noise floor instead of digital silence
    # Loudness sets the RMS level (peak normalisation alone would make bright, peaky voices such
    # as anger *quieter* on average); a tanh limiter then keeps every peak below _PEAK.
    rms = float(np.sqrt(np.mean(out**2))) or 1.0
    out *= _RMS_PER_LOUDNESS * profile.loudness / rms
    return _PEAK * np.tanh(out / _PEAK)


def _write_wav_atomic(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Encoded in memory first: libsndfile's many small header writes are slow on some disks.
    buffer = io.BytesIO()
    sf.write(buffer, samples, sample_rate, subtype="PCM_16", format="WAV")
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _check_args(
    seed: int,
    num_speakers: int,
    utterances_per_class: int,
    classes: Sequence[str],
    min_duration: float,
    max_duration: float,
    sample_rate: int,
    num_folds: int,
) -> None:
    for name, value, low in (
        ("seed", seed, 0),
        ("num_speakers", num_speakers, 1),
        ("utterances_per_class", utterances_per_class, 1),
        ("sample_rate", sample_rate, 8000),
        ("num_folds", num_folds, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise CorpusError(f"Expected {name} to be an integer >= {low}, got {value!r}.")
    if num_folds > num_speakers:
        raise CorpusError(
            f"Expected num_folds <= num_speakers ({num_speakers}), got num_folds={num_folds}: "
            "every fold needs at least one speaker."
        )
    if (
        isinstance(classes, str)
        or len(classes) == 0
        or not all(isinstance(c, str) and c and "/" not in c for c in classes)
        or len(set(classes)) != len(classes)
    ):
        raise CorpusError(
            f"Expected classes to be a non-empty sequence of unique class names without '/', got {classes!r}."
        )
    if not 0.1 <= min_duration <= max_duration:
        raise CorpusError(
            f"Expected 0.1 <= min_duration <= max_duration seconds, got "
            f"min_duration={min_duration}, max_duration={max_duration}."
        )


def make_synthetic_corpus(
    root: str | os.PathLike[str],
    seed: int = 0,
    num_speakers: int = 6,
    utterances_per_class: int = 8,
    classes: Sequence[str] = SYNTHETIC_CLASSES,
    min_duration: float = 1.0,
    max_duration: float = 3.0,
    sample_rate: int = 16000,
    num_folds: int | None = None,
) -> Corpus:
    """Generate (or re-use) a deterministic synthetic emotional-speech corpus.

    Speakers ``spk00``, ``spk01``, ... alternate female (even index) and male (odd index), each
    with its own base F0, formant scale, speaking rate and voice. Every speaker says
    ``utterances_per_class`` utterances of every class, lasting uniformly between
    ``min_duration`` and ``max_duration`` seconds. The default corpus is 6 x 4 x 8 = 192 files.

    ``speaker_groups`` (the ``speaker`` protocol's folds) put consecutive speakers together in
    ``num_folds`` groups; by default 3 folds of 2 speakers, each one female and one male, so a
    fold has test, validation and training speakers of both genders. (Not leave-one-speaker-out:
    with 6 speakers that would be 6 folds of 32 test utterances each.)

    Args:
        root: Cache folder; files go to ``root/synthetic-<hash of the parameters>/``.
        seed: Seed of every random choice.
        num_speakers: Number of speakers.
        utterances_per_class: Utterances per class *per speaker*.
        classes: Class names, in class-index order.
        min_duration: Shortest utterance, seconds.
        max_duration: Longest utterance, seconds.
        sample_rate: Sample rate of the WAV files, Hz (>= 8000).
        num_folds: Number of speaker groups, 1 <= num_folds <= num_speakers; default
            ``min(3, num_speakers)``. Does not change the audio (nor the folder).

    Returns:
        The corpus (name ``"synthetic"``, root the hashed folder), sorted by ``utt_id``.

    Raises:
        CorpusError: An argument is out of range.
    """
    if num_folds is None:
        num_folds = min(3, num_speakers) if isinstance(num_speakers, int) else 3
    _check_args(seed, num_speakers, utterances_per_class, classes, min_duration, max_duration, sample_rate, num_folds)
    classes = tuple(classes)
    params = {
        "version": GENERATOR_VERSION,
        "seed": int(seed),
        "num_speakers": int(num_speakers),
        "utterances_per_class": int(utterances_per_class),
        "classes": list(classes),
        "min_duration": float(min_duration),
        "max_duration": float(max_duration),
        "sample_rate": int(sample_rate),
    }
    text = json.dumps(params, sort_keys=True)
    folder = Path(root).expanduser().resolve() / (f"synthetic-{hashlib.sha256(text.encode()).hexdigest()[:12]}")
    folder.mkdir(parents=True, exist_ok=True)
    params_file = folder / "params.json"
    if not params_file.is_file():
        fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=".params.", suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(params, indent=2, sort_keys=True) + "\n")
        os.replace(tmp_name, params_file)

    speakers = [_make_speaker(i, seed) for i in range(num_speakers)]
    utterances = []
    for s_index, speaker in enumerate(speakers):
        for c_index, label in enumerate(classes):
            profile = _profile_for(label)
            for k in range(utterances_per_class):
                utt_id = f"{speaker.speaker}/{speaker.speaker}_{label}_{k:02d}"
                path = folder / f"{utt_id}.wav"
                if not path.is_file():
                    rng = np.random.default_rng([seed, 2, s_index, c_index, k])
                    duration = float(rng.uniform(min_duration, max_duration))
                    samples = _synthesise(speaker, _vary(profile, rng), duration, sample_rate, rng)
                    _write_wav_atomic(path, samples, sample_rate)
                utterances.append(
                    Utterance(
                        utt_id=utt_id,
                        path=path,
                        label=label,
                        speaker=speaker.speaker,
                        gender=speaker.gender,
                    )
                )
    groups: list[list[str]] = [[] for _ in range(num_folds)]
    for i, speaker in enumerate(speakers):
        groups[i * num_folds // num_speakers].append(speaker.speaker)
    return Corpus(
        name="synthetic",
        root=folder,
        classes=classes,
        utterances=sorted(utterances, key=lambda u: u.utt_id),
        speaker_groups=tuple(tuple(g) for g in groups),
    )


register_corpus("synthetic", make_synthetic_corpus, classes=SYNTHETIC_CLASSES, root="generated", classes_option=True)
