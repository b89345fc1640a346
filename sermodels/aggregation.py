"""Segment -> utterance aggregation: the one definition used by the test metrics, ``predictions.csv``
and the exported bundle. Imports torch only (no torchmetrics, no Lightning), so the bundle loader
stays light."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["Aggregation", "aggregate_segments"]

Aggregation = Literal["mean", "vote"]
_AGGREGATIONS: tuple[str, ...] = ("mean", "vote")


def aggregate_segments(
    probs: Tensor,
    utt_index: Tensor,
    aggregation: Aggregation = "mean",
    segment_index: Tensor | None = None,
    target: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Segment softmax outputs -> one prediction per utterance: the single definition used by the
    test metrics (:class:`UtteranceMetrics`) and by ``predictions.csv`` (``ser predict``).

    Rows sharing a ``segment_index`` (copies a distributed sampler scored twice) are first merged
    into one segment (mean probability). Then per utterance: ``probs`` = mean of its segments'
    softmax (Eq. 23 of STRL-SER); prediction = its argmax (``mean``) or the class most segments
    predict, ties broken by the highest mean probability, then the lowest class index (``vote``).

    Args:
        probs: ``(N, C)`` segment softmax outputs.
        utt_index: ``(N,)`` utterance of each segment.
        aggregation: ``mean`` or ``vote``.
        segment_index: optional ``(N,)`` global segment ids (negative = not given, for every row).
        target: optional ``(N,)`` segment targets; all segments of an utterance must share one.

    Returns:
        ``(utt_index, probs, preds, target)`` sorted by utterance: ``(U,)``, ``(U, C)``, ``(U,)`` and
        ``(U,)`` (``target`` is ``-1`` everywhere when not given).

    Raises:
        ValueError: Unknown ``aggregation``; ``segment_index`` given for some rows only; copies of
            a segment that disagree; an utterance whose segments have different targets.
    """
    if aggregation not in _AGGREGATIONS:
        raise ValueError(f"Expected `aggregation` to be one of {_AGGREGATIONS}, got {aggregation!r}")
    num_classes = probs.shape[1]
    utt = utt_index.long()
    target = torch.full_like(utt, -1) if target is None else target.long()
    if segment_index is not None:
        seg = segment_index.long()
        has_seg = seg >= 0
        if bool(has_seg.any()):
            if not bool(has_seg.all()):
                raise ValueError(
                    "Expected `segment_index` in every update or in none, got it for "
                    f"{int(has_seg.sum())} of {seg.numel()} segments"
                )
            probs, target, utt = _merge_duplicates(seg, probs, target, utt)

    utts, inverse = torch.unique(utt, sorted=True, return_inverse=True)
    num_utts = utts.numel()
    target_min = _group_reduce(target, inverse, num_utts, "amin")
    target_max = _group_reduce(target, inverse, num_utts, "amax")
    mixed = target_min != target_max
    if bool(mixed.any()):
        bad = utts[mixed].tolist()
        raise ValueError(
            f"Expected all segments of an utterance to share one target, but utt_index {bad[:10]}"
            f"{' ...' if len(bad) > 10 else ''} ({len(bad)} utterance(s)) have segments with different targets"
        )

    counts = torch.zeros(num_utts, dtype=probs.dtype, device=probs.device)
    counts.index_add_(0, inverse, torch.ones_like(utt, dtype=probs.dtype))
    mean_probs = torch.zeros(num_utts, num_classes, dtype=probs.dtype, device=probs.device)
    mean_probs.index_add_(0, inverse, probs)
    mean_probs /= counts.unsqueeze(1)

    if aggregation == "mean":
        preds = mean_probs.argmax(dim=1)
    else:
        votes = torch.zeros_like(mean_probs)
        votes.index_add_(0, inverse, torch.nn.functional.one_hot(probs.argmax(dim=1), num_classes).to(probs.dtype))
        is_top = votes == votes.amax(dim=1, keepdim=True)
        preds = mean_probs.masked_fill(~is_top, float("-inf")).argmax(dim=1)
    return utts, mean_probs, preds, target_min


def _merge_duplicates(seg: Tensor, probs: Tensor, target: Tensor, utt: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Merge rows sharing a segment_index: mean probability, checked target and utterance."""
    segs, inverse = torch.unique(seg, sorted=True, return_inverse=True)
    num_segs = segs.numel()
    for name, values in (("utt_index", utt), ("target", target)):
        lowest = _group_reduce(values, inverse, num_segs, "amin")
        if bool((lowest != _group_reduce(values, inverse, num_segs, "amax")).any()):
            raise ValueError(
                f"Expected rows sharing a `segment_index` to be copies of one segment, but they "
                f"differ in `{name}`; `segment_index` must be unique per segment across processes"
            )
    counts = torch.zeros(num_segs, dtype=probs.dtype, device=probs.device)
    counts.index_add_(0, inverse, torch.ones_like(seg, dtype=probs.dtype))
    merged = torch.zeros(num_segs, probs.shape[1], dtype=probs.dtype, device=probs.device)
    merged.index_add_(0, inverse, probs)
    merged /= counts.unsqueeze(1)
    return (
        merged,
        _group_reduce(target, inverse, num_segs, "amin"),
        _group_reduce(utt, inverse, num_segs, "amin"),
    )




def _group_reduce(values: Tensor, inverse: Tensor, num_groups: int, reduce: Literal["amin", "amax"]) -> Tensor:
    """Per-group min or max of a 1-D integer tensor (deterministic on every device)."""
    out = torch.zeros(num_groups, dtype=values.dtype, device=values.device)
    return out.scatter_reduce(0, inverse, values, reduce=reduce, include_self=False)
