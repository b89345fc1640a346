"""What a run leaves behind, written by callbacks rather than by the LightningModule.

- :class:`RunResults` (added to every ``ser`` trainer by the CLI): at the end of ``fit`` the
  learning curves (``learning_curves.png``: train/val loss and validation UA/WA per epoch); at the
  end of ``test`` the utterance-level table on the terminal, ``test_metrics.json`` (metrics, class
  names, model, split, the tested checkpoint and its epoch, the feature settings, git commit and
  device), ``test_predictions.csv`` (one row per test utterance: id, path, speaker, true class,
  prediction, probabilities) and ``confusion_matrix.png`` (titled with model, corpus, protocol,
  fold/seed, N, WA and UA). With a W&B logger the same go to the W&B run: the confusion matrix as
  a W&B confusion-matrix plot (table of actual x predicted counts) and as an image, per-class
  recall and the per-utterance predictions as tables, ``test_metrics.json`` as a run file, the
  learning curves as an image; and the run's W&B id is stored in every checkpoint
  (:data:`WANDB_KEY`), so ``ser test --ckpt_path X`` logs into the *fit's* W&B run. Loggers are
  flushed at every checkpoint, so a run killed later keeps the rows logged up to it.
- :class:`SERSaveConfigCallback` (the CLI's ``save_config_callback``): writes the resolved
  ``config.yaml`` into the run folder as LightningCLI does and, with a W&B logger on ``fit``, puts
  the full resolved config (model with net, optimizer and scheduler; trainer; data;
  ``seed_everything``) into the W&B run's config and uploads ``config.yaml`` (an artifact of type
  ``config``, ``config-<run id>``).

Everything is written on global rank zero only.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import secrets
import string
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from sermodels.plots import plot_confusion_matrix, plot_learning_curves, read_learning_curves

__all__ = [
    "SCALAR_KEYS", "WANDB_KEY", "RunResults", "SERSaveConfigCallback", "describe_split", "feature_record", "figure_title",
    "format_metrics_table", "git_commit", "model_name", "new_wandb_run_id", "wandb_loggers", "write_test_predictions",
]

#: The utterance-level scalar metrics of a test, in table order (fractions in ``test_metrics.json``).
SCALAR_KEYS = (
    "wa", "ua", "macro_precision", "weighted_precision", "macro_f1", "weighted_f1", "paper_macro_f1", "paper_weighted_f1",
)

#: Checkpoint key of the W&B run that trained it: ``{"id", "project", "entity", "name"}`` (plain strings).
WANDB_KEY = "sermodels_wandb"

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_wandb_run_id() -> str:
    """A fresh 8-character W&B run id (W&B's own format), made without importing wandb."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def wandb_loggers(trainer: L.Trainer) -> list[Any]:
    """The trainer's W&B loggers (matched by name: wandb stays an optional import)."""
    return [lg for lg in trainer.loggers if type(lg).__name__ == "WandbLogger"]


def format_metrics_table(metrics: Mapping[str, torch.Tensor | float], title: str) -> str:
    """A fixed-width table of the utterance-level metrics (percent) and per-class recall."""
    lines = [title, "-" * len(title)]
    for key in SCALAR_KEYS:
        if key in metrics:
            lines.append(f"{key:<20} {100 * float(metrics[key]):6.2f}")
    recalls = {k.split("/", 1)[1]: float(v) for k, v in metrics.items() if k.startswith("recall/")}
    if recalls:
        lines.append("per-class recall: " + ", ".join(f"{k} {100 * v:.1f}" for k, v in recalls.items()))
    if "num_utterances" in metrics:
        lines.append(f"utterances: {int(metrics['num_utterances'])}")
    return "\n".join(lines)


def describe_split(info: Mapping[str, Any]) -> str:
    """``": ravdess, paper protocol (seed 0), test set = validation set"`` for table titles."""
    if not info:
        return ""
    what = f"{info['protocol']} protocol"
    if info.get("fold") is not None:
        what += f" fold {info['fold']}"
    what += f" (split file {info['split_file']})" if info.get("split_file") else f" (seed {info.get('seed')})"
    test = "test set = validation set" if info.get("test_is_val") else "held-out test set"
    if info.get("leaky"):
        test += ", LEAKY segment-level split (diagnostic only)"
    return f": {info.get('corpus')}, {what}, {test}"


def git_commit() -> str | None:
    """The commit of the checkout this package runs from, or ``None`` (no git, not a checkout, any error)."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and commit else None


def device_name(device: torch.device) -> str:
    """``"cuda:0 (NVIDIA H100 80GB HBM3)"``, ``"cpu"``: where the test ran."""
    if device.type == "cuda":
        try:
            return f"{device} ({torch.cuda.get_device_name(device)})"
        except (RuntimeError, AssertionError):
            return str(device)
    return str(device)


def feature_record(datamodule: Any) -> dict[str, Any] | None:
    """The data module's feature settings (``feature_config`` as a dict, plus ``inputs``) for result files."""
    if datamodule is None:
        return None
    config = getattr(datamodule, "feature_config", None)
    if config is not None and dataclasses.is_dataclass(config) and not isinstance(config, type):
        as_dict = getattr(config, "as_dict", None)
        record: dict[str, Any] = as_dict() if callable(as_dict) else dataclasses.asdict(config)
    elif callable(to_dict := getattr(config, "to_dict", None)):
        record = dict(to_dict())
    else:
        record = dict(getattr(datamodule, "feature_settings", None) or {})
    inputs = getattr(datamodule, "inputs", None)
    if inputs is not None:
        record["inputs"] = list(inputs)
    return json.loads(json.dumps(record, default=str))  # plain JSON values (paths, enums as text)


def write_test_predictions(path: Path, predictions: Mapping[str, torch.Tensor], class_names: list[str],
                           utterances: Any = None) -> Path:
    """``test_predictions.csv``: one row per test utterance.

    Columns ``utt_index, utt_id, path, speaker, label, prediction, correct, p_<class>...``; the
    utterance's id, path and speaker come from ``utterances`` (``corpus.utterances``, indexed by
    ``utt_index``) and are empty when it is ``None`` (e.g. a packed corpus without its table).
    """
    index, probs = predictions["utt_index"].tolist(), predictions["probs"].tolist()
    preds, target = predictions["preds"].tolist(), predictions["target"].tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["utt_index", "utt_id", "path", "speaker", "label", "prediction", "correct",
                         *[f"p_{c}" for c in class_names]])
        for i, p, y, t in zip(index, probs, preds, target, strict=True):
            utt = utterances[i] if utterances is not None and 0 <= i < len(utterances) else None
            writer.writerow([i, getattr(utt, "utt_id", ""), str(getattr(utt, "path", "") or ""), getattr(utt, "speaker", ""),
                             class_names[t], class_names[y], int(y == t), *[f"{v:.6f}" for v in p]])
    return path


