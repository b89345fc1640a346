"""Classification metrics for speech emotion recognition, at segment and utterance level.

The metric set follows STRL-SER (Chen et al., 2024, Eq. 24-29):

* ``wa``: weighted accuracy, i.e. plain accuracy over samples
  (``MulticlassAccuracy(average="micro")``).
* ``ua``: unweighted accuracy, i.e. the mean of the per-class recalls.
* ``macro_precision`` / ``weighted_precision``: per-class precision averaged uniformly / by support.
* ``macro_f1`` / ``weighted_f1``: the usual definitions, per-class F1 averaged uniformly / by support.
* ``paper_macro_f1`` / ``paper_weighted_f1``: the paper's definitions, the harmonic mean of
  (macro precision, UA) and of (weighted precision, WA).

Classes absent from the targets follow scikit-learn with ``labels=range(num_classes)`` and
``zero_division=0``: every class counts in a macro average, and a per-class score whose denominator
is zero is 0. torchmetrics' ``average="macro"`` differs in one case: it drops a class that is absent
from both the targets and the predictions (tp + fp + fn == 0) from the mean. So
:func:`classification_metrics` asks torchmetrics for per-class scores (``average="none"``) and takes
the plain mean over all classes itself; the reported numbers then equal scikit-learn's to float
precision. The per-step :func:`segment_metric_collection` keeps torchmetrics' own macro average
(it only differs when a class never occurs in a stage's segments nor in its predictions).

An utterance is scored from its segments (:class:`UtteranceMetrics`): the utterance probability is
the mean of its segments' softmax outputs (Eq. 23), or, as the alternative the paper names, the
majority vote of the segments' predicted classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score, MulticlassRecall
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)
from torchmetrics.utilities import dim_zero_cat

__all__ = [
    "Aggregation",
    "UtteranceMetrics",
    "aggregate_segments",
    "classification_metrics",
    "segment_metric_collection",
]

from sermodels.aggregation import _AGGREGATIONS, Aggregation, aggregate_segments  # noqa: E402  (one definition)


def _check_num_classes(num_classes: int) -> None:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"Expected `num_classes` to be an int >= 2, got {num_classes!r}")


def _resolve_class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(name) for name in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"Expected `class_names` to hold one name per class ({num_classes}), got {len(names)}: {names}"
        )
    if len(set(names)) != len(names):
        raise ValueError(f"Expected `class_names` to be unique, got {names}")
    return names


def _check_labels(name: str, labels: Tensor, num_classes: int) -> None:
    """Check a 1-D integer tensor of class indices in ``[0, num_classes)``."""
    if labels.ndim != 1:
        raise ValueError(f"Expected `{name}` to have shape (N,), got {tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"Expected `{name}` to hold integer class indices, got dtype {labels.dtype}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"Expected `{name}` to lie in [0, {num_classes - 1}] (num_classes={num_classes}), "
            f"got values in [{int(labels.min())}, {int(labels.max())}]"
        )


def _check_index(name: str, index: Tensor, n: int) -> None:
    """Check a 1-D non-negative integer index tensor of length ``n``."""
    if index.ndim != 1 or index.shape[0] != n:
        raise ValueError(f"Expected `{name}` to have shape ({n},), got {tuple(index.shape)}")
    if index.is_floating_point() or index.is_complex() or index.dtype == torch.bool:
        raise ValueError(f"Expected `{name}` to be an integer tensor, got dtype {index.dtype}")
    if index.numel() and index.min() < 0:
        raise ValueError(f"Expected `{name}` to be non-negative, got minimum {int(index.min())}")


def _harmonic_mean(a: Tensor, b: Tensor) -> Tensor:
    """2ab / (a + b), and 0 where a + b == 0 (scikit-learn's zero_division=0 convention)."""
    total = a + b
    return torch.where(total > 0, 2 * a * b / total.clamp_min(torch.finfo(total.dtype).tiny), 0.0)


def classification_metrics(
    preds: Tensor,
    target: Tensor,
    num_classes: int,
    class_names: Sequence[str] | None = None,
) -> dict[str, Tensor]:
    """Score hard class predictions against targets with the STRL-SER metric set.

    Every value equals scikit-learn's with ``labels=range(num_classes)`` and ``zero_division=0``
    (see the module docstring for the one case where this differs from torchmetrics' "macro").

    Args:
        preds: predicted class indices, long, shape (N,).
        target: true class indices, long, shape (N,).
        num_classes: number of classes C.
        class_names: C names used in the ``recall/<name>`` keys; default ``"0"`` .. ``"C-1"``.

    Returns:
        A dict of tensors on the device of ``preds``. Scalars (float, 0-d): ``wa``, ``ua``,
        ``macro_precision``, ``weighted_precision``, ``macro_f1``, ``weighted_f1``,
        ``paper_macro_f1``, ``paper_weighted_f1``, and ``recall/<name>`` for each class; plus
        ``confusion_matrix``, long, shape (C, C), rows = true class, columns = predicted class.

    Raises:
        ValueError: if shapes, dtypes or values are invalid, or ``class_names`` has the wrong length.
    """
    _check_num_classes(num_classes)
    names = _resolve_class_names(class_names, num_classes)
    _check_labels("preds", preds, num_classes)
    _check_labels("target", target, num_classes)
    if preds.shape != target.shape:
        raise ValueError(
            f"Expected `preds` and `target` to have the same shape, got {tuple(preds.shape)} and {tuple(target.shape)}"
        )
    if target.numel() == 0:
        raise ValueError("Expected at least one sample, got empty `preds` and `target`")
    preds, target = preds.long(), target.long()
    kw: dict[str, Any] = {"num_classes": num_classes, "validate_args": False}

    wa = multiclass_accuracy(preds, target, average="micro", **kw)
    # Per-class scores, averaged below over *all* classes (scikit-learn's convention).
    recall = multiclass_recall(preds, target, average="none", zero_division=0, **kw)
    precision = multiclass_precision(preds, target, average="none", zero_division=0, **kw)
    f1 = multiclass_f1_score(preds, target, average="none", zero_division=0, **kw)
    # torchmetrics' "weighted" weights by support (tp + fn), exactly as scikit-learn does.
    weighted_precision = multiclass_precision(preds, target, average="weighted", zero_division=0, **kw)
    weighted_f1 = multiclass_f1_score(preds, target, average="weighted", zero_division=0, **kw)

    ua = recall.mean()
    macro_precision = precision.mean()
    out: dict[str, Tensor] = {
        "wa": wa,
        "ua": ua,
        "macro_precision": macro_precision,
        "weighted_precision": weighted_precision,
        "macro_f1": f1.mean(),
        "weighted_f1": weighted_f1,
        "paper_macro_f1": _harmonic_mean(macro_precision, ua),
        "paper_weighted_f1": _harmonic_mean(weighted_precision, wa),
    }
    for name, value in zip(names, recall, strict=True):
        out[f"recall/{name}"] = value
    out["confusion_matrix"] = multiclass_confusion_matrix(preds, target, normalize=None, **kw).long()
    return out


def segment_metric_collection(num_classes: int, prefix: str = "") -> MetricCollection:
    """Segment-level metrics for per-step logging: ``wa``, ``ua`` and ``macro_f1``.

    Feed it segment logits or probabilities (N, C) and targets (N,); torchmetrics takes the argmax.
    Its macro averages are torchmetrics' own (a class absent from both targets and predictions is
    left out of the mean); the utterance-level numbers come from :class:`UtteranceMetrics`.

    Args:
        num_classes: number of classes C.
        prefix: prepended to every key, e.g. ``"val/seg_"`` gives ``"val/seg_wa"``.

    Returns:
        A ``MetricCollection`` with keys ``f"{prefix}wa"``, ``f"{prefix}ua"``, ``f"{prefix}macro_f1"``.
    """
    _check_num_classes(num_classes)
    return MetricCollection(
        {
            "wa": MulticlassAccuracy(num_classes=num_classes, average="micro"),
            "ua": MulticlassRecall(num_classes=num_classes, average="macro"),
            "macro_f1": MulticlassF1Score(num_classes=num_classes, average="macro"),
        },
        prefix=prefix,
    )


class UtteranceMetrics(Metric):
    """Utterance-level metrics from segment-level softmax outputs.

    Each update stores the segments' probabilities, targets and utterance indices. ``compute``
    groups segments by ``utt_index`` (vectorised, on the metric's device), forms one prediction per
    utterance and returns :func:`classification_metrics` on the utterances plus ``num_utterances``.

    States are concatenated across processes (``dist_reduce_fx="cat"``) before grouping, so under
    DDP an utterance whose segments were scored on different processes is aggregated over all of
    them, and every process returns the same result. ``utt_index`` must therefore identify an
    utterance globally (e.g. its index in ``corpus.utterances``). Every process must have called
    ``update`` at least once before ``compute`` (a ``DistributedSampler`` guarantees this).

    ``DistributedSampler`` pads the last batch by repeating samples, so a segment can be scored
    twice. Values alone cannot tell such a copy from a genuinely identical segment, so pass
    ``segment_index`` (a global, unique id per segment) to ``update``: rows sharing a
    ``segment_index`` are merged into one segment (their probabilities averaged) before the
    utterance aggregation. Without ``segment_index`` every row counts. Either pass it in every
    update or in none.

    Args:
        num_classes: number of classes C.
        aggregation: ``"mean"``: utterance probability = mean of its segments' softmax (Eq. 23),
            prediction = its argmax. ``"vote"``: prediction = the class predicted by most segments,
            ties broken by the highest mean probability (then by the lowest class index).
        class_names: C names for the ``recall/<name>`` keys; default ``"0"`` .. ``"C-1"``.
        validate_args: check shapes, dtypes and value ranges in ``update`` (costs a device sync).
        **kwargs: passed to ``torchmetrics.Metric`` (e.g. ``sync_on_compute``, ``process_group``).

    Example:
        >>> metric = UtteranceMetrics(num_classes=2)
        >>> probs = torch.tensor([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8]])
        >>> metric.update(probs, torch.tensor([0, 0, 1]), utt_index=torch.tensor([7, 7, 3]))
        >>> float(metric.compute()["wa"])
        1.0
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    probs: list[Tensor]
    target: list[Tensor]
    utt_index: list[Tensor]
    segment_index: list[Tensor]

    def __init__(
        self,
        num_classes: int,
        aggregation: Aggregation = "mean",
        class_names: Sequence[str] | None = None,
        validate_args: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_num_classes(num_classes)
        if aggregation not in _AGGREGATIONS:
            raise ValueError(f"Expected `aggregation` to be one of {_AGGREGATIONS}, got {aggregation!r}")
        self.num_classes = num_classes
        self.aggregation: Aggregation = aggregation
        self.class_names = _resolve_class_names(class_names, num_classes)
        self.validate_args = validate_args
        self.add_state("probs", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("utt_index", default=[], dist_reduce_fx="cat")
        # -1 marks rows updated without a segment_index.
        self.add_state("segment_index", default=[], dist_reduce_fx="cat")

    def update(
        self,
        probs: Tensor,
        target: Tensor,
        utt_index: Tensor,
        segment_index: Tensor | None = None,
    ) -> None:
        """Store one batch of segments.

        Args:
            probs: segment softmax outputs, float, shape (N, C), values in [0, 1]. Not logits.
            target: segment targets (the utterance label), long, shape (N,).
            utt_index: global utterance index of each segment, long, shape (N,).
            segment_index: optional global segment index, long, shape (N,); rows sharing one are
                merged (de-duplicates ``DistributedSampler`` padding).

        Raises:
            ValueError: on wrong shapes, dtypes or value ranges (when ``validate_args``).
        """
        if self.validate_args:
            if probs.ndim != 2 or probs.shape[1] != self.num_classes:
                raise ValueError(f"Expected `probs` to have shape (N, {self.num_classes}), got {tuple(probs.shape)}")
            if not probs.is_floating_point():
                raise ValueError(f"Expected `probs` to be a float tensor, got dtype {probs.dtype}")
            if not bool(torch.isfinite(probs).all()):
                raise ValueError(
                    f"Expected finite `probs`, got {int((~torch.isfinite(probs)).sum())} NaN/inf values: the model's "
                    "outputs are not finite (non-finite weights or input features); check the checkpoint and the features"
                )
            if probs.numel() and (probs.min() < 0 or probs.max() > 1):
                raise ValueError(
                    "Expected `probs` to be softmax probabilities in [0, 1], got values in "
                    f"[{float(probs.min()):.4g}, {float(probs.max()):.4g}]; apply `logits.softmax(-1)` first"
                )
            n = probs.shape[0]
            _check_labels("target", target, self.num_classes)
            if target.shape[0] != n:
                raise ValueError(f"Expected `target` to have shape ({n},), got {tuple(target.shape)}")
            _check_index("utt_index", utt_index, n)
            if segment_index is not None:
                _check_index("segment_index", segment_index, n)
        if probs.dtype in (torch.float16, torch.bfloat16):
            probs = probs.float()  # averaging in half precision loses too much
        self.probs.append(probs.detach())
        self.target.append(target.detach().long())
        self.utt_index.append(utt_index.detach().long())
        if segment_index is None:
            segment_index = torch.full_like(self.utt_index[-1], -1)
        self.segment_index.append(segment_index.detach().long())

    def compute(self) -> dict[str, Tensor]:
        """Aggregate segments into utterances and score them.

        Returns:
            :func:`classification_metrics` on the utterance predictions (keys ``wa``, ``ua``,
            ``macro_precision``, ``weighted_precision``, ``macro_f1``, ``weighted_f1``,
            ``paper_macro_f1``, ``paper_weighted_f1``, ``recall/<name>``, ``confusion_matrix``)
            plus ``num_utterances`` (long, 0-d).

        Raises:
            ValueError: if nothing was stored, if the segments of one utterance have different
                targets, or if ``segment_index`` was given for some rows and not others.
        """
        utt, _, preds, target = self._aggregate()
        out = classification_metrics(preds, target, self.num_classes, self.class_names)
        out["num_utterances"] = torch.tensor(utt.numel(), dtype=torch.long, device=utt.device)
        return out

    def utterance_predictions(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-utterance results, synchronised across processes like ``compute``.

        Returns:
            ``(utt_index, probs, preds, target)`` sorted by ``utt_index``: utt_index long (U,);
            probs float (U, C), the mean of the utterance's segment softmax outputs (for "vote"
            too, so ``preds`` may then differ from ``probs.argmax(-1)``); preds long (U,); target
            long (U,).

        Raises:
            ValueError: as :meth:`compute`.
        """
        with self.sync_context(should_sync=self._to_sync, should_unsync=self._should_unsync):
            return self._aggregate()

    def _aggregate(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        if all(p.numel() == 0 for p in _as_list(self.probs)):
            raise ValueError(f"{type(self).__name__} has no segments: call `update` before `compute`")
        # After a DDP sync each state is one concatenated tensor rather than a list.
        probs = dim_zero_cat(self.probs).reshape(-1, self.num_classes)
        target = dim_zero_cat(self.target).long()
        utt = dim_zero_cat(self.utt_index).long()
        seg = dim_zero_cat(self.segment_index).long()

        return aggregate_segments(probs, utt, self.aggregation, segment_index=seg, target=target)


def _as_list(state: list[Tensor] | Tensor) -> list[Tensor]:
    return [state] if isinstance(state, Tensor) else state
