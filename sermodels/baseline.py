"""The linear baseline: a linear classifier on utterance-level functionals, fitted by scikit-learn.

Every deep model in this framework is compared with it, under the same protocols, splits, metrics
and result files: a standardised linear SVM (or logistic regression) on the 1582 IS10 functionals
of each whole utterance (``data.hsf_scope: utterance``). It is fitted in closed form by
scikit-learn at the start of ``ser fit`` and stored as an ordinary ``nn.Linear`` (the scaler folded
into its weights), so ``ser test``, ``ser predict``, checkpoints and utterance aggregation work as
for any net. Config: ``configs/model/baseline.yaml`` (composed with ``configs/trainer.yaml`` and a corpus file).
"""

from __future__ import annotations

from typing import Any, Literal, cast

import numpy as np
import torch
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn

from sermodels.linear import LinearClassifier, class_pairs
from sermodels.module import SERModule

__all__ = ["LinearClassifier", "LinearBaselineModule", "class_pairs", "fit_linear"]

Classifier = Literal["svc", "linear_svc", "logreg"]


class LinearBaselineModule(SERModule):
    """Fits :class:`LinearClassifier` with scikit-learn on the training split, once.

    At the start of ``fit`` the training split's functionals are gathered (one row per utterance,
    and per speed-perturbed copy with ``data.speed_perturb``: with ``hsf_scope: utterance`` every
    segment of an utterance carries the same vector, so duplicates are dropped), standardised (``StandardScaler``) and fitted with ``LinearSVC``
    (one-vs-rest, squared hinge) or ``LogisticRegression`` (multinomial). The scaler and the
    classifier are folded into the net's ``nn.Linear``, which then scores validation, test and
    predict batches like any net; softmax of the decision values stands in for probabilities
    (utterance aggregation averages them; with one vector per utterance it changes nothing).
    Nothing is selected on validation or test data: ``C`` is fixed by the config. One epoch with
    no gradient steps follows the fit, so Lightning validates and checkpoints as usual.

    Args:
        net: A :class:`LinearClassifier`.
        classifier: ``svc`` (``SVC(kernel="linear")``, one-vs-one: the reference baseline; needs the
            net's ``decision: ovo``), ``linear_svc`` (``LinearSVC``, one-vs-rest) or ``logreg``
            (both need ``decision: ovr``).
        C: Inverse regularisation strength (0.01 for the reference baseline).
        class_weight: ``None`` or ``"balanced"`` (scikit-learn's meaning).
        max_iter: Solver iterations.
        **kwargs: :class:`SERModule` arguments (``num_classes``, ``class_names``, ``aggregation``).
    """

    def __init__(
        self,
        net: nn.Module,
        classifier: Classifier = "svc",
        C: float = 0.01,
        class_weight: Literal["balanced"] | None = None,
        max_iter: int = 20000,
        **kwargs: Any,
    ) -> None:
        kwargs.pop("optimizer", None)
        kwargs.pop("scheduler", None)
        super().__init__(net, optimizer=None, scheduler=None, **kwargs)  # type: ignore[arg-type]
        if classifier not in ("svc", "linear_svc", "logreg"):
            raise ValueError(f"Expected model.init_args.classifier 'svc', 'linear_svc' or 'logreg', got {classifier!r}")
        if not C > 0:
            raise ValueError(f"Expected model.init_args.C > 0, got {C!r}")
        if not isinstance(net, LinearClassifier):
            raise TypeError(f"LinearBaselineModule fits a LinearClassifier, got {type(net).__name__}")
        wanted = "ovo" if classifier == "svc" else "ovr"
        if net.decision != wanted:
            raise ValueError(
                f"model.init_args.classifier {classifier!r} needs the net's decision {wanted!r}, got {net.decision!r}: "
                f"set --model.init_args.net.init_args.decision {wanted}."
            )
        self.automatic_optimization = False

    @property
    def linear_net(self) -> LinearClassifier:
        """``net``, typed (``__init__`` checked it is a :class:`LinearClassifier`)."""
        return cast(LinearClassifier, self.net)

    def on_fit_start(self) -> None:
        net, hp = self.linear_net, self.hparams
        if bool(net.fitted):
            return  # resumed from a fitted checkpoint
        dm = getattr(self.trainer, "datamodule", None)  # set by Lightning's data connector (undeclared on Trainer)
        if dm is None:
            raise RuntimeError("LinearBaselineModule fits on the training split: train it with a DataModule.")
        rows: dict[tuple[int, int], np.ndarray] = {}
        labels: dict[tuple[int, int], int] = {}
        for batch in dm.train_dataloader():
            # a training utterance and each of its speed-perturbed copies (data.speed_perturb) are one row each
            copies = batch["copy"].tolist() if "copy" in batch else [0] * len(batch["target"])
            for x, y, utt, k in zip(batch["hsf"].cpu().numpy(), batch["target"].tolist(), batch["utt_index"].tolist(), copies):
                rows.setdefault((int(utt), int(k)), x)  # utterance scope: every segment has the same vector
                labels[(int(utt), int(k))] = int(y)
        keys = sorted(rows)
        x = np.stack([rows[k] for k in keys]).astype(np.float64)
        y = np.asarray([labels[k] for k in keys])
        weight, bias = fit_linear(x, y, hp["num_classes"], hp["classifier"], hp["C"], hp["class_weight"], hp["max_iter"])
        with torch.no_grad():
            net.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
            net.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
            net.fitted.fill_(True)
        with torch.no_grad():
            scores = net(torch.as_tensor(x, dtype=torch.float32, device=self.device))
        train_acc = float((scores.argmax(-1).cpu().numpy() == y).mean())
        rank_zero_info(
            f"Linear baseline ({hp['classifier']}, C={hp['C']}) fitted on {len(keys)} training "
            f"utterances{' (speed-perturbed copies included)' if any(k for _, k in keys) else ''} x {x.shape[1]} functionals; training accuracy {100 * train_acc:.2f} %."
        )

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> None:
        return None  # fitted in closed form in on_fit_start

    def on_test_start(self) -> None:
        if not bool(self.linear_net.fitted):
            raise RuntimeError("This linear baseline was never fitted: test a checkpoint written by `ser fit`.")
        super().on_test_start()

    def configure_optimizers(self) -> Any:
        return None