def model_name(pl_module: L.LightningModule) -> str:
    """The net's class name (``STRLSER``, ``STACNN``, ``LinearClassifier``) for titles and records."""
    net = getattr(pl_module, "net", None)
    return type(net).__name__ if net is not None else type(pl_module).__name__


def figure_title(what: str, model: str, split: Mapping[str, Any], n: str, scores: Mapping[str, Any] | None = None) -> str:
    """``"STRLSER: test confusion matrix\nravdess, paper protocol (seed 0), test set = validation set;
    N = 288 test utterances; WA 61.2 %, UA 60.4 %"``: what, model, corpus, protocol, fold/seed, N (and scores)."""
    where = describe_split(split).removeprefix(": ") or "unknown split"
    shown = [f"{k.upper()} {100 * float(scores[k]):.1f} %" for k in ("wa", "ua") if scores and k in scores]
    return f"{model}: {what}\n{where}; N = {n}" + (f"; {', '.join(shown)}" if shown else "")


class RunResults(L.Callback):
    """Writes a run's result files and pictures (and mirrors them to W&B); see the module docstring.

    The LightningModule's ``artifacts`` switch (default on) turns the test files off; the learning
    curves are written whenever a fit ran at least one validation epoch.
    """

    def __init__(self) -> None:
        self._history: dict[int, dict[str, float]] = {}
        self._loaded: dict[str, int] = {}  # epoch and global_step of the checkpoint a test/validate restored

    # ------------------------------------------------------------------ checkpoints: W&B id, flushed logs
    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._loaded = {k: int(checkpoint[k]) for k in ("epoch", "global_step") if isinstance(checkpoint.get(k), int)}

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        for logger in trainer.loggers:  # a run killed later keeps the rows logged up to this checkpoint
            logger.save()
        for logger in wandb_loggers(trainer):
            init = getattr(logger, "_wandb_init", {}) or {}
            run_id = logger.version if logger._experiment is not None else init.get("id")
            if run_id:
                checkpoint[WANDB_KEY] = {k: str(v) for k, v in {
                    "id": run_id, "project": init.get("project"), "entity": init.get("entity"), "name": init.get("name"),
                }.items() if v is not None}
                return

    # ------------------------------------------------------------------ learning curves
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # Validation runs before this hook, so the epoch's val metrics are in callback_metrics already.
        keys = {"train/loss_epoch": "train_loss", "val/loss": "val_loss", "val/ua": "val_ua", "val/wa": "val_wa"}
        entry = {key: float(trainer.callback_metrics[m]) for m, key in keys.items() if m in trainer.callback_metrics}
        if entry:
            self._history[trainer.current_epoch] = {"epoch": trainer.current_epoch, **entry}

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.sanity_checking:
            return
        history = self._csv_history(trainer) or [self._history[e] for e in sorted(self._history)]
        if not any("val_ua" in h or "val_loss" in h for h in history):
            return  # no validation epoch (e.g. fast_dev_run without val, the closed-form baseline's single pass)
        split = dict(getattr(getattr(trainer, "datamodule", None), "split_info", None) or {})
        sizes = split.get("num_utterances") or {}
        n = f"{sizes.get('train', '?')} train / {sizes.get('val', '?')} validation utterances, {len(history)} epochs"
        out = Path(trainer.log_dir or trainer.default_root_dir) / "learning_curves.png"
        png = plot_learning_curves(history, out, figure_title("learning curves", model_name(pl_module), split, n))
        rank_zero_info(f"Learning curves: {png}")
        for logger in wandb_loggers(trainer):
            logger.log_image(key="fit/learning_curves", images=[str(png)])

    @staticmethod
    def _csv_history(trainer: L.Trainer) -> list[dict[str, float]]:
        """The CSV log holds every epoch, also those before a resumed fit's checkpoint."""
        for logger in trainer.loggers:
            if isinstance(logger, CSVLogger):
                logger.save()
                path = Path(logger.log_dir) / "metrics.csv"
                if path.is_file():
                    return read_learning_curves(path)
        return []

    # ------------------------------------------------------------------ test results
    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = getattr(pl_module, "last_test_metrics", None)
        if not metrics or not trainer.is_global_zero or not bool(pl_module.hparams.get("artifacts", True)):
            return
        out = Path(trainer.log_dir or trainer.default_root_dir)
        out.mkdir(parents=True, exist_ok=True)
        dm = getattr(trainer, "datamodule", None)  # set by Lightning's data connector (undeclared on Trainer)
        split = dict(getattr(dm, "split_info", None) or {})
        class_names = list(getattr(pl_module, "class_names", [])) or [str(i) for i in range(len(metrics["confusion_matrix"]))]
        model = model_name(pl_module)
        rank_zero_info("\n" + format_metrics_table(metrics, f"Utterance-level test metrics (%), {model}" + describe_split(split)))
        record: dict[str, Any] = {k: v.tolist() if v.ndim else v.item() for k, v in metrics.items()}
        record["class_names"] = class_names
        record["model"] = model
        record["split"] = split  # which protocol / fold / seed, and whether test was the validation set
        # What was tested, on what: enough to trace a number back to its checkpoint, features and code.
        record["checkpoint"] = self._checkpoint_record(trainer)
        record["features"] = feature_record(dm)
        record["git_commit"] = git_commit()
        record["device"] = device_name(pl_module.device)
        record["precision"] = str(trainer.precision)
        (out / "test_metrics.json").write_text(json.dumps(record, indent=2, default=str) + "\n")
        predictions = getattr(pl_module, "last_test_predictions", None) or {}
        csv_path = None
        if predictions:
            utterances = getattr(getattr(dm, "corpus", None), "utterances", None)
            csv_path = write_test_predictions(out / "test_predictions.csv", predictions, class_names, utterances)
        n = f"{int(metrics['num_utterances'])} test utterances" if "num_utterances" in metrics else "?"
        png = plot_confusion_matrix(metrics["confusion_matrix"].cpu(), class_names, out / "confusion_matrix.png",
                                    figure_title("test confusion matrix (utterances)", model, split, n, record))
        rank_zero_info(f"Test metrics: {out / 'test_metrics.json'}; predictions: {csv_path}; confusion matrix: {png}")
        for logger in wandb_loggers(trainer):
            _log_test_to_wandb(logger, metrics["confusion_matrix"].cpu(), class_names, record, out, png, csv_path)


    def _checkpoint_record(self, trainer: L.Trainer) -> dict[str, Any]:
        """``{"path", "epoch", "global_step"}`` of the tested checkpoint (``epoch`` 0-based, as Lightning
        stores it); all ``None`` when the model in memory was tested."""
        ckpt_path = getattr(trainer, "ckpt_path", None)
        if not ckpt_path:
            return {"path": None, "epoch": None, "global_step": None}
        path = Path(ckpt_path)
        progress = dict(self._loaded)
        if not progress and path.is_file():  # a checkpoint without callback states: read its counters
            try:
                state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
                progress = {k: int(state[k]) for k in ("epoch", "global_step") if isinstance(state.get(k), int)}
            except Exception:  # noqa: BLE001 - the counters are informative only; the test itself succeeded
                progress = {}
        return {"path": str(path.resolve()) if path.is_file() else str(ckpt_path), "epoch": progress.get("epoch"),
                "global_step": progress.get("global_step")}


