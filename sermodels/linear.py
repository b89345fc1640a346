"""The linear classifier net of the baseline (a plain ``nn.Module``; trained by
:class:`sermodels.baseline.LinearBaselineModule`, not by gradient steps)."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

__all__ = ["LinearClassifier", "class_pairs", "Decision"]

Decision = Literal["ovo", "ovr"]


def class_pairs(num_classes: int) -> list[tuple[int, int]]:
    """The one-vs-one pairs ``(i, j)``, ``i < j``, in scikit-learn's (libsvm's) order."""
    return [(i, j) for i in range(num_classes) for j in range(i + 1, num_classes)]


class LinearClassifier(nn.Module):
    """A linear classifier on one functional vector per segment (or utterance).

    ``decision="ovr"``: ``logits = W x + b`` (one row per class; ``LinearSVC``, logistic regression).
    ``decision="ovo"``: one linear score per class pair, ``s = W x + b`` (``(K (K-1) / 2)`` rows, as
    scikit-learn's ``SVC(kernel="linear")``), combined as libsvm predicts: each pair's winner gets a
    vote; the class with most votes wins, ties going to the lowest class index (so the argmax is
    exactly scikit-learn's ``predict``). The scores are vote counts, not calibrated probabilities. A plain net, trained by
    :class:`LinearBaselineModule` (not by gradient steps).

    Args:
        num_classes: Number of classes.
        hsf_dim: Functionals per vector (1582 for IS10).
        decision: ``ovo`` (one-vs-one, the reference SVM) or ``ovr``.
    """

    inputs: tuple[str, ...] = ("hsf",)
    pair_index: Tensor
    fitted: Tensor

    def __init__(self, num_classes: int, hsf_dim: int = 1582, decision: Decision = "ovo") -> None:
        super().__init__()
        for name, value in (("num_classes", num_classes), ("hsf_dim", hsf_dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"Expected {name} to be a positive integer, got {value!r}")
        if decision not in ("ovo", "ovr"):
            raise ValueError(f"Expected decision 'ovo' or 'ovr', got {decision!r}")
        self.num_classes = num_classes
        self.hsf_dim = hsf_dim
        self.decision = decision
        pairs = class_pairs(num_classes)
        self.linear = nn.Linear(hsf_dim, len(pairs) if decision == "ovo" else num_classes)
        self.register_buffer("pair_index", torch.tensor(pairs, dtype=torch.long).reshape(-1, 2), persistent=False)
        # Saved in checkpoints: testing an unfitted classifier is refused, a resumed fit is not redone.
        self.register_buffer("fitted", torch.tensor(False))

    def forward(self, hsf: Tensor) -> Tensor:
        """Args: hsf ``(batch, hsf_dim)``. Returns: scores ``(batch, num_classes)`` (argmax = class)."""
        if hsf.dim() != 2 or hsf.shape[1] != self.hsf_dim:
            raise ValueError(f"Expected hsf of shape (batch, {self.hsf_dim}), got {tuple(hsf.shape)}")
        scores = self.linear(hsf)
        if self.decision == "ovr":
            return scores
        first, second = self.pair_index[:, 0], self.pair_index[:, 1]
        votes = hsf.new_zeros(hsf.shape[0], self.num_classes)
        votes.index_add_(1, first, (scores > 0).to(hsf.dtype))
        votes.index_add_(1, second, (scores <= 0).to(hsf.dtype))
        # libsvm's (and scikit-learn's ``predict``) rule: most votes, ties to the lowest class index.
        tie_break = torch.arange(self.num_classes, device=hsf.device, dtype=hsf.dtype) * 1e-3
        return votes - tie_break
