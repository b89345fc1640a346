"""The linear baseline: scikit-learn's decisions reproduced by the torch net, end to end through the CLI."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from sermodels.baseline import LinearBaselineModule, LinearClassifier, class_pairs, fit_linear
from sermodels.cli import cli_main
from tests.compose import config_args
from tests.conftest import TINY_SYNTHETIC


def _data(n: int = 90, d: int = 12, k: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % k
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, size=d) + rng.normal(size=d) * 5
    x[:, :3] += y[:, None] * 1.5  # some signal, far from separable
    return x, y


def _net(weight: np.ndarray, bias: np.ndarray, k: int, decision: str) -> LinearClassifier:
    net = LinearClassifier(k, weight.shape[1], decision=decision)  # type: ignore[arg-type]
    with torch.no_grad():
        net.linear.weight.copy_(torch.as_tensor(weight))
        net.linear.bias.copy_(torch.as_tensor(bias))
    return net.double()


@pytest.mark.parametrize("k", [2, 3, 4])  # two classes: scikit-learn's one row has the opposite sign
def test_svc_one_vs_one_matches_scikit_learn(k: int) -> None:
    x, y = _data(k=k)
    weight, bias = fit_linear(x, y, k, "svc", C=0.01)
    reference = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.01)).fit(x, y)
    test, _ = _data(seed=1, k=k)
    net = _net(weight, bias, k, "ovo")
    pairs = net.linear(torch.as_tensor(test)).detach().numpy()
    ovo = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.01, decision_function_shape="ovo")).fit(x, y)
    expected = ovo.decision_function(test).reshape(len(test), -1) * (-1 if k == 2 else 1)
    np.testing.assert_allclose(pairs, expected, atol=1e-6)  # the pairwise scores (> 0: the pair's first class)
    ours = net(torch.as_tensor(test)).detach().numpy()
    np.testing.assert_array_equal(ours.argmax(1), reference.predict(test))  # votes, ties to the lowest index
    assert (ours.argmax(1) == reference.predict(test)).all() and len(class_pairs(k)) == weight.shape[0] == k * (k - 1) // 2


@pytest.mark.parametrize("classifier", ["linear_svc", "logreg"])
def test_one_vs_rest_matches_scikit_learn(classifier: str) -> None:
    x, y = _data()
    weight, bias = fit_linear(x, y, 4, classifier, C=0.1)  # type: ignore[arg-type]
    model = LinearSVC(C=0.1, dual="auto", max_iter=20000, random_state=0) if classifier == "linear_svc" else LogisticRegression(C=0.1, max_iter=20000)
    reference = make_pipeline(StandardScaler(), model).fit(x, y)
    test, _ = _data(seed=2)
    ours = _net(weight, bias, 4, "ovr")(torch.as_tensor(test)).detach().numpy()
    np.testing.assert_allclose(ours, reference.decision_function(test), atol=1e-6)


@pytest.mark.parametrize("classifier", ["svc", "linear_svc"])
def test_class_absent_from_training_is_never_predicted(classifier: str) -> None:
    x, y = _data(k=3)
    weight, bias = fit_linear(x, y, 5, classifier, C=1.0)  # classes 3 and 4 never seen
    scores = _net(weight, bias, 5, "ovo" if classifier == "svc" else "ovr")(torch.as_tensor(x)).detach()
    assert set(scores.argmax(1).tolist()) <= {0, 1, 2}


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="decision 'ovr'"):
        LinearBaselineModule(LinearClassifier(4, 10, decision="ovo"), classifier="logreg", num_classes=4)
    with pytest.raises(ValueError, match="C > 0"):
        LinearBaselineModule(LinearClassifier(4, 10), C=0, num_classes=4)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fit_linear(np.zeros((4, 3)), np.zeros(4, dtype=int), 3)
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        LinearClassifier(4, 10)(torch.zeros(2, 11))


@pytest.mark.slow
def test_baseline_fit_test_through_cli(ser_cache: Path, tmp_path: Path) -> None:
    args = [
        *config_args("baseline"),
        f"--data.corpus_options={json.dumps(TINY_SYNTHETIC)}",
        f"--data.cache_dir={ser_cache}",
        "--data.progress=false",
        "--data.extract_workers=0",
        f"--trainer.logger.init_args.save_dir={tmp_path}",
        "--trainer.enable_progress_bar=false",
    ]
    fit = cli_main(["fit", *args])
    assert bool(fit.model.net.fitted)
    assert fit.trainer.global_step == 0  # no gradient steps: fitted in closed form
    ckpt = tmp_path / "baseline" / "synthetic" / "checkpoints" / "last.ckpt"
    test = cli_main(["test", *args, f"--ckpt_path={ckpt}"])
    metrics = json.loads((Path(test.trainer.log_dir) / "test_metrics.json").read_text())
    assert metrics["split"]["protocol"] == "paper" and metrics["num_utterances"] > 0
    assert metrics["ua"] > 0.5  # 4 classes: chance is 0.25; the synthetic classes are easy
    # Same decisions as scikit-learn fitted directly on the training utterances' functionals.
    dm = fit.datamodule
    train, val = dm.datasets["train"].tensors, dm.datasets["val"].tensors
    x, y = train["hsf"].double().numpy(), train["target"].numpy()
    reference = make_pipeline(StandardScaler(), SVC(kernel="linear", C=0.01)).fit(x, y)
    ours = fit.model.net.double()(val["hsf"].double()).argmax(1).detach().numpy()
    np.testing.assert_array_equal(ours, reference.predict(val["hsf"].double().numpy()))