def _log_test_to_wandb(logger: Any, cm: torch.Tensor, class_names: list[str], record: dict[str, Any], out: Path,
                       png: Path, predictions_csv: Path | None = None) -> None:
    """Confusion matrix as W&B's confusion-matrix plot and as an image; recall and predictions tables; summary; files."""
    import wandb

    run = logger.experiment
    cells = [[class_names[i], class_names[j], int(cm[i, j])] for i in range(len(class_names)) for j in range(len(class_names))]
    table = wandb.Table(columns=["actual", "predicted", "n"], data=cells)
    title = f"{record['model']}: test confusion matrix ({record['split'].get('corpus', '?')}, utterances)"
    plot = wandb.plot_table("wandb/confusion_matrix/v1", table,
                            {"Actual": "actual", "Predicted": "predicted", "nPredictions": "n"}, {"title": title})
    recall = wandb.Table(columns=["class", "recall", "utterances"],
                         data=[[c, float(record.get(f"recall/{c}", 0.0)), int(cm[i].sum())] for i, c in enumerate(class_names)])
    logged = {"test/confusion_matrix": plot, "test/confusion_matrix_image": wandb.Image(str(png)), "test/recall_table": recall}
    if predictions_csv is not None and predictions_csv.is_file():
        with predictions_csv.open(newline="") as fh:
            rows = list(csv.reader(fh))
        columns: list[str | int] = list(rows[0])
        logged["test/predictions"] = wandb.Table(columns=columns, data=rows[1:])
    run.log(logged)
    # The summary is the runs table's row: the test scores sit beside the fit's config and curves.
    run.summary.update({f"test/{k}": v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    run.summary.update({"test/split": record["split"], "test/model": record["model"],
                        "test/checkpoint": record["checkpoint"], "test/git_commit": record["git_commit"]})
    run.save(str(out / "test_metrics.json"), base_path=str(out), policy="now")
    if predictions_csv is not None and predictions_csv.is_file():
        run.save(str(predictions_csv), base_path=str(out), policy="now")


class SERSaveConfigCallback(SaveConfigCallback):
    """LightningCLI's ``config.yaml`` writer, plus the full resolved config in the W&B run (``fit``).

    W&B shows the config as nested keys (``model.init_args.net.init_args.num_heads``,
    ``trainer.max_epochs``, ``data.segment_length``, ``seed_everything``), the same names the CLI and
    the sweep files use; ``config.yaml`` is uploaded as the artifact ``config-<run id>`` (type ``config``).
    """

    def save_config(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        loggers = wandb_loggers(trainer)
        if not loggers or stage != "fit":
            return  # test/validate resume the fit's run: its config stays the fit's
        resolved = yaml.safe_load(self.parser.dump(self.config, skip_none=False, skip_validation=True)) or {}
        resolved.pop("config", None)  # the --config file paths: machine-specific, and the content is here
        path = Path(trainer.log_dir or trainer.default_root_dir) / self.config_filename
        for logger in loggers:
            run = logger.experiment
            run.config.update(resolved, allow_val_change=True)
            if path.is_file():
                # An artifact, not a run file: W&B writes its own config.yaml among a run's files.
                import wandb

                artifact = wandb.Artifact(f"config-{run.id}", type="config",
                                          description="The resolved LightningCLI config.yaml of this run (ser fit).")
                artifact.add_file(str(path), name="config.yaml")
                run.log_artifact(artifact)
            else:
                rank_zero_warn(f"{path} was not written (save_config_callback settings): the W&B run gets the config "
                               "values but no config.yaml file.")
