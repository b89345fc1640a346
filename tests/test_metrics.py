"""Metrics against scikit-learn, utterance aggregation against hand-computed examples."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

from sermodels.metrics import (
    UtteranceMetrics,
    classification_metrics,
    segment_metric_collection,
)
from sermodels.plots import plot_confusion_matrix

SCALAR_KEYS = (
    "wa",
    "ua",
    "macro_precision",
    "weighted_precision",
    "macro_f1",
    "weighted_f1",
    "paper_macro_f1",
    "paper_weighted_f1",
)


def _random_labels(seed: int, num_classes: int, scenario: str, n: int = 200) -> tuple[torch.Tensor, torch.Tensor]:
    """Random (preds, target); scenario removes a class from the targets and/or the predictions."""
    gen = torch.Generator().manual_seed(seed)
    target = torch.randint(0, num_classes, (n,), generator=gen)
    # Mostly right, so the scores are not all near chance.
    preds = torch.where(torch.rand(n, generator=gen) < 0.6, target, torch.randint(0, num_classes, (n,), generator=gen))
    missing = num_classes - 1
    if scenario in ("absent_from_target", "absent_from_both"):
        target = torch.where(target == missing, 0, target)
    if scenario in ("never_predicted", "absent_from_both"):
        preds = torch.where(preds == missing, 1, preds)
    if scenario == "absent_from_target":
        preds[:5] = missing  # predicted, yet never true: precision 0, recall 0/0
    return preds, target


def _sklearn_reference(preds: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict[str, float]:
    y_true, y_pred = target.numpy(), preds.numpy()
    kw = {"labels": list(range(num_classes)), "zero_division": 0}
    ref = {
        "wa": accuracy_score(y_true, y_pred),
        "ua": recall_score(y_true, y_pred, average="macro", **kw),
        "macro_precision": precision_score(y_true, y_pred, average="macro", **kw),
        "weighted_precision": precision_score(y_true, y_pred, average="weighted", **kw),
        "macro_f1": f1_score(y_true, y_pred, average="macro", **kw),
        "weighted_f1": f1_score(y_true, y_pred, average="weighted", **kw),
    }
    # The paper's F1s (Eq. 28-29), by hand.
    p, r = ref["macro_precision"], ref["ua"]
    ref["paper_macro_f1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    p, r = ref["weighted_precision"], ref["wa"]
    ref["paper_weighted_f1"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return ref


SCENARIOS = ("all_present", "absent_from_target", "never_predicted", "absent_from_both")
CASES = [
    pytest.param(seed, c, scenario, id=f"C{c}-{scenario}-seed{seed}")
    for c in (2, 4, 8)
    for scenario in SCENARIOS
    for seed in (0, 1, 2)
]


@pytest.mark.parametrize(("seed", "num_classes", "scenario"), CASES)
def test_classification_metrics_match_sklearn(seed: int, num_classes: int, scenario: str) -> None:
    preds, target = _random_labels(seed, num_classes, scenario)
    out = classification_metrics(preds, target, num_classes)
    ref = _sklearn_reference(preds, target, num_classes)
    for key in SCALAR_KEYS:
        assert out[key].shape == ()
        assert float(out[key]) == pytest.approx(ref[key], abs=1e-6), key

    recalls = recall_score(
        target.numpy(), preds.numpy(), average=None, labels=list(range(num_classes)), zero_division=0
    )
    for i in range(num_classes):
        assert float(out[f"recall/{i}"]) == pytest.approx(recalls[i], abs=1e-6)

    cm = out["confusion_matrix"]
    assert cm.dtype == torch.long and cm.shape == (num_classes, num_classes)
    np.testing.assert_array_equal(
        cm.numpy(), confusion_matrix(target.numpy(), preds.numpy(), labels=list(range(num_classes)))
    )


@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_ua_equals_balanced_accuracy_when_all_classes_present(seed: int) -> None:
    preds, target = _random_labels(seed, 4, "all_present")
    out = classification_metrics(preds, target, 4)
    assert float(out["ua"]) == pytest.approx(balanced_accuracy_score(target.numpy(), preds.numpy()), abs=1e-6)


def test_class_absent_from_targets_and_predictions_counts_as_zero_in_macro() -> None:
    # torchmetrics' own "macro" would average over 2 classes here (1.0); scikit-learn over 3 (2/3).
    preds = torch.tensor([0, 1, 0, 1])
    target = torch.tensor([0, 1, 0, 1])
    out = classification_metrics(preds, target, 3)
    assert float(out["ua"]) == pytest.approx(2 / 3)
    assert float(out["macro_precision"]) == pytest.approx(2 / 3)
    assert float(out["macro_f1"]) == pytest.approx(2 / 3)
    assert float(out["wa"]) == 1.0
    assert float(out["weighted_f1"]) == 1.0
    assert float(out["recall/2"]) == 0.0


def test_paper_f1_hand_computed() -> None:
    # target 0 0 0 1 | preds 0 0 1 1: per-class P = (1, 1/2), R = (2/3, 1), support (3, 1).
    out = classification_metrics(torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 0, 1]), 2)
    macro_p, ua = (1 + 0.5) / 2, (2 / 3 + 1) / 2
    weighted_p, wa = (3 * 1 + 1 * 0.5) / 4, 3 / 4
    assert float(out["paper_macro_f1"]) == pytest.approx(2 * macro_p * ua / (macro_p + ua))
    assert float(out["paper_weighted_f1"]) == pytest.approx(2 * weighted_p * wa / (weighted_p + wa))
    # The usual macro F1 averages per-class F1 = (0.8, 2/3) and differs from the paper's.
    assert float(out["macro_f1"]) == pytest.approx((0.8 + 2 / 3) / 2)


def test_class_names_keys() -> None:
    out = classification_metrics(torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]), 3, ("angry", "happy", "sad"))
    assert float(out["recall/happy"]) == 0.5
    assert {k for k in out if k.startswith("recall/")} == {"recall/angry", "recall/happy", "recall/sad"}


@pytest.mark.parametrize(
    ("preds", "target", "class_names", "match"),
    [
        pytest.param(torch.tensor([0, 3]), torch.tensor([0, 1]), None, "preds", id="pred-out-of-range"),
        pytest.param(torch.tensor([0, 1]), torch.tensor([0, -1]), None, "target", id="negative-target"),
        pytest.param(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), None, "integer", id="float-preds"),
        pytest.param(torch.tensor([0, 1, 1]), torch.tensor([0, 1]), None, "same shape", id="shape-mismatch"),
        pytest.param(torch.tensor([0, 1]), torch.tensor([0, 1]), ("a", "b"), "class_names", id="names-length"),
        pytest.param(
            torch.tensor([], dtype=torch.long), torch.tensor([], dtype=torch.long), None, "at least one", id="empty"
        ),
    ],
)
def test_classification_metrics_rejects_bad_input(preds, target, class_names, match) -> None:
    with pytest.raises(ValueError, match=match):
        classification_metrics(preds, target, 3, class_names)


@pytest.mark.parametrize("seed", [0, 1], ids=lambda s: f"seed{s}")
def test_segment_metric_collection_matches_sklearn(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    collection = segment_metric_collection(4, prefix="val/seg_")
    logits_all, target_all = [], []
    for _ in range(3):  # accumulate over steps
        logits = torch.randn(50, 4, generator=gen)
        target = torch.randint(0, 4, (50,), generator=gen)
        collection.update(logits, target)
        logits_all.append(logits)
        target_all.append(target)
    out = collection.compute()
    assert set(out) == {"val/seg_wa", "val/seg_ua", "val/seg_macro_f1"}
    y_pred, y_true = torch.cat(logits_all).argmax(1).numpy(), torch.cat(target_all).numpy()
    kw = {"labels": [0, 1, 2, 3], "zero_division": 0}
    assert float(out["val/seg_wa"]) == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-6)
    assert float(out["val/seg_ua"]) == pytest.approx(recall_score(y_true, y_pred, average="macro", **kw), abs=1e-6)
    assert float(out["val/seg_macro_f1"]) == pytest.approx(f1_score(y_true, y_pred, average="macro", **kw), abs=1e-6)


# --- utterance aggregation ---------------------------------------------------------------------


def _reference_utterances(probs, target, utt, aggregation):
    """Python-loop reference: {utt: (mean probs, pred, target)}."""
    result = {}
    for u in sorted(set(utt.tolist())):
        rows = utt == u
        mean = probs[rows].mean(0)
        if aggregation == "mean":
            pred = int(mean.argmax())
        else:
            votes = torch.bincount(probs[rows].argmax(1), minlength=probs.shape[1])
            top = [c for c in range(probs.shape[1]) if votes[c] == votes.max()]
            pred = max(top, key=lambda c: (float(mean[c]), -c))
        result[u] = (mean, pred, int(target[rows][0]))
    return result


def _random_segments(seed: int, num_utts: int = 40, num_classes: int = 4, max_segments: int = 7):
    """Utterances with 1..max_segments segments each; probs concentrated enough to make votes tie."""
    gen = torch.Generator().manual_seed(seed)
    counts = torch.randint(1, max_segments + 1, (num_utts,), generator=gen)
    utt_ids = torch.randperm(1000, generator=gen)[:num_utts]  # sparse, unsorted global ids
    labels = torch.randint(0, num_classes, (num_utts,), generator=gen)
    utt = torch.repeat_interleave(utt_ids, counts)
    target = torch.repeat_interleave(labels, counts)
    probs = (2 * torch.randn(utt.numel(), num_classes, generator=gen)).softmax(-1)
    segment_index = torch.arange(utt.numel()) + 5000
    return probs, target, utt, segment_index


def test_mean_aggregation_hand_computed() -> None:
    probs = torch.tensor(
        [
            [0.9, 0.1, 0.0],  # utt 7
            [0.4, 0.6, 0.0],  # utt 7
            [0.4, 0.6, 0.0],  # utt 7
            [0.2, 0.3, 0.5],  # utt 3 (single segment)
        ]
    )
    target = torch.tensor([0, 0, 0, 1])
    utt = torch.tensor([7, 7, 7, 3])
    metric = UtteranceMetrics(num_classes=3, aggregation="mean")
    metric.update(probs, target, utt)
    utt_ids, mean, preds, tgt = metric.utterance_predictions()
    assert utt_ids.tolist() == [3, 7]
    torch.testing.assert_close(mean, torch.tensor([[0.2, 0.3, 0.5], [1.7 / 3, 1.3 / 3, 0.0]]))
    assert preds.tolist() == [2, 0]
    assert tgt.tolist() == [1, 0]
    out = metric.compute()
    assert int(out["num_utterances"]) == 2
    assert float(out["wa"]) == 0.5
    # Vote: utt 7 goes to class 1 (two of three segments), though its mean favours class 0.
    vote = UtteranceMetrics(num_classes=3, aggregation="vote")
    vote.update(probs, target, utt)
    assert vote.utterance_predictions()[2].tolist() == [2, 1]


def test_vote_tie_broken_by_mean_probability_among_tied_classes() -> None:
    probs = torch.tensor(
        [
            # utt 0: one vote each for 0 and 1; mean (0.55, 0.45, 0) -> 0
            [0.8, 0.2, 0.0],
            [0.3, 0.7, 0.0],
            # utt 1: one vote each; mean (0.325, 0.675, 0) -> 1
            [0.55, 0.45, 0.0],
            [0.1, 0.9, 0.0],
            # utt 2: two votes each for 0 and 2, none for 1; class 1 has the highest mean (0.4375)
            # but is not among the tied winners; mean of 0 (0.2875) beats 2 (0.275) -> 0
            [0.5, 0.45, 0.05],
            [0.05, 0.45, 0.5],
            [0.6, 0.4, 0.0],
            [0.0, 0.45, 0.55],
        ]
    )
    utt = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    target = torch.tensor([0, 0, 1, 1, 2, 2, 2, 2])
    metric = UtteranceMetrics(num_classes=3, aggregation="vote")
    metric.update(probs, target, utt)
    assert metric.utterance_predictions()[2].tolist() == [0, 1, 0]
    mean_metric = UtteranceMetrics(num_classes=3, aggregation="mean")
    mean_metric.update(probs, target, utt)
    assert mean_metric.utterance_predictions()[2].tolist() == [0, 1, 1]


@pytest.mark.parametrize("aggregation", ["mean", "vote"])
@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_unequal_segment_counts_match_reference(aggregation: str, seed: int) -> None:
    probs, target, utt, _ = _random_segments(seed)
    metric = UtteranceMetrics(num_classes=4, aggregation=aggregation)
    for chunk in torch.arange(utt.numel()).split(17):  # batches cut across utterances
        metric.update(probs[chunk], target[chunk], utt[chunk])
    utt_ids, mean, preds, tgt = metric.utterance_predictions()
    ref = _reference_utterances(probs, target, utt, aggregation)
    assert utt_ids.tolist() == sorted(ref)
    torch.testing.assert_close(mean, torch.stack([ref[u][0] for u in sorted(ref)]))
    assert preds.tolist() == [ref[u][1] for u in sorted(ref)]
    assert tgt.tolist() == [ref[u][2] for u in sorted(ref)]

    out = metric.compute()
    expected = classification_metrics(preds, tgt, 4)
    assert int(out["num_utterances"]) == len(ref)
    for key, value in expected.items():
        assert torch.equal(out[key], value), key


@pytest.mark.parametrize("aggregation", ["mean", "vote"])
@pytest.mark.parametrize("with_segment_index", [False, True], ids=["no-segment-index", "segment-index"])
def test_shuffled_order_gives_identical_results(aggregation: str, with_segment_index: bool) -> None:
    probs, target, utt, seg = _random_segments(3)
    perm = torch.randperm(utt.numel(), generator=torch.Generator().manual_seed(0))
    results = []
    for order in (torch.arange(utt.numel()), perm):
        metric = UtteranceMetrics(num_classes=4, aggregation=aggregation)
        for chunk in order.split(23):
            metric.update(probs[chunk], target[chunk], utt[chunk], seg[chunk] if with_segment_index else None)
        results.append((metric.compute(), metric.utterance_predictions()))
    (out_a, pred_a), (out_b, pred_b) = results
    assert out_a.keys() == out_b.keys()
    for key in out_a:
        assert torch.equal(out_a[key], out_b[key]), key
    for a, b in zip(pred_a, pred_b, strict=True):
        torch.testing.assert_close(a, b)


def test_segment_index_drops_padding_duplicates() -> None:
    probs = torch.tensor([[0.6, 0.4], [0.45, 0.55], [0.2, 0.8]])
    target = torch.tensor([0, 0, 1])
    utt = torch.tensor([0, 0, 1])
    seg = torch.tensor([10, 11, 12])
    clean = UtteranceMetrics(num_classes=2)
    clean.update(probs, target, utt, seg)
    assert clean.utterance_predictions()[2].tolist() == [0, 1]

    # As DistributedSampler pads: segment 11 scored again on another process (twice here).
    dup = torch.tensor([1, 1])
    padded = UtteranceMetrics(num_classes=2)
    padded.update(probs, target, utt, seg)
    padded.update(probs[dup], target[dup], utt[dup], seg[dup])
    for a, b in zip(padded.utterance_predictions(), clean.utterance_predictions(), strict=True):
        torch.testing.assert_close(a, b)
    assert float(padded.compute()["wa"]) == 1.0

    # Without segment_index the copies count, and here they flip utterance 0 to class 1.
    naive = UtteranceMetrics(num_classes=2)
    naive.update(probs, target, utt)
    naive.update(probs[dup], target[dup], utt[dup])
    assert naive.utterance_predictions()[2].tolist() == [1, 1]
    assert float(naive.compute()["wa"]) == 0.5


def test_segment_index_given_in_some_updates_only_raises() -> None:
    metric = UtteranceMetrics(num_classes=2)
    metric.update(torch.tensor([[0.6, 0.4]]), torch.tensor([0]), torch.tensor([0]), torch.tensor([0]))
    metric.update(torch.tensor([[0.6, 0.4]]), torch.tensor([0]), torch.tensor([1]))
    with pytest.raises(ValueError, match="segment_index"):
        metric.compute()


def test_segment_index_shared_by_different_utterances_raises() -> None:
    metric = UtteranceMetrics(num_classes=2)
    metric.update(
        torch.tensor([[0.6, 0.4], [0.3, 0.7]]), torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([5, 5])
    )
    with pytest.raises(ValueError, match="unique per segment"):
        metric.compute()


def test_mixed_targets_in_one_utterance_raise_naming_it() -> None:
    metric = UtteranceMetrics(num_classes=3)
    probs = torch.full((4, 3), 1 / 3)
    metric.update(probs, torch.tensor([0, 0, 1, 2]), torch.tensor([4, 4, 9, 9]))
    with pytest.raises(ValueError, match=r"utt_index \[9\]"):
        metric.compute()


@pytest.mark.parametrize(
    ("probs", "target", "utt", "seg", "match"),
    [
        pytest.param(
            torch.randn(3, 2) * 5, torch.tensor([0, 1, 0]), torch.tensor([0, 1, 2]), None, "softmax", id="logits"
        ),
        pytest.param(
            torch.full((3, 3), 1 / 3),
            torch.tensor([0, 1, 0]),
            torch.tensor([0, 1, 2]),
            None,
            "shape",
            id="wrong-num-classes",
        ),
        pytest.param(
            torch.full((3, 2), 0.5),
            torch.tensor([0, 2, 0]),
            torch.tensor([0, 1, 2]),
            None,
            "target",
            id="target-out-of-range",
        ),
        pytest.param(
            torch.full((3, 2), 0.5),
            torch.tensor([0, 1, 0]),
            torch.tensor([0, 1]),
            None,
            "utt_index",
            id="utt-index-length",
        ),
        pytest.param(
            torch.full((3, 2), 0.5),
            torch.tensor([0, 1, 0]),
            torch.tensor([0, 1, 2]),
            torch.tensor([0.0, 1.0, 2.0]),
            "segment_index",
            id="float-segment-index",
        ),
    ],
)
def test_update_rejects_bad_input(probs, target, utt, seg, match) -> None:
    metric = UtteranceMetrics(num_classes=2)
    with pytest.raises(ValueError, match=match):
        metric.update(probs, target, utt, seg)


def test_constructor_validation_and_empty_compute() -> None:
    with pytest.raises(ValueError, match="aggregation"):
        UtteranceMetrics(num_classes=2, aggregation="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_classes"):
        UtteranceMetrics(num_classes=1)
    with pytest.raises(ValueError, match="class_names"):
        UtteranceMetrics(num_classes=2, class_names=("a",))
    metric = UtteranceMetrics(num_classes=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchmetrics warns about compute before update
        with pytest.raises(ValueError, match="no segments"):
            metric.compute()


def test_reset_and_class_names() -> None:
    metric = UtteranceMetrics(num_classes=2, class_names=("neutral", "angry"))
    metric.update(torch.tensor([[0.9, 0.1]]), torch.tensor([1]), torch.tensor([0]))
    assert float(metric.compute()["recall/angry"]) == 0.0
    metric.reset()
    metric.update(torch.tensor([[0.1, 0.9]]), torch.tensor([1]), torch.tensor([0]))
    out = metric.compute()
    assert float(out["recall/angry"]) == 1.0
    assert int(out["num_utterances"]) == 1


def test_half_precision_probs_accepted() -> None:
    probs, target, utt, _ = _random_segments(5)
    metric = UtteranceMetrics(num_classes=4)
    metric.update(probs.to(torch.bfloat16), target, utt)
    _, mean, _, _ = metric.utterance_predictions()
    assert mean.dtype == torch.float32


# --- confusion matrix plot ---------------------------------------------------------------------


@pytest.mark.parametrize("normalize", [True, False], ids=["normalized", "counts"])
def test_plot_confusion_matrix_writes_png(tmp_path: Path, normalize: bool) -> None:
    cm = torch.tensor([[5, 1, 0], [2, 7, 1], [0, 0, 0]])  # last true class empty: 0 %, no NaN
    path = plot_confusion_matrix(cm, ["neutral", "happy", "sad"], tmp_path / "plots" / "cm.png", "test", normalize)
    assert path == tmp_path / "plots" / "cm.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(path)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100


def test_plot_confusion_matrix_rejects_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="class_names"):
        plot_confusion_matrix(torch.eye(3, dtype=torch.long), ["a", "b"], tmp_path / "cm.png", "t")
    with pytest.raises(ValueError, match=r"\(C, C\)"):
        plot_confusion_matrix(torch.ones(2, 3, dtype=torch.long), ["a", "b"], tmp_path / "cm.png", "t")
