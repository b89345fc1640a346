"""Splits: stratified paper splits, speaker-independent folds on every corpus, fold files."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from pathlib import Path

import pytest

from datamodules.corpora import (
    Corpus,
    Utterance,
    load_emodb,
    load_folder,
    load_iemocap,
    load_ravdess,
    load_savee,
    make_synthetic_corpus,
)
from datamodules.splits import (
    Split,
    SplitError,
    make_split,
    paper_split,
    speaker_folds,
    speaker_split,
)

# corpus name -> number of speaker folds of its fake tree (see conftest.FakeCorpora)
FOLDS = {"ravdess": 6, "emodb": 4, "iemocap": 5, "savee": 4, "synthetic": 3, "generic": 5}


def _generic(num_speakers: int = 12, per_speaker: int = 6, groups=None) -> Corpus:
    """An in-memory corpus without standard folds (paths are never opened by splits)."""
    utterances = [
        Utterance(
            utt_id=f"s{s:02d}/u{k}",
            path=Path(f"/nowhere/s{s:02d}/u{k}.wav"),
            label=("a", "b", "c")[(s + k) % 3],
            speaker=f"s{s:02d}",
        )
        for s in range(num_speakers)
        for k in range(per_speaker)
    ]
    return Corpus("generic", Path("/nowhere"), ("a", "b", "c"), utterances, speaker_groups=groups)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory: pytest.TempPathFactory, fake) -> dict[str, Corpus]:
    base = tmp_path_factory.mktemp("corpora")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # fake full trees have too few files
        return {
            "ravdess": load_ravdess(fake.ravdess(base / "ravdess")),
            "emodb": load_emodb(fake.emodb(base / "emodb")),
            "iemocap": load_iemocap(fake.iemocap(base / "iemocap")),
            "savee": load_savee(fake.savee(base / "savee")),
            "synthetic": make_synthetic_corpus(
                base / "synthetic", utterances_per_class=3, min_duration=0.2, max_duration=0.3
            ),
            "generic": _generic(),
        }


# ---------------------------------------------------------------------------------------------
# paper protocol


@pytest.mark.parametrize("name", list(FOLDS))
@pytest.mark.parametrize("ratios", [(0.8, 0.2), (0.6, 0.2, 0.2)], ids=["80-20", "60-20-20"])
def test_paper_split_is_stratified_and_complete(corpora: dict[str, Corpus], name: str, ratios: tuple) -> None:
    corpus = corpora[name]
    split = paper_split(corpus, ratios=ratios, seed=0)
    assert split.protocol == "paper" and split.fold is None
    labels = {u.utt_id: u.label for u in corpus.utterances}
    parts = [split.train, split.val] + ([split.test] if len(ratios) == 3 else [])
    assert sum(len(p) for p in parts) == len(corpus)
    assert set().union(*map(set, parts)) == set(labels)  # every utterance in exactly one part
    for part in parts:
        assert list(part) == sorted(set(part))
    if len(ratios) == 2:
        assert split.test == split.val and split.test_is_val  # the STRL-SER paper's setup
    else:
        assert not set(split.test) & set(split.val) and not split.test_is_val
    totals = Counter(labels.values())
    for part, ratio in zip(parts, ratios, strict=True):
        counts = Counter(labels[u] for u in part)
        for label, total in totals.items():
            assert abs(counts[label] - ratio * total) < 1, (label, counts[label], total)


def _sized(counts: dict[str, int]) -> Corpus:
    utterances = [
        Utterance(f"{label}/{k:03d}", Path(f"/nowhere/{label}/{k:03d}.wav"), label, f"s{k % 4}")
        for label, n in counts.items()
        for k in range(n)
    ]
    return Corpus("sized", Path("/nowhere"), tuple(counts), utterances)


RAVDESS_COUNTS = {"neutral": 96} | {
    c: 192 for c in ("calm", "happy", "sad", "angry", "fearful", "disgust", "surprised")
}


@pytest.mark.parametrize(
    ("counts", "ratios", "sizes"),
    [
        pytest.param(RAVDESS_COUNTS, (0.8, 0.2), (1152, 288), id="ravdess-80-20"),
        pytest.param(RAVDESS_COUNTS, (0.6, 0.2, 0.2), (864, 288, 288), id="ravdess-60-20-20"),
        pytest.param({"a": 5, "b": 5, "c": 5, "d": 5}, (0.6, 0.2, 0.2), (12, 4, 4), id="remainders-spread"),
        pytest.param({"a": 3, "b": 7, "c": 11}, (0.5, 0.5), (11, 10), id="odd-sizes"),
    ],
)
def test_paper_split_part_sizes(counts: dict[str, int], ratios: tuple, sizes: tuple) -> None:
    corpus = _sized(counts)
    split = paper_split(corpus, ratios=ratios, seed=3)
    parts = (split.train, split.val, split.test)[: len(ratios)]
    assert tuple(len(p) for p in parts) == sizes
    for part, ratio in zip(parts, ratios, strict=True):
        per_class = Counter(u.split("/")[0] for u in part)
        assert all(abs(per_class[c] - n * ratio) < 1 for c, n in counts.items())


def test_paper_split_seeded(corpora: dict[str, Corpus]) -> None:
    corpus = corpora["synthetic"]
    assert paper_split(corpus, seed=1) == paper_split(corpus, seed=1)
    assert paper_split(corpus, seed=1).val != paper_split(corpus, seed=2).val
    assert make_split(corpus, "paper", ratios=(0.6, 0.2, 0.2), seed=5) == paper_split(corpus, (0.6, 0.2, 0.2), 5)


@pytest.mark.parametrize(
    ("ratios", "match"),
    [
        pytest.param((1.0,), "Expected 2 ratios", id="one"),
        pytest.param((0.4, 0.2, 0.2, 0.2), "got 4", id="four"),
        pytest.param((0.8, 0.3), "sum to 1", id="sum-above-1"),
        pytest.param((1.0, 0.0), "> 0", id="zero"),
        pytest.param((1.2, -0.2), "> 0", id="negative"),
        pytest.param(("a", "b"), "2 or 3 numbers", id="not-numbers"),
    ],
)
def test_paper_split_bad_ratios(ratios: tuple, match: str) -> None:
    with pytest.raises(SplitError, match=match):
        paper_split(_generic(), ratios=ratios)


def test_paper_split_too_small() -> None:
    with pytest.raises(SplitError, match=r"\(3 utterances\) .* leaves the test part \(ratio 0.2\) empty"):
        paper_split(_generic(num_speakers=1, per_speaker=3), ratios=(0.6, 0.2, 0.2))


# ---------------------------------------------------------------------------------------------
# speaker protocol

FOLD_CASES = [pytest.param(name, fold, id=f"{name}-fold{fold}") for name, k in FOLDS.items() for fold in range(k)]


@pytest.mark.parametrize(("name", "fold"), FOLD_CASES)
def test_speaker_split_no_speaker_crosses(corpora: dict[str, Corpus], name: str, fold: int) -> None:
    corpus = corpora[name]
    split = speaker_split(corpus, fold=fold)
    speaker_of = {u.utt_id: u.speaker for u in corpus.utterances}
    train, val, test = ({speaker_of[u] for u in part} for part in (split.train, split.val, split.test))
    assert train and val and test
    assert not train & val and not train & test and not val & test
    assert test == set(split.test_speakers) and val == set(split.val_speakers)
    assert train | val | test == set(corpus.speakers())
    ids = split.train + split.val + split.test
    assert len(ids) == len(set(ids)) == len(corpus)  # no utterance in two parts, none missing
    assert (split.protocol, split.fold) == ("speaker", fold)
    split.check(corpus)


@pytest.mark.parametrize("name", list(FOLDS))
def test_every_utterance_tested_once(corpora: dict[str, Corpus], name: str) -> None:
    corpus = corpora[name]
    groups = speaker_folds(corpus)
    assert len(groups) == FOLDS[name]
    splits = [speaker_split(corpus, fold) for fold in range(len(groups))]
    tested = Counter(u for s in splits for u in s.test)
    assert set(tested) == set(corpus.utt_ids()) and set(tested.values()) == {1}
    validated = Counter(u for s in splits for u in s.val)
    assert set(validated.values()) == {1}  # each group validates exactly one fold


def test_standard_folds(corpora: dict[str, Corpus]) -> None:
    iemocap = [speaker_split(corpora["iemocap"], k).test_speakers for k in range(5)]
    assert iemocap == [(f"Ses0{n}F", f"Ses0{n}M") for n in range(1, 6)]  # leave one session out
    ravdess = speaker_split(corpora["ravdess"], 1)
    assert ravdess.test_speakers == ("Actor_05", "Actor_06", "Actor_07", "Actor_08")
    assert ravdess.val_speakers == ("Actor_09", "Actor_10", "Actor_11", "Actor_12")
    last = speaker_split(corpora["ravdess"], 5)
    assert last.val_speakers == ("Actor_01", "Actor_02", "Actor_03", "Actor_04")  # wraps around
    assert speaker_split(corpora["emodb"], 2).test_speakers == ("09",)
    assert speaker_split(corpora["savee"], 3).test_speakers == ("KL",)


def test_generic_folds_seeded_round_robin(corpora: dict[str, Corpus]) -> None:
    corpus = corpora["generic"]
    groups = speaker_folds(corpus, seed=0)
    assert len(groups) == 5 and sorted(len(g) for g in groups) == [2, 2, 2, 3, 3]
    assert speaker_folds(corpus, seed=0) == groups
    assert speaker_folds(corpus, seed=1) != groups
    assert speaker_split(corpus, 0, seed=1) != speaker_split(corpus, 0, seed=0)
    assert len(speaker_folds(_generic(num_speakers=4))) == 4  # fewer speakers than 5 folds
    # num_folds other than the standard count regroups the speakers generically.
    regrouped = speaker_folds(corpora["ravdess"], num_folds=3)
    assert len(regrouped) == 3 and sum(map(len, regrouped)) == 24
    assert speaker_folds(corpora["ravdess"], num_folds=6) == corpora["ravdess"].speaker_groups


def test_standard_folds_of_a_filtered_corpus(corpora: dict[str, Corpus]) -> None:
    full = corpora["iemocap"]
    kept = [u for u in full.utterances if u.session != "Ses02"]
    filtered = Corpus(full.name, full.root, full.classes, kept)
    filtered.speaker_groups = full.speaker_groups  # set afterwards: names absent speakers
    groups = speaker_folds(filtered)
    assert len(groups) == 4 and ("Ses02F", "Ses02M") not in groups
    filtered.speaker_groups = (("Ses01F", "Ses01M"),)
    with pytest.raises(SplitError, match=r"speakers \['Ses03F', .*\] are in no speaker group"):
        speaker_folds(filtered)


@pytest.mark.parametrize(
    ("corpus", "kwargs", "match"),
    [
        pytest.param(_generic(), {"fold": 5}, r"fold in 0\.\.4 .* got fold=5", id="fold-too-large"),
        pytest.param(_generic(), {"fold": -1}, r"fold in 0\.\.4", id="fold-negative"),
        pytest.param(_generic(), {"fold": 0, "num_folds": 2}, r"3 <= num_folds <= 12", id="two-folds"),
        pytest.param(_generic(), {"fold": 0, "num_folds": 13}, r"3 <= num_folds <= 12", id="more-folds-than-speakers"),
        pytest.param(_generic(num_speakers=1), {"fold": 0}, "at least 3 speakers", id="one-speaker"),
        pytest.param(
            _generic(num_speakers=4, groups=(("s00", "s01"), ("s02", "s03"))),
            {"fold": 0},
            r"only 2 standard speaker group.*num_folds=K with 3 <= K <= 4",
            id="two-standard-groups",
        ),
    ],
)
def test_speaker_split_errors(corpus: Corpus, kwargs: dict, match: str) -> None:
    with pytest.raises(SplitError, match=match):
        speaker_split(corpus, **kwargs)


def test_speaker_split_needs_known_speakers(tmp_path: Path, fake) -> None:
    for label in ("happy", "sad"):
        for k in range(3):
            fake.wav(tmp_path / label / f"spk{k}_{label}.wav")
    anonymous = load_folder(tmp_path)
    with pytest.raises(SplitError, match=r"speaker 'unknown'.*speaker_regex.*protocol='paper'"):
        make_split(anonymous, "speaker")
    assert make_split(anonymous, "paper", ratios=(0.5, 0.5)).train  # the paper protocol still works
    named = load_folder(tmp_path, speaker_regex=r"^(spk\d)_")
    tested = [make_split(named, "speaker", fold=k).test_speakers for k in range(3)]
    assert sorted(tested) == [("spk0",), ("spk1",), ("spk2",)]  # 3 speakers: 3 folds of one


def test_make_split_unknown_protocol() -> None:
    with pytest.raises(SplitError, match=r"Unknown protocol 'speakers'; expected one of \('paper', 'speaker'\)"):
        make_split(_generic(), "speakers")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# fold files


@pytest.mark.parametrize("protocol", ["paper", "speaker"])
def test_split_json_round_trip(tmp_path: Path, corpora: dict[str, Corpus], protocol: str) -> None:
    corpus = corpora["iemocap"]
    split = make_split(corpus, protocol, fold=3)
    path = split.write(tmp_path / "folds" / f"{protocol}.json")
    again = Split.read(path)
    assert again == split
    again.check(corpus)
    assert json.loads(path.read_text())["version"] == 1
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


@pytest.mark.parametrize(
    ("content", "match"),
    [
        pytest.param(None, "does not exist", id="missing"),
        pytest.param("{not json", "not valid JSON", id="not-json"),
        pytest.param("[]", "expected a JSON object", id="not-object"),
        pytest.param(
            '{"version": 1, "protocol": "paper", "train": []}',
            r"missing field\(s\) \['val', 'test'\]",
            id="missing-field",
        ),
        pytest.param(
            '{"version": 1, "protocol": "random", "train": [], "val": [], "test": []}',
            "protocol 'random'",
            id="bad-protocol",
        ),
        pytest.param(
            '{"version": 1, "protocol": "paper", "train": [1], "val": [], "test": []}',
            "'train' must be a list of strings",
            id="bad-ids",
        ),
        pytest.param(
            '{"version": 9, "protocol": "paper", "train": [], "val": [], "test": []}',
            "format version 1, got 9",
            id="bad-version",
        ),
    ],
)
def test_split_read_errors(tmp_path: Path, content: str | None, match: str) -> None:
    path = tmp_path / "split.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SplitError, match=match):
        Split.read(path)


def test_split_check_catches_foreign_and_overlapping_ids(corpora: dict[str, Corpus]) -> None:
    corpus = corpora["generic"]
    with pytest.raises(SplitError, match="not in corpus 'generic'"):
        Split("paper", ("s00/u0", "zz/u9"), ("s00/u1",), ("s00/u1",)).check(corpus)
    with pytest.raises(SplitError, match="train and test share 1"):
        Split("speaker", ("s00/u0",), ("s00/u1",), ("s00/u0",), fold=0).check(corpus)


def test_split_check_catches_empty_parts_and_shared_speakers(corpora: dict[str, Corpus]) -> None:
    corpus = corpora["generic"]  # speaker sNN says utterances sNN/u0 .. sNN/u5
    with pytest.raises(SplitError, match=r"Split \(paper protocol\) has an empty test part: \{'train': 1, 'val': 1, 'test': 0\}"):
        Split("paper", ("s00/u0",), ("s00/u1",), ()).check(corpus)
    # speaker s01 in train and test: refused for the speaker protocol, naming the speaker and parts ...
    shared = Split("speaker", ("s00/u0", "s01/u0"), ("s02/u0",), ("s01/u1",), fold=0)
    with pytest.raises(SplitError, match=r"shares speaker\(s\) \['s01'\] between train and test"):
        shared.check(corpus)
    # ... and val/test, unless test is the validation set
    with pytest.raises(SplitError, match=r"\['s02'\] between val and test"):
        Split("speaker", ("s00/u0",), ("s02/u0",), ("s02/u1",), fold=0).check(corpus)
    Split("speaker", ("s00/u0",), ("s02/u0",), ("s02/u0",), fold=0).check(corpus)
    # the paper protocol is speaker-dependent by design: the same parts pass
    Split("paper", shared.train, shared.val, shared.test).check(corpus)


def test_split_check_passes_every_protocol_split(corpora: dict[str, Corpus]) -> None:
    for name, corpus in corpora.items():
        make_split(corpus, "paper", ratios=(0.6, 0.2, 0.2)).check(corpus)
        for fold in range(FOLDS[name]):
            make_split(corpus, "speaker", fold=fold).check(corpus)


def test_split_class_counts_and_absent_classes(corpora: dict[str, Corpus]) -> None:
    corpus = corpora["generic"]  # label of sNN/uK: "abc"[(N + K) % 3]
    split = Split("paper", ("s00/u0", "s00/u1", "s00/u2"), ("s00/u3",), ("s00/u4", "s00/u5"))
    assert split.sizes() == {"train": 3, "val": 1, "test": 2}
    assert split.class_counts(corpus) == {
        "train": {"a": 1, "b": 1, "c": 1}, "val": {"a": 1, "b": 0, "c": 0}, "test": {"a": 0, "b": 1, "c": 1},
    }  # fmt: skip
    assert split.absent_classes(corpus) == {"val": ["b", "c"], "test": ["a"]}
    warned = split.absent_class_warnings(corpus)
    assert len(warned) == 2 and "['b', 'c'] have no utterance in the val part" in warned[0]
    assert "recall is scored 0" in warned[1]
    # test == val: the test part is not reported twice
    assert Split("paper", split.train, split.val, split.val).absent_classes(corpus) == {"val": ["b", "c"]}
    starved = Split("paper", ("s00/u0",), ("s00/u1", "s00/u2"), ("s00/u1", "s00/u2"))
    assert "the model never learns them" in starved.absent_class_warnings(corpus)[0]


def test_split_check_unseen_refuses_scoring_trained_utterances() -> None:
    split = Split("paper", ("u1", "u2"), ("u3",), ("u4", "u5"))
    split.check_unseen({"u1", "u2", "other"})
    with pytest.raises(SplitError, match=r"trained on 2 of the 3 utterances .*\['u3', 'u5'\].*checkpoint's: \{'seed': 0\}"):
        split.check_unseen({"u3", "u5"}, made_with={"seed": 0})