def fit_linear(
    x: np.ndarray,
    y: np.ndarray,
    num_classes: int,
    classifier: Classifier = "svc",
    C: float = 0.01,
    class_weight: str | None = None,
    max_iter: int = 20000,
) -> tuple[np.ndarray, np.ndarray]:
    """Standardise ``x`` and fit a linear classifier; return ``(W, b)`` on the *raw* ``x``.

    Args:
        x: ``(n, d)`` features; y: ``(n,)`` class indices in ``[0, num_classes)``.

    Returns:
        ``svc``: ``W`` ``(P, d)``, ``b`` ``(P,)`` with one row per class pair (:func:`class_pairs`),
        ``x @ W.T + b`` equal to scikit-learn's one-vs-one decision values (a pair with a class absent
        from training always votes for the present one). Otherwise ``W`` ``(num_classes, d)``, ``b``
        ``(num_classes,)`` (an absent class gets a very low constant score).

    Raises:
        ValueError: Fewer than two classes among the training rows.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC, LinearSVC

    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(f"The linear baseline needs at least 2 classes in the training split, got {present.tolist()}.")
    scaler = StandardScaler().fit(x)
    z = scaler.transform(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    if classifier == "svc":
        model = SVC(kernel="linear", C=C, class_weight=class_weight, max_iter=-1, decision_function_shape="ovo")
        model.fit(z, y)
        fitted = {pair: row for row, pair in enumerate(class_pairs(len(model.classes_)))}
        # With exactly two classes scikit-learn flips the sign of coef_/intercept_ (its decision is > 0 for
        # classes_[1]); with more, each one-vs-one row is > 0 for the pair's first class, as the vote assumes.
        sign = -1.0 if len(model.classes_) == 2 else 1.0
        pairs = class_pairs(num_classes)
        weight, bias = np.zeros((len(pairs), x.shape[1])), np.zeros(len(pairs))
        local = {int(c): i for i, c in enumerate(model.classes_)}
        for p, (i, j) in enumerate(pairs):
            if i in local and j in local:
                row = fitted[(local[i], local[j])]
                coef, intercept = sign * model.coef_[row], sign * model.intercept_[row]
                weight[p] = coef / scale
                bias[p] = intercept - float(np.dot(coef, scaler.mean_ / scale))
            else:
                bias[p] = 1e4 if i in local else -1e4  # the present class wins; both absent: i
        return weight, bias
    if classifier == "linear_svc":
        model = LinearSVC(C=C, class_weight=class_weight, max_iter=max_iter, dual="auto", random_state=0)
    else:
        model = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter)
    model.fit(z, y)
    coef, intercept = np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_)
    if len(present) == 2:  # scikit-learn keeps one row for two classes: score = +-f(x)
        coef, intercept = np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    weight = np.zeros((num_classes, x.shape[1]))
    bias = np.full(num_classes, -1e4)  # classes never seen in training are never predicted
    for row, cls in enumerate(model.classes_):
        weight[cls] = coef[row] / scale
        bias[cls] = intercept[row] - float(np.dot(coef[row], scaler.mean_ / scale))
    return weight, bias
