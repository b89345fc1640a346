"""What a run leaves behind, written by callbacks rather than by the LightningModule.

- :class:`RunResults` (added to every ``ser`` trainer by the CLI): at the end of ``fit`` the
  learning curves (``learning_curves.png``: train/val loss and validation UA/WA per epoch); at the
  end of ``test`` the utterance-level table on the terminal, ``test_metrics.json`` (with the split
  description and the model's name) and ``confusion_matrix.png``. With a W&B logger the same go to
  the W&B run: the confusion matrix as a W&B confusion-matrix plot (table of actual x predicted
  counts) and as an image, per-class recall as a table, ``test_metrics.json`` as a run file, the
  learning curves as an image; and the run's W&B id is stored in every checkpoint
  (:data:`WANDB_KEY`), so ``ser test --ckpt_path X`` logs into the *fit's* W&B run.
- :class:`SERSaveConfigCallback` (the CLI's ``save_config_callback``): writes the resolved
  ``config.yaml`` into the run folder as LightningCLI does and, with a W&B logger on ``fit``, puts
  the full resolved config (model with net, optimizer and scheduler; trainer; data;
  ``seed_everything``) into the W&B run's config and uploads ``config.yaml`` (an artifact of type
  ``config``, ``config-<run id>``).

Everything is written on global rank zero only.
"""

from __future__ import annotations

import json
import secrets
import string
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.cli import SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities import rank_zero_info, rank_zero_warn

from sermodels.metrics import plot_confusion_matrix
from sermodels.module import describe_split, format_metrics_table
from sermodels.plots import plot_learning_curves, read_learning_curves

__all__ = [
    "WANDB_KEY", "RunResults", "SERSaveConfigCallback", "new_wandb_run_id", "wandb_loggers", "figure_title",
    "model_name",
]

#: Checkpoint key of the W&B run that trained it: ``{"id", "project", "entity", "name"}`` (plain strings).
WANDB_KEY = "sermodels_wandb"

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_wandb_run_id() -> str:
    """A fresh 8-character W&B run id (W&B's own format), made without importing wandb."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def wandb_loggers(trainer: L.Trainer) -> list[Any]:
    """The trainer's W&B loggers (matched by name: wandb stays an optional import)."""
    return [lg for lg in trainer.loggers if type(lg).__name__ == "WandbLogger"]


def model_name(pl_module: L.LightningModule) -> str:
    """The net's class name (``STRLSER``, ``STACNN``, ``LinearClassifier``) for titles and records."""
    net = getattr(pl_module, "net", None)
    return type(net).__name__ if net is not None else type(pl_module).__name__


def figure_title(what: str, model: str, split: dict[str, Any], n: str) -> str:
    """``"STRLSER: learning curves - ravdess, paper protocol (seed 0), test set = validation set; N = ..."``."""
    where = describe_split(split).removeprefix(": ") or "unknown split"
    return f"{model}: {what}\n{where}; N = {n}"


class RunResults(L.Callback):
    """Writes a run's result files and pictures (and mirrors them to W&B); see the module docstring.

    The LightningModule's ``artifacts`` switch (default on) turns the test files off; the learning
    curves are written whenever a fit ran at least one validation epoch.
    """

    def __init__(self) -> None:
        self._history: dict[int, dict[str, float]] = {}

    # ------------------------------------------------------------------ W&B id in checkpoints
    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
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
        split = dict(getattr(trainer.datamodule, "split_info", None) or {})
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
        split = dict(getattr(trainer.datamodule, "split_info", None) or {})
        class_names = list(getattr(pl_module, "class_names", [])) or [str(i) for i in range(len(metrics["confusion_matrix"]))]
        model = model_name(pl_module)
        rank_zero_info("\n" + format_metrics_table(metrics, f"Utterance-level test metrics (%), {model}" + describe_split(split)))
        record: dict[str, Any] = {k: v.tolist() if v.ndim else v.item() for k, v in metrics.items()}
        record["class_names"] = class_names
        record["model"] = model
        record["split"] = split  # which protocol / fold / seed, and whether test was the validation set
        (out / "test_metrics.json").write_text(json.dumps(record, indent=2) + "\n")
        n = f"{int(metrics['num_utterances'])} test utterances" if "num_utterances" in metrics else "?"
        png = plot_confusion_matrix(metrics["confusion_matrix"].cpu(), class_names, out / "confusion_matrix.png",
                                    figure_title("test confusion matrix (utterances)", model, split, n))
        rank_zero_info(f"Test metrics: {out / 'test_metrics.json'}; confusion matrix: {png}")
        for logger in wandb_loggers(trainer):
            _log_test_to_wandb(logger, metrics["confusion_matrix"].cpu(), class_names, record, out, png)


def _log_test_to_wandb(logger: Any, cm: torch.Tensor, class_names: list[str], record: dict[str, Any], out: Path,
                       png: Path) -> None:
    """Confusion matrix as W&B's confusion-matrix plot and as an image; recall table; summary; files."""
    import wandb

    run = logger.experiment
    cells = [[class_names[i], class_names[j], int(cm[i, j])] for i in range(len(class_names)) for j in range(len(class_names))]
    table = wandb.Table(columns=["actual", "predicted", "n"], data=cells)
    title = f"{record['model']}: test confusion matrix ({record['split'].get('corpus', '?')}, utterances)"
    plot = wandb.plot_table("wandb/confusion_matrix/v1", table,
                            {"Actual": "actual", "Predicted": "predicted", "nPredictions": "n"}, {"title": title})
    recall = wandb.Table(columns=["class", "recall", "utterances"],
                         data=[[c, float(record.get(f"recall/{c}", 0.0)), int(cm[i].sum())] for i, c in enumerate(class_names)])
    run.log({"test/confusion_matrix": plot, "test/confusion_matrix_image": wandb.Image(str(png)), "test/recall_table": recall})
    # The summary is the runs table's row: the test scores sit beside the fit's config and curves.
    run.summary.update({f"test/{k}": v for k, v in record.items() if isinstance(v, (int, float)) and not isinstance(v, bool)})
    run.summary.update({"test/split": record["split"], "test/model": record["model"]})
    run.save(str(out / "test_metrics.json"), base_path=str(out), policy="now")


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
